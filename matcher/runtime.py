"""Settings of a serving process that are about the process, not the matching.

- `release_freed_memory`: loading an index builds and drops large temporaries (the parsed JSON of every
  host, term sets, sort buffers). glibc keeps much of that freed memory mapped for reuse, so a serving
  process that had loaded 10,000 hosts stayed ~170 MB larger than what it holds (scripts/bench.py);
  `malloc_trim(0)` returns it. Elsewhere than glibc it does nothing.
- `single_threaded_blas`: a request multiplies one query by a few thousand vectors, too little for BLAS
  threads to help; but OpenBLAS threads spin after each call and took the cores from the encoder, whose
  next query then took 14 ms instead of 9 (measured on this machine). Batch jobs keep their BLAS threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

from threadpoolctl import threadpool_limits


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


def single_threaded_blas() -> None:
    """Limit every BLAS library loaded in this process to one thread, for good."""
    threadpool_limits(limits=1, user_api="blas")
