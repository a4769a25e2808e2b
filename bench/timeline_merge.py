"""The first read of several phone numbers on a day: merging their waiting timelines.

    .venv/bin/python bench/timeline_merge.py

Four phone numbers with 250,000 changes of callers waiting each (about a 500,000-call
day) are merged into one timeline (``PeakTimeline.merged``) and cut into 5-minute
buckets (``Waiting.of``), with the merge as it was before (one ``add`` per instant)
beside it for comparison; both must give the same timeline.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkstats.domain.aggregates import PeakTimeline
from talkstats.domain.timeline import Waiting, bucket_count

NS = 1_000_000_000
START = 1_772_427_600 * NS  # a local midnight
END = START + 86_400 * NS


def timelines(numbers: int = 4, changes: int = 250_000) -> list[PeakTimeline]:
    rng = random.Random(1)
    out = []
    for _ in range(numbers):
        line = PeakTimeline()
        t, level = START, 0
        for _ in range(changes):
            t += rng.randint(1, 340_000_000)
            delta = 1 if level == 0 or rng.random() < 0.5 else -1
            level += delta
            line.add(t, delta)
        out.append(line)
    return out


def merged_before(parts: list[PeakTimeline]) -> PeakTimeline:
    combined: dict[int, int] = {}
    for part in parts:
        for instant, delta in part.deltas().items():
            combined[instant] = combined.get(instant, 0) + delta
    out = PeakTimeline()
    for instant in sorted(combined):
        out.add(instant, combined[instant])
    return out


def main() -> None:
    parts = timelines()
    for _ in range(3):
        t0 = time.perf_counter()
        old = merged_before(parts)
        t1 = time.perf_counter()
        new = PeakTimeline.merged(parts)
        t2 = time.perf_counter()
        Waiting.of(START, bucket_count(START, END), new)
        t3 = time.perf_counter()
        assert (old.times, old.values, old.best) == (new.times, new.values, new.best)
        print(
            f"{len(new.times):,} instants: merge before {t1 - t0:.2f} s, now {t2 - t1:.2f} s; "
            f"5-minute series {t3 - t2:.2f} s"
        )


if __name__ == "__main__":
    main()
