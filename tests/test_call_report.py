"""A call's outputs as staff read them: names beside ids, areas by name, the summary in sentences."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from matcher.calls.batch import CallResult, CallSettings, run_call, score_call
from matcher.calls.report import OUTPUT_FILES, build_report, summary_sentences, write_outputs
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.engine import Engine
from matcher.index import HostIndex
from models.taxonomy import broad_section_label
from scripts.bench.synthetic import synthetic_call
from tests.conftest import FakeEmbedder
from tests.test_progress import Recorder

SETTINGS = CallSettings(candidates=10, min_score=0.3, shortlist=4)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CallResult:
    """300 applicants for the ~120 places of 60 synthetic hosts: many are left without a host."""
    applicants, hosts = synthetic_call(300, 60, seed=3)
    embedder = CachingEmbedder(FakeEmbedder(dim=96), EmbeddingCache(tmp_path_factory.mktemp("c") / "c.sqlite3"))
    engine = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))
    engine.upsert_hosts(hosts)
    return run_call(score_call(engine, applicants, SETTINGS), SETTINGS)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_csvs_carry_names_beside_ids(result: CallResult, tmp_path: Path) -> None:
    report = write_outputs(result, SETTINGS, tmp_path)
    applicants = {a.id: a for a in result.scores.applicants}
    hosts = {h.id: h for h in result.scores.hosts}
    rows = read_csv(tmp_path / "assignments.csv")
    assert len(rows) == 300 and sum(1 for r in rows if r["host_id"]) == report["assigned"]
    for row in rows:
        assert row["applicant_name"] == applicants[row["applicant_id"]].name
        if row["host_id"]:
            host = hosts[row["host_id"]]
            assert (row["lab_name"], row["pi_name"], row["institution"]) == (
                host.lab_name,
                host.pi_name,
                host.institution,
            )
            assert not row["reason"]
        else:
            assert row["lab_name"] == row["pi_name"] == row["institution"] == "" and row["reason"]
    full = [r["reason"] for r in rows if r["reason"].startswith("eligible hosts full")]
    assert full and "filled by a" in full[0]  # names the hosts and who filled them
    shortlist = read_csv(tmp_path / "shortlists.csv")
    assert max(Counter(r["applicant_id"] for r in shortlist).values()) <= 4
    for row in shortlist:
        assert row["applicant_name"] == applicants[row["applicant_id"]].name
        assert row["lab_name"] == hosts[row["host_id"]].lab_name and row["pi_name"] == hosts[row["host_id"]].pi_name
        assert row["reasons"].startswith("topic: ")


def test_the_report_names_each_area_by_its_medium_sections(result: CallResult, tmp_path: Path) -> None:
    report = write_outputs(result, SETTINGS, tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved == report
    assert sum(saved["unassigned_reasons"].values()) == 300 - saved["assigned"]
    coverage = saved["coverage_by_broad_area"]
    assert coverage and set(coverage) <= set("ABCDEFGHIJK") | {"unspecified"}
    for letter, entry in coverage.items():
        assert entry["name"] == broad_section_label(letter)
        assert 0 <= entry["assigned"] <= entry["applicants"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "Why applicants have no host" in page
    some = next(iter(coverage.values()))["name"]
    assert some.split(":")[1].split(";")[0].strip() in page
    assert "all eligible labs full" in page


def test_every_file_is_reported_and_none_is_left_half_written(result: CallResult, tmp_path: Path) -> None:
    seen = Recorder()
    write_outputs(result, SETTINGS, tmp_path / "out", progress=seen)
    assert seen.of("writing") == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUT_FILES)  # no temporary files


def report_of(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "applicants": 50,
        "assigned": 42,
        "share_assigned": 0.84,
        "score": {"mean": 0.8123},
        "host_load": {"places_used": 42},
        "unassigned_reasons": {"no eligible host": 3, "eligible hosts full": 5},
    }
    report.update(changes)
    return report


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            report_of(),
            "42 of 50 applicants assigned (84%), mean score 0.81. 8 without a host: 5 all eligible labs full, "
            "3 no eligible host. Outputs in call-2027/: assignments.csv, shortlists.csv, report.json, report.html.",
        ),
        (
            report_of(assigned=50, share_assigned=1.0, host_load={"places_used": 50}, unassigned_reasons={}),
            "50 of 50 applicants assigned (100%), mean score 0.81. Everyone has a host. Outputs in call-2027/: "
            "assignments.csv, shortlists.csv, report.json, report.html.",
        ),
        (
            report_of(
                applicants=1,
                assigned=0,
                share_assigned=0.0,
                score={"mean": None},
                host_load={"places_used": 0},
                unassigned_reasons={"below min score": 1},
            ),
            "0 of 1 applicant assigned (0%). 1 without a host: 1 best eligible lab below the minimum score. "
            "Outputs in call-2027/: assignments.csv, shortlists.csv, report.json, report.html.",
        ),
        (
            report_of(host_load={"places_used": 70}),
            "42 of 50 applicants assigned (84%) to 70 places, mean score 0.81. 8 without a host: 5 all eligible "
            "labs full, 3 no eligible host. Outputs in call-2027/: assignments.csv, shortlists.csv, report.json, "
            "report.html.",
        ),
    ],
)
def test_the_summary_is_sentences(report: dict[str, Any], expected: str) -> None:
    assert summary_sentences(report, "call-2027/") == expected


def test_the_summary_of_a_real_report_adds_up(result: CallResult) -> None:
    report = build_report(result, SETTINGS)
    text = summary_sentences(report, "out")
    left = 300 - report["assigned"]
    assert text.startswith(f"{report['assigned']} of 300 applicants assigned (")
    assert f"{left} without a host: " in text and "{" not in text and "'" not in text
