"""Benchmark a whole call: `python -m scripts.bench.batch [--applicants 5000] [--hosts 2000]`.

Prints one JSON object:
    embed_s           bare model.encode of every text of the call (hosts' documents and applicants' texts),
                      batch 32, no cache: the floor any pipeline must pay; run before and after the pipeline
                      and averaged, so a drift in the machine's speed touches both sides alike
    total_s           the whole pipeline from an empty data folder: index the hosts, embed the applicants
                      (through the cache), batched FAISS search, scoring, the assignment, and the four output
                      files
    total_over_embed  total_s / embed_s (target <= 1.2)
    pipeline_encode_s the model's own encode time inside the pipeline, and beyond_encode_s the rest of
                      total_s: what the pipeline adds, without the noise of comparing two separate encodes
    solve_s           the assignment and its diagnostics alone (target <= 5)
Both timings come from the same run on the same machine; compare the ratio, not the seconds. The encoder is
the configured one (OpenVINO when its extra is installed, else torch; --backend chooses).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matcher.calls.batch import CallSettings, run_call, score_call
from matcher.calls.report import write_outputs
from matcher.encoders import BACKENDS, default_backend, make_embedder
from matcher.encoders.embedding import Embedder, WrappedEmbedder
from matcher.home import Home
from matcher.progress import Progress
from matcher.text.documents import host_documents, researcher_texts
from matcher.wiring import Parts
from scripts.bench.synthetic import synthetic_call


class TimedEncoder(WrappedEmbedder):
    """An encoder that adds up the time its encode calls take."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.seconds = 0.0

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        start = time.perf_counter()
        try:
            return super().encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - start


def _seconds_to_encode(model: Embedder, texts: list[str]) -> float:
    start = time.perf_counter()
    model.encode(texts)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applicants", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=["flow", "stable"], default="flow")
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--backend", choices=BACKENDS, default=default_backend())
    args = parser.parse_args(argv)

    applicants, hosts = synthetic_call(args.applicants, args.hosts, seed=args.seed)
    texts = [d.text for h in hosts for d in host_documents(h)] + [
        t.text for a in applicants for t in researcher_texts(a)
    ]
    settings = CallSettings(candidates=args.candidates, method=args.method)
    with tempfile.TemporaryDirectory() as home:
        model = make_embedder(backend=args.backend, export_dir=Path(home) / "models")
        model.encode(["warm-up"])  # convert and load the model outside both timings
        encode_before = _seconds_to_encode(model, texts)

        timed = TimedEncoder(model)
        start = time.perf_counter()
        engine = Parts(Home(Path(home)), encoder=timed).new_engine()
        engine.upsert_hosts(hosts)
        scores = score_call(engine, applicants, settings)
        solve_start = time.perf_counter()
        result = run_call(scores, settings)
        solve_s = time.perf_counter() - solve_start
        report = write_outputs(result, settings, Path(home) / "out")
        total_s = time.perf_counter() - start
        embed_s = (encode_before + _seconds_to_encode(model, texts)) / 2

    print(
        json.dumps(
            {
                "embed_s": round(embed_s, 2),
                "total_s": round(total_s, 2),
                "total_over_embed": round(total_s / embed_s, 3),
                "pipeline_encode_s": round(timed.seconds, 2),
                "beyond_encode_s": round(total_s - timed.seconds, 2),
                "solve_s": round(solve_s, 2),
                "applicants": args.applicants,
                "hosts": args.hosts,
                "texts": len(texts),
                "assigned": report["assigned"],
                "method": args.method,
                "backend": args.backend,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
