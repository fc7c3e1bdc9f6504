"""The language identifier: `python -m scripts.bench.languages`. Prints one JSON object.

english_titles        of the bundled sample's English publication titles (no kana or kanji), how many
                      `language_of` calls English; english_three_words the same titles cut to their
                      first three words (the hardest case: fragments of scientific English)
short_titles          of the short titles in tests/test_languages.py (English, Japanese, mixed,
                      Chinese, Korean, French, German, Spanish, Indonesian, no letters), how many it
                      tags as the test expects
ms_per_text           mean time of one call over the titles
memory_mb             resident memory the first call adds to a process (the identifier's tables)

With `--data DIR` (the gold standard's folder, read in place): long_texts_same, of the archive abstracts of
sample d_20_1 longer than what the identifier reads (`_IDENTIFY_CHARS`), how many get the same tag as when it
reads them whole; and ms_per_long_text_cut / _whole, the identifier's mean time per such text either way.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def _long_texts(data: Path) -> dict[str, object]:
    """Tags of the long abstracts of one gold-standard sample, the identifier reading their start or all."""
    from matcher.evaluation.openreview import read_archives
    from matcher.text import languages

    folder = data / "evaluation_datasets" / "d_20_1"
    texts = [p.text for papers in read_archives(folder).values() for p in papers]
    long = [t for t in texts if len(t) > languages._IDENTIFY_CHARS]
    figures: dict[str, object] = {}
    tags = {}
    for name, limit in (("cut", languages._IDENTIFY_CHARS), ("whole", 10**9)):
        languages._IDENTIFY_CHARS = limit
        start = time.perf_counter()
        tags[name] = [languages.language_of(t) for t in long]
        figures[f"ms_per_long_text_{name}"] = round((time.perf_counter() - start) / max(1, len(long)) * 1000, 4)
    same = sum(a == b for a, b in zip(tags["cut"], tags["whole"], strict=True))
    return {"long_texts_same": f"{same} of {len(long)}", **figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the gold standard's folder (../shared/eval/goldstandard)")
    args = parser.parse_args(argv)
    before = _rss_mb()
    from matcher.text.languages import language_of

    language_of("Slow slip events near the trench")  # loads the identifier
    memory = _rss_mb() - before

    from matcher.records import read_hosts, sample_path

    titles = [p.title for h in read_hosts(sample_path("hosts")) for p in h.publications]
    english = [t for t in titles if not re.search(r"[\u3040-\u30ff\u3400-\u9fff]", t)]
    fragments = [" ".join(t.split()[:3]) for t in english]
    start = time.perf_counter()
    full = sum(language_of(t) == "en" for t in english)
    three = sum(language_of(t) == "en" for t in fragments)
    per_text = (time.perf_counter() - start) / (2 * len(english)) * 1000

    from tests.test_languages import SHORT_TITLES

    right = sum(language_of(text) == expected for text, expected in SHORT_TITLES)
    figures = {
        "english_titles": f"{full} of {len(english)}",
        "english_three_words": f"{three} of {len(english)}",
        "short_titles": f"{right} of {len(SHORT_TITLES)}",
        "ms_per_text": round(per_text, 4),
        "memory_mb": round(memory, 1),
    }
    if args.data is not None:
        figures.update(_long_texts(args.data))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
