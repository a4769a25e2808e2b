"""Memory over many days: N simulated days through one process, RSS after each day.

    .venv/bin/python bench/memory_days.py --days 30 --calls 50000
    .venv/bin/python bench/memory_days.py --days 3 --calls 500000 --no-seal

One Simulator (bench/data.py's 1,000-agent center at ``--calls`` calls a day) runs
across the days; its events go through ``Talkstats.ingest`` in batches of 1,000 on a
fake clock that follows the simulated time, into a fresh SQLite file. After each day
(at local midnight) the script reads the previous day with ``date=`` twice (the first
read loads a sealed day from the database, the second finds it in memory) and one
earlier day, then prints the process's resident memory (VmRSS, after a collection).
At the end it reads sampled days again, first and second time, with and without a
phone-number filter. Read latency is the service's work for one read of each per-day
endpoint (account_overview, service_level, timeline, agents_overview and a page of 100
agents_activity rows), loading the day back first if it is sealed; not HTTP.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, harness
from talkstats import gctune
from talkstats.config import Settings
from talkstats.domain import stats
from talkstats.service import Talkstats
from talkstats.simulator import Simulator
from talkstats.store.base import Account
from talkstats.store.sqlite import SQLiteStore

FIRST_DAY = "2026-03-02"  # a Monday


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def read_day(service: Talkstats, account: Account, day: date, numbers: list[int] | None) -> float:
    """One ``date=`` read of every per-day statistic; its seconds."""
    t0 = time.perf_counter()
    service.readable_day(account, day, numbers)
    p = service.projection(account)
    now = p.effective_now(service.clock())
    stats.account_overview(p, now, plan="enterprise", date=day, phone_number_ids=numbers)
    stats.service_level(p, now, date=day, phone_number_ids=numbers)
    stats.timeline(p, now, interval=15, date=day, phone_number_ids=numbers)
    stats.agents_overview(p, now, plan="enterprise", date=day)
    page = p.directory.agent_ids()[:100]  # one page, as the API serves them
    stats.agents_activity(p, now, plan="enterprise", agent_ids=page, date=day)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50_000, help="calls a day")
    parser.add_argument("--no-seal", action="store_true", help="keep every day in memory")
    parser.add_argument("--cached", type=int, default=4, help="sealed_days_cached")
    parser.add_argument("--db", type=Path, default=None, help="database file (default: temp)")
    args = parser.parse_args()
    gctune.tune()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "memory.db"
        run(db, args.days, args.calls, not args.no_seal, args.cached)


def run(db: Path, days: int, calls: int, seal: bool, cached: int) -> None:
    first = date.fromisoformat(FIRST_DAY)
    start, _ = data.day_window(FIRST_DAY)
    scenario = data.scenario(calls)
    clock = Clock(start)
    harness.prepare(db, scenario, start)
    settings = Settings(
        database_url=f"sqlite:///{db}",
        rate_limit_talk=0,
        rate_limit_queue_activity=0,
        log_level="warning",
        seal_past_days=seal,
        sealed_days_cached=cached,
        snapshot_every_events=10**12,  # the figures are about the projection, not snapshots
    )
    service = Talkstats(SQLiteStore(db), settings, clock=clock, monotonic=time.monotonic)
    account = service.account(harness.SUBDOMAIN)
    assert account is not None
    numbers = sorted(service.projection(account).directory.phone_numbers)
    sealer = service.runtimes.sealer
    sealing_seconds: list[float] = []
    seal_due = sealer.seal_due

    def timed_seal_due(*args: Any, **kwargs: Any) -> list[date]:
        t0 = time.perf_counter()
        sealed = seal_due(*args, **kwargs)
        if sealed:
            sealing_seconds.append(time.perf_counter() - t0)
        return sealed

    sealer.seal_due = timed_seal_due  # type: ignore[method-assign]
    sim = Simulator(scenario, data.SEED, start, id_prefix="m")
    print(
        f"memory_days: {days} days x {calls:,} calls/day, sealing {'on' if seal else 'off'}, "
        f"cache {cached} days; RSS at start {rss_mb():.0f} MB",
        flush=True,
    )
    first_rss = 0.0
    events = rejected = 0
    began = time.perf_counter()
    for n in range(days):
        day = first + timedelta(days=n)
        _, day_end = data.day_window(day.isoformat())
        t0 = time.perf_counter()
        day_events = 0
        t = clock.now
        while t < day_end:
            t = min(t + data.HOUR // 4, day_end)
            chunk = sim.advance(t)
            clock.now = t
            for i in range(0, len(chunk), 1000):
                outcome = service.ingest(account, chunk[i : i + 1000])
                rejected += outcome.rejected
            day_events += len(chunk)
        events += day_events
        took = time.perf_counter() - t0
        reads = ""
        if n >= 1:
            back = day - timedelta(days=1)
            first_s = read_day(service, account, back, None)
            second_s = read_day(service, account, back, None)
            reads = f"; date={back} {first_s * 1000:.0f} ms then {second_s * 1000:.1f} ms"
            if n >= 3:
                earlier = first + timedelta(days=(n * 7) % (n - 1))
                again = read_day(service, account, earlier, None)
                reads += f"; date={earlier} {again * 1000:.0f} ms"
        rss = rss_mb()
        if n == 0:
            first_rss = rss
        p = service.projection(account)
        print(
            f"day {n + 1:>2} {day}: {day_events:,} events in {took:.0f} s; "
            f"RSS {rss:.0f} MB ({(rss / first_rss - 1) * 100:+.1f} % of day 1); "
            f"sealed {len(p.sealed)}, mounted {len(p.mounted)}{reads}",
            flush=True,
        )
    print(f"{events:,} events, {rejected} rejected, in {time.perf_counter() - began:.0f} s")
    sample = sorted({first + timedelta(days=i) for i in (0, days // 3, 2 * days // 3, days - 2)})
    for day in sample:
        if day >= first + timedelta(days=days - 1) or day < first:
            continue
        for label, filt in (("all numbers", None), ("two numbers", numbers[:2])):
            a = read_day(service, account, day, filt)
            b = read_day(service, account, day, filt)
            print(
                f"read date={day} ({label}): first {a * 1000:.0f} ms, second {b * 1000:.1f} ms",
                flush=True,
            )
    print(f"RSS at the end {rss_mb():.0f} MB (day 1: {first_rss:.0f} MB)")
    if sealing_seconds:
        conn = sqlite3.connect(db)
        blobs = [row[0] for row in conn.execute("SELECT length(blob) FROM sealed_days")]
        (ids,) = conn.execute("SELECT count(*) FROM sealed_calls").fetchone()
        conn.close()
        print(
            f"sealing: {len(sealing_seconds)} times, median {median(sealing_seconds):.2f} s, "
            f"longest {max(sealing_seconds):.2f} s; sealed forms {median(blobs) / 1e6:.1f} MB "
            f"(median of {len(blobs)}), {ids:,} sealed call ids"
        )
    service.close()


if __name__ == "__main__":
    main()
