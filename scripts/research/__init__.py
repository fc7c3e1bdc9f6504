"""Research scripts: measure what production does not do (`python -m scripts.research.NAME`)."""
