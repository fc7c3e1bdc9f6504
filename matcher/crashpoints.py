"""Test-only crash points: the steps of a host write at which the crash-safety tests kill the process.

With `HOSTMATCH_CRASH_AT=<step>` in its environment, a process kills itself with SIGKILL (no clean-up, no
`finally`, as `kill -9` or a power cut would) when a host write reaches that step; `<step>:<n>` kills it the
n-th time instead of the first. The steps, in the order a write reaches them (`matcher.catalogue`):

    embedded                the texts are embedded (and in the cache); nothing written
    rows-written            the rows and the new generation are written, not committed; no snapshot saved
    snapshot-files-written  the new snapshot's data files are on disk; the manifest still names the old one
    snapshot-saved          the manifest names the new snapshot and its generation; the database not committed
    committed               the database committed; the writer has not returned yet

Never set it outside tests: it exists so that `tests/test_crash_safety.py` can stop a write exactly between
two steps, including between saving the index and committing the database.
"""

from __future__ import annotations

import os
import signal

STEPS = ("embedded", "rows-written", "snapshot-files-written", "snapshot-saved", "committed")
_reached: dict[str, int] = {}


def crash_point(step: str) -> None:
    """Kill this process now if `HOSTMATCH_CRASH_AT` names `step` (and this is the time it names)."""
    wanted = os.environ.get("HOSTMATCH_CRASH_AT")
    if not wanted:
        return
    name, _, times = wanted.partition(":")
    if name != step:
        return
    _reached[step] = _reached.get(step, 0) + 1
    if _reached[step] >= int(times or 1):
        os.kill(os.getpid(), signal.SIGKILL)
