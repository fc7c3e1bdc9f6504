"""The engine with a fake embedder, and once with the real model on a tiny corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.engine import Engine, MatchSettings
from matcher.errors import UnknownHost
from matcher.index import HostIndex
from models.profiles import HostLab, ResearcherProfile
from models.stages import CareerStage
from tests.conftest import FakeEmbedder

TOPICS = {
    "h-quake": ("Earthquake engineering", "seismic isolation of buildings and earthquake ground motion"),
    "h-ocean": ("Ocean acidification", "coral reefs under ocean acidification and marine carbonate chemistry"),
    "h-nlp": ("Japanese NLP", "machine translation and language models for Japanese text"),
    "h-grape": ("Viticulture", "grapevine physiology and wine grape cultivation under drought"),
}


def corpus(make_host: Callable[..., HostLab]) -> list[HostLab]:
    return [
        make_host(
            host_id,
            lab_name=name,
            description=f"The lab studies {text}.",
            publications=[
                {"title": f"{name} study {i}", "abstract": f"We report new results on {text}."} for i in range(3)
            ],
        )
        for host_id, (name, text) in TOPICS.items()
    ]


def new_engine(embedder: Any) -> Engine:
    return Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))


def test_the_obvious_host_ranks_first_with_evidence(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    engine = new_engine(FakeEmbedder())
    engine.upsert_hosts(corpus(make_host))
    researcher = make_researcher(statement="Seismic isolation and earthquake ground motion for tall buildings.")
    result = engine.match(researcher, top=3)
    assert result.matches[0].host_id == "h-quake"
    assert len(result.matches) == 3
    assert result.matches[0].evidence, "a match carries evidence"
    assert result.matches[0].evidence[0].researcher_text == "statement"
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)


def test_equal_scores_are_ordered_by_host_id(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    engine = new_engine(FakeEmbedder())
    engine.upsert_hosts([make_host(h, description="identical text") for h in ("h-c", "h-a", "h-b")])
    result = engine.match(make_researcher(statement="identical text"), top=3)
    assert [m.host_id for m in result.matches] == ["h-a", "h-b", "h-c"]


def test_unchanged_hosts_are_not_embedded_again_and_changed_ones_only_in_part(
    make_host: Callable[..., HostLab], tmp_path: Path
) -> None:
    fake = FakeEmbedder()
    engine = new_engine(CachingEmbedder(fake, EmbeddingCache(tmp_path / "c.sqlite3")))
    hosts = corpus(make_host)
    report = engine.upsert_hosts(hosts)
    assert (report.added, report.texts_embedded) == (4, 16)
    report = engine.upsert_hosts(hosts)
    assert (report.unchanged, report.texts_embedded) == (4, 0)
    changed = hosts[0].model_copy(update={"description": "A new description of the lab."})
    report = engine.upsert_hosts([changed])
    assert (report.updated, report.texts_embedded) == (1, 1)  # only the new description
    assert fake.texts_embedded == 17


def test_hosts_can_be_removed_and_saved_state_reloads(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile], tmp_path: Path
) -> None:
    fake = FakeEmbedder()
    engine = new_engine(fake)
    engine.upsert_hosts(corpus(make_host))
    engine.remove_hosts(["h-quake"])
    with pytest.raises(UnknownHost):
        engine.remove_hosts(["h-quake"])
    engine.save(tmp_path)
    reloaded = Engine.open(tmp_path, fake)
    assert sorted(reloaded.hosts) == ["h-grape", "h-nlp", "h-ocean"]
    researcher = make_researcher(statement="earthquake ground motion")
    assert "h-quake" not in [m.host_id for m in reloaded.match(researcher, top=10).matches]


def test_replace_all_drops_hosts_that_are_gone(make_host: Callable[..., HostLab]) -> None:
    engine = new_engine(FakeEmbedder())
    engine.upsert_hosts(corpus(make_host))
    engine.replace_all(corpus(make_host)[:2])
    assert sorted(engine.hosts) == ["h-ocean", "h-quake"]
    assert engine.index.host_ids == ["h-ocean", "h-quake"]


@pytest.mark.slow
def test_the_real_model_ranks_the_obviously_matching_host_first(
    real_embedder: Any, make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    engine = new_engine(real_embedder)
    engine.upsert_hosts(corpus(make_host))
    researcher = make_researcher(
        statement="I model how rising CO2 lowers seawater pH and what that does to reef-building corals.",
        publications=[{"title": "Calcification of corals in acidified seawater", "abstract": ""}],
    )
    result = engine.match(researcher, top=4)
    assert result.matches[0].host_id == "h-ocean"
    assert result.matches[0].score > result.matches[1].score + 0.1


def test_a_lab_that_fits_stage_and_stay_is_scored_though_labs_nearer_in_topic_fill_the_searches(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    """Candidates are few here (one document, one host by estimated total), and labs nearer in topic that
    fit neither the researcher's stage nor the stay would fill a search by topic alone: the lab a little
    further in topic that fits both must still be scored, and come first, as it does when every lab is."""
    topic = "Coastal sediment transport and tsunami deposits on sandy beaches of the Pacific coast."
    misfit: dict[str, Any] = {"accepted_stages": ["R4"], "hosting_window": {"min": "1 month", "max": "2 months"}}
    near = [make_host(f"h-near-{i}", description=topic, **misfit) for i in range(3)]
    fits = make_host(
        "h-fits",
        description="Coastal sediment transport and tsunami deposits.",
        accepted_stages=["R2"],
        hosting_window={"min": "12 months", "max": "24 months"},
    )
    researcher = make_researcher(statement=topic, desired_tenure="18 months")
    few, every = new_engine(FakeEmbedder()), new_engine(FakeEmbedder())
    few.settings, every.settings = MatchSettings(pool=1, host_pool=1), MatchSettings(pool=10, host_pool=0)
    for engine in (few, every):
        engine.upsert_hosts([*near, fits])
    assert every.match(researcher, top=1).matches[0].host_id == "h-fits"
    result = few.match(researcher, top=1)
    assert result.matches[0].host_id == "h-fits"
    assert result.candidates == 2  # the nearest document's lab and the best estimated one


def test_the_estimates_follow_changes_to_the_labs(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    """What candidates are estimated from is built once and kept: a lab that changes its stages, or
    leaves, must be seen by the next match."""
    topic = "Glacier mass balance from ice cores and satellite gravimetry."
    engine = new_engine(FakeEmbedder())
    engine.settings = MatchSettings(pool=1, host_pool=1)
    engine.upsert_hosts([make_host("h-a", description=topic), make_host("h-b", description=topic)])
    researcher = make_researcher(statement=topic)
    first = {m.host_id for m in engine.match(researcher).matches}
    assert engine.host_terms().ids == engine.index.host_order()
    engine.upsert_hosts([make_host("h-b", description=topic, accepted_stages=["R4"])])
    terms = engine.host_terms()
    assert terms.ids == engine.index.host_order()
    group, members = terms.groups[("accepted", "programmes")]
    assert members[group[terms.ids.index("h-b")]].accepted == {CareerStage.R4}
    engine.remove_hosts(["h-a"])
    assert engine.host_terms().ids == ["h-b"]
    assert first == {"h-a", "h-b"}
    assert [m.host_id for m in engine.match(researcher).matches] == ["h-b"]
