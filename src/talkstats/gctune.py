"""Garbage-collector settings for a talkstats process (applied by the composition root).

A projection holds millions of small objects that live all day, and ingestion
allocates tens of thousands of short-lived ones per batch. With CPython's default
thresholds (a young collection every 700 allocations) the collector runs thousands
of times an hour and its full passes walk the whole projection: 8% of ingestion time
at 500,000 calls a day (bench/RESULTS.md). Collecting the young generation every
50,000 allocations instead costs a few MiB of garbage waiting a little longer and
takes the collector out of the profile. Reference cycles are still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)
OLDER_THRESHOLDS = (20, 10)  # young collections per middle one, middle per full one


def tune() -> None:
    """Apply talkstats' collector thresholds to this process (idempotent)."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
