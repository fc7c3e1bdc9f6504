"""Benchmarks: each `python -m scripts.bench.NAME [options]` prints one JSON object (the README quotes them).

serving (also `python -m scripts.bench`): a match, an index build and a service's memory over a large
corpus; batch: a whole call; load: `hostmatch serve` under many clients; pages: the pages against the API;
maintenance: how long a host upload holds the write lock; backends, shapes, multilingual: the encoders;
storage: how the graph stores vectors; languages: the language identifier. `synthetic` makes the seeded
corpora they (and some tests) run on.
"""
