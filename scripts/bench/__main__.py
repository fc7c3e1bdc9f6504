"""`python -m scripts.bench`: the serving benchmark (`scripts.bench.serving`)."""

from scripts.bench.serving import main

if __name__ == "__main__":
    main()
