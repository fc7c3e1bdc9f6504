"""Encoder backends side by side: `python -m scripts.bench.backends --data ../shared/eval/goldstandard`.

Embeds the same abstract-length texts (titles and abstracts of the gold standard's d_20_1 submissions) with
torch, OpenVINO and OpenVINO with 8-bit weights, at batch 32, and prints one JSON object: texts/s of each,
the speed-up over torch, and the cosine between each backend's vectors and torch's (mean and minimum).
Needs the `openvino` extra; converted models go to a temporary folder. Quality on the gold standard:
`hostmatch --backend openvino eval goldstandard ...`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher.encoders import BACKENDS, make_embedder
from matcher.evaluation.openreview import read_submissions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=256)
    args = parser.parse_args(argv)
    papers = read_submissions(args.data / "evaluation_datasets" / "d_20_1")
    texts = [p.text for p in list(papers.values())[: args.texts]]
    result: dict[str, float] = {}
    vectors = {}
    with tempfile.TemporaryDirectory() as export:
        for backend in BACKENDS:
            model = make_embedder(backend=backend, export_dir=Path(export))
            model.encode(texts[:32])  # convert, load and warm up outside the timing
            start = time.perf_counter()
            vectors[backend] = model.encode(texts)
            result[f"{backend}_texts_per_s"] = len(texts) / (time.perf_counter() - start)
    for backend in BACKENDS[1:]:
        cosine = (vectors["torch"] * vectors[backend]).sum(axis=1)
        result[f"{backend}_speedup"] = result[f"{backend}_texts_per_s"] / result["torch_texts_per_s"]
        result[f"{backend}_cosine_mean"] = float(np.mean(cosine))
        result[f"{backend}_cosine_min"] = float(np.min(cosine))
    print(json.dumps({k: round(v, 5) for k, v in result.items()} | {"texts": len(texts)}))


if __name__ == "__main__":
    main()
