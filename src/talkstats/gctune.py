"""Memory settings of a talkstats process: the garbage collector's thresholds (applied
by the composition root) and giving freed memory back to the system.

A projection holds millions of small objects that live all day, and ingestion
allocates tens of thousands of short-lived ones per batch. With CPython's default
thresholds (a young collection every 700 allocations) the collector runs thousands
of times an hour and its full passes walk the whole projection: 8% of ingestion time
at 500,000 calls a day (bench/RESULTS.md). Collecting the young generation every
50,000 allocations instead costs a few MiB of garbage waiting a little longer and
takes the collector out of the profile. Reference cycles are still collected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)
OLDER_THRESHOLDS = (20, 10)  # young collections per middle one, middle per full one


def tune() -> None:
    """Apply talkstats' collector thresholds to this process (idempotent)."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Give the C heap's free pages back to the operating system; whether it could.

    Called after a large part of the projection was dropped (a day sealed, once a day)
    and after a past day's stored form was read back whole and mostly dropped: CPython
    frees those objects, but glibc keeps the freed pages of its heap mapped, so without
    this the resident size stays at the high-water mark of the day and the next, and
    drifts by tens of MB from one day to another with fragmentation.
    """
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
