"""Run the reviewer-expertise gold standard through hostmatch's own scoring path.

For each sample folder (d_20_1 ... d_20_10, OpenReview archive format) the reviewers are imported as hosts
into a fresh `Engine` (same embedder and cache, same index, same aggregation as production) and every rated
(participant, paper) pair is scored by `Engine.topic_similarity`: the paper as a researcher's text against
the participant as a host. With a multilingual encoder enabled, the pairs in which a text is not English go
through it, as in a match (on this English data: none, unless a text is taken for another language). The
ratings come from evaluations.csv (tab-separated).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from matcher.engine import Engine
from matcher.errors import FieldError, InvalidInput
from matcher.evaluation.metrics import Rated, bootstrap_interval, pooled
from matcher.evaluation.openreview import read_archives, read_submissions, reviewer_as_host, submission_as_researcher
from matcher.progress import Progress
from matcher.text.documents import researcher_texts


def read_ratings(data: Path) -> dict[str, list[tuple[str, float]]]:
    """Each participant's (paper id, expertise) pairs; empty cells (fewer than ten ratings) are skipped."""
    path = data / "evaluations.csv"
    if not path.is_file():
        raise InvalidInput([FieldError("data", f"{data}: no evaluations.csv")])
    ratings: dict[str, list[tuple[str, float]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            pairs = []
            for i in range(1, 11):
                paper, value = (row.get(f"Paper{i}") or "").strip(), (row.get(f"Expertise{i}") or "").strip()
                if paper and value:
                    pairs.append((paper, float(value)))
            ratings[row["ParticipantID"].strip()] = pairs
    return ratings


def parse_samples(text: str) -> list[int]:
    """ "1-10", "3" or "1,4,7" -> sample numbers."""
    numbers: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"samples: {text!r} is not like 1-10, 3 or 1,4,7")
        numbers.extend(range(int(low), int(high or low) + 1))
    if not numbers or min(numbers) < 1:
        raise ValueError(f"samples: {text!r} names no sample")
    return sorted(set(numbers))


def score_sample(
    folder: Path,
    ratings: dict[str, list[tuple[str, float]]],
    new_engine: Callable[[], Engine],
    *,
    progress: Progress | None = None,
) -> dict[str, Rated]:
    """(rating, prediction) pairs per participant for one sample folder; `progress` hears of the embedding
    of the participants' papers, then of the rated papers."""
    archives = read_archives(folder)
    submissions = read_submissions(folder)
    engine = new_engine()
    engine.upsert_hosts([reviewer_as_host(r, papers) for r, papers in archives.items() if papers], progress=progress)
    wanted = sorted({paper for pairs in ratings.values() for paper, _ in pairs if paper in submissions})
    texts = {p: researcher_texts(submission_as_researcher(submissions[p])) for p in wanted}
    flat = [t for p in wanted for t in texts[p]]
    # in both spaces with a multilingual side
    vectors = engine.embed_queries(flat, [t.language for t in flat], progress=progress)
    start, queries = 0, {}
    for p in wanted:
        queries[p] = vectors.part(start, start + len(texts[p]))
        start += len(texts[p])
    result: dict[str, Rated] = {}
    for participant, pairs in sorted(ratings.items()):
        if participant not in engine.hosts:
            continue
        rated = []
        for paper, rating in pairs:
            if paper in queries:
                weights = [t.weight for t in texts[paper]]
                similarity = float(engine.topic_similarity(queries[paper], weights, [participant])[0])
                rated.append((rating, similarity))
        result[participant] = rated
    return result


def evaluate(
    data: Path,
    samples: Iterable[int],
    new_engine: Callable[[], Engine],
    *,
    resamples: int = 1000,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Metrics per sample, their means, and bootstrap 95% intervals over participants per sample.

    Args:
        data: the gold-standard folder (evaluations.csv and evaluation_datasets/d_20_N).
        samples: which d_20_N samples, in order.
        new_engine: a fresh engine for each sample (the same embedder and cache).
        resamples: bootstrap resamples per interval.
        progress: told ("samples", scored, len(samples)) and, within each sample, of its "embedding".

    Raises:
        InvalidInput: no evaluations.csv, or a sample folder that does not exist (checked before any is scored).
    """
    ratings = read_ratings(data)
    chosen = list(samples)
    folders = [data / "evaluation_datasets" / f"d_20_{n}" for n in chosen]
    for folder in folders:
        if not folder.is_dir():
            raise InvalidInput([FieldError("samples", f"{folder} does not exist")])
    per_sample = {}
    for i, (n, folder) in enumerate(zip(chosen, folders, strict=True)):
        if progress is not None:
            progress("samples", i, len(chosen))
        rated = score_sample(folder, ratings, new_engine, progress=progress)
        sums = pooled(rated)
        per_sample[f"d_20_{n}"] = {
            "loss": sums.loss,
            "easy": sums.easy,
            "hard": sums.hard,
            "ci95": bootstrap_interval(rated, resamples=resamples, seed=n),
            "participants": len(rated),
            "pairs": int(sums.loss_den and sum(len(r) for r in rated.values())),
        }
    if progress is not None:
        progress("samples", len(chosen), len(chosen))
    means = {k: float(np.mean([s[k] for s in per_sample.values()])) for k in ("loss", "easy", "hard")}
    return {**means, "per_sample": per_sample}
