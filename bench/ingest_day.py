"""Ingest one cached benchmark day in-process and print the rate: a target for profilers.

    .venv/bin/python bench/ingest_day.py 500000
    py-spy record -r 200 -f raw -o /tmp/ingest.folded -- .venv/bin/python bench/ingest_day.py 500000
    python3 bench/fold.py /tmp/ingest.folded > bench/profiles/ingest-500k-pyspy.txt

The same path as the suite's in-process figure (``harness.ingest_in_process``: batches
of 1,000, fsync per batch, the collector tuned as every talkstats command tunes it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calls", type=int, help="calls a day (a cached day of bench/data.py)")
    parser.add_argument("--limit", type=int, default=None, help="ingest only the first N events")
    args = parser.parse_args()
    ds = data.dataset(args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        prep = harness.prepare(Path(tmp) / "day.db", ds.scenario, ds.clock_ns)
        r = harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000, args.limit))
    print(
        f"{r.events:,} events in {r.seconds:.1f} s: {r.rate:,.0f} events/s, {r.rejected} rejected"
    )


if __name__ == "__main__":
    main()
