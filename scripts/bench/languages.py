"""The language identifier: `python -m scripts.bench.languages`. Prints one JSON object.

english_titles        of the bundled sample's English publication titles (no kana or kanji), how many
                      `language_of` calls English; english_three_words the same titles cut to their
                      first three words (the hardest case: fragments of scientific English)
short_titles          of the short titles in tests/test_languages.py (English, Japanese, mixed,
                      Chinese, Korean, French, German, Spanish, Indonesian, no letters), how many it
                      tags as the test expects
ms_per_text           mean time of one call over the titles
memory_mb             resident memory the first call adds to a process (the identifier's tables)
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def main(argv: list[str] | None = None) -> None:
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
    print(
        json.dumps(
            {
                "english_titles": f"{full} of {len(english)}",
                "english_three_words": f"{three} of {len(english)}",
                "short_titles": f"{right} of {len(SHORT_TITLES)}",
                "ms_per_text": round(per_text, 4),
                "memory_mb": round(memory, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
