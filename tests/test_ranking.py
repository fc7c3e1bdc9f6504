"""Ranking components, their combination, filters and conflicts: scenarios and properties."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.engine import Engine
from matcher.index import HostIndex
from matcher.ranking.components import (
    COMPONENT_NAMES,
    COMPONENTS,
    Component,
    HostFilter,
    HostSide,
    HostTerms,
    Pair,
    ResearcherSide,
    Scorer,
    Weights,
    best_pairs,
    best_positions,
    calibrate_topic,
    keyword_phrases,
    ordered,
    tenure_fit,
)
from matcher.ranking.conflicts import (
    CO_AUTHORSHIP,
    EXCLUDED,
    SAME_INSTITUTION,
    conflict_between,
    host_keys,
    researcher_keys,
)
from models.durations import months
from models.eligibility import eligible_programmes
from models.profiles import HostLab, ResearcherProfile
from models.stages import CareerStage
from models.taxonomy import broad_sections_of
from tests.conftest import FakeEmbedder, host_record, researcher_record

MakeHost = Callable[..., HostLab]
MakeResearcher = Callable[..., ResearcherProfile]
COMPONENT = {c.name: c for c in COMPONENTS}
stages = st.sampled_from(list(CareerStage))
days = st.integers(min_value=1, max_value=1500)


def engine_with(hosts: list[HostLab]) -> Engine:
    embedder = FakeEmbedder()
    engine = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))
    engine.upsert_hosts(hosts)
    return engine


# -- scenarios ------------------------------------------------------------------------------------------


def test_the_lab_whose_window_fits_an_eighteen_month_stay_ranks_first(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """Two labs describe the same work in the same words. One hosts visits of 1-3 months, the other 12-24
    months. An applicant wanting 18 months should see the second first, and be told why."""
    same = "Coastal sediment transport and tsunami deposits."
    short = make_host("h-a-short", description=same, hosting_window={"min": "1 month", "max": "3 months"})
    long = make_host("h-b-long", description=same, hosting_window={"min": "12 months", "max": "24 months"})
    result = engine_with([short, long]).match(make_researcher(statement=same, desired_tenure="18 months"))
    assert [m.host_id for m in result.matches] == ["h-b-long", "h-a-short"]
    first, second = result.matches
    assert first.similarity == pytest.approx(second.similarity)
    tenure = {m.host_id: next(c for c in m.components if c.name == "tenure") for m in result.matches}
    assert tenure["h-b-long"].value == 1.0
    assert "longer than the lab's hosting window" in tenure["h-a-short"].reason


def test_a_co_author_is_never_returned_and_the_exclusion_is_counted(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """The researcher co-wrote one of the lab's papers: that lab must not be suggested, however well it
    fits, and the response says one host was left out for co-authorship."""
    text = "Ice core records of volcanic sulphate."
    coauthored = make_host(
        "h-coauthor",
        description=text,
        publications=[{"title": "Sulphate spikes in Dome Fuji ice", "coauthors": ["Test Researcher"]}],
    )
    other = make_host("h-other", description=text)
    result = engine_with([coauthored, other]).match(make_researcher(statement=text))
    assert [m.host_id for m in result.matches] == ["h-other"]
    assert result.excluded == {CO_AUTHORSHIP: 1}
    assert result.exclusions[0].id == "h-coauthor"


def test_a_full_host_is_never_returned_when_capacity_is_enforced(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """A lab with no places left is not offered; staff can still see it by switching enforcement off."""
    text = "Marine microbial ecology of hydrothermal vents."
    engine = engine_with([make_host("h-full", description=text, capacity=0), make_host("h-open", description=text)])
    researcher = make_researcher(statement=text)
    assert [m.host_id for m in engine.match(researcher).matches] == ["h-open"]
    assert engine.match(researcher).excluded == {"no places left": 1}
    relaxed = engine.match(researcher, enforce_capacity=False)
    assert sorted(m.host_id for m in relaxed.matches) == ["h-full", "h-open"]


def test_a_host_that_fills_up_is_left_out_by_the_next_match(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """What scoring reads of a host is folded once and kept; an update must replace it, not go stale."""
    text = "Marine microbial ecology of hydrothermal vents."
    engine = engine_with([make_host("h-lab", description=text)])
    researcher = make_researcher(statement=text)
    assert [m.host_id for m in engine.match(researcher).matches] == ["h-lab"]
    engine.upsert_hosts([make_host("h-lab", description=text, capacity=0)])
    assert engine.match(researcher).matches == ()
    assert engine.match(researcher).excluded == {"no places left": 1}


def test_same_institution_and_explicit_exclusions_are_left_out(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    text = "Stellar spectroscopy."
    hosts = [
        make_host("h-home", description=text, institution="The University of Leeds"),
        make_host("h-listed", description=text),
        make_host("h-fine", description=text),
    ]
    result = engine_with(hosts).match(make_researcher(statement=text), exclude={"h-listed"})
    assert [m.host_id for m in result.matches] == ["h-fine"]
    assert result.excluded == {SAME_INSTITUTION: 1, EXCLUDED: 1}


def test_a_requested_programme_the_researcher_cannot_use_returns_nothing_and_says_why(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    engine = engine_with([make_host("h-1", description="Graph theory.")])
    researcher = make_researcher(statement="Graph theory.", phd=2015)  # 11 years: too late for Standard
    result = engine.match(researcher, host_filter=HostFilter(programme="postdoc-standard"))
    assert result.matches == ()
    assert result.note is not None and "not eligible for JSPS Postdoctoral Fellowship (Standard)" in result.note


def test_a_requested_programme_keeps_only_hosts_in_it(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    text = "Soil carbon."
    hosts = [
        make_host("h-std", description=text),
        make_host("h-inv", description=text, programmes=["invitational-long"]),
    ]
    result = engine_with(hosts).match(
        make_researcher(statement=text), host_filter=HostFilter(programme="postdoc-standard")
    )
    assert [m.host_id for m in result.matches] == ["h-std"]
    assert "postdoc-standard" in result.matches[0].eligible_programmes


def test_filters_by_section_region_institution_and_language(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    text = "Robot locomotion."
    hosts = [
        make_host("h-kyoto", description=text, fields={"sections": ["20"]}),
        make_host(
            "h-sendai",
            description=text,
            institution="Tohoku University",
            prefecture="Miyagi",
            city="Sendai",
            fields={"sections": ["61"]},
        ),
        make_host("h-ja", description=text, languages=["ja"], institution="Osaka University", prefecture="Osaka"),
    ]
    engine = engine_with(hosts)
    researcher = make_researcher(statement=text)

    def ids(**kwargs: Any) -> list[str]:
        return sorted(m.host_id for m in engine.match(researcher, host_filter=HostFilter(**kwargs)).matches)

    assert ids(section="C") == ["h-kyoto"]
    assert ids(section="61") == ["h-ja", "h-sendai"]
    assert ids(region="Tohoku") == ["h-sendai"]
    assert ids(region="kansai") == ["h-ja", "h-kyoto"]
    assert ids(institution="tohoku") == ["h-sendai"]
    assert ids(prefecture="Osaka") == ["h-ja"]
    assert ids(language="ja") == ["h-ja", "h-kyoto", "h-sendai"]
    assert ids(language="en") == ["h-kyoto", "h-sendai"]


def test_min_score_drops_weak_matches_and_counts_them(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    engine = engine_with(
        [
            make_host("h-on", description="Volcanology of Sakurajima."),
            make_host("h-off", description="Medieval Japanese poetry."),
        ]
    )
    result = engine.match(make_researcher(statement="Volcanology of Sakurajima."), min_score=0.6)
    assert [m.host_id for m in result.matches] == ["h-on"]
    assert result.below_min_score == 1


def test_a_match_explains_itself(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    host = make_host(
        "h-1",
        description="Deep-sea hydrothermal vents and chemosynthetic symbiosis in tubeworms.",
        publications=[{"title": "Tubeworm symbionts", "abstract": "Chemosynthetic bacteria in vents."}],
    )
    researcher = make_researcher(
        statement="Chemosynthetic symbiosis of tubeworms at hydrothermal vents.", desired_start="2027-04-01"
    )
    (m,) = engine_with([host]).match(researcher).matches
    assert [c.name for c in m.components] == list(COMPONENT_NAMES)
    assert all(c.reason for c in m.components)
    assert 1 <= len(m.evidence) <= 3 and m.evidence[0].researcher_text == "statement"
    assert "chemosynthetic" in " ".join(m.shared_terms)
    assert m.eligible_programmes == ("postdoc-standard", "postdoc-short")  # 12 months fits both


def test_candidates_for_a_host_use_the_same_components(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    """Staff ask who would suit a lab: the close researcher ranks first and a co-author is left out."""
    host = make_host(
        "h-1",
        description="Paleoclimate from stalagmites.",
        publications=[{"title": "Stalagmite oxygen isotopes", "coauthors": ["Ann Other"]}],
    )
    close = make_researcher("r-close", statement="Oxygen isotopes in stalagmites for paleoclimate.")
    far = make_researcher("r-far", statement="Contract law in medieval Italy.")
    conflicted = make_researcher("r-co", name="Ann Other", statement="Stalagmite paleoclimate.")
    result = engine_with([host]).rank_researchers("h-1", [far, close, conflicted])
    assert [c.researcher_id for c in result.candidates] == ["r-close", "r-far"]
    assert result.excluded == {CO_AUTHORSHIP: 1}
    assert [c.name for c in result.candidates[0].components] == list(COMPONENT_NAMES)


def test_conflicts_match_names_by_initial_and_accents(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    host = make_host(pi_name="Kenji Tanaka")
    researcher = make_researcher(name="José Núñez", publications=[{"title": "A paper", "coauthors": ["K. Tanaka"]}])
    mine = researcher_keys(researcher)
    assert conflict_between(mine, host_keys(host)) == (
        CO_AUTHORSHIP,
        "Kenji Tanaka co-authored a publication of José Núñez",
    )
    lab = make_host(publications=[{"title": "Their paper", "coauthors": ["Jose Nunez"]}])
    assert (conflict_between(mine, host_keys(lab)) or ("",))[0] == CO_AUTHORSHIP


# -- components -----------------------------------------------------------------------------------------


RESEARCHER = ResearcherSide(CareerStage.R2, 365, (), frozenset(), frozenset(), frozenset(), frozenset({"en"}))
HOST = HostSide("h", "Lab", "PI", "Uni", "Tokyo", frozenset(CareerStage), (30, 730), (), (), (), (), frozenset(), 2)


def pair(similarity: float = 0.5, stages: set[CareerStage] | None = None, **sides: Any) -> Pair:
    """A pair of the default sides with these attributes changed (researcher_... and host_...)."""
    mine = {k.removeprefix("researcher_"): v for k, v in sides.items() if k.startswith("researcher_")}
    theirs = {k.removeprefix("host_"): v for k, v in sides.items() if k.startswith("host_")}
    researcher, host = dataclasses.replace(RESEARCHER, **mine), dataclasses.replace(HOST, **theirs)
    return Pair(researcher, host, similarity, (), frozenset(stages) if stages else None, ())


def fields_pair(sections: list[str], keywords: list[str], host_sections: list[str], host_keywords: list[str]) -> Pair:
    return pair(
        researcher_sections=frozenset(sections),
        researcher_broad=frozenset(b for s in sections for b in broad_sections_of(s)),
        researcher_phrases=keyword_phrases(keywords),
        host_sections=tuple(host_sections),
        host_broad=tuple(sorted({b for s in host_sections for b in broad_sections_of(s)})),
        host_phrases=tuple(sorted(keyword_phrases(host_keywords))),
    )


def value_and_reason(name: str, of: Pair) -> tuple[float, str]:
    return COMPONENT[name].value(of), COMPONENT[name].reason(of)


def test_stage_fit_prefers_accepted_stages() -> None:
    r2, r3, r4 = CareerStage.R2, CareerStage.R3, CareerStage.R4
    assert value_and_reason("stage", pair(host_accepted=frozenset({r2})))[0] == 1.0
    near = value_and_reason("stage", pair(researcher_stage=r3, host_accepted=frozenset({r2})))
    far = value_and_reason("stage", pair(researcher_stage=r4, host_accepted=frozenset({CareerStage.R1})))
    assert near[0] > far[0] == 0.0
    assert "1 stage(s) from" in near[1]
    assert value_and_reason("stage", pair(host_accepted=frozenset({r2}), stages={r4}))[0] < 1.0


def test_tenure_fit_degrades_smoothly_without_a_cliff() -> None:
    window = (months(12), months(24))
    fits = [tenure_fit(months(m), *window) for m in (24, 25, 26, 28, 32, 40)]
    assert fits[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(fits))
    steps = [a - b for a, b in itertools.pairwise(fits)]
    assert max(steps) < 0.5  # no single month drops it off a cliff
    longer = value_and_reason("tenure", pair(researcher_desired_tenure=months(25), host_window=window))
    assert longer == (fits[1], "25 months is longer than the lab's hosting window (12 months to 24 months)")


def test_field_overlap_medium_then_broad_then_none() -> None:
    medium = value_and_reason("field", fields_pair(["61"], [], ["61", "62"], []))[0]
    broad = value_and_reason("field", fields_pair(["60"], [], ["61"], []))[0]
    none = value_and_reason("field", fields_pair(["5"], [], ["61"], []))[0]
    assert (medium, broad, none) == pytest.approx((0.7, 0.35, 0.0))  # sections at 70%: medium 1, broad only 0.5
    assert value_and_reason("field", fields_pair([], [], ["61"], [])) == (0.5, "no fields given")
    value, reason = value_and_reason(
        "field", fields_pair(["61"], ["Gaussian processes"], ["61"], ["sparse gaussian processes"])
    )
    assert value == pytest.approx(0.85) and "gaussian processes" in reason


def test_keywords_overlap_in_japanese_and_across_languages_through_bilingual_keywords() -> None:
    """A lab that lists "slow slip" and "スロースリップ" shares a keyword with a researcher who gives either; Japanese
    phrases compare as English ones do (contained in one another, half-width katakana as full-width)."""
    lab = ["slow slip", "スロースリップ", "沈み込み帯"]
    for mine in (["slow slip"], ["スロースリップ"], ["ｽﾛｰｽﾘｯﾌﾟ"]):
        value, reason = value_and_reason("field", fields_pair(["17"], mine, ["17"], lab))
        assert value == pytest.approx(0.85), mine
        assert "shared keywords: " in reason and ("slow slip" in reason or "スロースリップ" in reason)
    value, reason = value_and_reason("field", fields_pair(["17"], ["沈み込み帯", "地震"], ["17"], ["沈み込み帯地震学"]))
    assert value == pytest.approx(1.0) and reason.endswith("shared keywords: 地震, 沈み込み帯")
    no_bridge = fields_pair(["17"], ["slow slip"], ["17"], ["スロースリップ"])
    assert value_and_reason("field", no_bridge)[0] == pytest.approx(0.7)


def test_practical_fit_language_and_places() -> None:
    both = frozenset({"en", "ja"})
    assert value_and_reason("practical", pair(host_languages=both))[0] == 1.0
    assert value_and_reason("practical", pair(researcher_languages=frozenset({"fr"}), host_languages=both))[
        0
    ] == pytest.approx(0.3)
    assert value_and_reason("practical", pair(host_languages=both, host_capacity=0))[1] == (
        "shared language: en; no places left"
    )


def test_the_topic_calibration_is_fixed_not_per_query() -> None:
    assert calibrate_topic(0.35) == pytest.approx(0.5)
    assert value_and_reason("topic", pair(0.7)) == (
        pytest.approx(calibrate_topic(0.7)),
        "strong topic fit (similarity 0.70)",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topic=-1", "non-negative"),
        ("colour=1", "unknown weight 'colour'"),
        ("topic=x", "must be a number"),
        ("topic=0,stage=0,tenure=0,field=0,practical=0", "positive"),
    ],
)
def test_bad_weights_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Weights.parse(text)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"programme": "nope"}, "programme"),
        ({"section": "Z"}, "section"),
        ({"section": "99"}, "section"),
        ({"region": "Atlantis"}, "region"),
        ({"language": "english"}, "language"),
    ],
)
def test_bad_filters_name_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        HostFilter(**kwargs)


# -- properties -----------------------------------------------------------------------------------------


@given(a=st.floats(-1, 1), b=st.floats(-1, 1))
def test_more_similarity_never_lowers_topic(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert calibrate_topic(high) >= calibrate_topic(low)


@given(desired=days, closer=days, low=st.integers(1, 700), span=st.integers(0, 700))
def test_moving_the_stay_towards_the_window_never_lowers_tenure_fit(
    desired: int, closer: int, low: int, span: int
) -> None:
    high = low + span
    if desired > high:
        nearer = max(high, desired - closer)
    elif desired < low:
        nearer = min(low, desired + closer)
    else:
        nearer = desired
    assert tenure_fit(nearer, low, high) >= tenure_fit(desired, low, high)
    assert not math.isnan(tenure_fit(desired, low, high))


@given(scores=st.lists(st.floats(0, 1), min_size=1, max_size=30), seed=st.integers(0, 2**32 - 1))
def test_the_order_is_stable_under_input_permutation(scores: list[float], seed: int) -> None:
    items = [(f"h{i:03d}", s) for i, s in enumerate(scores)]
    shuffled = items[:]
    random.Random(seed).shuffle(shuffled)
    assert [items[i][0] for i in ordered(items)] == [shuffled[i][0] for i in ordered(shuffled)]


def test_the_engine_order_is_stable_when_hosts_arrive_in_another_order(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    hosts = [make_host(f"h-{i}", description=("rivers " * (i % 3)) + "sediment flux") for i in range(8)]
    researcher = make_researcher(statement="river sediment flux")
    first = [m.host_id for m in engine_with(hosts).match(researcher).matches]
    second = [m.host_id for m in engine_with(list(reversed(hosts))).match(researcher).matches]
    assert first == second


def test_best_pairs_take_one_pair_per_document() -> None:
    sims = np.array([[0.1, 0.9, 0.3], [0.8, 0.2, 0.4]])
    assert best_pairs(sims, 3, n=2) == [(0, 1, pytest.approx(0.9)), (1, 0, pytest.approx(0.8))]


sections = st.lists(st.sampled_from(["10", "17", "60", "61", "62", "90"]), max_size=3, unique=True)
keywords = st.lists(
    st.sampled_from(["Gaussian processes", "sparse gaussian processes", "ice", "ice cores"]), max_size=3
)
programme_ids = st.sets(st.sampled_from(["postdoc-standard", "postdoc-short", "summer", "bridge"]), min_size=1)
languages_ = st.sets(st.sampled_from(["en", "ja", "fr"]), min_size=1)


def drawn_host(
    host_id: str,
    fields: tuple[list[str], list[str]],
    accepted: set[CareerStage],
    window: tuple[int, int],
    programmes_: set[str],
    languages: set[str],
    capacity: int,
) -> HostLab:
    """A host from drawn values (fields as (sections, keywords); the window's bounds in either order)."""
    return HostLab.model_validate(
        host_record(
            host_id,
            fields={"sections": fields[0], "keywords": fields[1]},
            accepted_stages=sorted(accepted),
            hosting_window={"min": min(window), "max": max(window)},
            programmes=sorted(programmes_),
            languages=sorted(languages),
            capacity=capacity,
        )
    )


def drawn_researcher(
    fields: tuple[list[str], list[str]], phd: int, desired: int, programmes_: set[str], languages: set[str]
) -> ResearcherProfile:
    return ResearcherProfile.model_validate(
        researcher_record(
            fields={"sections": fields[0], "keywords": fields[1]},
            phd=phd,
            desired_tenure=desired,
            programmes=sorted(programmes_),
            languages=sorted(languages),
        )
    )


@given(
    similarity=st.floats(-1, 1),
    host_fields=st.tuples(sections, keywords),
    my_fields=st.tuples(sections, keywords),
    accepted=st.sets(stages, min_size=1),
    window=st.tuples(days, days),
    host_programmes=programme_ids,
    my_programmes=programme_ids,
    phd=st.integers(1990, 2025),
    desired=days,
    host_languages=languages_,
    my_languages=languages_,
    capacity=st.integers(0, 3),
    weights=st.fixed_dictionaries({name: st.floats(0.01, 1) for name in COMPONENT_NAMES}),
)
def test_the_reasons_shown_belong_to_the_values_that_ranked(
    similarity: float,
    host_fields: tuple[list[str], list[str]],
    my_fields: tuple[list[str], list[str]],
    accepted: set[CareerStage],
    window: tuple[int, int],
    host_programmes: set[str],
    my_programmes: set[str],
    phd: int,
    desired: int,
    host_languages: set[str],
    my_languages: set[str],
    capacity: int,
    weights: dict[str, float],
) -> None:
    """Ranking computes values only and writes reasons later, for the pairs shown: the components shown
    must be those values, with their weights, and the total their weighted mean."""
    host = drawn_host("h-1", host_fields, accepted, window, host_programmes, host_languages, capacity)
    researcher = drawn_researcher(my_fields, phd, desired, my_programmes, my_languages)
    verdicts = eligible_programmes(researcher)
    w = Weights(**weights)
    side = ResearcherSide.of(researcher, stage=researcher.stage(), verdicts=verdicts)
    scored = Scorer(side, w)(HostSide.of(host), similarity)
    shown = scored.components
    assert [(c.name, c.value, c.weight) for c in shown] == [
        (name, round(v, 4), weights[name]) for name, v in zip(COMPONENT_NAMES, scored.values, strict=True)
    ]
    assert scored.total == pytest.approx(
        sum(weights[n] * v for n, v in zip(COMPONENT_NAMES, scored.values, strict=True)) / sum(weights.values())
    )
    assert shown[0].reason == COMPONENT["topic"].reason(scored.pair) and "topic fit" in shown[0].reason
    assert ("no places left" in shown[-1].reason) == (capacity == 0)
    assert scored.programmes == tuple(v.programme for v in verdicts if v.eligible and v.programme in host_programmes)


@given(values=st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.9]), max_size=40), n=st.integers(0, 45))
def test_best_positions_agree_with_a_full_sort(values: list[float], n: int) -> None:
    """Many ties on purpose: the partial sort must keep the full sort's tie order (by position)."""
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))[:n]
    assert best_positions(np.array(values, dtype=np.float32), n) == expected


def test_weights_are_named_by_the_components_and_default_to_theirs() -> None:
    """Totals multiply `Weights.shares` with values in `COMPONENTS` order: the two must agree."""
    assert Weights(topic=3, stage=1, tenure=0, field=0, practical=0).shares == (0.75, 0.25, 0.0, 0.0, 0.0)
    assert Weights().values == tuple(c.weight for c in COMPONENTS) and Weights()["field"] == 0.10
    assert Weights.parse("topic=0.6,field=0.2") == Weights(topic=0.6, field=0.2)


host_terms = st.tuples(
    st.sampled_from([{"R1"}, {"R1", "R2"}, {"R3", "R4"}]),
    st.sampled_from([(30, 90), (365, 730)]),
    st.sampled_from([{"postdoc-standard"}, {"postdoc-short", "summer"}, {"bridge"}]),
)
DrawnHost = tuple[Any, tuple[list[str], list[str]], set[str], int, float]


def drawn_host_lists(max_size: int) -> st.SearchStrategy[list[DrawnHost]]:
    """Hosts that often share stages, window and programmes but differ in fields, languages and places,
    each with a topic similarity."""
    host = st.tuples(host_terms, st.tuples(sections, keywords), languages_, st.integers(0, 3), st.floats(-1, 1))
    return st.lists(host, min_size=1, max_size=max_size)


def sides_and_similarities(hosts: list[DrawnHost]) -> list[tuple[HostSide, float]]:
    return [
        (HostSide.of(drawn_host(f"h{i}", host_fields, accepted, window, programmes_, langs, capacity)), sim)
        for i, ((accepted, window, programmes_), host_fields, langs, capacity, sim) in enumerate(hosts)
    ]


@st.composite
def two_researchers(draw: st.DrawFn) -> list[ResearcherSide]:
    """Two researchers with the same fields and languages (any, or none) but their own stage, stay and
    programmes: what is kept for one kind of researcher must not serve the other."""
    fields_ = draw(st.tuples(sections, keywords))
    languages = frozenset(draw(st.sets(st.sampled_from(["en", "ja", "fr"]))))
    sides = []
    for _ in range(2):
        researcher = drawn_researcher(fields_, draw(st.integers(1990, 2025)), draw(days), draw(programme_ids), {"en"})
        researcher = researcher.model_copy(update={"languages": languages})
        sides.append(ResearcherSide.of(researcher, stage=researcher.stage(), verdicts=eligible_programmes(researcher)))
    return sides


@given(hosts=drawn_host_lists(max_size=12), sides=two_researchers())
def test_estimated_totals_bound_each_host_and_are_exact_without_keywords(
    hosts: list[DrawnHost], sides: list[ResearcherSide]
) -> None:
    """The totals a match ranks hosts by before it scores them (`Scorer.best_totals`, for many hosts at
    once): never below what a host then scores, and equal to it when the researcher gives no keywords
    (the one part they bound rather than compute); and which hosts a call could assign them to. Two
    researchers in turn over the same hosts."""
    drawn = sides_and_similarities(hosts)
    table = HostTerms([host.id for host, _ in drawn], [host for host, _ in drawn])
    positions = np.arange(len(drawn))[::-1]  # any subset, in any order
    for side in sides:
        scorer = Scorer(side, Weights(topic=0.4, stage=0.15, tenure=0.15, field=0.2, practical=0.1))
        bounds = scorer.best_totals(table, positions, np.array([drawn[p][1] for p in positions]))
        open_to, open_for_summer = scorer.open_to(table, positions), scorer.open_to(table, positions, "summer")
        for j, p in enumerate(positions.tolist()):
            pair = scorer(*drawn[p])
            assert bounds[j] >= pair.total - 1e-9
            if not side.phrases:
                assert bounds[j] == pytest.approx(pair.total, abs=1e-9)
            assert open_to[j] == (bool(pair.programmes) and pair.host.capacity > 0)
            assert open_for_summer[j] == ("summer" in pair.programmes and pair.host.capacity > 0)


@pytest.mark.parametrize("component", COMPONENTS, ids=COMPONENT_NAMES)
@given(
    hosts=drawn_host_lists(max_size=6),
    researcher=st.tuples(st.tuples(sections, keywords), st.sets(st.sampled_from(["en", "ja", "fr"]))),
)
def test_every_component_keeps_within_its_bounds(
    component: Component, hosts: list[DrawnHost], researcher: tuple[tuple[list[str], list[str]], set[str]]
) -> None:
    """For every registered component and drawn pairs: 0 <= value <= bound for any host and researcher equal
    in what the component `reads` and `asks` (what candidate estimates read) <= best for any host (what
    pruning reads) <= 1. A component that lies about a bound, or reads more than it declares, fails here,
    before matching could silently drop a host that belongs in the top."""
    fields_, languages = researcher
    profile = drawn_researcher(fields_, 2018, 365, {"postdoc-standard", "summer"}, {"en"})
    profile = profile.model_copy(update={"languages": frozenset(languages)})
    side = ResearcherSide.of(profile, stage=profile.stage(), verdicts=eligible_programmes(profile))
    drawn = sides_and_similarities(hosts)
    for host, sim in drawn:
        pair = Pair.of(side, host, sim)
        value = component.value(pair)
        # another host and another researcher, but equal in what the component reads and asks of them
        someone = dataclasses.replace(RESEARCHER, **{name: getattr(side, name) for name in component.asks})
        for other, _ in drawn:
            alike = dataclasses.replace(other, **{name: getattr(host, name) for name in component.reads})
            assert 0.0 <= value <= component.bound(Pair.of(someone, alike, sim)) + 1e-12
        assert component.bound(pair) <= component.best(side, sim) + 1e-12 <= 1.0 + 1e-12
        assert component.reason(pair)


@given(
    hosts=drawn_host_lists(max_size=8),
    my_fields=st.tuples(sections, keywords),
    my_languages=st.sets(st.sampled_from(["en", "ja", "fr"])),
    desired=days,
)
def test_no_host_beats_the_best_total_for_its_similarity(
    hosts: list[DrawnHost],
    my_fields: tuple[list[str], list[str]],
    my_languages: set[str],
    desired: int,
) -> None:
    """The bound a match prunes with: it must hold for every host, with or without the researcher's fields
    and languages (which lower it)."""
    researcher = drawn_researcher(my_fields, 2018, desired, {"postdoc-standard"}, {"en"})
    researcher = researcher.model_copy(update={"languages": frozenset(my_languages)})
    side = ResearcherSide.of(researcher, stage=researcher.stage(), verdicts=eligible_programmes(researcher))
    scorer = Scorer(side, Weights(topic=0.4, stage=0.1, tenure=0.1, field=0.3, practical=0.1))
    for host, sim in sides_and_similarities(hosts):
        assert scorer(host, sim).total <= scorer.best_total(sim)


@pytest.mark.parametrize("fields", [{"sections": [], "keywords": []}, {"sections": ["61"], "keywords": ["ice"]}])
def test_pruning_returns_what_scoring_every_host_returns(
    make_host: MakeHost, make_researcher: MakeResearcher, fields: dict[str, list[str]]
) -> None:
    """Matching stops scoring once no host of lower similarity can enter the top; the result must be the
    one scoring every host gives."""
    rng = random.Random(7)
    words = ["ice", "cores", "glacier", "snow", "climate", "ocean", "tsunami", "sediment", "isotope", "drill"]
    hosts = [
        make_host(
            f"h-{i:02d}",
            description=" ".join(rng.choices(words, k=8)),
            fields={"sections": rng.sample(["61", "17", "60"], rng.randint(0, 2)), "keywords": rng.sample(words, 1)},
            accepted_stages=rng.sample(["R1", "R2", "R3", "R4"], rng.randint(1, 3)),
            hosting_window={"min": f"{rng.randint(1, 6)} months", "max": f"{rng.randint(7, 30)} months"},
            languages=rng.sample(["en", "ja"], rng.randint(1, 2)),
            capacity=rng.randint(1, 3),
        )
        for i in range(40)
    ]
    researcher = make_researcher(statement="Ice cores and glacier isotope climate records.", fields=fields)
    engine = engine_with(hosts)
    result = engine.match(researcher, top=5)
    queries = engine.embedder.encode([researcher.statement])
    ids = sorted(engine.hosts)
    similarity = engine.topic_similarity(queries, [1.0], ids)
    verdicts = eligible_programmes(researcher)
    side = ResearcherSide.of(researcher, stage=researcher.stage(), verdicts=verdicts)
    scorer = Scorer(side, Weights())
    totals = [(h, scorer(engine.hosts.side(h), float(s)).total) for h, s in zip(ids, similarity, strict=True)]
    expected = [ids[j] for j in ordered(totals)[:5]]
    assert [m.host_id for m in result.matches] == expected


@pytest.mark.parametrize(
    ("fields", "languages"),
    [
        ({"sections": [], "keywords": []}, ["en"]),  # no fields: every host's field value is 0.5
        ({"sections": ["61"], "keywords": ["ice", "snow"]}, ["en"]),
        ({"sections": ["61"], "keywords": ["ice", "snow"]}, []),  # no language: places alone count
    ],
)
def test_a_host_that_fits_in_every_other_way_reaches_the_best_total(
    make_host: MakeHost, make_researcher: MakeResearcher, fields: dict[str, list[str]], languages: list[str]
) -> None:
    """The bound is tight: were it lower, matching would prune hosts that belong in the top."""
    researcher = make_researcher(fields=fields, languages=languages, desired_tenure="12 months")
    host = make_host(
        fields={"sections": ["61"], "keywords": ["ice", "snow"]},
        accepted_stages=["R1", "R2", "R3", "R4"],
        programmes=["postdoc-standard", "postdoc-short"],
        languages=["en"],
        capacity=2,
    )
    side = ResearcherSide.of(researcher, stage=researcher.stage(), verdicts=eligible_programmes(researcher))
    scorer = Scorer(side, Weights())
    for similarity in (-0.2, 0.3, 0.6, 0.9):
        assert scorer(HostSide.of(host), similarity).total == pytest.approx(scorer.best_total(similarity), abs=1e-8)
