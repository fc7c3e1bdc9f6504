"""Progress reports: when bars are drawn, what they show, and how reports are passed on."""

from __future__ import annotations

import io
import os
import re
import select
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.progress import TqdmProgress, fan_out, offset, show_bars, terminal_progress, terminal_size
from tests.conftest import FakeEmbedder

Report = tuple[str, int, int]


class Recorder:
    """A Progress that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.reports.append((stage, done, total))

    def of(self, stage: str) -> list[tuple[int, int]]:
        return [(done, total) for name, done, total in self.reports if name == stage]


class FakeTerminal(io.StringIO):
    """Text written to memory that says it is a terminal (of no known width)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def pty() -> Iterator[tuple[int, TextIO]]:
    """A real pseudo-terminal opened without a size (0 columns, as under `script`): its reading end and a
    text stream writing to it."""
    reader, writer = os.openpty()
    stream = os.fdopen(writer, "w", encoding="utf-8")
    yield reader, stream
    stream.close()
    os.close(reader)


def read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_bars_only_on_a_terminal(pty: tuple[int, TextIO], tmp_path: Path) -> None:
    _, terminal = pty
    assert show_bars(terminal)
    assert not show_bars(io.StringIO())
    with (tmp_path / "log.txt").open("w") as log:
        assert not show_bars(log)
    closed = (tmp_path / "closed.txt").open("w")
    closed.close()
    assert not show_bars(closed)
    assert terminal_progress(io.StringIO()) is None
    assert isinstance(terminal_progress(terminal), TqdmProgress)


def test_a_terminal_without_a_size_still_gets_a_bar(pty: tuple[int, TextIO], monkeypatch: pytest.MonkeyPatch) -> None:
    """tqdm sizes its bars to the terminal when they go to standard error: on a pseudo-terminal of size 0 it
    drew empty lines."""
    reader, terminal = pty
    assert terminal_size(terminal) is None
    monkeypatch.setattr("sys.stderr", terminal)  # tqdm asks the screen's size only of standard error and output
    with TqdmProgress(stream=terminal) as bars:
        for done in range(4):
            bars("embedding", done, 3)
    terminal.flush()
    shown = read_all(reader)
    assert "embedding: 100%" in shown and "3/3" in shown and "text/s" in shown


def test_bars_show_counts_rate_and_time_left_and_lines_for_stages_without_counts() -> None:
    screen = FakeTerminal()
    with TqdmProgress(stream=screen, refresh_seconds=0) as bars:
        bars("embedding", 0, 661)
        bars("embedding", 256, 661)
        bars("embedding", 661, 661)
        bars("scoring", 0, 43)
        bars("scoring", 43, 43)
        bars("solving", 0, 1)
        bars("solving", 1, 1)
    shown = screen.getvalue()
    assert "embedding" in shown and "256/661" in shown and "661/661" in shown and "text/s" in shown
    assert re.search(r"256/661 \[\d\d:\d\d<\d\d:\d\d", shown)  # elapsed<time left, once some are done
    assert "43/43" in shown and "applicant/s" in shown
    assert "solving the assignment…" in shown


def test_a_bar_waiting_on_a_conversion_starts_its_clock_again() -> None:
    """The embedding bar is open at 0 while the model converts: its rate must not count the conversion."""
    screen = FakeTerminal()
    bars = TqdmProgress(stream=screen)
    bars("embedding", 0, 100)
    bar = bars._bars["embedding"]
    bars("converting", 0, 1)
    bar.start_t -= 60  # as if the conversion took a minute
    bars("converting", 1, 1)
    assert bar.format_dict["elapsed"] < 5
    bars.close()
    assert "converting the model to OpenVINO for its first use" in screen.getvalue()


def test_nothing_is_drawn_for_a_stage_with_nothing_to_do_or_already_done() -> None:
    screen = FakeTerminal()
    with TqdmProgress(stream=screen) as bars:
        bars("embedding", 0, 0)
        assert screen.getvalue() == ""
        bars("embedding", 0, 10)
        bars("embedding", 10, 10)
        drawn = screen.getvalue()
        bars("embedding", 10, 10)  # the cache's own last report, after its embedder's
    assert screen.getvalue() == drawn


def test_fan_out_and_offset_pass_reports_on() -> None:
    first, second = Recorder(), Recorder()
    both = fan_out(first, None, second)
    assert both is not None
    both("scoring", 1, 2)
    assert first.reports == second.reports == [("scoring", 1, 2)]
    assert fan_out(None, None) is None and fan_out(first) is first
    part = offset(first, "embedding", 256, 661)
    part("embedding", 32, 256)
    part("converting", 0, 1)
    assert first.reports[-2:] == [("embedding", 288, 661), ("converting", 0, 1)]


def test_the_cache_counts_only_the_texts_it_embeds(tmp_path: Path) -> None:
    class Reporting(FakeEmbedder):
        """Reports each text, as the OpenVINO embedder reports each batch."""

        def encode(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
            out = super().encode(texts)
            for done in range(1, len(texts) + 1):
                if progress is not None:
                    progress("embedding", done, len(texts))
            return out

    embedder = CachingEmbedder(Reporting(), EmbeddingCache(tmp_path / "cache.sqlite3"))
    texts = [f"text number {i}" for i in range(CachingEmbedder.CHUNK + 10)]
    embedder.encode(texts[:5])
    seen = Recorder()
    embedder.encode(texts, progress=seen)
    counts = seen.of("embedding")
    total = len(texts) - 5
    assert counts[0] == (0, total) and counts[-1] == (total, total)
    assert all(t == total for _, t in counts)
    done = [d for d, _ in counts]
    assert done == sorted(done) and len(set(done)) == total + 1  # every text, in order, never backwards
    again = Recorder()
    embedder.encode(texts, progress=again)
    assert again.reports == [("embedding", 0, 0)]
