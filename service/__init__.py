"""The thin HTTP layer (Flask)."""
