"""A whole call end to end: synthetic applicants and hosts, through scoring, assignment and the outputs."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from matcher.calls.batch import CallResult, CallSettings, run_call, score_call
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.engine import Engine
from matcher.errors import AssignmentInfeasible
from matcher.index import HostIndex
from matcher.ranking.components import ResearcherSide, Scorer, Weights
from matcher.text.documents import researcher_texts
from models.eligibility import eligible_programmes
from models.profiles import ResearcherProfile
from scripts.bench.synthetic import synthetic_call
from tests.conftest import FakeEmbedder, researcher_record

Call = tuple[Engine, list[ResearcherProfile], FakeEmbedder]


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> Call:
    applicants, hosts = synthetic_call(2000, 500, seed=7)
    fake = FakeEmbedder(dim=128)
    embedder = CachingEmbedder(fake, EmbeddingCache(tmp_path_factory.mktemp("cache") / "c.sqlite3"))
    engine = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))
    engine.upsert_hosts(hosts)
    return engine, applicants, fake


@pytest.fixture(scope="module")
def exclusions(call: Call) -> set[tuple[str, str]]:
    engine, applicants, _ = call
    first = score_call(engine, applicants[:50], CallSettings())
    # exclude each of those applicants' best host: they must end up elsewhere or unassigned
    best: dict[int, tuple[float, int]] = {}
    for e in range(len(first.edges)):
        a, s = int(first.edges.applicant[e]), float(first.edges.score[e])
        best[a] = max(best.get(a, (-1.0, -1)), (s, int(first.edges.host[e])))
    return {(applicants[a].id, first.hosts[h].id) for a, (_, h) in best.items()}


@pytest.fixture(scope="module")
def flow_result(call: Call, exclusions: set[tuple[str, str]]) -> CallResult:
    engine, applicants, _ = call
    settings = CallSettings(candidates=30, min_score=0.3)
    return run_call(score_call(engine, applicants, settings, exclusions=exclusions), settings)


def check_result(result: CallResult, exclusions: set[tuple[str, str]]) -> None:
    scores = result.scores
    assigned = result.assigned()
    load = Counter(h for _, h, _ in assigned)
    assert all(load[h] <= scores.hosts[h].capacity for h in load), "capacity exceeded"
    assert len({a for a, _, _ in assigned}) == len(assigned), "an applicant got two hosts"
    for a, h, pair in assigned:
        assert (scores.applicants[a].id, scores.hosts[h].id) not in exclusions
        assert pair.programmes, "an ineligible pair was assigned"
        assert pair.total >= 0.3
    unassigned = set(range(len(scores.applicants))) - {a for a, _, _ in assigned}
    assert unassigned == set(result.unassigned), "every unassigned applicant carries a reason"
    assert all(r.kind and r.detail for r in result.unassigned.values())


def test_a_synthetic_call_of_2000_by_500_assigns_within_every_constraint(
    flow_result: CallResult, exclusions: set[tuple[str, str]]
) -> None:
    check_result(flow_result, exclusions)
    assert len(flow_result.assigned()) > 500  # most of the 500 hosts' 1-3 places are used
    kinds = Counter(u.kind for u in flow_result.unassigned.values())
    assert kinds["eligible hosts full"] > 0  # 2000 applicants for ~1000 places


def test_stable_on_the_same_call_respects_the_same_constraints(
    call: Call, exclusions: set[tuple[str, str]], flow_result: CallResult
) -> None:
    engine, applicants, _ = call
    settings = CallSettings(candidates=30, min_score=0.3, method="stable")
    result = run_call(score_call(engine, applicants, settings, exclusions=exclusions), settings)
    check_result(result, exclusions)
    assert result.assignment.total <= flow_result.assignment.total + 1e-9  # flow is the maximum


def test_a_rerun_embeds_nothing_and_gives_the_same_assignment(
    call: Call, exclusions: set[tuple[str, str]], flow_result: CallResult
) -> None:
    engine, applicants, fake = call
    before = fake.texts_embedded
    settings = CallSettings(candidates=30, min_score=0.3)
    again = run_call(score_call(engine, applicants, settings, exclusions=exclusions), settings)
    assert fake.texts_embedded == before
    assert [(a, h) for a, h, _ in again.assigned()] == [(a, h) for a, h, _ in flow_result.assigned()]


def test_a_call_over_few_documents_takes_each_applicants_truly_best_hosts(
    call: Call,
) -> None:
    """Below the exact limit every host is scored for every applicant in blocks: the candidates must be the
    hosts the applicant could go to (a programme in common, places left) that a single match would total
    highest, with the same similarities. (Applicants without keywords, the one part the estimates that
    choose candidates bound rather than compute.)"""
    engine, applicants, _ = call
    plain = [a.model_copy(update={"fields": a.fields.model_copy(update={"keywords": ()})}) for a in applicants[:40]]
    scores = score_call(engine, plain, CallSettings(candidates=8))
    host_ids = [h.id for h in scores.hosts]
    sides = [engine.hosts.side(h) for h in host_ids]
    for a, applicant in enumerate(plain):
        texts = researcher_texts(applicant)
        topic = engine.topic_similarity(
            engine.embedder.encode([t.text for t in texts]), [t.weight for t in texts], host_ids
        )
        when = applicant.desired_start or dt.date.today()
        verdicts = eligible_programmes(applicant, on=when)
        side = ResearcherSide.of(applicant, stage=applicant.stage(on=when), verdicts=verdicts)
        pairs = [Scorer(side, Weights())(h, float(sim)) for h, sim in zip(sides, topic, strict=True)]
        open_totals = [pair.total for pair in pairs if pair.programmes and pair.host.capacity > 0]
        kept = np.flatnonzero(scores.edges.applicant == a)
        assert len(kept) == min(8, len(open_totals))  # no conflicts in this call
        for e in kept:
            h = int(scores.edges.host[e])
            assert pairs[h].total >= sorted(open_totals)[-8] - 1e-9
            assert scores.pairs[e].similarity == pytest.approx(float(topic[h]), abs=1e-5)
            assert scores.pairs[e].total == pytest.approx(pairs[h].total, abs=1e-5)
    assert len(set(scores.edges.applicant.tolist())) > 20


def test_block_scoring_does_not_depend_on_the_block_size(call: Call) -> None:
    """An applicant's texts may fall in two blocks; their weighted sum must not change."""
    engine, _, _ = call
    topics = ["coral reef acidification", "graph neural networks", "medieval Japanese poetry", "tokamak plasma"]
    applicants = [
        ResearcherProfile.model_validate(
            researcher_record(
                f"r-{i}",
                statement=f"Work on {topics[i % 4]}.",
                publications=[{"title": f"{topics[(i + j) % 4]} study {j}"} for j in range(i % 4)],
            )
        )
        for i in range(12)
    ]
    texts = [researcher_texts(a) for a in applicants]
    queries = engine.embedder.encode([t.text for ts in texts for t in ts])
    owners = np.repeat(np.arange(len(texts)), [len(ts) for ts in texts])
    weights = np.array([t.weight for ts in texts for t in ts], dtype=np.float32)
    host_ids = sorted(engine.hosts)
    whole = [*engine.topic_similarity_blocks(queries, owners, weights, host_ids)][-1][0]
    one_text_at_a_time = [*engine.topic_similarity_blocks(queries, owners, weights, host_ids, budget=1)][-1][0]
    assert max(len(ts) for ts in texts) > 1  # so some applicant's texts really are split
    np.testing.assert_allclose(one_text_at_a_time, whole, atol=1e-6)
    for a in (0, 3, 7):  # and each row is what a single match computes for that applicant
        alone = engine.topic_similarity(queries[owners == a], list(weights[owners == a]), host_ids)
        np.testing.assert_allclose(whole[a], alone, atol=1e-6)


def test_an_infeasible_minimum_load_names_hosts(call: Call) -> None:
    engine, applicants, _ = call
    settings = CallSettings(candidates=5, min_load=1)
    scores = score_call(engine, applicants[:20], settings)
    with pytest.raises(AssignmentInfeasible, match=r"minimum load cannot be met: h\d{5} needs 1, gets 0"):
        run_call(scores, settings)


def test_institution_share_caps_each_institution(call: Call) -> None:
    engine, applicants, _ = call
    settings = CallSettings(candidates=30, institution_share=0.01)
    result = run_call(score_call(engine, applicants[:600], settings), settings)
    per_institution = Counter(result.scores.hosts[h].institution for _, h, _ in result.assigned())
    assert max(per_institution.values()) <= 6


def test_host_preferences_drive_the_stable_method(call: Call) -> None:
    engine, applicants, _ = call
    settings = CallSettings(candidates=10, method="stable")
    scores = score_call(engine, applicants[:200], settings)
    h = int(np.bincount(scores.edges.host).argmax())  # the most wanted host
    wanted_by = [scores.applicants[int(a)].id for a in scores.edges.applicant[scores.edges.host == h]]
    favourite = sorted(wanted_by)[-1]
    result = run_call(scores, settings, host_preferences={scores.hosts[h].id: [favourite]})
    score_at = {
        (scores.applicants[int(a)].id, int(host)): float(s)
        for a, host, s in zip(scores.edges.applicant, scores.edges.host, scores.edges.score, strict=True)
    }
    placed = {scores.applicants[a].id: host for a, host, _ in result.assigned()}
    # The host ranks its favourite first, so the favourite can only be elsewhere if it liked that more.
    assert favourite in placed
    assert placed[favourite] == h or score_at[(favourite, placed[favourite])] >= score_at[(favourite, h)]


def test_scoring_reports_each_applicant_and_the_solve(tmp_path: Path, call: Call) -> None:
    """A fresh cache: the call's texts are counted as they are embedded, then every applicant as scored, in
    order, then the solve; a re-run embeds nothing and says so."""
    from tests.test_progress import Recorder

    engine, applicants, _ = call
    fresh = CachingEmbedder(FakeEmbedder(dim=128), EmbeddingCache(tmp_path / "cache.sqlite3"))
    hosts = [engine.hosts[h] for h in sorted(engine.hosts)]
    engine = Engine(fresh, engine.index, {h.id: h for h in hosts})
    chosen = applicants[:30]
    texts = sum(len(researcher_texts(a)) for a in chosen)
    seen = Recorder()
    settings = CallSettings(candidates=5)
    run_call(score_call(engine, chosen, settings, progress=seen), settings, progress=seen)
    assert [stage for stage, *_ in seen.reports if stage != "embedding"][:1] == ["scoring"]
    assert seen.of("embedding")[0] == (0, texts) and seen.of("embedding")[-1] == (texts, texts)
    assert seen.of("scoring") == [(a, 30) for a in range(31)]
    assert seen.of("solving") == [(0, 1), (1, 1)]
    stages = [stage for stage, *_ in seen.reports]
    assert stages.index("solving") > max(i for i, s in enumerate(stages) if s == "scoring")
    again = Recorder()
    score_call(engine, chosen, settings, progress=again)
    assert again.of("embedding") == [(0, 0)]


def test_above_the_exact_limit_a_search_of_every_document_gives_the_exact_scores(
    call: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search path, in blocks of applicants smaller than the call, finds every host when it searches every
    document: it must then give the exact path's candidates and scores."""
    import matcher.calls.batch
    from matcher.engine import MatchSettings

    engine, applicants, _ = call
    chosen = applicants[:23]
    settings = CallSettings(candidates=6)
    exact = score_call(engine, chosen, settings)
    documents = len(engine.index)
    searching = Engine(
        engine.embedder,
        engine.index,
        {h: engine.hosts[h] for h in engine.hosts},
        settings=MatchSettings(exact_limit=0, pool=documents),
    )
    monkeypatch.setattr(matcher.calls.batch, "SEARCH_BLOCK", 5)
    searched = score_call(searching, chosen, settings)
    np.testing.assert_array_equal(searched.edges.applicant, exact.edges.applicant)
    np.testing.assert_array_equal(searched.edges.host, exact.edges.host)
    np.testing.assert_allclose(searched.edges.score, exact.edges.score, atol=1e-5)
    assert searched.left_out == exact.left_out


def test_an_applicant_eligible_for_no_programme_is_told_why(call: Call) -> None:
    """A Japanese national cannot hold these fellowships: the reason names the programme asked for and the rule."""
    engine, applicants, _ = call
    japanese = ResearcherProfile.model_validate(
        researcher_record("r-jp", nationality="JP", country="DE", programmes=["postdoc-standard"])
    )
    settings = CallSettings(candidates=5)
    result = run_call(score_call(engine, [*applicants[:10], japanese], settings), settings)
    reason = result.unassigned[10]
    assert reason.kind == "no eligible host"
    assert reason.detail == "not eligible for JSPS Postdoctoral Fellowship (Standard): nationals of JP are not eligible"
    without = {
        a
        for a, applicant in enumerate(result.scores.applicants)
        if not any(v.eligible for v in eligible_programmes(applicant, on=applicant.desired_start or dt.date.today()))
    }
    assert set(result.scores.ineligible) == without and 10 in without
