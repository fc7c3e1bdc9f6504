"""Files written whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pytest

from matcher.files import atomic_write, atomic_write_text


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    atomic_write_text(path, "complete")

    def half(handle: TextIO) -> None:
        handle.write("half of a new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half)
    assert path.read_text(encoding="utf-8") == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
