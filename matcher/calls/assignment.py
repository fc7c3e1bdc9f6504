"""Assign applicants to hosts for a whole call. Pure: edges and capacities in, an assignment out.

Orientation: applicants are a = 0..A-1, hosts h = 0..H-1. A problem is a sparse list of allowed edges
(a, h, score), score in [0, 1]: a pair that is ineligible, in conflict, or below the minimum score simply
has no edge. Ids are mapped to and from these indices by the caller.

- `solve_flow`: maximum total score, by min-cost flow (OR-Tools). Each applicant gets at most
  `per_applicant` hosts, each host at most its capacity. Optional: a minimum load per host, and a cap on
  the places going to one institution (any grouping of hosts). The network:

      source -> applicant (cap per_applicant) -> host (cap 1, cost -score) -> [institution] -> sink
      source -> sink (bypass: an applicant may stay unassigned, cost 0)

  A minimum load is a first slice of the host's capacity whose arc carries a bonus larger than any total
  score, so every minimum that can be met is met, and one that cannot is reported with its shortfall.
- `solve_stable`: hospital-residents stable matching, applicant-proposing (Gale-Shapley with capacities):
  no applicant and host would both rather have each other than what they got. Host preferences are a rank
  per edge (lower is better), by default the score.
- `explain_unassigned`: the binding reason for every applicant left without a host.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

from matcher.errors import AssignmentInfeasible

SCALE = 1_000_000  # scores become integer costs with six decimals


@dataclass(frozen=True)
class Edges:
    """Allowed (applicant, host) pairs with their scores; parallel arrays of one length."""

    applicant: np.ndarray
    host: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.applicant)
        if len(self.host) != n or len(self.score) != n:
            raise ValueError(f"edge arrays differ in length: {n}, {len(self.host)}, {len(self.score)}")
        if n and (np.min(self.score) < 0 or np.max(self.score) > 1 or not np.all(np.isfinite(self.score))):
            raise ValueError("edge scores must be finite and in [0, 1]")

    def __len__(self) -> int:
        return len(self.applicant)


@dataclass(frozen=True)
class Assignment:
    chosen: np.ndarray  # indices into the edges, sorted by (applicant, host)
    total: float

    def pairs(self, edges: Edges) -> list[tuple[int, int]]:
        return [(int(edges.applicant[e]), int(edges.host[e])) for e in self.chosen]


def _check(n_applicants: int, capacities: np.ndarray, edges: Edges) -> np.ndarray:
    capacities = np.asarray(capacities, dtype=np.int64)
    if capacities.ndim != 1 or (capacities < 0).any():
        raise ValueError("capacities must be a 1-D array of non-negative integers")
    if len(edges) and (edges.applicant.min() < 0 or edges.applicant.max() >= n_applicants):
        raise ValueError(f"an edge names an applicant outside 0..{n_applicants - 1}")
    if len(edges) and (edges.host.min() < 0 or edges.host.max() >= len(capacities)):
        raise ValueError(f"an edge names a host outside 0..{len(capacities) - 1}")
    pairs = set(zip(edges.applicant.tolist(), edges.host.tolist(), strict=True))
    if len(pairs) != len(edges):
        raise ValueError("an (applicant, host) pair appears twice among the edges")
    return capacities


def solve_flow(
    n_applicants: int,
    capacities: np.ndarray,
    edges: Edges,
    *,
    per_applicant: int = 1,
    min_load: np.ndarray | None = None,
    host_group: np.ndarray | None = None,
    group_cap: int | None = None,
    host_names: Sequence[str] | None = None,
) -> Assignment:
    """The assignment of maximum total score (see the module docstring for the network).

    Args:
        n_applicants: A.
        capacities: (H,) places per host.
        edges: allowed pairs with scores.
        per_applicant: hosts per applicant at most.
        min_load: (H,) fellows each host must receive at least; None for none.
        host_group: (H,) group (institution) index of each host; with `group_cap`, at most that many
            places go to one group.
        host_names: names used in error messages (default "host <h>").

    Raises:
        AssignmentInfeasible: a minimum load cannot be met; the message names each host and its shortfall.
    """
    capacities = _check(n_applicants, capacities, edges)
    n_hosts = len(capacities)
    names = list(host_names) if host_names is not None else [f"host {h}" for h in range(n_hosts)]
    mins = np.zeros(n_hosts, np.int64) if min_load is None else np.asarray(min_load, dtype=np.int64)
    if mins.shape != (n_hosts,) or (mins < 0).any():
        raise ValueError("min_load must be (H,) non-negative integers")
    over = [f"{names[h]} (minimum {mins[h]}, capacity {capacities[h]})" for h in np.flatnonzero(mins > capacities)]
    if over:
        raise AssignmentInfeasible("minimum load above capacity: " + "; ".join(over))
    order = np.lexsort((edges.host, edges.applicant))
    supply = n_applicants * per_applicant
    source, sink = 0, 1
    applicant_node = 2 + np.arange(n_applicants)
    host_node = 2 + n_applicants + np.arange(n_hosts)
    use_groups = host_group is not None and group_cap is not None
    groups = np.asarray(host_group, dtype=np.int64) if use_groups else np.zeros(0, np.int64)
    n_groups = int(groups.max()) + 1 if use_groups and len(groups) else 0
    group_node = 2 + n_applicants + n_hosts + np.arange(n_groups)
    bonus = SCALE * (supply + 1)  # more than any total score: minimums come first

    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    caps: list[np.ndarray] = []
    costs: list[np.ndarray] = []

    def arcs(tail: np.ndarray, head: np.ndarray, cap: np.ndarray, cost: np.ndarray) -> None:
        tails.append(np.asarray(tail, np.int64))
        heads.append(np.asarray(head, np.int64))
        caps.append(np.asarray(cap, np.int64))
        costs.append(np.asarray(cost, np.int64))

    arcs(np.full(n_applicants, source), applicant_node, np.full(n_applicants, per_applicant), np.zeros(n_applicants))
    first_edge_arc = n_applicants
    arcs(
        applicant_node[edges.applicant[order]],
        host_node[edges.host[order]],
        np.ones(len(edges)),
        -np.round(edges.score[order] * SCALE),
    )
    target = group_node[groups] if use_groups else np.full(n_hosts, sink)
    first_min_arc = n_applicants + len(edges)
    arcs(host_node, target, mins, np.full(n_hosts, -bonus))
    arcs(host_node, target, capacities - mins, np.zeros(n_hosts))
    if use_groups:
        arcs(group_node, np.full(n_groups, sink), np.full(n_groups, group_cap), np.zeros(n_groups))
    arcs(np.array([source]), np.array([sink]), np.array([supply]), np.array([0]))

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(caps), np.concatenate(costs)
    )
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    for node in range(2, 2 + n_applicants + n_hosts + n_groups):
        flow.set_node_supply(node, 0)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise AssignmentInfeasible(f"the min-cost-flow solver stopped with status {status}")
    used = flow.flows(np.arange(first_edge_arc, first_edge_arc + len(edges))) > 0
    chosen = order[used]
    min_flow = flow.flows(np.arange(first_min_arc, first_min_arc + n_hosts))
    short = np.flatnonzero(min_flow < mins)
    if len(short):
        eligible = np.bincount(edges.host, minlength=n_hosts)
        detail = [
            f"{names[h]} needs {mins[h]}, gets {min_flow[h]} (short by {mins[h] - min_flow[h]}; "
            f"{eligible[h]} eligible applicant(s))"
            for h in short
        ]
        raise AssignmentInfeasible("minimum load cannot be met: " + "; ".join(detail))
    chosen = np.sort(chosen)
    return Assignment(chosen=chosen, total=float(edges.score[chosen].sum()))


def solve_stable(
    n_applicants: int, capacities: np.ndarray, edges: Edges, *, host_rank: np.ndarray | None = None
) -> Assignment:
    """Applicant-proposing stable matching with host capacities (one host per applicant).

    Applicants prefer higher scores (ties: lower host index). Hosts prefer lower `host_rank` per edge;
    by default higher scores (ties: lower applicant index). The result is applicant-optimal among stable
    matchings and deterministic.
    """
    capacities = _check(n_applicants, capacities, edges)
    if host_rank is None:
        host_key = np.lexsort((edges.applicant, -edges.score)).argsort()  # rank by score desc, id asc
    else:
        host_key = np.asarray(host_rank, dtype=np.float64)
        if host_key.shape != (len(edges),):
            raise ValueError("host_rank must give one rank per edge")
    proposals: list[list[int]] = [[] for _ in range(n_applicants)]
    for e in np.lexsort((edges.host, -edges.score, edges.applicant)):
        proposals[int(edges.applicant[e])].append(int(e))
    next_choice = [0] * n_applicants
    held: dict[int, list[tuple[float, int, int]]] = defaultdict(list)  # host -> heap of (-key, -a, edge)
    free = deque(range(n_applicants))
    while free:
        a = free.popleft()
        if next_choice[a] >= len(proposals[a]):
            continue  # every acceptable host has said no: stays unassigned
        e = proposals[a][next_choice[a]]
        next_choice[a] += 1
        h = int(edges.host[e])
        heap = held[h]
        key = (-float(host_key[e]), -a, e)
        if len(heap) < capacities[h]:
            heapq.heappush(heap, key)
        elif heap and key > heap[0]:  # the host prefers a to its least preferred holder
            _, loser, _ = heapq.heapreplace(heap, key)
            free.append(-loser)
        else:
            free.append(a)
    chosen = np.sort(np.array([e for heap in held.values() for _, _, e in heap], dtype=np.int64))
    return Assignment(chosen=chosen, total=float(edges.score[chosen].sum()) if len(chosen) else 0.0)


@dataclass(frozen=True)
class Unassigned:
    """Why one applicant has no host."""

    kind: str  # "no eligible host" | "below min score" | "eligible hosts full" | "institution cap"
    detail: str
    full_hosts: dict[int, list[int]] = field(default_factory=dict)  # host -> applicants who filled it


def explain_unassigned(
    n_applicants: int,
    capacities: np.ndarray,
    eligible: Edges,
    kept: Edges,
    assignment: Assignment,
    *,
    min_score: float = 0.0,
    host_group: np.ndarray | None = None,
    group_cap: int | None = None,
) -> dict[int, Unassigned]:
    """The binding reason for each applicant without a host.

    Args:
        eligible: every eligible, conflict-free pair (before the minimum score).
        kept: the edges the solver saw (eligible and at least `min_score`).
        assignment: the solver's result over `kept`.
    """
    capacities = np.asarray(capacities, dtype=np.int64)
    assigned = set(kept.applicant[assignment.chosen].tolist())
    holders: dict[int, list[int]] = defaultdict(list)
    for e in assignment.chosen:
        holders[int(kept.host[e])].append(int(kept.applicant[e]))
    load = {h: len(a) for h, a in holders.items()}
    group_load: dict[int, int] = defaultdict(int)
    if host_group is not None:
        for h, n in load.items():
            group_load[int(host_group[h])] += n
    best_eligible: dict[int, float] = {}
    for a, s in zip(eligible.applicant.tolist(), eligible.score.tolist(), strict=True):
        best_eligible[a] = max(s, best_eligible.get(a, 0.0))
    options: dict[int, list[int]] = defaultdict(list)
    for a, h in zip(kept.applicant.tolist(), kept.host.tolist(), strict=True):
        options[a].append(h)
    reasons: dict[int, Unassigned] = {}
    for a in range(n_applicants):
        if a in assigned:
            continue
        if a not in best_eligible:
            reasons[a] = Unassigned("no eligible host", "no host is eligible and free of conflicts")
        elif a not in options:
            reasons[a] = Unassigned(
                "below min score", f"the best eligible host scores {best_eligible[a]:.3f} < {min_score:.3f}"
            )
        else:
            hosts = sorted(set(options[a]))
            capped = [h for h in hosts if load.get(h, 0) < capacities[h]]
            if capped and host_group is not None and group_cap is not None:
                reasons[a] = Unassigned(
                    "institution cap",
                    f"{len(capped)} eligible host(s) have places, but their institutions are at the cap of {group_cap}",
                )
            else:
                full = {h: sorted(holders.get(h, [])) for h in hosts}
                reasons[a] = Unassigned("eligible hosts full", f"all {len(hosts)} eligible host(s) are full", full)
    return reasons
