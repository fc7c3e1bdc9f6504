"""A whole call at once: score every applicant against its candidate hosts, then assign globally.

    applicants -> query texts -> embed (cache: a re-run embeds nothing)
      -> every host scored for every applicant, a block of texts per matrix product, while the index holds
         at most the engine's `exact_limit` documents; above it, a batched FAISS search per block of
         applicants and the hosts with the nearest mean vectors, as a match does, scored exactly
      -> the `candidates` hosts of the best estimated totals per applicant among those it could go to (a
         programme in common, places left): `Scorer.best_totals`, the exact topic similarity, the other
         components as scored, keywords at most
      -> `Engine.score_candidates`, as a match: conflicts, pairs without a programme in common and full
         hosts left out, the ranking module's components for the others
      -> shortlists, and one assignment for the call (matcher.calls.assignment)
      -> a reason for everyone left without a host

Each applicant is scored as soon as its block of similarities is done, so a `Progress` hears of the
applicants one by one. Everything here is deterministic: ties are broken by id throughout.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from matcher.calls.assignment import Assignment, Edges, Unassigned, explain_unassigned, solve_flow, solve_stable
from matcher.engine import Engine
from matcher.progress import Progress
from matcher.ranking.components import HostTerms, PairScore, ResearcherSide, Scorer, Weights, best_positions
from matcher.ranking.conflicts import institution_key, researcher_keys
from matcher.text.documents import QueryText, researcher_texts
from models.eligibility import Verdict, eligible_programmes
from models.profiles import HostLab, ResearcherProfile


@dataclass(frozen=True)
class CallSettings:
    candidates: int = 50  # hosts per applicant scored in full, by estimated total
    shortlist: int = 10
    min_score: float = 0.0
    programme: str | None = None  # only pairs that can apply under this programme
    weights: Weights = field(default_factory=Weights)
    method: Literal["flow", "stable"] = "flow"
    per_applicant: int = 1
    min_load: int = 0
    institution_share: float | None = None  # at most this share of the applicants go to one institution


@dataclass
class CallScores:
    """Every eligible, conflict-free (applicant, host) pair of a call with its score."""

    applicants: list[ResearcherProfile]
    hosts: list[HostLab]
    edges: Edges  # indices into applicants and hosts
    pairs: list[PairScore]  # aligned with the edges
    left_out: dict[int, Counter[str]]  # applicant -> candidate hosts left out, by reason
    ineligible: dict[int, str] = field(default_factory=dict)  # applicant eligible for no programme -> why


@dataclass
class CallResult:
    scores: CallScores
    kept: Edges  # the edges the solver saw (at least min_score)
    kept_pairs: list[PairScore]
    assignment: Assignment
    unassigned: dict[int, Unassigned]

    def assigned(self) -> list[tuple[int, int, PairScore]]:
        return [
            (int(self.kept.applicant[e]), int(self.kept.host[e]), self.kept_pairs[e]) for e in self.assignment.chosen
        ]


SEARCH_BLOCK = 256
"""Applicants whose texts go to one batched FAISS search, above the exact limit: large enough to keep both
cores busy, small enough that scoring (and its progress) follows the search closely."""


def score_call(
    engine: Engine,
    applicants: Sequence[ResearcherProfile],
    settings: CallSettings,
    *,
    exclusions: Collection[tuple[str, str]] = (),
    progress: Progress | None = None,
    on: dt.date | None = None,
) -> CallScores:
    """Score each applicant against the `settings.candidates` hosts of its best estimated totals.

    Args:
        engine: the hosts of the call, their index and the embedder.
        applicants: the call's applicants, in the order of `CallScores.applicants`.
        settings: candidates per applicant, programme, weights.
        exclusions: (applicant id, host id) pairs never to score (conflicts staff know of).
        progress: told of the "embedding" of the applicants' texts (those the cache does not hold), then
            ("scoring", applicants scored, applicants) as each applicant is done.
        on: the date eligibility is judged at (default: each applicant's desired start, else today).

    Returns:
        Every eligible, conflict-free pair among the candidates, with its score and the candidates left out.
    """
    hosts = [engine.hosts[h] for h in sorted(engine.hosts)]
    host_index = {h.id: i for i, h in enumerate(hosts)}
    terms = HostTerms([h.id for h in hosts], (engine.hosts.side(h.id) for h in hosts))
    texts = [researcher_texts(a) for a in applicants]
    vectors = engine.embedder.encode([t.text for ts in texts for t in ts], progress=progress)
    excluded: dict[str, set[str]] = defaultdict(set)
    for applicant_id, host_id in exclusions:
        excluded[applicant_id].add(host_id)

    applicant_idx: list[int] = []
    host_idx: list[int] = []
    pairs: list[PairScore] = []
    left_out: dict[int, Counter[str]] = {}
    ineligible: dict[int, str] = {}
    topics = _topics(engine, vectors, texts, hosts, settings)
    for a, (applicant, (found, similarity, positions)) in enumerate(zip(applicants, topics, strict=True)):
        if progress is not None:
            progress("scoring", a, len(applicants))
        if not found:
            continue
        when = on or applicant.desired_start or dt.date.today()
        verdicts = eligible_programmes(applicant, on=when)
        if not any(v.eligible for v in verdicts):
            ineligible[a] = _no_programme(applicant, verdicts)
        side = ResearcherSide.of(applicant, stage=applicant.stage(on=when), verdicts=verdicts)
        scorer = Scorer(side, settings.weights)
        estimates = scorer.best_totals(terms, positions, similarity)
        estimates[~scorer.open_to(terms, positions, settings.programme)] = -np.inf  # last, if at all
        best = best_positions(estimates, settings.candidates)  # ties by id: found is sorted
        scored = engine.score_candidates(
            scorer,
            researcher_keys(applicant),
            found,
            similarity,
            best,
            exclude=excluded.get(applicant.id, ()),
            programme=settings.programme,
            any_programme=True,
        )
        if scored.left_out:
            left_out[a] = Counter(reason for _, reason, _ in scored.left_out)
        for i, pair in scored.pairs:
            applicant_idx.append(a)
            host_idx.append(host_index[found[i]])
            pairs.append(pair)
    if progress is not None:
        progress("scoring", len(applicants), len(applicants))
    scores = np.clip(np.array([pair.total for pair in pairs], np.float64), 0.0, 1.0)
    edges = Edges(np.array(applicant_idx, np.int64), np.array(host_idx, np.int64), scores)
    return CallScores(list(applicants), hosts, edges, pairs, left_out, ineligible)


def _no_programme(applicant: ResearcherProfile, verdicts: Sequence[Verdict]) -> str:
    """Why an applicant can use no programme, in the words of the verdicts of those it asked for (of every
    programme when it asked for none)."""
    asked = [v for v in verdicts if v.programme in applicant.programmes] or list(verdicts)
    return "; ".join(v.refusal for v in asked)


def _topics(
    engine: Engine, vectors: np.ndarray, texts: list[list[QueryText]], hosts: list[HostLab], settings: CallSettings
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """For each applicant in turn: the hosts whose totals it estimates (ids, sorted), their topic similarity
    and their positions in `hosts`.

    Up to the engine's exact limit every host, every applicant's similarities summed a block of texts at a
    time; above it, the owners of the nearest documents and the hosts of the nearest mean vectors, searched
    `SEARCH_BLOCK` applicants at a time. Either way an applicant comes as soon as its block is done.
    """
    counts = [len(ts) for ts in texts]
    host_ids = [h.id for h in hosts]
    if len(engine.index) <= engine.settings.exact_limit:
        owners = np.repeat(np.arange(len(texts)), counts)
        text_weights = np.array([t.weight for ts in texts for t in ts], dtype=np.float32)
        everyone = np.arange(len(host_ids))
        ready = 0
        for topic, done in engine.topic_similarity_blocks(vectors, owners, text_weights, host_ids):
            for a in range(ready, done):
                yield host_ids, topic[a], everyone
            ready = done
        return
    host_index = {h: i for i, h in enumerate(host_ids)}
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
    docs_per_text = max(engine.settings.pool, 4 * settings.candidates)
    for first in range(0, len(texts), SEARCH_BLOCK):
        last = min(first + SEARCH_BLOCK, len(texts))
        base = int(starts[first])
        _, rows = engine.index.search(vectors[base : int(starts[last])], docs_per_text)
        for a in range(first, last):
            lo, hi = int(starts[a]), int(starts[a + 1])
            queries = vectors[lo:hi]
            found = sorted(
                engine.index.hosts_of_rows(rows[lo - base : hi - base].ravel())
                | engine.index.nearest_hosts(queries, engine.settings.host_pool)
            )
            if not found:
                yield [], np.zeros(0, np.float32), np.zeros(0, np.int64)
                continue
            similarity = engine.topic_similarity(queries, [t.weight for t in texts[a]], found)
            positions = np.fromiter((host_index[h] for h in found), dtype=np.int64, count=len(found))
            yield found, similarity, positions


def run_call(
    scores: CallScores,
    settings: CallSettings,
    *,
    host_preferences: Mapping[str, Sequence[str]] | None = None,
    progress: Progress | None = None,
) -> CallResult:
    """Solve the call's assignment and explain who is left without a host.

    Args:
        scores: the call's scored pairs (`score_call`).
        settings: the method and its limits, and the minimum score.
        host_preferences: each host's applicant ids, most preferred first (stable matching only).
        progress: told ("solving", 0, 1) before the solve and ("solving", 1, 1) once everyone left without a
            host has a reason.

    Raises:
        AssignmentInfeasible: a minimum load cannot be met (the message names hosts and shortfalls).
        ValueError: settings that do not fit the method (stable matching is one host per applicant).
    """
    if progress is not None:
        progress("solving", 0, 1)
    keep = np.flatnonzero(scores.edges.score >= settings.min_score)
    kept = Edges(scores.edges.applicant[keep], scores.edges.host[keep], scores.edges.score[keep])
    kept_pairs = [scores.pairs[e] for e in keep]
    capacities = np.array([h.capacity for h in scores.hosts], dtype=np.int64)
    names = [h.id for h in scores.hosts]
    group, cap = _institution_groups(scores, settings)
    if settings.method == "flow":
        assignment = solve_flow(
            len(scores.applicants),
            capacities,
            kept,
            per_applicant=settings.per_applicant,
            min_load=np.minimum(settings.min_load, capacities) if settings.min_load else None,
            host_group=group,
            group_cap=cap,
            host_names=names,
        )
    else:
        if settings.per_applicant != 1 or settings.min_load or settings.institution_share:
            raise ValueError("stable matching gives one host per applicant, without minimum loads or caps")
        rank = _host_ranks(scores, kept, host_preferences) if host_preferences else None
        assignment = solve_stable(len(scores.applicants), capacities, kept, host_rank=rank)
    unassigned = explain_unassigned(
        len(scores.applicants),
        capacities,
        scores.edges,
        kept,
        assignment,
        min_score=settings.min_score,
        host_group=group,
        group_cap=cap,
    )
    for a, reason in list(unassigned.items()):
        if reason.kind == "no eligible host" and a in scores.ineligible:
            unassigned[a] = Unassigned("no eligible host", scores.ineligible[a])
        elif reason.kind == "no eligible host" and scores.left_out.get(a):
            counts = ", ".join(f"{n} {why}" for why, n in sorted(scores.left_out[a].items()))
            unassigned[a] = Unassigned("no eligible host", f"the closest hosts were left out: {counts}")
        elif reason.kind == "eligible hosts full":
            unassigned[a] = Unassigned(reason.kind, _name_full_hosts(scores, reason.full_hosts), reason.full_hosts)
    if progress is not None:
        progress("solving", 1, 1)
    return CallResult(scores, kept, kept_pairs, assignment, unassigned)


def _name_full_hosts(scores: CallScores, full: dict[int, list[int]], *, shown: int = 5) -> str:
    """ "all 3 eligible hosts are full: h-a (filled by r-1, r-7); h-b (filled by r-3); ...", best hosts first."""
    parts = []
    for h in sorted(full, key=lambda h: scores.hosts[h].id)[:shown]:
        holders = ", ".join(scores.applicants[a].id for a in full[h]) or "no one: no places"
        parts.append(f"{scores.hosts[h].id} (filled by {holders})")
    more = f"; and {len(full) - shown} more" if len(full) > shown else ""
    return f"all {len(full)} eligible host(s) are full: " + "; ".join(parts) + more


def shortlists(scores: CallScores, n: int) -> dict[int, list[int]]:
    """Each applicant's best `n` edges (indices into scores.edges), best first, ties by host id."""
    by_applicant: dict[int, list[int]] = defaultdict(list)
    for e, a in enumerate(scores.edges.applicant.tolist()):
        by_applicant[a].append(e)
    result = {}
    for a, edge_list in by_applicant.items():
        edge_list.sort(key=lambda e: (-scores.edges.score[e], scores.hosts[scores.edges.host[e]].id))
        result[a] = edge_list[:n]
    return result


def _institution_groups(scores: CallScores, settings: CallSettings) -> tuple[np.ndarray | None, int | None]:
    """Group hosts by institution and turn the share into a number of places (at least 1)."""
    if not settings.institution_share:
        return None, None
    keys = [institution_key(h.institution) for h in scores.hosts]
    ids = {k: i for i, k in enumerate(sorted(set(keys)))}
    cap = max(1, int(settings.institution_share * len(scores.applicants) * settings.per_applicant))
    return np.array([ids[k] for k in keys], dtype=np.int64), cap


def _host_ranks(scores: CallScores, kept: Edges, preferences: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Rank of each edge in its host's stated order; applicants a host did not list come after, by score."""
    applicant_ids = [a.id for a in scores.applicants]
    position = {h: {a: i for i, a in enumerate(order)} for h, order in preferences.items()}
    ranks = np.empty(len(kept), dtype=np.float64)
    for e in range(len(kept)):
        host_id = scores.hosts[kept.host[e]].id
        stated = position.get(host_id, {}).get(applicant_ids[kept.applicant[e]])
        ranks[e] = stated if stated is not None else 1e6 + (1.0 - kept.score[e])
    return ranks
