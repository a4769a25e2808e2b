"""Crash and fault campaigns: the figures behind docs/operations.md's promises.

    .venv/bin/python bench/faults.py [--cycles 16] [--batches 2000] [--rounds 144] [--seed 1]

1. crash: a real `talkstats serve` process on a fresh SQLite file; a client streams
   batches of valid traffic (50 events each); after a seeded random number of
   acknowledgements the server gets SIGKILL, is restarted, and the client resumes by
   re-sending from the first batch it has no acknowledgement for. After every cycle:
   each acknowledged event is in the log exactly once. At the end: the day's totals
   equal the whole stream, and the log holds every event once.
2. faults: in-process on a real SQLite file: two hours of simulated traffic sent as
   one batch with a failure injected at a random point (the batch decoder, one
   event's decoding, validation, halfway through folding, after folding, the append,
   the commit, right after the commit, the snapshot) for a random event. After each
   round: every acknowledged event is in the log, the projection holds exactly the
   log, and every endpoint under every filter equals a fresh fold of the log.

Prints each figure and appends them to bench/RESULTS.md (unless --no-record).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

import talkstats.service.runtimes as runtimes_module
from bench import record
from talkstats.domain.projection import AccountProjection
from talkstats.service import Unavailable
from talkstats.store import StoreError
from tests.e2e.harness import Server, talkstats
from tests.e2e.test_crash import CALLS_PER_BATCH, build_batches
from tests.service.conftest import START, Clock, World, assert_truth, open_service

ADMIN = ("admin@acme.test", "admin-password")
ZONE = ZoneInfo("America/New_York")
EVENTS = "/api/v2/channels/voice/events"
POINTS = (
    "batch decoder",
    "one event's decoding",
    "validation",
    "halfway through folding",
    "after folding",
    "append",
    "commit",
    "after the commit",
    "snapshot",
)


# --- crash cycles ----------------------------------------------------------------------


def crash_campaign(
    cycles: int, batch_count: int, rng: random.Random, workdir: Path
) -> dict[str, Any]:
    database = f"sqlite:///{workdir / 'crash.db'}"
    talkstats("account", "create", "acme", "--timezone", "America/New_York", "--plan",
              "professional", "--admin-email", ADMIN[0], "--admin-password", ADMIN[1],
              database=database)  # fmt: skip
    server = Server(database, workdir)
    url = server.start()
    session = requests.Session()
    session.auth = ADMIN
    agents = [_created(session.post(f"{url}/api/v2/users", timeout=10, json={"user": {
        "name": f"Agent {n}", "email": f"agent{n}@acme.test", "role": "agent"}}), "user")
        for n in range(5)]  # fmt: skip
    number = _created(session.post(f"{url}/api/v2/channels/voice/phone_numbers", timeout=10,
                      json={"phone_number": {"number": "+12125550100"}}), "phone_number")  # fmt: skip
    yesterday = datetime.now(ZONE).date() - timedelta(days=1)
    start = datetime.combine(yesterday, datetime.min.time(), ZONE).replace(hour=12)
    batches = build_batches(agents, number, start, batch_count)
    acknowledged: set[int] = set()
    next_batch = 0
    kills = 0
    for _ in range(cycles):
        stop_after = rng.randint(1, max(1, 2 * batch_count // (3 * cycles)))
        streamer = _Streamer(url, batches, next_batch, stop_after)
        streamer.start()
        streamer.reached.wait(120)
        server.kill()
        kills += 1
        streamer.join(60)
        acknowledged |= set(streamer.acknowledged)
        next_batch = max(acknowledged) + 1 if acknowledged else 0
        url = server.start()
        _check_log(workdir / "crash.db", batches, acknowledged)
        if next_batch >= len(batches):
            break
    during_kills = sum(len(batches[i]) for i in acknowledged)
    for index in range(next_batch, len(batches)):
        r = session.post(f"{url}{EVENTS}", json={"events": batches[index]}, timeout=30)
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
        acknowledged.add(index)
    overview = session.get(f"{url}/api/v2/channels/voice/stats/account_overview.json",
                           params={"date": yesterday.isoformat()}, timeout=30).json()  # fmt: skip
    server.stop()
    server.close()
    logged = _check_log(workdir / "crash.db", batches, acknowledged)
    expected = len(batches) * CALLS_PER_BATCH
    return {
        "kills": kills,
        "acknowledged_before_kills": during_kills,
        "events_in_log": logged,
        "lost": 0,
        "total_calls": overview["account_overview"]["total_calls"],
        "expected_calls": expected,
    }


def _created(response: requests.Response, key: str) -> int:
    assert response.status_code == 201, response.text
    return int(response.json()[key]["id"])


class _Streamer(threading.Thread):
    def __init__(self, url: str, batches: list[Any], first: int, stop_after: int) -> None:
        super().__init__(daemon=True)
        self.url, self.batches, self.first, self.stop_after = url, batches, first, stop_after
        self.acknowledged: list[int] = []
        self.reached = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        session.auth = ADMIN
        try:
            for index in range(self.first, len(self.batches)):
                r = session.post(f"{self.url}{EVENTS}", json={"events": self.batches[index]},
                                 timeout=30)  # fmt: skip
                body = r.json()
                if r.status_code != 200 or body["rejected"]:
                    return
                self.acknowledged.append(index)
                if len(self.acknowledged) >= self.stop_after:
                    self.reached.set()
        except requests.RequestException:
            pass
        finally:
            self.reached.set()


def _check_log(db: Path, batches: list[Any], acknowledged: set[int]) -> int:
    """Every acknowledged event in the log exactly once; how many events the log holds."""
    conn = sqlite3.connect(db)
    try:
        ids = [row[0] for row in conn.execute("SELECT event_id FROM events")]
    finally:
        conn.close()
    assert len(ids) == len(set(ids)), "an event is in the log twice"
    present = set(ids)
    for index in acknowledged:
        for event in batches[index]:
            assert event["id"] in present, f"acknowledged event {event['id']} was lost"
    return len(ids)


# --- fault injection ---------------------------------------------------------------------


def fault_campaign(rounds: int, rng: random.Random, workdir: Path) -> dict[str, int]:
    from talkstats.simulator import Simulator, load_scenario, scenario_path
    from talkstats.simulator.driver import create_reference_data
    from talkstats.simulator.reference import reference_data

    scenario = load_scenario(scenario_path("help-desk"))
    counts = dict.fromkeys(POINTS, 0)
    for n in range(rounds):
        point = POINTS[n % len(POINTS)]
        clock = Clock(START + 2 * 3600 * 10**9)
        path = workdir / f"fault-{n}.db"
        service = open_service(path, clock)
        account = service.create_account("acme", scenario.timezone, "professional",
                                         admin_email="a@acme.test", admin_password="pw")  # fmt: skip
        create_reference_data(service, account, reference_data(scenario))
        events = Simulator(scenario, rng.randrange(10**6), START).advance(START + 2 * 3600 * 10**9)
        world = World(path, service, account, clock, events)
        target = events[rng.randrange(len(events))]["id"]
        acknowledged = _inject(world, point, target)
        assert_truth(world, acknowledged)
        service.close()
        path.unlink()
        counts[point] += 1
    return counts


def _inject(world: World, point: str, target: str) -> set[str]:
    """Send the batch with a fault at ``point`` (for ``target``); the acknowledged ids."""
    service, store = world.service, world.service.store
    undo: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    folding = [""]
    real_apply = AccountProjection.apply
    real_waiting = AccountProjection._waiting_changed
    real_parse = runtimes_module.parse_event
    real_append = store.append_events

    def apply(self: AccountProjection, event: Any, now: int) -> None:
        folding[0] = event.id
        if event.id == target and point == "validation":
            raise RuntimeError("injected")
        real_apply(self, event, now)
        if event.id == target and point == "after folding":
            raise OverflowError("injected")

    def waiting(self: AccountProjection, call: Any, instant: int, delta: int) -> None:
        if folding[0] == target:
            raise RuntimeError("injected")
        real_waiting(self, call, instant, delta)

    def parse(obj: Any) -> Any:
        if obj.get("id") == target:
            raise RuntimeError("injected")
        return real_parse(obj)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("injected")

    def append_then_fail(*args: Any, **kwargs: Any) -> int:
        real_append(*args, **kwargs)
        raise OSError("injected")

    if point in ("validation", "after folding"):
        patch(AccountProjection, "apply", apply)
    elif point == "halfway through folding":
        patch(AccountProjection, "apply", apply)
        patch(AccountProjection, "_waiting_changed", waiting)
    elif point == "batch decoder":
        patch(runtimes_module, "parse_batch", broken)
    elif point == "one event's decoding":
        patch(runtimes_module, "parse_batch", broken)
        patch(runtimes_module, "parse_event", parse)
    elif point == "append":
        patch(store, "append_events", lambda *a, **k: (_ for _ in ()).throw(StoreError("full")))
    elif point == "commit":
        store_any: Any = store
        patch(store_any, "_conn", _FailingCommit(store_any._conn))
    elif point == "after the commit":
        patch(store, "append_events", append_then_fail)
    elif point == "snapshot":
        settings = replace(service.settings, snapshot_every_events=50)
        patch(service, "settings", settings)
        patch(service.runtimes, "settings", settings)
        patch(store, "save_snapshot", broken)
    try:
        outcome = service.ingest(world.account, world.events)
        acknowledged = {r.id for r in outcome.results if r.status == "accepted" and r.id}
    except Unavailable:
        acknowledged = set()
    finally:
        for owner, name, value in reversed(undo):
            setattr(owner, name, value)
    return acknowledged


class _FailingCommit:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=16, help="SIGKILL cycles")
    parser.add_argument("--batches", type=int, default=2000, help="batches of 50 events")
    parser.add_argument("--rounds", type=int, default=144, help="fault-injection rounds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    info = record.machine()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        crash = crash_campaign(args.cycles, args.batches, rng, Path(tmp))
        t1 = time.perf_counter()
        faults = fault_campaign(args.rounds, rng, Path(tmp))
        t2 = time.perf_counter()
    figures = [
        record.Figure("crash: SIGKILL cycles mid-ingest (real server, restarted each time)",
                      crash["kills"], note=f"{t1 - t0:.0f} s"),
        record.Figure("crash: events acknowledged before a kill", crash["acknowledged_before_kills"]),
        record.Figure("crash: acknowledged events lost", crash["lost"], target="= 0", ok=True),
        record.Figure("crash: events in the log at the end (each once)", crash["events_in_log"]),
        record.Figure("crash: total_calls at the end / calls sent",
                      f"{crash['total_calls']} / {crash['expected_calls']}",
                      ok=crash["total_calls"] == crash["expected_calls"]),
        record.Figure("faults: injected batches, every endpoint equal to a fresh fold of the log",
                      sum(faults.values()), target="all equal", ok=True,
                      note=", ".join(f"{k} {v}" for k, v in faults.items()) + f"; {t2 - t1:.0f} s"),
    ]  # fmt: skip
    for figure in figures:
        print(f"BENCH {figure.name}: {figure.shown()} {figure.verdict()} {figure.note}".rstrip())
    if not args.no_record:
        notes = ["script: bench/faults.py (a failed check stops it with an AssertionError)"]
        command = " ".join([".venv/bin/python bench/faults.py", *sys.argv[1:]])
        record.append(record.RESULTS, record.section("faults", figures, info, notes, command))


if __name__ == "__main__":
    main()
