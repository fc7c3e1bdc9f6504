"""Order hosts and pick the evidence that explains a match. Pure functions over arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def order(host_ids: Sequence[str], scores: np.ndarray) -> list[int]:
    """Positions of hosts best first: score descending, ties broken by host id ascending."""
    if len(host_ids) != len(scores):
        raise ValueError(f"{len(host_ids)} host ids but {len(scores)} scores")
    return sorted(range(len(host_ids)), key=lambda i: (-float(scores[i]), host_ids[i]))


def best_pairs(sims: np.ndarray, length: int, *, n: int = 3) -> list[tuple[int, int, float]]:
    """The n closest (query text, document) pairs of one host, one pair per document, best first.

    Args:
        sims: (m, L) similarities of m query texts to the host's documents (columns beyond `length` are
            padding).
        length: how many documents the host really has.
        n: pairs to return at most.

    Returns:
        [(query index, document index, similarity)], ties broken by document then query index.
    """
    real = np.asarray(sims)[:, :length]
    best_query = real.argmax(axis=0)
    best_sim = real[best_query, np.arange(length)]
    docs = sorted(range(length), key=lambda d: (-float(best_sim[d]), d))[:n]
    return [(int(best_query[d]), d, float(best_sim[d])) for d in docs]
