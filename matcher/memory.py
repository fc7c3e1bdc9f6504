"""Give the heap's freed memory back to the operating system.

Loading an index builds and drops large temporaries (the parsed JSON of every host, term sets, sort
buffers). glibc keeps much of that freed memory mapped for reuse, so a serving process that loaded 10,000
hosts stayed ~170 MB larger than what it holds (measured with scripts/bench.py). `malloc_trim(0)` returns
it. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def release_freed_memory() -> None:
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
