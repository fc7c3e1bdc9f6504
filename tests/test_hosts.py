"""The engine's compact host records: full records back on demand, a cheap view for matching."""

from __future__ import annotations

import json

import pytest

from matcher.hosts import HostRecords
from matcher.ranking.components import HostSide
from models.profiles import HostLab
from tests.conftest import host_record

PUBLICATIONS = [
    {"title": "Slow slip off Boso", "abstract": "Seafloor geodesy of slow slip.", "coauthors": ["A. Sato"]},
    {"title": "Tsunami early warning", "abstract": "Pressure gauges and warnings.", "year": 2021},
]


def lab(host_id: str, **overrides: object) -> HostLab:
    return HostLab.model_validate(host_record(host_id, publications=PUBLICATIONS, **overrides))


def test_records_come_back_whole_and_the_matching_view_follows_changes() -> None:
    records = HostRecords([lab("h-1"), lab("h-2", capacity=0)])
    assert records["h-1"] == lab("h-1") and len(records["h-1"].publications) == 2
    assert records.side("h-2") == HostSide.of(lab("h-2", capacity=0))
    records["h-2"] = lab("h-2", capacity=3, lab_name="Renamed Lab")
    assert (records.side("h-2").capacity, records.side("h-2").lab_name) == (3, "Renamed Lab")
    assert sorted(records) == ["h-1", "h-2"] and "h-2" in records and "h-9" not in records
    del records["h-2"]
    with pytest.raises(KeyError):
        records.side("h-2")


def test_changes_are_told_from_exact_copies() -> None:
    records = HostRecords([lab("h-1")])
    assert records.unchanged(lab("h-1"))
    assert not records.unchanged(lab("h-1", capacity=5))
    assert not records.unchanged(lab("h-3"))


def test_a_copy_is_a_snapshot_and_equality_is_by_content() -> None:
    records = HostRecords([lab("h-1"), lab("h-2")])
    before = records.copy()
    records["h-1"] = lab("h-1", capacity=9)
    del records["h-2"]
    assert before != records
    assert sorted(before) == ["h-1", "h-2"] and before["h-1"].capacity == 2
    assert before == HostRecords([lab("h-2"), lab("h-1")])
    assert records == {"h-1": lab("h-1", capacity=9)}  # against a plain dict too


def test_the_json_array_holds_every_record_in_id_order() -> None:
    records = HostRecords([lab("h-2"), lab("h-1")])
    parsed = [HostLab.model_validate(r) for r in json.loads(records.json_array())]
    assert parsed == [lab("h-1"), lab("h-2")]
    assert json.loads(HostRecords().json_array()) == []


def test_a_record_under_another_id_is_refused() -> None:
    records = HostRecords()
    with pytest.raises(ValueError, match="record 'h-1' stored under 'h-2'"):
        records["h-2"] = lab("h-1")


def test_sets_have_one_json_form_so_equal_hosts_compare_equal() -> None:
    records = HostRecords([lab("h-1", languages=["ja", "en", "fr"], programmes=["postdoc-short", "postdoc-standard"])])
    assert records.unchanged(lab("h-1", languages=["fr", "en", "ja"], programmes=["postdoc-standard", "postdoc-short"]))
    assert '"languages":["en","fr","ja"]' in lab("h-1", languages=["ja", "fr", "en"]).model_dump_json()
