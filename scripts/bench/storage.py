"""How the graph stores vectors: `python -m scripts.bench.storage --data ../shared/eval/goldstandard`.

Above its threshold the index keeps document vectors as 8-bit codes (matcher/index/faiss_index.py). This embeds real
abstracts (titles and abstracts of the gold standard's d_20_1 submissions and its reviewers' papers) with
the configured encoder, splits them at random into an earlier half and a later half, and prints one JSON
object comparing three of FAISS's encodings against the float32 vectors, over the later half:

- fp16 and bf16, 16 bits per component, IEEE half precision and bfloat16; nothing to learn;
- sq8, 8 bits per component over per-dimension ranges learnt, as the index learns them, from the earlier
  half only (widened by `RANGE_MARGIN`): the documents a graph starts with, so later ones can fall outside.

    <code>_error_mean, <code>_error_max   |cosine(stored) - cosine(float32)| over every pair of later texts
    <code>_top10_overlap                  share of each later text's ten nearest later texts that stay
    <code>_decode_ms                      decoding 7,000 rows (a match's candidate documents at 10,000
                                          labs x 20 documents), median of 30
    sq8_clipped                           share of the later vectors' components outside the learnt ranges
    graph_matches_sq8                     whether HostIndex's graph, started from the earlier half, scores
                                          the later half as sq8 does here
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

from matcher.encoders import BACKENDS, default_backend, make_embedder
from matcher.evaluation.openreview import read_archives, read_submissions
from matcher.index import RANGE_MARGIN, HostIndex
from matcher.text.documents import Document

CODES: dict[str, Any] = {
    "fp16": faiss.ScalarQuantizer.QT_fp16,
    "bf16": faiss.ScalarQuantizer.QT_bf16,
    "sq8": faiss.ScalarQuantizer.QT_8bit,
}


def _top10(sims: np.ndarray) -> np.ndarray:
    sims = sims.copy()
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :10]


def _texts(data: Path, limit: int) -> list[str]:
    folder = data / "evaluation_datasets" / "d_20_1"
    papers = [*read_submissions(folder).values(), *(p for ps in read_archives(folder).values() for p in ps)]
    unique = list(dict.fromkeys(p.text for p in papers))
    return unique[:limit]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--backend", choices=BACKENDS, default=default_backend())
    args = parser.parse_args(argv)
    texts = _texts(args.data, args.texts)
    with tempfile.TemporaryDirectory() as export:
        vectors = make_embedder(backend=args.backend, export_dir=Path(export)).encode(texts)
    order = np.random.default_rng(0).permutation(len(vectors))
    earlier, later = vectors[order[: len(order) // 2]], vectors[order[len(order) // 2 :]]
    exact = later @ later.T
    result: dict[str, Any] = {"backend": args.backend, "texts": len(texts), "measured": len(later)}
    rows = np.random.default_rng(1).integers(len(later), size=7000)
    for name, code in CODES.items():
        quantiser = faiss.ScalarQuantizer(vectors.shape[1], code)
        quantiser.rangestat = faiss.ScalarQuantizer.RS_minmax
        quantiser.rangestat_arg = RANGE_MARGIN
        quantiser.train(earlier)  # learns sq8's ranges; the 16-bit codes have nothing to learn
        stored = quantiser.decode(quantiser.compute_codes(later))
        error = np.abs(later @ stored.T - exact)
        overlap = [len(set(a) & set(b)) / 10 for a, b in zip(_top10(later @ stored.T), _top10(exact), strict=True)]
        candidates = quantiser.compute_codes(later[rows])
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
        if name == "sq8":
            low, span = faiss.vector_to_array(quantiser.trained).reshape(2, -1)
            result["sq8_clipped"] = float(((later < low) | (later > low + span)).mean())
            result["graph_matches_sq8"] = _graph_matches(earlier, later, stored)
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in result.items()}))


def _graph_matches(earlier: np.ndarray, later: np.ndarray, stored: np.ndarray) -> bool:
    """Build a HostIndex graph from the earlier half (one host per text), add the later half, and compare
    its scores of the later texts with the quantiser's."""
    graph = HostIndex(earlier.shape[1], "bench", ann_threshold=len(earlier))
    for prefix, part in (("e", earlier), ("l", later)):
        docs = [Document(f"{prefix}{i}", "description", "", "") for i in range(len(part))]
        graph.upsert(([doc], part[i : i + 1]) for i, doc in enumerate(docs))
    rows = np.concatenate([graph.host_rows(f"l{i}") for i in range(len(later))])
    return bool(graph.approximate and np.allclose(graph.similarities(later, rows), later @ stored.T, atol=1e-6))


if __name__ == "__main__":
    main()
