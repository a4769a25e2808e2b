"""Ingestion over HTTP into PostgreSQL against SQLite: one writer, and several on their own accounts.

    .venv/bin/python bench/writers.py                  # 50,000 events per writer
    .venv/bin/python bench/writers.py --record         # and append the table to RESULTS.md
    .venv/bin/python bench/writers.py --quick --stores sqlite --no-record

For each store, on a fresh database: five accounts, each with the 1,000 agents of the
benchmark day (bench/data.py) and a token. Then for 1 and 2 server processes
(``bench/fleet.py``, as ``talkstats serve --workers N``):

- **1 writer**: one client (``bench/pacer.py``, its own process, unpaced) POSTs the
  day's events to account 1 in NDJSON batches of 1,000, one after another;
- **4 writers**: four such clients at once, each to its own account (2 to 5), as four
  sites or four connectors would.

Each client sends the next slice of the day to its account, so every event is new.
Printed: the events/s of all writers together (events over the wall time of the
slowest), each batch's p50/p99, and the CPU of the server processes, of PostgreSQL and
of the clients (in % of one core; they all share the machine's cores). With 2
server processes every event is folded twice: by the process that accepted it and by
the other one, which follows the log.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, record
from bench.harness import ADMIN_PASSWORD, PLAN
from bench.ingest_stores import postgres_database
from bench.scaleout import Fleet, Meter, _module, _result, postgres_pids, sqlite_database
from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.simulator import reference_data
from talkstats.simulator.driver import basic_authorization, create_reference_data
from talkstats.store import open_store

ACCOUNTS = 5  # 1 for the single writer, 4 for the writers side by side
BATCH = 1_000


@dataclass(frozen=True)
class Plan:
    calls: int
    events: int  # per writer and phase
    workers: tuple[int, ...]


FULL = Plan(100_000, 50_000, (1, 2))
QUICK = Plan(1_000, 3_000, (1, 2))


@dataclass
class Account:
    host: str
    authorization: str


def prepare(url: str, ds: data.Dataset) -> list[Account]:
    settings = Settings(database_url=url, rate_limit_talk=0, rate_limit_queue_activity=0,
                        log_level="warning")  # fmt: skip
    service = Talkstats(open_store(url, create=True), settings, clock=lambda: ds.clock_ns,
                        monotonic=time.monotonic)  # fmt: skip
    out = []
    try:
        for n in range(1, ACCOUNTS + 1):
            t0 = time.perf_counter()
            email = f"admin@w{n}.example"
            account = service.create_account(
                f"w{n}", data.ZONE, PLAN, admin_email=email, admin_password=ADMIN_PASSWORD
            )
            create_reference_data(service, account, reference_data(ds.scenario))
            admin = service.store.find_user_by_email(account.id, email)
            assert admin is not None
            _, token = service.create_api_token(account, user_id=admin.id, description="bench")
            out.append(Account(f"w{n}.stats.test", basic_authorization(email, token=token)))
            print(f"  account w{n} created in {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        service.close()
    return out


@dataclass
class Row:
    store: str
    workers: int
    writers: int
    rate: float  # events/s, all writers together
    batch_p50_ms: float
    batch_p99_ms: float
    rejected: int
    retried: int  # batches answered 503 and sent again
    cpu: dict[str, float]
    wal_per_event: float | None  # bytes of PostgreSQL WAL (the whole server's) per event


def _wal_position(url: str) -> int | None:
    """PostgreSQL's WAL insert position in bytes (None on SQLite)."""
    if not url.startswith("postgres"):
        return None
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0]) if row else None


def phase(fleet: Fleet, ds: data.Dataset, accounts: list[Account], skip: int, count: int,
          store: str, url: str) -> Row:  # fmt: skip
    clients = [
        _module(
            "bench.pacer",
            "--port",
            str(fleet.port),
            "--header",
            f"Host: {a.host}",
            "--header",
            f"Authorization: {a.authorization}",
            "--events",
            str(ds.path),
            "--skip",
            str(skip),
            "--count",
            str(count),
            "--batch",
            str(BATCH),
            "--rate",
            "0",
        )  # fmt: skip
        for a in accounts
    ]
    for client in clients:  # each reads its slice, then says "started" and sends
        assert client.stdout is not None
        if client.stdout.readline().strip() != "started":
            raise RuntimeError("bench.pacer did not start")
    wal = _wal_position(url)
    meter = Meter({"servers": fleet.pids, "postgres": postgres_pids(url)})
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = [_result(c, 900) for c in clients]
    seconds = time.perf_counter() - t0
    cpu = meter.stop()
    cpu["clients"] = 100 * sum(r["cpu_seconds"] for r in results) / seconds  # their own count
    sent = sum(r["sent"] for r in results)
    after = _wal_position(url)
    wal_per_event = (after - wal) / sent if wal is not None and after is not None else None
    return Row(store, len(fleet.workers), len(accounts), sent / seconds,
               statistics.median(r["batch_p50_ms"] for r in results),
               max(r["batch_p99_ms"] for r in results), sum(r["rejected"] for r in results),
               sum(r["retried"] for r in results),
               cpu, wal_per_event)  # fmt: skip


HEADER = (
    "| store | server processes | writers | events/s (all writers) | batch p50 ms | "
    "batch p99 ms | servers CPU % | PostgreSQL CPU % | clients CPU % | machine CPU % | "
    "WAL bytes/event |"
)


def line(r: Row) -> str:
    pg = f"{r.cpu['postgres']:.0f}" if r.store == "PostgreSQL" else "-"
    rejected = f" ({r.rejected} rejected)" if r.rejected else ""
    rejected += f" ({r.retried} batches retried after 503)" if r.retried else ""
    return (f"| {r.store} | {r.workers} | {r.writers} | {r.rate:,.0f}{rejected} | "
            f"{r.batch_p50_ms:.0f} | {r.batch_p99_ms:.0f} | {r.cpu['servers']:.0f} | {pg} | "
            f"{r.cpu['clients']:.0f} | {r.cpu['machine']:.0f} | "
            f"{'-' if r.wal_per_event is None else f'{r.wal_per_event:,.0f}'} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--events", type=int, help="events per writer and phase")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--no-record", dest="record", action="store_false")
    parser.add_argument("--results", type=Path, default=record.RESULTS)
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.events:
        plan = Plan(plan.calls, args.events, plan.workers)
    info = record.machine()
    ds = data.dataset(plan.calls)
    if plan.events * len(plan.workers) > ds.events:
        raise SystemExit(f"the day has {ds.events:,} events; ask for fewer")
    print(f"{plan.events:,} events per writer and phase, batches of {BATCH:,}; load average "
          f"{info['load']}; {os.cpu_count()} cores", flush=True)  # fmt: skip
    rows: list[Row] = []
    for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
        name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[store]
        database = sqlite_database if store == "sqlite" else postgres_database
        with database() as url:
            accounts = prepare(url, ds)
            for n, workers in enumerate(plan.workers):
                with Fleet(url, ds.clock_ns, workers) as fleet:
                    fleet.wait_ready(accounts[0].authorization, accounts[0].host)
                    skip = n * plan.events
                    for group in (accounts[:1], accounts[1:]):
                        row = phase(fleet, ds, group, skip, plan.events, name, url)
                        rows.append(row)
                        print(line(row), flush=True)
    table = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|", *(line(r) for r in rows)]
    print("\n".join(table))
    if args.record:
        lines = [
            *record.heading("writers", info, " ".join(["python bench/writers.py", *sys.argv[1:]])),
            f"- {plan.events:,} events per writer and phase from the {ds.calls:,}-call day, "
            f"NDJSON batches of {BATCH:,}, each writer unpaced on one connection to its own "
            "account; durable commits on both stores; PostgreSQL on the same machine",
            "- CPU in % of one core over the phase; clients and PostgreSQL share the cores; "
            "PostgreSQL = this database's backends plus the server's WAL writer, checkpointer "
            "and background writer; WAL: the server's whole WAL over the phase (other "
            "databases' writes included)",
            "",
            *table,
        ]
        record.append(args.results, "\n".join(lines) + "\n")
        print(f"recorded in {args.results}")


if __name__ == "__main__":
    main()
