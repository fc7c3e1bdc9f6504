"""How far a long run has got, reported as (stage, done, total), to a terminal or to anything else.

A long step calls a `Progress` with the name of its stage and its counts, e.g. `progress("embedding", 256,
661)`, and does not know who listens: the command line draws tqdm bars on a terminal (`TqdmProgress`),
`hostmatch batch --status-file` writes a JSON file that a web page polls (`matcher.calls.status`), and
`fan_out` gives one run to several listeners.

The stages hostmatch reports:

    converting  the OpenVINO model is converted for first use: (0, 1) when it starts, (1, 1) when done
    embedding   texts embedded, counting only those the embedding cache did not hold; (0, 0) when it held
                them all
    scoring     applicants of a call scored
    solving     the assignment of a call: (0, 1), then (1, 1)
    writing     the output files of a call written
    samples     gold-standard samples scored

A stage starts with done == 0 and ends with done == total; its counts never go down. A stage may run again
later (two encodes in one command), starting at 0 again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total)."""

UNITS: Mapping[str, str] = {"embedding": "text", "scoring": "applicant", "samples": "sample"}
"""The stages drawn as bars, with the unit of their counts."""

LINES: Mapping[str, str] = {
    "converting": "converting the model to OpenVINO for its first use in this data folder (once; seconds to minutes)",
    "solving": "solving the assignment",
    "writing": "writing the outputs",
}
"""The stages shown as one line when they start: they have no useful counts."""

_FALLBACK_SIZE = (80, 24)  # columns, lines: for a terminal that gives no size


def show_bars(stream: TextIO | None = None) -> bool:
    """Whether progress should be drawn on `stream` (default: standard error): only on a terminal.

    Args:
        stream: where the bars would go.

    Returns:
        True when the stream is an open terminal; False for files, pipes, closed streams and test captures.
    """
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def fan_out(*listeners: Progress | None) -> Progress | None:
    """One `Progress` that reports to every listener given (None ones left out); None when there is none.

    Args:
        listeners: the progress callbacks, in the order they are called.

    Returns:
        A callback calling each of them, the only one itself, or None.
    """
    chosen = [listener for listener in listeners if listener is not None]
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]

    def report(stage: str, done: int, total: int) -> None:
        for listener in chosen:
            listener(stage, done, total)

    return report


def offset(progress: Progress, stage: str, start: int, total: int) -> Progress:
    """A `Progress` for one part of a longer stage: `stage` counts from `start` out of `total`.

    Args:
        progress: the listener of the whole stage.
        stage: the stage whose counts are moved; reports of other stages pass unchanged.
        start: how much of the whole stage was done before this part.
        total: the whole stage's total.

    Returns:
        A callback that reports (stage, start + done, total) for the part's (stage, done, _).
    """

    def report(name: str, done: int, part_total: int) -> None:
        if name == stage:
            progress(stage, start + done, total)
        else:
            progress(name, done, part_total)

    return report


def terminal_size(stream: TextIO) -> tuple[int, int] | None:
    """The (columns, lines) of the terminal behind `stream`; None when it has none, or gives 0 for either, as
    a pseudo-terminal opened without a size does (under `script`, `docker exec -t`, some CI runners). tqdm,
    asked of such a terminal, sizes its bars to nothing and draws empty lines."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return None
    return (size.columns, size.lines) if size.columns > 0 and size.lines > 0 else None


class TqdmProgress:
    """A `Progress` drawn on a terminal: a tqdm bar with rate and time left for each stage with counts
    (`units`), one line for each stage without (`lines`).

    A bar opens at a stage's first report short of its total and closes when the stage reaches it. A bar
    still at 0 when a line stage ends (the embedding bar, while the model was converted) starts its clock
    again, so its time left is not spoiled by the conversion. Stages in `transient` vanish when done (the
    embedding of each gold-standard sample, under the bar of samples). Use it as a context manager, or call
    `close()`, so a bar cut short by an error is closed too.

    Args:
        stream: where to draw (default: standard error).
        units: bar stages and their units.
        lines: line stages and the line shown when each starts.
        transient: bar stages whose bars are removed when done.
        refresh_seconds: the least time between two redraws of a bar (tqdm's `mininterval`).
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        units: Mapping[str, str] = UNITS,
        lines: Mapping[str, str] = LINES,
        transient: Collection[str] = (),
        refresh_seconds: float = 0.1,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.refresh_seconds = refresh_seconds
        self.units = units
        self.lines = lines
        self.transient = frozenset(transient)
        self._bars: dict[str, tqdm[Any]] = {}
        self._started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage in self.lines:
            self._line(stage, done, total)
            return
        bar = self._bars.get(stage)
        if bar is None:
            if done >= total:  # nothing to do, or a repeated last report of a stage whose bar has closed
                return
            sized = terminal_size(self.stream) is not None
            columns, lines = (None, None) if sized else _FALLBACK_SIZE
            bar = self._bars[stage] = tqdm(
                total=total,
                desc=stage,
                unit=self.units.get(stage, "it"),
                file=self.stream,
                ncols=columns,
                nrows=lines,
                dynamic_ncols=sized,  # follows a resized window; never asks a terminal without a size
                leave=stage not in self.transient,
                mininterval=self.refresh_seconds,
            )
        if bar.total != total:
            bar.total = total
        bar.update(max(0, done - bar.n))
        if done >= total:
            bar.close()
            del self._bars[stage]

    def _line(self, stage: str, done: int, total: int) -> None:
        if done == 0 and stage not in self._started:
            self._started[stage] = time.monotonic()
            self.write(self.lines[stage] + "…")
        elif done >= total and stage in self._started:
            seconds = time.monotonic() - self._started.pop(stage)
            if seconds >= 1:
                self.write(f"{stage}: done in {seconds:.0f} s")
            for bar in self._bars.values():
                if bar.n == 0:
                    bar.reset(total=bar.total)

    def write(self, line: str) -> None:
        """Print a line above the bars."""
        tqdm.write(line, file=self.stream)

    def close(self) -> None:
        """Close every bar still open."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def terminal_progress(stream: TextIO | None = None, **options: Any) -> TqdmProgress | None:
    """A `TqdmProgress` when `stream` (default: standard error) is a terminal, else None: no bars in logs,
    pipes or files.

    Args:
        stream: where the bars would go.
        options: passed to `TqdmProgress` (units, lines, transient).
    """
    stream = sys.stderr if stream is None else stream
    return TqdmProgress(stream=stream, **options) if show_bars(stream) else None
