"""Files written whole or not at all: a reader (a person, a web page polling a status file) never sees half
of one.

Each write goes to a temporary file in the same folder, which is then renamed over the target with
`os.replace`: atomic on POSIX file systems, so the target is always either the old file or the new one. The
index has its own, fsynced, variant (`matcher.index`); these files are outputs that a crash may lose but must
never leave half-written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def atomic_write(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write a UTF-8 text file through `write(handle)`, then move it into place.

    Args:
        path: the file to create or replace; its folder must exist.
        write: fills the open handle (newline translation off, as the csv module wants).

    Raises:
        OSError: the folder cannot be written; nothing is left behind.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` as UTF-8, whole or not at all (see `atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text))
