"""Reads with 1, 2 and 4 server processes, idle and under ingestion, on SQLite and PostgreSQL.

    .venv/bin/python bench/scaleout.py                 # the 100,000-call day, both stores
    .venv/bin/python bench/scaleout.py --record        # and append the table to RESULTS.md
    .venv/bin/python bench/scaleout.py --quick --stores sqlite --no-record   # smoke test

For each store (a fresh SQLite file; a fresh database on the PostgreSQL server at
``TALKSTATS_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``):

1. the account, the scenario's 1,000 agents and a token are created, and the first
   part of a simulated day (bench/data.py) is ingested in-process; the rest of the day
   is kept for the ingestion client;
2. for 1, 2 and 4 workers, ``bench/fleet.py`` starts that many server processes on one
   socket (what ``talkstats serve --workers N`` does, on the day's fixed clock), waits
   until every one of them answers, and then measures, with 32 connections spread
   evenly over account_overview, agents_activity (a page of 100), agents_overview,
   current_queue_activity and service_level (``bench/mixload.py``, its own process):
   - **idle**: reads alone;
   - **ingest**: the same while ``bench/pacer.py`` (its own process) sends the next
     events of the day at 5,000 events/s in NDJSON batches of 100;
3. with 2 workers, the visibility latency: an event POSTed to one worker (its private
   port), then the other worker's ``agents_activity`` polled until it shows it; idle,
   then with the ingestion client running.

It prints one table: requests/s, p50 and p99 of the reads, the p99 of the slowest
endpoint, the ingestion rate achieved, and the CPU of the server processes, of
PostgreSQL's processes, of the two clients and of the whole machine during the
measurement (in % of one core; the machine has ``nproc`` of them, and the clients run
on the same cores as the servers). Then the store's size per event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench import data, record
from bench.harness import ADMIN_EMAIL, ADMIN_PASSWORD, PLAN, SUBDOMAIN
from bench.ingest_stores import postgres_database
from bench.load import STATS
from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.simulator import reference_data
from talkstats.simulator.driver import basic_authorization, create_reference_data
from talkstats.store import open_store

ROOT = Path(__file__).resolve().parent.parent
PATHS = [
    f"{STATS}/account_overview",
    f"{STATS}/agents_activity",
    f"{STATS}/agents_overview",
    f"{STATS}/current_queue_activity",
    f"{STATS}/service_level",
]
PROBE_AGENT = 990_001  # an agent of its own for the visibility probe, in a group of its own
PROBE_GROUP = 990_001
TICK = os.sysconf("SC_CLK_TCK")
GOAL_P99_MS = 20.0
RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Plan:
    calls: int
    workers: tuple[int, ...]
    seconds: float  # measured, per phase
    warmup: float
    connections: int
    rate: float  # events/s of the ingestion client
    batch: int
    probes: int  # visibility samples, idle and under ingestion
    probe_seconds: float  # of ingestion while the visibility is probed under it


FULL = Plan(100_000, (1, 2, 4), 10.0, 2.0, 32, 5_000.0, 100, 100, 20.0)
QUICK = Plan(1_000, (1, 2), 1.0, 0.3, 8, 1_000.0, 50, 10, 3.0)


# --- processes and their CPU -------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_pids(url: str) -> list[int]:
    """PostgreSQL's processes that work for this database: its backends, and the
    server's WAL writer, checkpointer and background writer (shared by every database).
    Backends of other databases on the same server are left out. None for SQLite."""
    if not url.startswith("postgres"):
        return []
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() "
            "AND pid <> pg_backend_pid()) OR backend_type IN "
            "('walwriter', 'checkpointer', 'background writer')"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Meter:
    """CPU used by groups of processes, and by the whole machine, between start and stop."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.start = {name: sum(_cpu_of(p) for p in pids) for name, pids in groups.items()}
        self.machine = _machine_busy()
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        """% of one core per group, and 'machine' (all cores, in % of one core)."""
        seconds = time.perf_counter() - self.t0
        out = {
            name: 100 * (sum(_cpu_of(p) for p in pids) - self.start[name]) / seconds
            for name, pids in self.groups.items()
        }
        busy, total = _machine_busy()
        cores = os.cpu_count() or 1
        out["machine"] = 100 * cores * (busy - self.machine[0]) / max(1, total - self.machine[1])
        return out


class Fleet:
    """``python -m bench.fleet`` in a child process: N workers on one port."""

    def __init__(self, url: str, clock_ns: int, workers: int) -> None:
        cmd = [sys.executable, "-m", "bench.fleet", "--database", url,
               "--clock-ns", str(clock_ns), "--workers", str(workers)]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        self.workers: list[tuple[int, int]] = []  # (pid, private port)
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"bench.fleet exited with {self.proc.wait()}")
            message = json.loads(line)
            if "listening" in message:
                self.port = int(message["listening"])
                break
            self.workers.append((int(message["pid"]), int(message["port"])))

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid, *(pid for pid, _ in self.workers)]

    def wait_ready(self, authorization: str, host: str | None = None,
                   timeout: float = 600.0) -> None:  # fmt: skip
        """Until every worker answers account_overview with 200 (its projection loaded)."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": authorization, **({"Host": host} if host else {})}
        for _, port in self.workers:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bench.fleet exited with {self.proc.returncode}")
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", PATHS[0], headers=headers)
                    status = conn.getresponse().status
                    conn.close()
                except OSError:
                    status = 0
                if status == 200:
                    break
                if status not in (0, 503) or time.monotonic() > deadline:
                    raise RuntimeError(f"worker on port {port} not ready: HTTP {status}")
                time.sleep(0.05)

    def rss_mib(self) -> float:
        total = 0.0
        for pid, _ in self.workers:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _module(name: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", name, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip


def _result(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args!r}: exit {proc.returncode}: {out[-2000:]}")
    loaded: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return loaded


def start_reads(port: int, authorization: str, plan: Plan) -> subprocess.Popen[str]:
    args = ["--port", str(port), "--header", f"Authorization: {authorization}",
            "-c", str(plan.connections), "-d", str(plan.seconds), "--warmup", str(plan.warmup)]  # fmt: skip
    for path in PATHS:
        args += ["--path", path]
    return _module("bench.mixload", *args)


class Feed:
    """The rest of the day, handed to ingestion clients slice by slice."""

    def __init__(self, ds: data.Dataset, first: int) -> None:
        self.ds = ds
        self.next = first

    def start(self, port: int, authorization: str, count: int, rate: float, batch: int
              ) -> subprocess.Popen[str]:  # fmt: skip
        count = min(count, self.ds.events - self.next)
        if count <= 0:
            raise RuntimeError("the simulated day has no events left for the ingestion client")
        proc = _module("bench.pacer", "--port", str(port), "--header",
                       f"Authorization: {authorization}", "--events", str(self.ds.path),
                       "--skip", str(self.next), "--count", str(count), "--batch", str(batch),
                       "--rate", str(rate))  # fmt: skip
        self.next += count
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        if not ready or proc.stdout.readline().strip() != "started":
            raise RuntimeError("bench.pacer did not start")
        return proc


# --- the database ------------------------------------------------------------------------


@dataclass
class Prepared:
    url: str
    authorization: str
    loaded_events: int
    ingest_rate: float  # in-process, events/s, of the part loaded


def prepare(url: str, ds: data.Dataset, events: int) -> Prepared:
    settings = Settings(database_url=url, rate_limit_talk=0, rate_limit_queue_activity=0,
                        log_level="warning")  # fmt: skip
    service = Talkstats(open_store(url, create=True), settings, clock=lambda: ds.clock_ns,
                        monotonic=time.monotonic)  # fmt: skip
    try:
        account = service.create_account(
            SUBDOMAIN, data.ZONE, PLAN, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        )
        create_reference_data(service, account, reference_data(ds.scenario))
        service.create_user(account, id=PROBE_AGENT, name="Probe", email="probe@bench.example",
                            role="agent")  # fmt: skip
        service.create_group(account, id=PROBE_GROUP, name="Probe")
        service.add_membership(account, group_id=PROBE_GROUP, user_id=PROBE_AGENT)
        admin = service.store.find_user_by_email(account.id, ADMIN_EMAIL)
        assert admin is not None
        _, token = service.create_api_token(account, user_id=admin.id, description="bench")
        service.projection(account)
        spent, total = 0.0, 0
        for lines in ds.batches(1_000, events):
            objs = [orjson.loads(line) for line in lines]
            t0 = time.perf_counter()
            outcome = service.ingest(account, objs)
            spent += time.perf_counter() - t0
            total += len(objs)
            if outcome.rejected:
                raise RuntimeError(f"{outcome.rejected} events rejected while loading the day")
        # the exports' record tables too, as a server that ran all along would have them
        # (else the first server folds the whole log into them during the first phase)
        service.flush_records(account)
    finally:
        service.close()
    return Prepared(url, basic_authorization(ADMIN_EMAIL, token=token), total,
                    total / spent if spent else 0.0)  # fmt: skip


@contextmanager
def sqlite_database() -> Iterator[str]:
    cache = ROOT / "bench" / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        yield f"sqlite:///{tmp}/scaleout.db"


def size_per_event(url: str) -> dict[str, float]:
    """Bytes per event of the events table (rows, indexes, with TOAST) and of the database."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        import sqlite3

        with sqlite3.connect(path) as conn:
            count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            page = conn.execute("PRAGMA page_size").fetchone()[0]
        return {"events": count, "database": pages * page / count}
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), pg_relation_size('events'), pg_indexes_size('events'), "
            "pg_total_relation_size('events'), pg_database_size(current_database()) FROM events"
        ).fetchone()
    assert row is not None
    count, heap, indexes, total, database = row
    return {"events": count, "heap": heap / count, "indexes": indexes / count,
            "table": total / count, "database": database / count}  # fmt: skip


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Row:
    store: str
    workers: int
    load: str  # "idle" or "ingest"
    reads: dict[str, Any]
    cpu: dict[str, float]
    ingest: dict[str, Any] | None = None


def measure_reads(fleet: Fleet, prep: Prepared, plan: Plan, feed: Feed | None,
                  store: str) -> Row:  # fmt: skip
    pacer = None
    if feed is not None:
        count = int(plan.rate * (plan.warmup + plan.seconds + 2.0))
        pacer = feed.start(fleet.port, prep.authorization, count, plan.rate, plan.batch)
    reads = start_reads(fleet.port, prep.authorization, plan)
    time.sleep(plan.warmup)
    meter = Meter({"servers": fleet.pids, "postgres": postgres_pids(prep.url)})
    time.sleep(plan.seconds)
    cpu = meter.stop()
    result = _result(reads, plan.seconds + 120)
    ingest = _result(pacer, 600) if pacer else None
    # the clients count their own CPU (they may have exited by the time the meter stops)
    cpu["clients"] = 100 * result["cpu_seconds"] / result["wall_seconds"]
    if ingest is not None:
        cpu["clients"] += 100 * ingest["cpu_seconds"] / ingest["seconds"]
    return Row(store, len(fleet.workers), "ingest" if feed else "idle", result, cpu, ingest)


def _instant(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000 / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Probe:
    sequence: int = 0
    retried: int = 0  # probe POSTs answered 503 (retry), and sent again
    most_in_a_row: int = 0
    samples: dict[str, list[float]] = field(default_factory=dict)


def visibility(fleet: Fleet, prep: Prepared, ds: data.Dataset, probe: Probe, label: str,
               count: int, pacer: subprocess.Popen[str] | None = None) -> list[float]:  # fmt: skip
    """Seconds from the acknowledgement of an event by worker 1 to worker 2 showing it.

    With a ``pacer``, only while it runs (it sends a bounded slice of the day).
    """
    (_, writer), (_, reader) = fleet.workers[0], fleet.workers[1]
    post = http.client.HTTPConnection("127.0.0.1", writer, timeout=30)
    poll = http.client.HTTPConnection("127.0.0.1", reader, timeout=30)
    headers = {"Authorization": prep.authorization, "Content-Type": "application/json"}
    path = f"{STATS}/agents_activity?group_ids={PROBE_GROUP}"
    base = ds.clock_ns - 2 * 3600 * 1_000_000_000
    rng = random.Random(probe.sequence)
    out = []
    for _ in range(count):
        if pacer is not None and pacer.poll() is not None:
            break
        probe.sequence += 1
        state = "online" if probe.sequence % 2 else "away"
        event = {"id": f"probe-{probe.sequence}", "type": "agent.state_changed",
                 "time": _instant(base + probe.sequence * 1_000_000), "agent_id": PROBE_AGENT,
                 "state": state}  # fmt: skip
        in_a_row = 0
        answer, acked = b"", 0.0
        deadline = time.perf_counter() + RETRY_SECONDS
        while time.perf_counter() < deadline:  # a 503 asks for a retry (the log moved)
            try:
                post.request("POST", "/api/v2/channels/voice/events", body=orjson.dumps(event),
                             headers=headers)  # fmt: skip
                response = post.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                post.close()  # the server closed an idle keep-alive connection: reconnect
                continue
            answer = response.read()
            acked = time.perf_counter()
            if response.status != 503:
                break
            probe.retried += 1
            in_a_row += 1
            probe.most_in_a_row = max(probe.most_in_a_row, in_a_row)
            time.sleep(0.05)
        if b'"accepted":1' not in answer:
            raise RuntimeError(f"probe event not accepted: {answer[:300]!r}")
        while True:
            try:
                poll.request("GET", path, headers=headers)
                body = poll.getresponse().read()
            except (http.client.RemoteDisconnected, ConnectionError):
                poll.close()
                continue
            if f'"agent_state":"{state}"'.encode() in body:
                out.append(time.perf_counter() - acked)
                break
            if time.perf_counter() - acked > 30:
                raise RuntimeError("the probe event never became visible in the other worker")
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.5))  # at any phase of the followers' rounds
    probe.samples[label] = out
    return out


def run_store(store: str, url: str, ds: data.Dataset, plan: Plan, keep: int,
              probes: dict[str, list[float]], notes: list[str],
              ) -> tuple[list[Row], Prepared, dict[str, float]]:  # fmt: skip
    first = max(0, ds.events - keep)
    print(f"{store}: loading {first:,} of {ds.events:,} events in-process ...", flush=True)
    prep = prepare(url, ds, first)
    print(f"{store}: loaded at {prep.ingest_rate:,.0f} events/s", flush=True)
    feed = Feed(ds, first)
    rows: list[Row] = []
    probe = Probe()
    for workers in plan.workers:
        with Fleet(url, ds.clock_ns, workers) as fleet:
            fleet.wait_ready(prep.authorization)
            for loaded in (None, feed):
                row = measure_reads(fleet, prep, plan, loaded, store)
                rows.append(row)
                print(line(row), flush=True)
            rss = fleet.rss_mib() / workers
            notes.append(f"{store}, {workers} worker{'s' if workers > 1 else ''}: resident memory {rss:,.0f} MiB a worker "
                         "after the phases")  # fmt: skip
    if 2 in plan.workers:  # after the read phases: their ingestion slices stay in order
        with Fleet(url, ds.clock_ns, 2) as fleet:
            fleet.wait_ready(prep.authorization)
            idle = visibility(fleet, prep, ds, probe, "idle", plan.probes)
            print(f"{store}: visibility idle {_p(idle)}", flush=True)
            pacer = feed.start(fleet.port, prep.authorization, int(plan.rate * plan.probe_seconds),
                               plan.rate, plan.batch)  # fmt: skip
            try:
                busy = visibility(fleet, prep, ds, probe, "ingest", plan.probes, pacer)
            finally:
                pacer.terminate()
                pacer.wait()
            print(f"{store}: visibility under ingestion {_p(busy)}", flush=True)
    for label, samples in probe.samples.items():
        probes[f"{store} {label}"] = samples
    if probe.retried:
        notes.append(
            f"{store}: {probe.retried} probe POSTs were answered 503 (the log moved "
            f"under them) and sent again, at most {probe.most_in_a_row} in a row"
        )
    return rows, prep, size_per_event(url)


def _p(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, " \
           f"max {ordered[-1] * 1000:.0f} ms ({len(ordered)} events)"  # fmt: skip


# --- the table ---------------------------------------------------------------------------

HEADER = ("| store | workers | load | reads/s | p50 ms | p99 ms | slowest endpoint p99 ms | "
          "ingested events/s | servers CPU % | reads/s per server core | PostgreSQL CPU % | "
          "clients CPU % | machine CPU % |")  # fmt: skip


def line(row: Row) -> str:
    r = row.reads
    slowest = max(r["paths"].items(), key=lambda kv: kv[1]["p99_ms"])
    name = slowest[0].rsplit("/", 1)[1]
    ingest = "-"
    if row.ingest is not None:
        i = row.ingest
        ingest = f"{i['rate']:,.0f}" + (f" ({i['rejected']} rejected)" if i["rejected"] else "")
        ingest += f" ({i['retried']} batches retried after 503)" if i["retried"] else ""
    pg = f"{row.cpu['postgres']:.0f}" if row.store == "PostgreSQL" else "-"
    errors = f" ({r['errors']} errors)" if r["errors"] else ""
    per_core = r["rps"] / max(row.cpu["servers"] / 100, 0.01)  # what a core of the servers buys
    return (f"| {row.store} | {row.workers} | {row.load} | {r['rps']:,.0f}{errors} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {slowest[1]['p99_ms']:.1f} ({name}) | "
            f"{ingest} | {row.cpu['servers']:.0f} | {per_core:,.0f} | {pg} | "
            f"{row.cpu['clients']:.0f} | {row.cpu['machine']:.0f} |")  # fmt: skip


def gains(rows: list[Row]) -> list[str]:
    """Requests/s with N workers over 1 worker, per store and load."""
    out = []
    for store in dict.fromkeys(r.store for r in rows):
        for load in ("idle", "ingest"):
            by = {r.workers: r.reads["rps"] for r in rows if r.store == store and r.load == load}
            if 1 in by:
                parts = [f"{n} workers x{by[n] / by[1]:.2f}" for n in sorted(by) if n != 1]
                out.append(f"{store}, {load}: " + ", ".join(parts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny day and 1 s phases")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--calls", type=int, help="calls in the simulated day")
    parser.add_argument("--seconds", type=float, help="measured seconds per phase")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    parser.add_argument("--no-record", dest="record", action="store_false")
    parser.add_argument("--results", type=Path, default=record.RESULTS)
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.calls or args.seconds:
        plan = Plan(args.calls or plan.calls, plan.workers, args.seconds or plan.seconds,
                    plan.warmup, plan.connections, plan.rate, plan.batch, plan.probes,
                    plan.probe_seconds)  # fmt: skip
    info = record.machine()
    ds = data.dataset(plan.calls)
    phase = plan.rate * (plan.warmup + plan.seconds + 2.0)  # what one ingestion phase sends
    keep = int(phase * len(plan.workers) + plan.rate * plan.probe_seconds)
    print(f"{ds.calls:,}-call day, {ds.events:,} events; load average {info['load']}; "
          f"{os.cpu_count()} cores", flush=True)  # fmt: skip
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    rows: list[Row] = []
    probes: dict[str, list[float]] = {}
    retries: list[str] = []
    sizes: dict[str, dict[str, float]] = {}
    loads: dict[str, float] = {}
    t0 = time.perf_counter()
    for store in stores:
        name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[store]
        database = sqlite_database if store == "sqlite" else postgres_database
        with database() as url:
            got, prep, sizes[name] = run_store(name, url, ds, plan, keep, probes, retries)
            rows += got
            loads[name] = prep.ingest_rate
    table = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|", *(line(r) for r in rows)]
    print("\n".join(table))
    notes = gains(rows) + retries
    for label, samples in probes.items():
        notes.append(f"visibility, {label}: {_p(samples)}")
    for name, size in sizes.items():
        shown = ", ".join(f"{k} {v:,.0f} B" for k, v in size.items() if k != "events")
        notes.append(f"{name} size per event ({size['events']:,.0f} events): {shown}")
    for name, rate in loads.items():
        notes.append(f"{name}: the day's first part loaded in-process at {rate:,.0f} events/s")
    for note in notes:
        print(note)
    worst = [r for r in rows if r.load == "ingest"]
    if worst:
        best = min(r.reads["p99_ms"] for r in worst)
        print(f"goal: read p99 under ingestion < {GOAL_P99_MS:.0f} ms; best {best:.1f} ms")
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.record:
        lines = [
            *record.heading(
                "scaleout", info, " ".join(["python bench/scaleout.py", *sys.argv[1:]])
            ),
            f"- day: {ds.calls:,} calls, {ds.events:,} events (bench/data.py, 1,000 agents); "
            f"reads: {plan.connections} connections over {len(PATHS)} stats endpoints, "
            f"{plan.seconds:g} s per phase after {plan.warmup:g} s of warm-up; ingest: "
            f"{plan.rate:,.0f} events/s in NDJSON batches of {plan.batch}, one connection",
            "- CPU columns in % of one core, over the measured seconds; the clients "
            "(bench/mixload.py, bench/pacer.py) and PostgreSQL run on the same cores as the "
            "servers; PostgreSQL = this database's backends plus the server's WAL writer, "
            "checkpointer and background writer; machine = every process on it, other work "
            "included",
            *[f"- {n}" for n in notes],
            "",
            *table,
        ]
        record.append(args.results, "\n".join(lines) + "\n")
        print(f"recorded in {args.results}")


if __name__ == "__main__":
    main()
