"""Ingestion into PostgreSQL against SQLite: the same events, the same code, side by side.

    .venv/bin/python bench/ingest_stores.py                  # 100,000-call day, 300,000 events
    .venv/bin/python bench/ingest_stores.py --limit 0 --record   # the whole day; into RESULTS.md

For each store, on a fresh database:

- in-process: ``Talkstats.ingest`` with batches of 1,000 (validate, append in one
  durable transaction, fold), as ``harness.ingest_in_process`` does for SQLite;
- raw append: ``Store.append_events`` with the same rows in batches of 1,000, the
  store's own ceiling;
- one-event appends: ``Store.append_events`` with a single event (what a PUT
  availability or a one-event POST pays), median and p99 of 2,000 (``--singles``);
- parallel appends: 4 threads, each with its own store handle and its own account,
  batches of 1,000. PostgreSQL commits them side by side; SQLite has one writer.

PostgreSQL is the server at ``TALKSTATS_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``): the script creates a uniquely
named database there and drops it at the end. Both stores commit durably (SQLite
``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``), on the same disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench import data, record
from bench.harness import ADMIN_EMAIL, ADMIN_PASSWORD, PLAN, SUBDOMAIN
from talkstats import gctune
from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.simulator import reference_data
from talkstats.simulator.driver import create_reference_data
from talkstats.store import Store, open_store

POSTGRES_VAR = "TALKSTATS_BENCH_POSTGRES_URL"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 1_000
SINGLES = 2_000
THREADS = 4


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    server = os.environ.get(POSTGRES_VAR, POSTGRES_DEFAULT)
    name = f"talkstats_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent / ".cache") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@dataclass
class StoreFigures:
    in_process: float = 0.0  # events/s
    raw_append: float = 0.0
    single_p50_ms: float = 0.0
    single_p99_ms: float = 0.0
    parallel: float = 0.0
    rejected: int = 0


def service_on(url: str, clock_ns: int) -> Talkstats:
    settings = Settings(
        database_url=url, rate_limit_talk=0, rate_limit_queue_activity=0, log_level="warning"
    )
    return Talkstats(
        open_store(url, create=True), settings, clock=lambda: clock_ns, monotonic=time.monotonic
    )


def measure(url: str, ds: data.Dataset, limit: int | None, singles: int) -> StoreFigures:
    figures = StoreFigures()
    perf = time.perf_counter

    # in-process, through the service
    service = service_on(url, ds.clock_ns)
    try:
        account = service.create_account(
            SUBDOMAIN, data.ZONE, PLAN, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        )
        create_reference_data(service, account, reference_data(ds.scenario))
        service.projection(account)
        spent, total = 0.0, 0
        for lines in ds.batches(BATCH, limit):
            objs = [orjson.loads(line) for line in lines]
            t0 = perf()
            outcome = service.ingest(account, objs)
            spent += perf() - t0
            total += len(objs)
            figures.rejected += outcome.rejected
        figures.in_process = total / spent
    finally:
        service.close()

    rows = [(orjson.loads(line)["id"], line.decode()) for line in ds.lines(limit)]
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    store = open_store(url)
    try:
        # raw appends of the same rows, to an account of their own
        raw = store.create_account("raw", "UTC", "team")
        t0 = perf()
        for batch in batches:
            store.append_events(raw.id, batch)
        figures.raw_append = len(rows) / (perf() - t0)

        single = store.create_account("single", "UTC", "team")
        latencies = []
        for event_id, body in rows[:singles]:
            t0 = perf()
            store.append_events(single.id, [(event_id, body)])
            latencies.append(perf() - t0)
        latencies.sort()
        figures.single_p50_ms = statistics.median(latencies) * 1000
        figures.single_p99_ms = latencies[int(len(latencies) * 0.99) - 1] * 1000

        accounts = [store.create_account(f"p{n}", "UTC", "team") for n in range(THREADS)]
    finally:
        store.close()

    # parallel appends: one handle and one account per thread
    handles: list[Store] = [open_store(url) for _ in range(THREADS)]
    share = batches[: max(1, len(batches) // THREADS)]
    start = threading.Barrier(THREADS + 1)

    def append(n: int) -> None:
        start.wait()
        for batch in share:
            handles[n].append_events(accounts[n].id, batch)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = perf()
    for t in threads:
        t.join()
    figures.parallel = THREADS * sum(len(b) for b in share) / (perf() - t0)
    for handle in handles:
        handle.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls a day (bench/data.py)")
    parser.add_argument(
        "--limit", type=int, default=300_000, help="events of the day to use (0: all)"
    )
    parser.add_argument(
        "--singles", type=int, default=SINGLES, help="one-event appends to time per store"
    )
    parser.add_argument("--record", action="store_true", help="append the figures to RESULTS.md")
    args = parser.parse_args()
    gctune.tune()
    ds = data.dataset(args.calls)
    limit = args.limit or None
    events = min(ds.events, limit or ds.events)
    info = record.machine()
    print(f"{events:,} events of a {ds.calls:,}-call day; load average {info['load']}")
    results: dict[str, StoreFigures] = {}
    for name, database in (("SQLite", sqlite_database), ("PostgreSQL", postgres_database)):
        with database() as url:
            results[name] = measure(url, ds, limit, args.singles)
        r = results[name]
        print(
            f"{name:>10}: in-process {r.in_process:,.0f} events/s, raw append "
            f"{r.raw_append:,.0f} events/s, one-event append p50 {r.single_p50_ms:.2f} ms "
            f"p99 {r.single_p99_ms:.2f} ms, {THREADS} parallel writers {r.parallel:,.0f} "
            f"events/s, {r.rejected} rejected"
        )
    if args.record:
        lite, pg = results["SQLite"], results["PostgreSQL"]
        rows = [
            ("in-process ingest (Talkstats.ingest, batches of 1,000), events/s",
             lite.in_process, pg.in_process),
            ("raw append (Store.append_events, batches of 1,000), events/s",
             lite.raw_append, pg.raw_append),
            ("one-event append p50, ms", lite.single_p50_ms, pg.single_p50_ms),
            ("one-event append p99, ms", lite.single_p99_ms, pg.single_p99_ms),
            (f"{THREADS} writers in parallel (one account each, batches of 1,000), events/s",
             lite.parallel, pg.parallel),
        ]  # fmt: skip
        command = "python bench/ingest_stores.py " + " ".join(sys.argv[1:])
        lines = [
            *record.heading("ingest: PostgreSQL against SQLite", info, command),
            f"- {events:,} events of a {ds.calls:,}-call day (bench/data.py); PostgreSQL on "
            "the same machine over TCP loopback; both commit durably",
            "",
            "| figure | SQLite | PostgreSQL | PostgreSQL / SQLite |",
            "|---|---|---|---|",
        ]
        for name, a, b in rows:
            fmt = "{:,.0f}" if a >= 100 else "{:.2f}"
            lines.append(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {b / a:.2f} |")
        record.append(record.RESULTS, "\n".join(lines) + "\n")
        print(f"recorded in {record.RESULTS}")


if __name__ == "__main__":
    main()
