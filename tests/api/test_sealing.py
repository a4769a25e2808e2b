"""Sealed days answer exactly as live ones (docs/architecture.md, "Bounded memory").

Two services on SQLite get the same simulated days, batch by batch, on one fake clock:
one seals its past days, the other keeps everything in memory. Every statistics
endpoint, under every filter, for every day, must answer with byte-identical JSON
from both: live, with a cache of one sealed day (so reads load, evict and load again),
after late events that fall on sealed days, after a restart from snapshots and after
a full replay of the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import pytest

import talkstats.service.runtimes as runtimes_module
from talkstats.domain.timeutil import format_instant
from talkstats.simulator import Simulator, reference_data
from talkstats.simulator.driver import create_reference_data

from .conftest import FakeClock
from .test_store_parity import ADMIN, HOUR, SCENARIO, STATS, local
from .test_store_parity import Side as ParitySide

FIRST = "2026-03-09"
DAYS = [(date.fromisoformat(FIRST) + timedelta(days=i)).isoformat() for i in range(4)]
TODAY = DAYS[-1]


class Side(ParitySide):
    """A service on one SQLite file, sealing or not, with its in-process client."""

    def __init__(self, path: Path, clock: FakeClock, *, seal: bool, cached: int = 1) -> None:
        super().__init__(
            f"sqlite:///{path}",
            clock,
            "sealing",
            seal_past_days=seal,
            sealed_days_cached=cached,
        )
        self.seal, self.cached, self.clock = seal, cached, clock

    def again(self) -> Side:
        self.close()
        return Side(Path(self.url.removeprefix("sqlite:///")), self.clock, seal=self.seal)

    def projection(self):  # type: ignore[no-untyped-def]
        account = self.service.account("sealing")
        assert account is not None
        return self.service.projection(account)


def requests() -> list[str]:
    """Every day's statistics under every filter (and today's live ones)."""
    ref = reference_data(SCENARIO)
    numbers = [p.id for p in ref.phone_numbers]
    groups = [g.id for g in ref.groups]
    number_sets = [[n] for n in numbers] + [numbers, numbers[:2], [numbers[0], 999_999]]
    paths: list[str] = []
    for day in (None, "2026-03-01", *DAYS):
        d = f"date={day}&" if day else ""
        paths.append(f"{STATS}/agents_overview?{d}")
        paths.append(f"{STATS}/agents_activity?{d}per_page=100")
        paths += [f"{STATS}/agents_activity?{d}group_ids={g}" for g in groups]
        for ids in [None, *number_sets]:
            f = f"phone_number_ids={','.join(map(str, ids))}&" if ids else ""
            paths.append(f"{STATS}/account_overview?{d}{f}")
            paths += [f"{STATS}/service_level?{d}{f}threshold={t}" for t in (0, 20, 60)]
            paths += [f"{STATS}/timeline?{d}{f}interval={m}" for m in ("5m", "60m")]
    paths.append(f"{STATS}/current_queue_activity")
    return paths


def answers(side: Side) -> dict[str, bytes]:
    side.projection()  # loaded, as a server's upkeep does at start
    return {path: side.get(path) for path in requests()}


def assert_identical(expected: dict[str, bytes], got: dict[str, bytes], what: str) -> None:
    differing = [path for path in expected if expected[path] != got[path]]
    assert differing == [], f"{what}: {len(differing)} reads differ, first {differing[:3]}"


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[Side, Side, FakeClock]]:
    clock = FakeClock(local(FIRST, "00:00:00"))
    plain = Side(tmp_path / "plain.db", clock, seal=False)
    sealing = Side(tmp_path / "sealing.db", clock, seal=True)
    for side in (plain, sealing):
        account = side.service.create_account(
            "sealing",
            SCENARIO.timezone,
            "professional",
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
        )
        create_reference_data(side.service, account, reference_data(SCENARIO))
    yield plain, sealing, clock
    for side in (plain, sealing):
        side.close()


def feed(sides: list[Side], clock: FakeClock, batch: list[dict[str, object]]) -> list[str]:
    """Send a batch to every side; the outcomes must agree. Their rejection messages."""
    outcomes = []
    for side in sides:
        account = side.service.account("sealing")
        assert account is not None
        outcomes.append(side.service.ingest(account, batch))
    first = [asdict(r) for r in outcomes[0].results]
    for other in outcomes[1:]:
        assert [asdict(r) for r in other.results] == first
    return [r.error or "" for r in outcomes[0].results if r.status == "rejected"]


def test_sealed_days_answer_as_live_ones(
    sides: tuple[Side, Side, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, sealing, clock = sides
    sim = Simulator(SCENARIO, 11, local(FIRST, "00:00:00"), id_prefix="seal")
    until = local(FIRST, "00:00:00")
    while until < local(TODAY, "10:30:00"):
        until += HOUR
        batch = sim.advance(until)
        clock.now_ns = until
        clock.mono += 3600
        feed([plain, sealing], clock, batch)

    p = sealing.projection()
    assert sorted(d.isoformat() for d in p.sealed) == DAYS[:-1]
    assert not set(p.sealed) & (set(p.call_days) | set(p.peaks) | set(p.timeline.days))
    assert not set(p.finished_by_day) & set(p.sealed)
    live = answers(plain)
    assert_identical(live, answers(sealing), "sealed")
    assert len(p.mounted) == 1  # the cache holds one sealed day: reads evicted the others

    # a snapshot with the days sealed, then late events on sealed days: a new call on
    # the first day (it is unsealed, then sealed again), a reused call id
    account = sealing.service.account("sealing")
    assert account is not None
    assert sealing.service.snapshot(account)
    late = local(FIRST, "23:30:00")
    number = reference_data(SCENARIO).phone_numbers[0].id
    batch: list[dict[str, object]] = [
        {
            "id": "late-1",
            "type": "call.started",
            "time": late,
            "call_id": "late-call",
            "direction": "inbound",
            "phone_number_id": number,
        },
        {"id": "late-2", "type": "call.queued", "time": late + 1, "call_id": "late-call"},
        {"id": "late-3", "type": "call.ended", "time": late + 60 * 10**9, "call_id": "late-call"},
    ]
    for event in batch:
        event["time"] = _iso(int(str(event["time"])))
    assert feed([plain, sealing], clock, batch) == []
    assert date.fromisoformat(FIRST) not in p.sealed  # unsealed by the late call
    assert_identical(answers(plain), answers(sealing), "after a late call")

    # a day a late event unsealed is not sealed again at the next batch (a backfill of
    # a past day would seal and unseal it batch after batch)
    sealing.service.runtimes.sealer.seal_due(
        sealing.service.account("sealing"),  # type: ignore[arg-type]
        p,
        p.effective_now(clock.now_ns + 86_400 * 10**9),  # a day on: a check is due
    )
    assert date.fromisoformat(FIRST) not in p.sealed

    sealed_before = set(p.sealed)
    clock.now_ns += 60 * 10**9
    sealing.service.runtimes.sealer.seal_due(
        sealing.service.account("sealing"),  # type: ignore[arg-type]
        p,
        p.effective_now(clock.now_ns),
        force=True,
    )
    assert date.fromisoformat(FIRST) in p.sealed  # sealed again
    assert set(p.sealed) >= sealed_before
    reused = [
        {
            "id": "reuse-1",
            "type": "call.started",
            "time": _iso(clock.now_ns),
            "call_id": "late-call",
            "direction": "inbound",
            "phone_number_id": number,
        }
    ]
    rejected = feed([plain, sealing], clock, reused)
    assert len(rejected) == 1 and rejected[0].endswith("call 'late-call' already exists")
    live = answers(plain)
    assert_identical(live, answers(sealing), "sealed again")

    # a crash: the snapshot from before the late events (the first day sealed in its
    # first version) and the log after it, which unseals that version again
    sealing.client.close()
    sealing.service.store.close()
    sealing.closed = True
    sealing = sealing.again()
    assert_identical(live, answers(sealing), "after a crash")

    # a restart from fresh snapshots (sealed days stay sealed), then a replay of the log
    for side in (plain, sealing):
        account = side.service.account("sealing")
        assert account is not None
        assert side.service.snapshot(account)
    plain, sealing = plain.again(), sealing.again()
    assert sealing.projection().sealed
    assert_identical(live, answers(sealing), "after a restart")
    monkeypatch.setattr(runtimes_module, "snapshot_version", lambda account: "no-such-snapshot")
    sealing = sealing.again()
    assert sorted(d.isoformat() for d in sealing.projection().sealed) == DAYS[:-1]
    assert_identical(live, answers(sealing), "after a replay")
    plain.close()
    sealing.close()


def _iso(ns: int) -> str:
    return format_instant(ns)
