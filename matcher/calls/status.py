"""The status of a running call, as a JSON file that a web page polls.

A web page starts the call as a background process and reads the file while it runs:

    python -m scripts.cli --home HOME batch --applicants FILE --from-store --out DIR --status-file DIR/status.json

`StatusFile` is a `matcher.progress.Progress`: the run reports to it as it reports to the terminal's bars,
and it writes the file at the start, whenever a stage starts or ends, at most every `interval` seconds (0.5)
in between, and at the end. Each write replaces the whole file atomically (a temporary file renamed over it),
so a reader never sees half of one; read it with `read_status`. The file:

    {
      "stage": "starting" | "embedding" | "scoring" | "solving" | "writing" | "done" | "failed",
      "done": 12, "total": 50,        the current stage's counts ("starting": 0 of 0; "done" and "failed":
                                      those of the last stage reached)
      "stages": {                     every stage's counts so far; a stage not reached yet is 0 of what it
                                      expects (embedding 0 of 0 until the cache has been asked)
        "embedding": {"done": 96, "total": 141},   texts embedded (those the cache did not hold; with
                                                   --hosts FILE, the hosts' documents too)
        "scoring": {"done": 0, "total": 50},       applicants scored
        "solving": {"done": 0, "total": 1},        the assignment solved
        "writing": {"done": 0, "total": 4}         output files written
      },
      "percent": 41.7,                the whole run, 0-100, an estimate: each stage weighted by what its
                                      counts cost (`COSTS`); 100 only when done. With --hosts FILE it may
                                      step back once, when the applicants' texts join the hosts' to embed
      "started_at": "2027-01-05T10:00:00.123456+00:00",   ISO 8601 in UTC
      "updated_at": "2027-01-05T10:00:31.654321+00:00",
      "eta_seconds": 42.0,            seconds left, from the rate so far (after any model conversion);
                                      null until measurable and when failed, 0 when done
      "message": null,                what the run is doing when counts say little, e.g. "converting the
                                      model for first use"; else null
      "error": null,                  on "failed": the error message (never a traceback; the process then
                                      exits with status 2 for hostmatch's and usage errors); else null
      "summary": null                 on "done": `summary_of` (applicants, assigned, share_assigned,
                                      mean_score, unassigned by reason, out, files, text); else null
    }

A process that is killed outright (SIGKILL, power cut) cannot say so: a page should also watch the process,
or treat an `updated_at` far in the past as a failure.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from matcher.calls.report import OUTPUT_FILES, summary_sentences
from matcher.files import atomic_write_text

STAGES = ("embedding", "scoring", "solving", "writing")
"""The counted stages of a call, in the order they run."""

COSTS: Mapping[str, float] = {"embedding": 0.02, "scoring": 0.001, "solving": 0.2, "writing": 0.5}
"""Seconds per count of each stage, as measured on a 2-core machine with the OpenVINO encoder (a text
embedded: 0.02 s; an applicant scored: 0.001 s; the solve and an output file, a fraction of a second):
only their ratios matter, for `percent` and the time left."""

MESSAGES: Mapping[str, str] = {"converting": "converting the model for its first use (once; seconds to minutes)"}
"""Stages reported as a message while they run."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StatusFile:
    """A `Progress` that keeps a call's status in a JSON file (format: the module docstring).

    Args:
        path: the status file; its folder is created if needed. Written at once with stage "starting".
        applicants: the call's applicants, so that `percent` counts the stages still to come.
        interval: the least seconds between two writes within a stage.
        clock: monotonic seconds (time.monotonic), for the interval and the time left.
        now: the wall-clock time written as started_at and updated_at.

    Raises:
        OSError: the file cannot be written.
    """

    def __init__(
        self,
        path: Path,
        *,
        applicants: int = 0,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.path = path
        self.interval = interval
        self._clock = clock
        self._now = now
        self._started_at = now()
        self._stage = "starting"
        # Totals expected before a stage reports (so `percent` counts the stages to come); the embedding's is
        # known only once the cache has been asked.
        self._expected = {"embedding": 0, "scoring": applicants, "solving": 1, "writing": len(OUTPUT_FILES)}
        self._runs: dict[str, tuple[int, int]] = {}  # each stage's current run: done, total
        self._earlier: dict[str, tuple[int, int]] = {}  # the sum of its finished runs (--hosts embeds twice)
        self._message: str | None = None
        self._work_started: float | None = None  # when counting began (after any model conversion)
        self._last_write = float("-inf")
        self._finished = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._finished:
            return
        if stage in MESSAGES:
            ending = done >= total
            self._message = None if ending else MESSAGES[stage]
            if ending and self._done_cost() == 0:
                self._work_started = self._clock()  # the time left is measured from the end of the conversion
            self._write()
            return
        if stage not in STAGES:
            return
        run = self._runs.get(stage)
        if run is not None and (done < run[0] or (done == 0 and run[0] >= run[1])):  # the stage runs again
            before = self._earlier.get(stage, (0, 0))
            self._earlier[stage] = (before[0] + run[0], before[1] + run[1])
        self._runs[stage] = (done, total)
        if self._work_started is None and total > 0:
            self._work_started = self._clock()
        changed, self._stage = stage != self._stage, stage
        if changed or done == 0 or done >= total or self._clock() - self._last_write >= self.interval:
            self._write()

    def expect(self, stage: str, total: int) -> None:
        """The total a stage will have, known before it starts (the applicants to score)."""
        self._expected[stage] = total

    def counts(self, stage: str) -> tuple[int, int]:
        """A stage's (done, total) so far, over all its runs; (0, expected total) before it starts."""
        if stage not in self._runs:
            return 0, self._expected[stage]
        before, run = self._earlier.get(stage, (0, 0)), self._runs[stage]
        return before[0] + run[0], before[1] + run[1]

    def finish(self, summary: Mapping[str, Any]) -> None:
        """Write stage "done" with the run's summary (`summary_of`); later reports are ignored."""
        self._stage, self._message, self._finished = "done", None, True
        self._write(summary=dict(summary))

    def fail(self, error: str) -> None:
        """Write stage "failed" with the error message; later reports are ignored."""
        self._message, self._finished = None, True
        self._write(error=error)

    def _done_cost(self) -> float:
        return sum(COSTS[stage] * self.counts(stage)[0] for stage in STAGES)

    def _total_cost(self) -> float:
        return sum(COSTS[stage] * self.counts(stage)[1] for stage in STAGES)

    def _eta(self) -> float | None:
        done = self._done_cost()
        if self._work_started is None or done <= 0:
            return None
        elapsed = self._clock() - self._work_started
        if elapsed < 1:  # too little to go by
            return None
        return round(elapsed * (self._total_cost() - done) / done, 1)

    def _write(self, *, error: str | None = None, summary: dict[str, Any] | None = None) -> None:
        done_stage = self._stage == "done"
        current = self.counts("writing" if done_stage else self._stage) if self._stage != "starting" else (0, 0)
        total = self._total_cost()
        eta: float | None
        if done_stage:
            percent, eta = 100.0, 0.0
        else:
            percent = round(min(99.9, 100 * self._done_cost() / total), 1) if total else 0.0
            eta = None if error is not None else self._eta()
        status = {
            "stage": "failed" if error is not None else self._stage,
            "done": current[0],
            "total": current[1],
            "stages": {stage: dict(zip(("done", "total"), self.counts(stage), strict=True)) for stage in STAGES},
            "percent": percent,
            "started_at": self._started_at.isoformat(),
            "updated_at": self._now().isoformat(),
            "eta_seconds": eta,
            "message": self._message,
            "error": error,
            "summary": summary,
        }
        atomic_write_text(self.path, json.dumps(status, indent=2, ensure_ascii=False) + "\n")
        self._last_write = self._clock()


def summary_of(report: Mapping[str, Any], out: str | Path) -> dict[str, Any]:
    """The summary of a finished call for the status file: the key figures of its report and where its
    outputs are.

    Returns:
        applicants, assigned, share_assigned, mean_score (None when no one is assigned), unassigned ({reason:
        applicants}), out (the folder as given), files (the output files' names) and text (the sentences the
        command line prints).
    """
    return {
        "applicants": report["applicants"],
        "assigned": report["assigned"],
        "share_assigned": report["share_assigned"],
        "mean_score": report["score"]["mean"],
        "unassigned": dict(report["unassigned_reasons"]),
        "out": str(out),
        "files": list(OUTPUT_FILES),
        "text": summary_sentences(dict(report), out),
    }


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a run last wrote, or None when it has written none yet.

    Raises:
        ValueError: the file is not a status (it never is half-written).
    """
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(status, dict) or "stage" not in status:
        raise ValueError(f"{path} is not a hostmatch status file")
    return status
