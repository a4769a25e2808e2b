"""Benchmark: `talkstats asterisk import` of a whole day's queue_log into a local store.

A day of the center-200 scenario (calls around the clock as a queue_log can carry them,
the same settings as the end-to-end test) is written as a queue_log by the test suite's
Asterisk-like writer, then imported in-process into a fresh SQLite store, as the
command does it (reference data first, batches of 1,000, an fsync per batch). Prints
lines/s for the parser alone and for the whole import, and appends them to
bench/RESULTS.md (target: >= 50,000 lines/s for the import).

    .venv/bin/python bench/bench_asterisk.py [--calls-per-hour 500] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ and tests/ importable
    sys.path.insert(0, str(ROOT))

SECTION = "## asterisk import: a day's queue_log into a fresh SQLite store"
TARGET = 50_000


def write_day(folder: Path, calls_per_hour: float) -> tuple[Path, int]:
    from talkstats.simulator import Simulator, reference_data, scenario_from_dict, scenario_path
    from talkstats.simulator.scenario import apply_overrides
    from tests.connectors.asterisk.test_simulated_day import OVERRIDES, local
    from tests.connectors.asterisk.writer import queue_log

    data = tomllib.loads(scenario_path("center-200").read_text())
    count = len(data["phone_numbers"])
    overrides = [o for o in OVERRIDES if not o.startswith("phone_numbers.")] + [
        f"phone_numbers.{i}.{key}={value}"
        for i in range(count)
        for key, value in (
            ("outbound_share", 0),
            ("web_widget_share", 0),
            ("business_hours", "[0, 24]"),
            ("outside_hours_share", 0),
            ("calls_per_hour", calls_per_hour / count),
        )
    ]
    scenario = scenario_from_dict(apply_overrides(data, overrides))
    day = datetime.date(2026, 3, 10)
    start, end = local(day), local(day + datetime.timedelta(days=1))
    sim = Simulator(scenario, 1, start, id_prefix="b")
    events = sim.advance(end) + sim.finish(end)
    ref = reference_data(scenario)
    queues = {p.id: (f"q{p.id}", p.number, p.group_id) for p in scenario.phone_numbers}
    names = {a.id: a.name for a in ref.agents}
    agent_queues = {
        a.id: [f"q{p.id}" for p in scenario.phone_numbers if p.group_id is None or any(
            g.id == p.group_id and a.id in g.members for g in scenario.groups)]
        for a in ref.agents
    }  # fmt: skip
    lines = queue_log(events, queues, agent_queues, names)
    path = folder / "queue_log"
    path.write_text("\n".join(lines) + "\n")
    return path, sum(1 for e in events if e["type"] == "call.started")


def parse_only(path: Path) -> tuple[int, list[dict[str, object]], float]:
    from talkstats.connectors.asterisk.filetail import FileTail
    from talkstats.connectors.asterisk.mapping import Resolver
    from talkstats.connectors.asterisk.parser import QueueLogParser
    from talkstats.connectors.asterisk.runner import FileSource

    t0 = time.perf_counter()
    source = FileSource(FileTail(path))
    parser = QueueLogParser(Resolver())
    events: list[dict[str, object]] = []
    while lines := source.read():
        for line in lines:
            events += parser.feed(line)
    events += parser.finish()
    source.close()
    return parser.lines, events, time.perf_counter() - t0


def full_import(
    path: Path, folder: Path, batch: int, events: list[dict[str, object]]
) -> tuple[int, int, int, float, float, float]:
    from talkstats import gctune
    from talkstats.config import load_settings
    from talkstats.connectors.asterisk.filetail import FileTail
    from talkstats.connectors.asterisk.mapping import Resolver
    from talkstats.connectors.asterisk.parser import QueueLogParser
    from talkstats.connectors.asterisk.reference import StoreReference
    from talkstats.connectors.asterisk.runner import Connector, FileSource, run_import
    from talkstats.service import Talkstats
    from talkstats.simulator.driver import Driver, ServiceSink
    from talkstats.store import open_store

    gctune.tune()
    url = f"sqlite:///{folder / 'bench.db'}"
    service = Talkstats(
        open_store(url, create=True), load_settings({"database_url": url}, environ={}),
        clock=time.time_ns, monotonic=time.monotonic,
    )  # fmt: skip
    account = service.create_account(
        "bench", "Europe/Berlin", "professional", admin_email="a@b.test", admin_password="pw"
    )
    # the first import into an account creates its agents, groups and numbers, one durable
    # transaction each: timed apart (it happens once, not per day)
    t0 = time.perf_counter()
    reference = StoreReference(service, account)
    resolver = Resolver(known=reference.load())
    scout = QueueLogParser(resolver)
    source = FileSource(FileTail(path))
    while lines := source.read():
        for line in lines:
            scout.feed(line)
    source.close()
    reference.create(resolver.take_new())
    setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    parser = QueueLogParser(Resolver(known=reference.load()))
    connector = Connector(
        parser, reference, Driver(ServiceSink(service, account), batch_size=batch)
    )
    source = FileSource(FileTail(path))
    summary = run_import(source, connector)
    seconds = time.perf_counter() - t0
    source.close()

    # the service alone: the same events, already parsed and sorted, into a second account
    other = service.create_account(
        "bench2", "Europe/Berlin", "professional", admin_email="a@b.test", admin_password="pw"
    )
    reference2 = StoreReference(service, other)
    resolver2 = Resolver(known=reference2.load())
    scout = QueueLogParser(resolver2)
    source = FileSource(FileTail(path))
    while lines := source.read():
        for line in lines:
            scout.feed(line)
    source.close()
    reference2.create(resolver2.take_new())
    driver = Driver(ServiceSink(service, other), batch_size=batch)
    t0 = time.perf_counter()
    driver.send(events)
    ingest = time.perf_counter() - t0
    service.close()
    return summary.lines, summary.accepted, summary.rejected, seconds, setup, ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls-per-hour", type=float, default=2000.0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, calls = write_day(folder, args.calls_per_hour)
        lines, events, parse_s = parse_only(path)
        print(f"queue_log: {lines:,} lines, {calls:,} calls, {path.stat().st_size / 1e6:.1f} MB")
        print(
            f"parse only: {lines / parse_s:,.0f} lines/s ({len(events):,} events in {parse_s:.2f} s)"
        )
        events.sort(key=lambda e: str(e["time"]))  # whole seconds: the strings sort as times
        lines, accepted, rejected, import_s, setup_s, ingest_s = full_import(
            path, folder, args.batch_size, events
        )
        print(
            f"service ingest only (the same events, parsed): {len(events) / ingest_s:,.0f} "
            f"events/s = {lines / ingest_s:,.0f} lines/s"
        )
        rate = lines / import_s
        verdict = "pass" if rate >= TARGET else "MISS"
        print(f"first import only: agents, groups, numbers created in {setup_s:.2f} s")
        print(
            f"import into SQLite: {rate:,.0f} lines/s ({accepted:,} events accepted, "
            f"{rejected} rejected, {import_s:.2f} s); target >= {TARGET:,}: {verdict}"
        )
    if not args.no_record:
        record(lines, calls, lines / parse_s, rate, accepted, verdict, args)


def record(
    lines: int,
    calls: int,
    parse_rate: float,
    rate: float,
    events: int,
    verdict: str,
    args: argparse.Namespace,
) -> None:
    from bench.record import RESULTS, machine

    m = machine()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip()
    row = (
        f"| {datetime.date.today()} | {platform.machine()}, {m['cpu']}, {m['nproc']} CPUs, "
        f"load {load} | {commit} | `python bench/bench_asterisk.py --calls-per-hour "
        f"{args.calls_per_hour:g} --batch-size {args.batch_size}` | "
        f"{lines:,} | {calls:,} | {events:,} | {parse_rate:,.0f} | {rate:,.0f} | {verdict} |"
    )
    text = RESULTS.read_text()
    if SECTION not in text:
        text = text.rstrip("\n") + (
            f"\n\n{SECTION}\n\n| date | machine | commit | command | lines | calls | events "
            "| parse lines/s | import lines/s | >= 50,000 |\n|---|---|---|---|---|---|---|---|---|---|\n"
        )
        RESULTS.write_text(text + row + "\n")
        return
    head, rest = text.split(SECTION, 1)
    table_end = rest.find("\n\n", rest.find("|---|"))
    if table_end < 0:
        rest = rest.rstrip("\n") + "\n" + row + "\n"
    else:
        rest = rest[:table_end] + "\n" + row + rest[table_end:]
    RESULTS.write_text(head + SECTION + rest)


if __name__ == "__main__":
    main()
