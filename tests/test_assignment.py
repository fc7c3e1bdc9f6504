"""Assignment solvers against brute force on small instances, and their diagnostics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.calls.assignment import Edges, explain_unassigned, solve_flow, solve_stable
from matcher.errors import AssignmentInfeasible


def edges_of(pairs: list[tuple[int, int, float]]) -> Edges:
    """Edges from (applicant, host, score) triples."""
    array = np.array(pairs, dtype=np.float64).reshape(-1, 3)
    return Edges(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2])


@st.composite
def instances(draw: st.DrawFn, max_applicants: int = 5, max_hosts: int = 3) -> tuple[int, np.ndarray, Edges]:
    n_applicants = draw(st.integers(1, max_applicants))
    n_hosts = draw(st.integers(1, max_hosts))
    capacities = np.array(draw(st.lists(st.integers(0, 2), min_size=n_hosts, max_size=n_hosts)))
    pairs = [(a, h) for a in range(n_applicants) for h in range(n_hosts)]
    allowed = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    scores = draw(st.lists(st.integers(1, 20), min_size=len(allowed), max_size=len(allowed)))
    edges = edges_of([(a, h, s / 20) for (a, h), s in zip(allowed, scores, strict=True)])
    return n_applicants, capacities, edges


def brute_force_best(n_applicants: int, capacities: np.ndarray, edges: Edges, per_applicant: int = 1) -> float:
    """Try every subset of edges: the best total that respects both limits."""
    best = 0.0
    for size in range(len(edges) + 1):
        for subset in itertools.combinations(range(len(edges)), size):
            per_a = np.bincount(edges.applicant[list(subset)], minlength=n_applicants) if subset else np.zeros(1)
            per_h = np.bincount(edges.host[list(subset)], minlength=len(capacities)) if subset else np.zeros(1)
            if (per_a <= per_applicant).all() and (not subset or (per_h <= capacities).all()):
                best = max(best, float(edges.score[list(subset)].sum()))
    return best


def assert_feasible(n_applicants: int, capacities: np.ndarray, edges: Edges, chosen: np.ndarray, per: int = 1) -> None:
    assert (np.bincount(edges.applicant[chosen], minlength=n_applicants) <= per).all()
    assert (np.bincount(edges.host[chosen], minlength=len(capacities)) <= capacities).all()


@settings(max_examples=60, deadline=None)
@given(instances())
def test_flow_finds_the_brute_force_optimum(instance: tuple[int, np.ndarray, Edges]) -> None:
    n_applicants, capacities, edges = instance
    result = solve_flow(n_applicants, capacities, edges)
    assert_feasible(n_applicants, capacities, edges, result.chosen)
    assert result.total == pytest.approx(brute_force_best(n_applicants, capacities, edges), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(instances(max_applicants=4, max_hosts=2))
def test_flow_with_two_hosts_per_applicant_finds_the_optimum(instance: tuple[int, np.ndarray, Edges]) -> None:
    n_applicants, capacities, edges = instance
    result = solve_flow(n_applicants, capacities, edges, per_applicant=2)
    assert_feasible(n_applicants, capacities, edges, result.chosen, per=2)
    assert result.total == pytest.approx(brute_force_best(n_applicants, capacities, edges, 2), abs=1e-9)


def test_a_hand_built_case_where_greedy_is_wrong() -> None:
    """Applicant 0 fits both hosts (0.9, 0.8); applicant 1 fits only host 0 (0.85). Greedy gives 0 to host 0
    (total 0.9); the optimum sends 0 to host 1 and 1 to host 0 (total 1.65)."""
    edges = edges_of([(0, 0, 0.9), (0, 1, 0.8), (1, 0, 0.85)])
    result = solve_flow(2, np.array([1, 1]), edges)
    assert sorted(result.pairs(edges)) == [(0, 1), (1, 0)]
    assert result.total == pytest.approx(1.65)


def blocking_pairs(
    n_applicants: int, capacities: np.ndarray, edges: Edges, chosen: np.ndarray, host_rank: np.ndarray
) -> list[tuple[int, int]]:
    """Every acceptable pair (a, h) where a prefers h to its match and h has room or prefers a."""
    match = {int(edges.applicant[e]): e for e in chosen}
    holders = {h: [e for e in chosen if edges.host[e] == h] for h in range(len(capacities))}
    blocking = []
    for e in range(len(edges)):
        a, h = int(edges.applicant[e]), int(edges.host[e])
        if a in match and match[a] == e:
            continue
        a_prefers = a not in match or (edges.score[e], -h) > (edges.score[match[a]], -int(edges.host[match[a]]))
        h_prefers = len(holders[h]) < capacities[h] or any(host_rank[e] < host_rank[x] for x in holders[h])
        if a_prefers and h_prefers:
            blocking.append((a, h))
    return blocking


@settings(max_examples=80, deadline=None)
@given(instances(max_applicants=6, max_hosts=3), st.randoms(use_true_random=False))
def test_stable_matching_has_no_blocking_pair(instance: tuple[int, np.ndarray, Edges], rnd: object) -> None:
    n_applicants, capacities, edges = instance
    for host_rank in (None, np.array([rnd.random() for _ in range(len(edges))])):  # type: ignore[attr-defined]
        result = solve_stable(n_applicants, capacities, edges, host_rank=host_rank)
        assert_feasible(n_applicants, capacities, edges, result.chosen)
        ranks = host_rank if host_rank is not None else np.lexsort((edges.applicant, -edges.score)).argsort()
        assert blocking_pairs(n_applicants, capacities, edges, result.chosen, ranks) == []


def test_stable_matching_respects_host_preferences() -> None:
    """Both applicants want the one-place host; the host ranks applicant 1 first, so 1 gets it."""
    edges = edges_of([(0, 0, 0.9), (1, 0, 0.5), (0, 1, 0.3)])
    by_score = solve_stable(2, np.array([1, 1]), edges)
    assert sorted(by_score.pairs(edges)) == [(0, 0)]  # applicant 1 has only host 0 and loses it
    by_host = solve_stable(2, np.array([1, 1]), edges, host_rank=np.array([2.0, 1.0, 1.0]))
    assert sorted(by_host.pairs(edges)) == [(0, 1), (1, 0)]


def test_min_load_is_met_when_possible_and_reported_when_not() -> None:
    edges = edges_of([(0, 0, 0.9), (1, 0, 0.8), (1, 1, 0.1), (2, 0, 0.7)])
    plain = solve_flow(3, np.array([3, 1]), edges)
    assert 1 not in edges.host[plain.chosen]  # host 1 is worse for everyone
    forced = solve_flow(3, np.array([3, 1]), edges, min_load=np.array([0, 1]))
    assert sorted(forced.pairs(edges)) == [(0, 0), (1, 1), (2, 0)]
    with pytest.raises(AssignmentInfeasible, match=r"h-b needs 2, gets 1 \(short by 1; 1 eligible applicant"):
        solve_flow(3, np.array([3, 2]), edges, min_load=np.array([0, 2]), host_names=["h-a", "h-b"])
    with pytest.raises(AssignmentInfeasible, match="minimum load above capacity: h-b"):
        solve_flow(3, np.array([3, 1]), edges, min_load=np.array([0, 2]), host_names=["h-a", "h-b"])


def test_the_institution_cap_limits_one_institution() -> None:
    edges = edges_of([(a, h, 0.9 if h < 2 else 0.5) for a in range(4) for h in range(3)])
    groups = np.array([0, 0, 1])  # hosts 0 and 1 share an institution
    result = solve_flow(4, np.array([2, 2, 2]), edges, host_group=groups, group_cap=2)
    per_group = np.bincount(groups[edges.host[result.chosen]], minlength=2)
    assert per_group.tolist() == [2, 2]


def test_bad_problems_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        solve_flow(1, np.array([1]), edges_of([(0, 0, 0.5), (0, 0, 0.6)]))
    with pytest.raises(ValueError, match="outside"):
        solve_flow(1, np.array([1]), edges_of([(0, 3, 0.5)]))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        edges_of([(0, 0, 1.5)])


def test_every_unassigned_applicant_gets_the_binding_reason() -> None:
    """Applicant 0 has no eligible host; 1's only host scores below the minimum; 2 and 3 want the same
    one-place host and 3 loses; the reasons say so and name who filled the host."""
    eligible = edges_of([(1, 0, 0.2), (2, 1, 0.9), (3, 1, 0.6)])
    kept = edges_of([(2, 1, 0.9), (3, 1, 0.6)])
    result = solve_flow(4, np.array([1, 1]), kept)
    reasons = explain_unassigned(4, np.array([1, 1]), eligible, kept, result, min_score=0.5)
    assert set(reasons) == {0, 1, 3}
    assert reasons[0].kind == "no eligible host"
    assert reasons[1].kind == "below min score" and "0.200 < 0.500" in reasons[1].detail
    assert reasons[3].kind == "eligible hosts full" and reasons[3].full_hosts == {1: [2]}
