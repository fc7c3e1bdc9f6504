"""The thin command-line layer: parse arguments, call `matcher` and `models`, print."""
