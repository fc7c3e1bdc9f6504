"""Validation never reads the clock: the bundled sample and stored records keep loading, and are judged the
same, when the clock moves past their dates (time frozen with time-machine)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import time_machine

from matcher.engine import Engine
from matcher.index import HostIndex
from matcher.records import read_hosts, read_researchers, sample_path
from matcher.store import Store
from models.eligibility import eligibility, eligible_programmes
from models.profiles import ResearcherProfile
from tests.conftest import FakeEmbedder, researcher_record

SAMPLE_DATES_PAST = dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)  # every sample start (2027-28) is in the past


def verdicts(researchers: list[ResearcherProfile]) -> dict[str, list[tuple[str, bool]]]:
    """Each researcher's verdicts, judged on their desired start."""
    return {r.id: [(v.programme, v.eligible) for v in eligible_programmes(r, on=r.desired_start)] for r in researchers}


def test_the_sample_loads_round_trips_and_matches_after_its_dates(tmp_path: Path) -> None:
    """The sample's doctoral students expect their PhDs in 2027 and 2028; validated against the clock they
    stopped loading in 2029, and the sample with them."""
    judged_now = verdicts(read_researchers(sample_path("researchers")))
    embedder = FakeEmbedder()
    engine = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))
    engine.upsert_hosts(read_hosts(sample_path("hosts")))
    matched_now = {r.id: engine.match(r, top=3).matches for r in read_researchers(sample_path("researchers"))}
    with time_machine.travel(SAMPLE_DATES_PAST, tick=False):
        assert dt.date.today() == dt.date(2031, 6, 1)
        researchers = read_researchers(sample_path("researchers"))
        hosts = read_hosts(sample_path("hosts"))
        assert len(researchers) == 46 and any(r.phd_expected == 2027 for r in researchers)
        assert verdicts(researchers) == judged_now  # the rules are judged on each start date, not today

        store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        store.create_all()
        with store.session() as session:
            store.put_researchers(session, researchers)
            store.put_hosts(session, hosts)
        assert list(store.researchers().values()) == sorted(researchers, key=lambda r: r.id)
        assert list(store.iter_hosts()) == sorted(hosts, key=lambda h: h.id)

        for researcher in researchers:  # each match judged on the researcher's start, as before
            assert engine.match(researcher, top=3).matches == matched_now[researcher.id], researcher.id
        assert all(matched_now.values())
        assert sum(bool(m.eligible_programmes) for ms in matched_now.values() for m in ms) > 100


def test_a_stored_doctoral_student_still_loads_after_the_expected_year(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_all()
    with time_machine.travel(dt.datetime(2026, 5, 1, tzinfo=dt.UTC), tick=False):
        record = researcher_record("r-phd", phd="in progress", phd_expected=2027, position="doctoral student")
        student = ResearcherProfile.model_validate(record)
        with store.session() as session:
            store.put_researchers(session, [student])
    with time_machine.travel(dt.datetime(2029, 9, 1, tzinfo=dt.UTC), tick=False):
        assert store.get_researcher("r-phd") == student
        assert list(store.researchers()) == ["r-phd"]
        verdict = eligibility(student, "postdoc-standard")  # judged today, as no start is given
        assert "PhD expected in 2027, by the start in 2029" in [c.reason for c in verdict.checks]
