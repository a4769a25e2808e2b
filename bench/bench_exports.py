"""Incremental export pages at N calls a day: the time to serve a page of 1,000 records.

    .venv/bin/python bench/bench_exports.py 500000

Ingests the cached benchmark day (bench/data.py) into a fresh SQLite file through
``Talkstats.ingest`` (batches of 1,000, fsync each), closes the service (the last
record changes are written), reopens it as a server would start, then times
``Talkstats.export_page`` (write pending changes, read the index range, render the
Zendesk objects) for pages at 24 start times spread over the day, and the same pages
over HTTP through the app in-process (adds routing, auth and JSON encoding). Target:
a page of 1,000 calls in under 50 ms. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import data, harness
from talkstats.api.app import create_app

NS = 1_000_000_000
TARGET_MS = 50.0


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calls", type=int, help="calls a day (a cached day of bench/data.py)")
    parser.add_argument("--rounds", type=int, default=3, help="times each page is read")
    args = parser.parse_args()
    ds = data.dataset(args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        prep = harness.prepare(Path(tmp) / "day.db", ds.scenario, ds.clock_ns)
        r = harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000))
        print(f"ingest: {r.events:,} events, {r.rate:,.0f} events/s")
        service = harness.open_service(prep.db, ds.clock_ns)
        account = service.account(harness.SUBDOMAIN)
        assert account is not None
        t0 = time.perf_counter()
        service.flush_records(account)  # load: snapshot + log tail, as at a restart
        print(f"load before the first page: {time.perf_counter() - t0:.2f} s")
        starts = [ds.start_ns // NS + h * 3600 for h in range(24)]
        for kind in ("calls", "legs"):
            times: list[float] = []
            sizes: list[int] = []
            for _ in range(args.rounds):
                for start in starts:
                    t0 = time.perf_counter()
                    page = service.export_page(account, kind, start)
                    times.append((time.perf_counter() - t0) * 1000)
                    sizes.append(len(page.records))
            full = [t for t, n in zip(times, sizes, strict=True) if n >= 1000]
            verdict = ("pass" if max(full) < TARGET_MS else "MISS") if full else "no full page"
            print(
                f"export_page {kind} (in-process, {len(full)} full pages of 1,000+ records, "
                f"{len(times)} pages of {min(sizes)}-{max(sizes)}): {_ms(full or times)} "
                f"[{verdict}, < {TARGET_MS:.0f} ms]"
            )
        app = create_app(service)
        headers = {"Authorization": prep.authorization}

        async def http() -> list[float]:
            out = []
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as c:
                for _ in range(args.rounds):
                    for start in starts:
                        t0 = time.perf_counter()
                        resp = await c.get(
                            f"/api/v2/channels/voice/stats/incremental/calls?start_time={start}",
                            headers=headers,
                        )
                        out.append((time.perf_counter() - t0) * 1000)
                        assert resp.status_code == 200, resp.text
            return out

        times = asyncio.run(http())
        print(f"GET incremental/calls (in-process ASGI, pages of 1,000+): {_ms(times)}")
        service.close()


if __name__ == "__main__":
    main()
