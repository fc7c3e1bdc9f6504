"""Aggregate a host's document similarities into one host similarity. Pure functions over arrays.

A host has several documents; a query text has one similarity to each. Three aggregations:

- "max": the single closest document. Sharp, but one stray paper that shares a buzzword can carry a host.
- "mean": all documents count. Penalises broad labs whose other lines of work are unrelated.
- "topk" (default, k=3): mean of the k closest documents (all of them when a host has fewer than k). A host
  ranks high when a few of its documents fit, which is how a lab that really works on a topic looks; a single
  coincidence does not.

Similarities arrive padded: shape (..., L) with a per-host `lengths` telling how many entries are real, so
many hosts of different sizes are aggregated in one vectorised call.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Aggregation = Literal["max", "mean", "topk"]
DEFAULT_AGGREGATION: Aggregation = "topk"
DEFAULT_TOP_K = 3


def aggregate(
    sims: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    method: Aggregation = DEFAULT_AGGREGATION,
    k: int = DEFAULT_TOP_K,
) -> np.ndarray:
    """Aggregate along the last axis.

    Args:
        sims: (..., L) similarities; entries at or beyond a row's length are ignored.
        lengths: (...) number of real entries per row, each in 1..L; None means all L.
        method: "max", "mean" or "topk".
        k: documents averaged by "topk".

    Returns:
        (...) float32 aggregated similarities.

    Raises:
        ValueError: an unknown method, k < 1, or a length outside 1..L.
    """
    sims = np.asarray(sims, dtype=np.float32)
    if sims.ndim == 0 or sims.shape[-1] == 0:
        raise ValueError(f"sims must have at least one document on the last axis, got shape {sims.shape}")
    width = sims.shape[-1]
    if lengths is None:
        lengths = np.full(sims.shape[:-1], width)
    lengths = np.asarray(lengths)
    if lengths.shape != sims.shape[:-1] and lengths.shape != sims.shape[-2:-1]:
        raise ValueError(f"lengths shape {lengths.shape} does not fit sims shape {sims.shape}")
    if lengths.size and (lengths.min() < 1 or lengths.max() > width):
        raise ValueError(f"every length must be in 1..{width}")
    valid = np.arange(width) < lengths[..., None]
    result: np.ndarray
    if method == "max":
        result = np.where(valid, sims, -np.inf).max(axis=-1)
    elif method == "mean":
        result = np.where(valid, sims, 0.0).sum(axis=-1) / lengths
    elif method == "topk":
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        ordered = -np.sort(-np.where(valid, sims, -np.inf), axis=-1)[..., :k]
        taken = np.minimum(lengths, k)
        keep = np.arange(ordered.shape[-1]) < taken[..., None]
        result = np.where(keep, ordered, 0.0).sum(axis=-1) / taken
    else:
        raise ValueError(f"unknown aggregation {method!r}; use max, mean or topk")
    return result.astype(np.float32)


def pad_runs(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gather columns of `values` (m, R) laid out host after host (host i owns the next `lengths[i]` columns)
    into a padded (m, H, L) block; returns it and the (H,) lengths. Padding repeats column 0 and must be masked
    by `aggregate`'s lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if not len(lengths):
        return values[:, np.zeros((0, 1), dtype=np.int64)], lengths
    width = int(lengths.max())
    starts = np.cumsum(lengths) - lengths
    offsets = np.arange(width)
    columns = np.where(offsets < lengths[:, None], starts[:, None] + offsets, 0)
    return values[:, columns], lengths
