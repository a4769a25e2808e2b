"""A start with a long log to replay: how fast /healthz answers meanwhile, and when ready.

    .venv/bin/python bench/startup.py [--events 205926] [--no-record]

Writes the first N events of a cached benchmark day into a fresh database with no
snapshot (as after a crash, or a new talkstats version), starts the real server on it
(``python -m bench.serve``), and polls ``/healthz`` back to back until
``account_overview`` first answers 200 (the account's projection loaded in the
background). Prints the time to ready, how many probes answered meanwhile, and their
latencies (p50, p99, max). Also the cost of an event after a gap of decades: an agent
online since 1970 whose next state change comes now, applied to a fresh projection
(the median of 201 runs) and the size of the snapshot afterwards.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, harness, load, record
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import parse_event
from talkstats.domain.projection import AccountProjection


def startup(events: int) -> list[record.Figure]:
    ds = data.dataset(100_000)
    with tempfile.TemporaryDirectory() as tmp:
        prep = harness.prepare(Path(tmp) / "day.db", ds.scenario, ds.clock_ns)
        result = harness.ingest_in_process(
            prep.db, ds.clock_ns, ds.batches(1000, events), close=False
        )
        harness.drop_snapshots(prep.db)
        latencies: list[float] = []
        with load.Server(prep.db, ds.clock_ns) as server:
            while True:
                try:
                    t0 = time.perf_counter()
                    status, _ = load.get(server.port, "/healthz", prep.authorization)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    assert status == 200
                    status, _ = load.get(
                        server.port, f"{load.STATS}/account_overview", prep.authorization
                    )
                except OSError:
                    time.sleep(0.01)  # not listening yet
                    continue
                if status == 200:
                    ready = time.perf_counter() - server.started
                    break
                assert status == 503, status
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return [
        record.Figure(
            f"start with {result.events:,} events to replay (no snapshot): ready",
            ready,
            "s",
            note="process start to the first account_overview 200",
        ),
        record.Figure(
            "/healthz while the log replays: p50 / p99 / max",
            f"{statistics.median(latencies):.1f} / {p99:.1f} / {latencies[-1]:.1f}",
            "ms",
            note=f"{len(latencies):,} probes, back to back",
        ),
    ]


def long_gap(repeats: int = 201) -> list[record.Figure]:
    directory = Directory()
    directory.add_agent(AgentInfo(1, "Agent", None))
    first = {"id": "a", "type": "agent.state_changed", "time": "1970-01-01T00:00:00Z",
             "agent_id": 1, "state": "online"}  # fmt: skip
    second = parse_event({**first, "id": "b", "time": "2026-12-01T09:00:00Z", "state": "away"})
    now = second.time
    times = []
    for _ in range(repeats):
        p = AccountProjection("Europe/Paris", directory)
        p.apply(parse_event(first), now)
        t0 = time.perf_counter()
        p.apply(second, now)
        times.append((time.perf_counter() - t0) * 1e6)
    size = len(pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))
    return [
        record.Figure(
            "an agent event 56 years after its previous one: apply",
            statistics.median(times),
            "µs",
            target="< 1000",
            ok=statistics.median(times) < 1000,
            note=f"median of {repeats}",
        ),
        record.Figure(
            "the projection's snapshot after it",
            size,
            "bytes",
            target="< 1,000,000",
            ok=size < 1_000_000,
        ),  # fmt: skip
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=205_926)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    info = record.machine()
    figures = long_gap() + startup(args.events)
    for figure in figures:
        print(f"BENCH {figure.name}: {figure.shown()} {figure.verdict()} {figure.note}".rstrip())
    if not args.no_record:
        command = " ".join([".venv/bin/python bench/startup.py", *sys.argv[1:]])
        record.append(record.RESULTS, record.section("startup", figures, info, [], command))


if __name__ == "__main__":
    main()
