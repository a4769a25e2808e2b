"""The benchmark suite of issue 4: ingest, reads, scale, peer, restart (and profiles).

``python -m bench [--quick] [--only PARTS] [--tool wrk|python] [--results PATH]``.
Every figure is printed as it is measured, then the run is appended to RESULTS.md as
one dated section with the machine, the commit and a table of figures and targets.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from . import data, harness, load, record
from .record import Figure, check

PARTS = ("ingest", "reads", "scale", "peer", "restart", "profile")
ENDPOINTS = {
    "account_overview": f"{load.STATS}/account_overview",
    "agents_activity": f"{load.STATS}/agents_activity",  # first page: 100 agents
    "agents_overview": f"{load.STATS}/agents_overview",
    "current_queue_activity": f"{load.STATS}/current_queue_activity",
    "service_level": f"{load.STATS}/service_level",
}
PING = "/api/v2/ping"
PROFILES = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Sizes:
    main: int  # calls today for ingest / reads / peer
    scale: tuple[int, ...]
    http_events: int  # events per HTTP ingest format
    raw_events: int  # rows for the raw append ceiling
    restart_events: int
    load_seconds: float  # per endpoint, reads
    scale_seconds: float  # per endpoint, scale curve
    profile_events: int
    profile_reads: int


FULL = Sizes(500_000, (1_000, 10_000, 100_000, 500_000, 1_000_000), 200_000, 500_000,
             1_000_000, 10.0, 4.0, 200_000, 2_000)  # fmt: skip
QUICK = Sizes(1_000, (1_000, 2_000), 3_000, 5_000, 5_000, 1.0, 0.5, 3_000, 20)


@dataclass
class Run:
    sizes: Sizes
    tool: str
    quick: bool
    workdir: Path
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dbs: dict[int, tuple[Path, str, harness.IngestResult]] = field(default_factory=dict)
    latency: dict[tuple[int, str], load.LoadResult] = field(default_factory=dict)

    def add(self, fig: Figure) -> None:
        self.figures.append(fig)
        target = f"  (target {fig.target}: {fig.verdict()})" if fig.target else ""
        note = f"  [{fig.note}]" if fig.note else ""
        print(f"BENCH {fig.name}: {fig.shown()}{target}{note}", flush=True)

    def day_db(self, calls: int) -> tuple[Path, str, harness.IngestResult]:
        """A database holding the whole day of ``calls``, ingested in-process (memoised)."""
        if calls not in self.dbs:
            ds = data.dataset(calls)
            prep = harness.prepare(self.workdir / f"day-{calls}.db", ds.scenario, ds.clock_ns)
            print(
                f"  ingesting {ds.events:,} events ({ds.calls:,} calls) in-process ...", flush=True
            )
            result = harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000))
            if result.rejected:
                raise SystemExit(f"{result.rejected} events of {ds.name} were rejected")
            self.dbs[calls] = (prep.db, prep.authorization, result)
        return self.dbs[calls]


def _events_rows(ds: data.Dataset, limit: int) -> list[tuple[str, str]]:
    return [(orjson.loads(line)["id"], line.decode()) for line in ds.lines(limit)]


def part_ingest(run: Run) -> None:
    s = run.sizes
    ds = data.dataset(s.main)
    _, _, result = run.day_db(s.main)
    run.add(check("ingest: in-process (Talkstats.ingest, batches of 1,000, fsync per batch)",
                  result.rate, "events/s", ">=", 150_000,
                  f"{result.events:,} events, {result.seconds:.1f} s in ingest, 0 rejected"))  # fmt: skip
    # the ceiling: the same rows appended to the same SQLite store, no validation/projection
    from talkstats.store.sqlite import SQLiteStore

    rows = _events_rows(ds, s.raw_events)
    prep = harness.prepare(run.workdir / "raw.db", ds.scenario, ds.clock_ns)
    store = SQLiteStore(prep.db, create=True)
    account = store.get_account(harness.SUBDOMAIN)
    assert account is not None
    t0 = time.perf_counter()
    for i in range(0, len(rows), 1000):
        store.append_events(account.id, rows[i : i + 1000])
    raw_seconds = time.perf_counter() - t0
    store.close()
    raw_rate = len(rows) / raw_seconds
    run.add(Figure("ingest: raw append ceiling (SQLiteStore.append_events, same rows, batches "
                   "of 1,000, fsync per batch)", raw_rate, "events/s",
                   note=f"{len(rows):,} rows"))  # fmt: skip
    run.add(check("ingest: in-process / raw append", result.rate / raw_rate, "", ">=", 0.5))
    # HTTP bulk, NDJSON and JSON, one keep-alive client, fresh database each
    lines = list(ds.lines(s.http_events))
    batches = [lines[i : i + 1000] for i in range(0, len(lines), 1000)]
    for fmt in ("ndjson", "json"):
        if fmt == "ndjson":
            bodies = [b"\n".join(b) + b"\n" for b in batches]
            ctype = "application/x-ndjson"
        else:
            bodies = [b'{"events":[' + b",".join(b) + b"]}" for b in batches]
            ctype = "application/json"
        prep = harness.prepare(run.workdir / f"http-{fmt}.db", ds.scenario, ds.clock_ns)
        with load.Server(prep.db, ds.clock_ns) as server:
            server.wait_ready(prep.authorization)
            seconds, accepted, rejected = load.post_batches(
                server.port, prep.authorization, bodies, ctype
            )
        if rejected or accepted != len(lines):
            raise SystemExit(f"HTTP {fmt}: {accepted} accepted, {rejected} rejected")
        run.add(check(f"ingest: HTTP bulk {fmt.upper()} (POST /api/v2/channels/voice/events, "
                      "1,000 per request)", len(lines) / seconds, "events/s", ">=", 60_000,
                      f"{len(lines):,} events, one keep-alive client"))  # fmt: skip


def _measure_reads(run: Run, calls: int, seconds: float, endpoints: dict[str, str],
                   ) -> tuple[dict[str, load.LoadResult], float, float, float]:  # fmt: skip
    """Load each endpoint (and ping) on a fresh server; results, ready s, RSS, HWM MiB."""
    db, auth, _ = run.day_db(calls)
    ds = data.dataset(calls)
    out: dict[str, load.LoadResult] = {}
    with load.Server(db, ds.clock_ns) as server:
        ready = server.wait_ready(auth)
        for name, path in {"ping": PING, **endpoints}.items():
            load.load(
                server.base + path, auth, seconds=min(1.0, seconds / 4), tool=run.tool
            )  # warm
            out[name] = r = load.load(server.base + path, auth, seconds=seconds, tool=run.tool)
            if r.errors:
                raise SystemExit(f"{name}: {r.errors} non-2xx responses")
        rss, hwm = server.memory_mib()
    return out, ready, rss, hwm


def part_reads(run: Run) -> None:
    s = run.sizes
    ds = data.dataset(s.main)
    results, _, rss, hwm = _measure_reads(run, s.main, s.load_seconds, ENDPOINTS)
    run.notes.append(f"reads: load generator {results['ping'].tool}, 1 thread, 8 connections, "
                     f"{s.load_seconds:g} s per endpoint, {ds.calls:,} calls / {ds.events:,} "
                     "events today, 1,000 agents")  # fmt: skip
    ping = results["ping"]
    run.add(Figure("reads: GET /api/v2/ping (trivial endpoint)", ping.rps, "req/s",
                   note=f"p50 {ping.p50_ms:.2f} ms, p99 {ping.p99_ms:.2f} ms"))  # fmt: skip
    for name in ENDPOINTS:
        r = results[name]
        run.latency[(s.main, name)] = r
        run.add(check(f"reads: {name} throughput / ping", r.rps / ping.rps, "", ">=", 0.8,
                      f"{r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms"))  # fmt: skip
        run.add(check(f"reads: {name} p99", r.p99_ms, "ms", "<", 10))
    run.add(Figure(f"reads: server RSS at {ds.calls:,} calls", rss, "MiB",
                   note=f"peak {hwm:,.0f} MiB"))  # fmt: skip


def part_scale(run: Run) -> None:
    s = run.sizes
    picks = {k: ENDPOINTS[k] for k in ("account_overview", "agents_activity",
                                       "current_queue_activity")}  # fmt: skip
    first = last = None
    for calls in s.scale:
        try:
            ds = data.dataset(calls)
        except MemoryError:  # pragma: no cover
            run.notes.append(f"scale: could not generate {calls:,} calls a day")
            break
        _, _, ing = run.day_db(calls)
        results, _, rss, hwm = _measure_reads(run, calls, s.scale_seconds, picks)
        label = f"scale {calls:,} calls/day ({ds.calls:,} calls, {ds.events:,} events)"
        run.add(Figure(f"{label}: in-process ingest", ing.rate, "events/s"))
        for name in picks:
            r = results[name]
            run.add(Figure(f"{label}: {name} p50 / p99", f"{r.p50_ms:.2f} / {r.p99_ms:.2f}",
                           "ms", note=f"{r.rps:,.0f} req/s"))  # fmt: skip
        target = calls == max(s.scale) and not run.quick
        if target:
            run.add(check(f"{label}: server RSS", rss, "MiB", "<=", 500 * 1e6 / 2**20,
                          f"peak {hwm:,.0f} MiB; 500 MB = 477 MiB"))  # fmt: skip
        else:
            run.add(Figure(f"{label}: server RSS", rss, "MiB", note=f"peak {hwm:,.0f} MiB"))
        first = first or (calls, results)
        last = (calls, results)
    if first and last and first[0] != last[0]:
        for name in picks:
            ratio = last[1][name].p50_ms / first[1][name].p50_ms
            run.add(check(f"scale: {name} p50 at {last[0]:,} / at {first[0]:,} calls a day",
                          ratio, "x", "<=", 1.2))  # fmt: skip


def part_restart(run: Run) -> None:
    s = run.sizes
    ds = data.dataset(s.main)
    prep = harness.prepare(run.workdir / "restart.db", ds.scenario, ds.clock_ns)
    result = harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000, s.restart_events))
    if result.rejected:
        raise SystemExit(f"restart: {result.rejected} rejected")
    with load.Server(prep.db, ds.clock_ns) as server:
        ready = server.wait_ready(prep.authorization)
        rss, _ = server.memory_mib()
    run.add(check(f"restart-to-ready, {result.events:,} events today, snapshot at the log head "
                  "(process start to first account_overview 200)", ready, "s", "<=", 3.0,
                  f"RSS {rss:,.0f} MiB"))  # fmt: skip
    harness.drop_snapshots(prep.db)
    with load.Server(prep.db, ds.clock_ns) as server:
        ready = server.wait_ready(prep.authorization)
    run.add(Figure(f"restart-to-ready, {result.events:,} events, no snapshot (full replay)",
                   ready, "s"))  # fmt: skip
    # after kill -9: no final snapshot, so the log tail since the last periodic snapshot
    # is replayed; the worst case is a tail just short of snapshot_every_events
    every = harness.settings(prep.db).snapshot_every_events
    crash_events = min(s.restart_events + every - 1000, ds.events)
    prep = harness.prepare(run.workdir / "crash.db", ds.scenario, ds.clock_ns)
    result = harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000, crash_events),
                                       close=False)  # fmt: skip
    replayed = result.events % every
    with load.Server(prep.db, ds.clock_ns) as server:
        ready = server.wait_ready(prep.authorization)
    run.add(Figure(f"restart-to-ready after a crash (no final snapshot), {result.events:,} events "
                   f"today, {replayed:,} of them replayed after the last periodic snapshot",
                   ready, "s", note=f"snapshot_every_events = {every:,}"))  # fmt: skip


def _median_time(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def part_peer(run: Run) -> None:
    from talkstats.domain import stats

    from . import peer

    s = run.sizes
    ds = data.dataset(s.main)
    db, _, _ = run.day_db(s.main)
    service = harness.open_service(db, ds.clock_ns)
    account = service.account(harness.SUBDOMAIN)
    assert account is not None
    p = service.projection(account)
    now = p.effective_now(service.clock())
    ids = p.directory.agent_ids()
    ours_ao, t_ao = _median_time(lambda: stats.account_overview(p, now, plan=account.plan), 21)
    ours_aa, t_aa = _median_time(
        lambda: stats.agents_activity(p, now, plan=account.plan, agent_ids=ids), 5
    )
    agents = [(u.id, u.name) for u in service.store.list_users(account.id)
              if u.role in ("agent", "admin")]  # fmt: skip
    service.store.close()
    t0 = time.perf_counter()
    con = peer.load(ds.path, agents)
    run.notes.append(f"peer: DuckDB {peer.duckdb.__version__}, {ds.events:,} events loaded "
                     f"into an in-memory table in {time.perf_counter() - t0:.1f} s (not timed "
                     "below); latencies are medians of 3 runs")  # fmt: skip
    ws, we = ds.start_ns // 1000, now // 1000
    theirs_ao, p_ao = peer.timed(peer.account_overview, con, ws, we)
    theirs_aa, p_aa = peer.timed(peer.agents_activity, con, ws, we)
    con.close()
    for name, ours, theirs, t_ours, t_peer, rows in (
        ("account_overview", ours_ao, theirs_ao, t_ao, p_ao, "1 row"),
        ("agents_activity", ours_aa, theirs_aa, t_aa, p_aa, f"all {len(ids):,} agents"),
    ):
        diffs = peer.compare(ours, theirs)
        fields = len(theirs) if isinstance(theirs, dict) else len(theirs[0]) - 2
        run.add(Figure(f"peer: {name} numbers agree with DuckDB ({rows}, {fields} fields)",
                       "yes" if not diffs else f"NO ({len(diffs)} differ)", "",
                       note="; ".join(diffs[:3])))  # fmt: skip
        http = run.latency.get((s.main, name))
        note = f"talkstats in-process {t_ours * 1000:.2f} ms"
        if http is not None and name == "account_overview":
            note += f", HTTP p50 {http.p50_ms:.2f} ms (x{t_peer * 1000 / http.p50_ms:,.0f})"
        run.add(Figure(f"peer: DuckDB {name} latency", t_peer * 1000, "ms", note=note))
        run.add(check(f"peer: DuckDB / talkstats in-process, {name} ({rows})", t_peer / t_ours,
                      "x", ">=", 100))  # fmt: skip


def part_profile(run: Run) -> None:
    from pyinstrument import Profiler

    from talkstats.domain import stats

    s = run.sizes
    ds = data.dataset(s.main)
    PROFILES.mkdir(exist_ok=True)
    prep = harness.prepare(run.workdir / "profile.db", ds.scenario, ds.clock_ns)
    batches = list(ds.batches(1000, s.profile_events))
    prof = Profiler(interval=0.001)
    prof.start()
    harness.ingest_in_process(prep.db, ds.clock_ns, batches)
    prof.stop()
    _save(prof, PROFILES / "ingest.txt",
          f"in-process ingest of the first {s.profile_events:,} events of {ds.name}")  # fmt: skip
    db, _, _ = run.day_db(s.main)
    service = harness.open_service(db, ds.clock_ns)
    account = service.account(harness.SUBDOMAIN)
    assert account is not None
    p = service.projection(account)
    ids = p.directory.agent_ids()[:100]
    prof = Profiler(interval=0.0002)
    prof.start()
    for _ in range(s.profile_reads):
        now = p.effective_now(service.clock())
        stats.account_overview(p, now, plan=account.plan)
        stats.agents_activity(p, now, plan=account.plan, agent_ids=ids)
        stats.current_queue_activity(p, now)
    prof.stop()
    service.store.close()
    _save(prof, PROFILES / "reads.txt",
          f"{s.profile_reads:,} x (account_overview + agents_activity page of 100 + "
          f"current_queue_activity), in-process, {ds.calls:,} calls today")  # fmt: skip
    run.notes.append("profiles: bench/profiles/ingest.txt, bench/profiles/reads.txt (pyinstrument)")


def _save(prof: Any, path: Path, what: str) -> None:
    text = prof.output_text(unicode=False, color=False, show_all=False)
    lines = text.splitlines()
    path.write_text(f"# {what}\n\n" + "\n".join(lines[:120]) + "\n")
    print(f"  profile written to {path}")


RUNNERS: dict[str, Callable[[Run], None]] = {
    "ingest": part_ingest, "reads": part_reads, "peer": part_peer,
    "restart": part_restart, "scale": part_scale, "profile": part_profile,
}  # fmt: skip
ORDER = ("ingest", "reads", "peer", "restart", "scale", "profile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: seconds, for CI")
    parser.add_argument("--only", default=",".join(p for p in PARTS if p != "profile"),
                        help=f"comma-separated parts of {','.join(PARTS)} "
                             "(default: all but profile)")  # fmt: skip
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator for reads (auto: wrk if installed)",
    )
    parser.add_argument("--results", type=Path, default=record.RESULTS)
    parser.add_argument(
        "--scale-max",
        type=int,
        default=None,
        help="largest calls-a-day point of the scale curve (full: 1,000,000)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if load.wrk_path() else "python"
        if tool == "python":
            print(
                "NOTE: wrk is not installed; using the Python load generator "
                "(bench/pyload.py, a second process). Install wrk for comparable figures."
            )
    elif tool == "wrk" and not load.wrk_path():
        parser.error("wrk is not installed (apt-get install wrk), use --tool python")
    info = record.machine()
    data.CACHE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=data.CACHE))
    sizes = QUICK if args.quick else FULL
    if args.scale_max is not None:
        sizes = replace(sizes, scale=tuple(n for n in sizes.scale if n <= args.scale_max))
        if max(FULL.scale) > args.scale_max and not args.quick:
            print(f"NOTE: the scale curve stops at {args.scale_max:,} calls a day (--scale-max)")
    run = Run(sizes, tool, args.quick, workdir)
    if sizes.scale != (QUICK if args.quick else FULL).scale:
        run.notes.append(f"scale curve capped at {max(sizes.scale):,} calls a day (--scale-max)")
    run.notes.append(f"mode: {'quick' if args.quick else 'full'}; parts: {', '.join(parts)}; "
                     f"load generator: {tool}")  # fmt: skip
    t0 = time.perf_counter()
    try:
        for part in ORDER:
            if part in parts:
                print(f"== {part}", flush=True)
                RUNNERS[part](run)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.notes.append(f"total run time {time.perf_counter() - t0:.0f} s")
    text = record.section("suite" + (" (quick)" if args.quick else ""), run.figures, info,
                          run.notes)  # fmt: skip
    print()
    print(text)
    if not args.no_record:
        record.append(args.results, text)
        print(f"recorded in {args.results}")
    return 0
