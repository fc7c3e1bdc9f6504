"""The status file a web page polls while a call runs: its stages, counts, timing and end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import matcher.calls.status
from matcher.calls.status import STAGES, StatusFile, read_status, summary_of

START = dt.datetime(2027, 1, 5, 10, 0, tzinfo=dt.UTC)


class Clock:
    """Monotonic seconds and wall-clock time that move only when told."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.seconds - 100.0)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every status written, in order (still written to disk as well)."""
    seen: list[dict[str, Any]] = []
    real = matcher.calls.status.atomic_write_text

    def keep(path: Path, text: str) -> None:
        seen.append(json.loads(text))
        real(path, text)

    monkeypatch.setattr(matcher.calls.status, "atomic_write_text", keep)
    return seen


def new_status(tmp_path: Path, clock: Clock, applicants: int = 10) -> StatusFile:
    return StatusFile(tmp_path / "out" / "status.json", applicants=applicants, clock=clock, now=clock.now)


def test_it_is_written_at_once_in_a_folder_it_makes(tmp_path: Path) -> None:
    clock = Clock()
    status = new_status(tmp_path, clock)
    saved = read_status(status.path)
    assert saved is not None
    assert saved["stage"] == "starting" and (saved["done"], saved["total"]) == (0, 0)
    assert saved["stages"] == {
        "embedding": {"done": 0, "total": 0},
        "scoring": {"done": 0, "total": 10},
        "solving": {"done": 0, "total": 1},
        "writing": {"done": 0, "total": 4},
    }
    assert saved["percent"] == 0.0 and saved["eta_seconds"] is None
    assert saved["started_at"] == saved["updated_at"] == "2027-01-05T10:00:00+00:00"
    assert saved["error"] is None and saved["summary"] is None and saved["message"] is None
    assert read_status(tmp_path / "none.json") is None


def test_a_run_from_start_to_done(tmp_path: Path, writes: list[dict[str, Any]]) -> None:
    clock = Clock()
    status = new_status(tmp_path, clock)
    status("embedding", 0, 100)
    for done in range(10, 101, 10):
        clock.seconds += 0.2  # faster than the interval: only some of these are written
        status("embedding", done, 100)
    for a in range(11):
        status("scoring", a, 10)
    status("solving", 0, 1)
    status("solving", 1, 1)
    for written in range(5):
        status("writing", written, 4)
    status.finish({"text": "all done"})
    stages = [w["stage"] for w in writes]
    assert stages[0] == "starting" and stages[-1] == "done"
    order = [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]
    assert order == ["starting", "embedding", "scoring", "solving", "writing", "done"]
    embedding = [(w["done"], w["total"]) for w in writes if w["stage"] == "embedding"]
    assert embedding[0] == (0, 100) and embedding[-1] == (100, 100)
    assert len(embedding) < 11  # throttled to the interval, the start and the end still written
    percents = [w["percent"] for w in writes]
    assert percents == sorted(percents) and percents[-1] == 100.0 and max(percents[:-1]) < 100
    final = writes[-1]
    assert final["summary"] == {"text": "all done"} and final["eta_seconds"] == 0.0
    assert final["stages"] == {stage: {"done": t, "total": t} for stage, t in zip(STAGES, (100, 10, 1, 4), strict=True)}
    assert final["updated_at"] == "2027-01-05T10:00:02+00:00"
    status("scoring", 3, 10)  # nothing after the end
    assert read_status(status.path) == final


def test_time_left_follows_the_rate_and_ignores_a_model_conversion(tmp_path: Path) -> None:
    clock = Clock()
    status = new_status(tmp_path, clock, applicants=0)
    status.expect("writing", 0)
    status.expect("solving", 0)
    status("embedding", 0, 100)
    status("converting", 0, 1)
    assert read_status(status.path)["message"].startswith("converting the model")  # type: ignore[index]
    clock.seconds += 90  # the conversion
    status("converting", 1, 1)
    assert read_status(status.path)["message"] is None  # type: ignore[index]
    clock.seconds += 10
    status("embedding", 25, 100)  # 25 texts in 10 s: 75 more take 30 s
    saved = read_status(status.path)
    assert saved is not None and saved["eta_seconds"] == pytest.approx(30.0)
    assert saved["percent"] == pytest.approx(25.0)


def test_a_stage_that_runs_again_adds_to_its_counts(tmp_path: Path) -> None:
    """With --hosts FILE the hosts' documents are embedded, then the applicants' texts."""
    clock = Clock()
    status = new_status(tmp_path, clock)
    status("embedding", 0, 60)
    status("embedding", 60, 60)
    status("embedding", 0, 0)  # a run whose texts were all in the cache
    status("embedding", 0, 40)
    clock.seconds += 1
    status("embedding", 10, 40)
    assert status.counts("embedding") == (70, 100)
    saved = read_status(status.path)
    assert saved is not None and (saved["done"], saved["total"]) == (70, 100)


def test_a_failure_is_written_with_its_message_and_ends_the_file(tmp_path: Path) -> None:
    clock = Clock()
    status = new_status(tmp_path, clock)
    status("embedding", 0, 100)
    status("embedding", 40, 100)
    status.fail("applicants.jsonl record 3 (id 'r-x'): phd: 2099 is in the future")
    status("embedding", 50, 100)
    saved = read_status(status.path)
    assert saved is not None
    assert saved["stage"] == "failed" and saved["error"].endswith("is in the future")
    assert (saved["done"], saved["total"]) == (40, 100) and saved["eta_seconds"] is None and saved["summary"] is None


def test_the_summary_gives_the_figures_and_the_sentences() -> None:
    report = {
        "applicants": 3,
        "assigned": 2,
        "share_assigned": 0.6667,
        "score": {"mean": 0.8},
        "host_load": {"places_used": 2},
        "unassigned_reasons": {"no eligible host": 1},
    }
    summary = summary_of(report, "call-2027/")
    assert summary == {
        "applicants": 3,
        "assigned": 2,
        "share_assigned": 0.6667,
        "mean_score": 0.8,
        "unassigned": {"no eligible host": 1},
        "out": "call-2027/",
        "files": ["assignments.csv", "shortlists.csv", "report.json", "report.html"],
        "text": "2 of 3 applicants assigned (67%), mean score 0.80. 1 without a host: 1 no eligible host. "
        "Outputs in call-2027/: assignments.csv, shortlists.csv, report.json, report.html.",
    }


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a hostmatch status file"):
        read_status(path)
