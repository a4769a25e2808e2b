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


def _account(service: object, name: str, path: Path) -> tuple[object, object, float]:
    """A fresh account with the day's agents, groups and numbers already created (the
    first import into an account creates them, one durable transaction each: timed apart,
    it happens once, not every day)."""
    from talkstats.connectors.asterisk.filetail import FileTail
    from talkstats.connectors.asterisk.mapping import Resolver
    from talkstats.connectors.asterisk.parser import QueueLogParser
    from talkstats.connectors.asterisk.reference import StoreReference
    from talkstats.connectors.asterisk.runner import FileSource

    account = service.create_account(  # type: ignore[attr-defined]
        name, "Europe/Berlin", "professional", admin_email="a@b.test", admin_password="pw"
    )
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
    return account, reference, time.perf_counter() - t0


def imports(
    path: Path, folder: Path, batch: int, events: list[dict[str, object]]
) -> dict[str, float]:
    """Seconds of: the import, the pipelined import, the service's ingest alone."""
    from talkstats import gctune
    from talkstats.config import load_settings
    from talkstats.connectors.asterisk.filetail import FileTail
    from talkstats.connectors.asterisk.mapping import Mapping, Resolver
    from talkstats.connectors.asterisk.parser import QueueLogParser
    from talkstats.connectors.asterisk.runner import (
        Connector,
        FileSource,
        ParserSpec,
        run_import,
        run_import_pipelined,
    )  # fmt: skip
    from talkstats.service import Talkstats
    from talkstats.simulator.driver import Driver, ServiceSink
    from talkstats.store import open_store

    gctune.tune()
    url = f"sqlite:///{folder / 'bench.db'}"
    service = Talkstats(
        open_store(url, create=True), load_settings({"database_url": url}, environ={}),
        clock=time.time_ns, monotonic=time.monotonic,
    )  # fmt: skip
    out: dict[str, float] = {}
    account, reference, out["setup"] = _account(service, "one", path)
    t0 = time.perf_counter()
    connector = Connector(
        QueueLogParser(Resolver(known=reference.load())),  # type: ignore[attr-defined]
        reference, Driver(ServiceSink(service, account), batch_size=batch),  # type: ignore[arg-type]
    )  # fmt: skip
    source = FileSource(FileTail(path))
    summary = run_import(source, connector)
    out["import"] = time.perf_counter() - t0
    source.close()
    assert summary.rejected == 0, summary.text()
    out["accepted"] = summary.accepted

    account, reference, _ = _account(service, "two", path)
    t0 = time.perf_counter()
    spec = ParserSpec(Mapping(), reference.load(), {})  # type: ignore[attr-defined]
    connector = Connector(
        QueueLogParser(Resolver()), reference,  # type: ignore[arg-type]
        Driver(ServiceSink(service, account), batch_size=batch),
    )  # fmt: skip
    summary = run_import_pipelined(path, spec, connector)
    out["pipelined"] = time.perf_counter() - t0
    assert summary.rejected == 0, summary.text()

    account, reference, _ = _account(service, "three", path)
    driver = Driver(ServiceSink(service, account), batch_size=batch)
    t0 = time.perf_counter()
    driver.send(events)
    out["ingest"] = time.perf_counter() - t0
    service.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls-per-hour", type=float, default=2000.0)
    parser.add_argument("--batch-size", type=int, default=10_000)  # as `asterisk import`
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
        t = imports(path, folder, args.batch_size, events)
        print(f"first import only: agents, groups, numbers created in {t['setup']:.2f} s")
        print(
            f"service ingest only (the same events, parsed): {len(events) / t['ingest']:,.0f} "
            f"events/s = {lines / t['ingest']:,.0f} lines/s"
        )
        rate = lines / t["import"]
        print(f"import, one process: {rate:,.0f} lines/s ({t['import']:.2f} s)")
        piped = lines / t["pipelined"]
        verdict = "pass" if piped >= TARGET else "MISS"
        print(
            f"import, parsing in a second process (files >= 8 MB): {piped:,.0f} lines/s "
            f"({t['pipelined']:.2f} s, {int(t['accepted']):,} events); "
            f"target >= {TARGET:,}: {verdict}"
        )
    if not args.no_record:
        record(lines, calls, lines / parse_s, rate, piped, len(events) / t["ingest"], verdict, args)


def record(
    lines: int,
    calls: int,
    parse_rate: float,
    rate: float,
    piped: float,
    ingest: float,
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
        f"{lines:,} | {calls:,} | {parse_rate:,.0f} | {ingest:,.0f} | {rate:,.0f} | {piped:,.0f} "
        f"| {verdict} |"
    )
    text = RESULTS.read_text()
    if SECTION not in text:
        text = text.rstrip("\n") + (
            f"\n\n{SECTION}\n\n| date | machine | commit | command | lines | calls "
            "| parse only, lines/s | service ingest only, events/s | import, lines/s "
            "| import on 2 cores, lines/s | >= 50,000 |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
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
