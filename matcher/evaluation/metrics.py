"""Metrics of the reviewer-expertise gold standard (Stelmakh et al.), as pure functions.

Each participant rated some papers (expertise 1-5); a predictor scored the same (participant, paper)
pairs. Over every participant's pairs of rated papers with different ratings:

- loss = sum(w * err) / sum(w), pooled over participants, with w = |rating difference| and err = 1 for a
  wrong order, 1/2 for tied predictions, 0 for the right order (pairs with tied ratings have w = 0);
- easy = accuracy on pairs where one rating is >= 4 and the other <= 2;
- hard = accuracy on pairs where both ratings are >= 4 and differ;
  in both, tied predictions count as wrong.

A perfect predictor has loss 0; a constant one has loss 1/2 and accuracy 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Rated = Sequence[tuple[float, float]]  # (rating, prediction) pairs of one participant


@dataclass(frozen=True)
class Sums:
    """Numerators and denominators, so participants can be pooled and resampled."""

    loss_num: float = 0.0
    loss_den: float = 0.0
    easy_right: float = 0.0
    easy_all: float = 0.0
    hard_right: float = 0.0
    hard_all: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[float, float, float, float, float, float]:
        return (self.loss_num, self.loss_den, self.easy_right, self.easy_all, self.hard_right, self.hard_all)

    @property
    def loss(self) -> float:
        return self.loss_num / self.loss_den if self.loss_den else float("nan")

    @property
    def easy(self) -> float:
        return self.easy_right / self.easy_all if self.easy_all else float("nan")

    @property
    def hard(self) -> float:
        return self.hard_right / self.hard_all if self.hard_all else float("nan")


def participant_sums(rated: Rated) -> Sums:
    """The metric sums over one participant's pairs of rated papers (missing ratings left out before)."""
    loss_num = loss_den = easy_right = easy_all = hard_right = hard_all = 0.0
    for i in range(len(rated)):
        for j in range(i + 1, len(rated)):
            (r1, p1), (r2, p2) = rated[i], rated[j]
            if r1 == r2:
                continue
            w = abs(r1 - r2)
            err = 0.5 if p1 == p2 else 0.0 if (p1 > p2) == (r1 > r2) else 1.0
            loss_num += w * err
            loss_den += w
            right = int(err == 0.0)
            if max(r1, r2) >= 4 and min(r1, r2) <= 2:
                easy_right += right
                easy_all += 1
            if min(r1, r2) >= 4:
                hard_right += right
                hard_all += 1
    return Sums(loss_num, loss_den, easy_right, easy_all, hard_right, hard_all)


def pooled(per_participant: Mapping[str, Rated]) -> Sums:
    total = Sums()
    for rated in per_participant.values():
        total = total + participant_sums(rated)
    return total


def bootstrap_interval(
    per_participant: Mapping[str, Rated], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of loss, easy and hard, resampling participants with replacement."""
    sums = np.array([participant_sums(r).as_tuple() for r in per_participant.values()], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(resamples, len(sums)))
    totals = sums[draws].sum(axis=1)  # (resamples, 6)
    with np.errstate(invalid="ignore", divide="ignore"):
        metrics = {
            "loss": totals[:, 0] / totals[:, 1],
            "easy": totals[:, 2] / totals[:, 3],
            "hard": totals[:, 4] / totals[:, 5],
        }
    tail = (1 - level) / 2 * 100
    return {k: (float(np.nanpercentile(v, tail)), float(np.nanpercentile(v, 100 - tail))) for k, v in metrics.items()}
