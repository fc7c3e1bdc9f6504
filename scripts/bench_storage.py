"""How the graph stores vectors: `python -m scripts.bench_storage --data ../shared/eval/goldstandard`.

Above its threshold the index keeps document vectors in 16 bits (matcher/index.py). This embeds real
abstracts (titles and abstracts of the gold standard's d_20_1 submissions) with the configured encoder and
prints one JSON object comparing FAISS's two 16-bit encodings, IEEE half precision (fp16) and bfloat16
(bf16), and its 8-bit one (sq8, whose per-dimension ranges are learnt here from the very vectors it then
encodes: its best case), against the float32 vectors:

    <code>_error_mean, <code>_error_max   |cosine(stored) - cosine(float32)| over every pair of texts
    <code>_top10_overlap                  share of each text's ten nearest texts that stay the same
    <code>_decode_ms                      decoding 7,000 rows (a match's candidate documents at 10,000
                                          labs x 20 documents), median of 30
    graph_matches_bf16                    whether HostIndex's graph scores equal bf16's
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from matcher.documents import Document
from matcher.embedding import BACKENDS, default_backend, make_embedder
from matcher.index import HostIndex
from matcher.openreview import read_submissions

CODES: dict[str, Any] = {
    "fp16": faiss.ScalarQuantizer.QT_fp16,
    "bf16": faiss.ScalarQuantizer.QT_bf16,
    "sq8": faiss.ScalarQuantizer.QT_8bit,  # 8 bits per component over ranges learnt from these same vectors
}


def _top10(sims: np.ndarray) -> np.ndarray:
    sims = sims.copy()
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :10]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--backend", choices=BACKENDS, default=default_backend())
    args = parser.parse_args(argv)
    papers = read_submissions(args.data / "evaluation_datasets" / "d_20_1")
    texts = [p.text for p in list(papers.values())[: args.texts]]
    with tempfile.TemporaryDirectory() as export:
        vectors = make_embedder(backend=args.backend, export_dir=Path(export)).encode(texts)
    exact = vectors @ vectors.T
    result: dict[str, Any] = {"backend": args.backend, "texts": len(texts)}
    rows = np.random.default_rng(0).integers(len(vectors), size=7000)
    for name, code in CODES.items():
        quantiser = faiss.ScalarQuantizer(vectors.shape[1], code)
        quantiser.train(vectors)  # learns sq8's ranges; the 16-bit codes have nothing to learn
        stored = quantiser.decode(quantiser.compute_codes(vectors))
        error = np.abs(vectors @ stored.T - exact)
        overlap = [len(set(a) & set(b)) / 10 for a, b in zip(_top10(vectors @ stored.T), _top10(exact), strict=True)]
        candidates = quantiser.compute_codes(vectors[rows])
        times = []
        for _ in range(30):
            start = time.perf_counter()
            quantiser.decode(candidates)
            times.append(time.perf_counter() - start)
        result |= {
            f"{name}_error_mean": float(error.mean()),
            f"{name}_error_max": float(error.max()),
            f"{name}_top10_overlap": float(np.mean(overlap)),
            f"{name}_decode_ms": statistics.median(times) * 1000,
        }
        if name == "bf16":
            graph = HostIndex(vectors.shape[1], "bench", ann_threshold=1)
            docs = [Document(f"h{i}", "description", "", text) for i, text in enumerate(texts)]
            graph.upsert((docs[i : i + 1], vectors[i : i + 1]) for i in range(len(texts)))
            every = np.concatenate([graph.host_rows(d.host_id) for d in docs])
            result["graph_matches_bf16"] = bool(
                graph.approximate and np.allclose(graph.similarities(vectors, every), vectors @ stored.T, atol=1e-6)
            )
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
