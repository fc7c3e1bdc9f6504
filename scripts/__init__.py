"""The command line (`cli.py`: parse arguments, call `matcher` and `models`, print), the benchmarks
(`bench/`) and the research scripts (`research/`)."""
