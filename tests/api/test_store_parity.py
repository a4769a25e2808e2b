"""The same simulated day through a service on SQLite and one on PostgreSQL.

Both services get the same help-desk day (and the next morning, "today"), batch by
batch, on the same fake clock. Every statistics endpoint, under every filter, must
answer with byte-identical JSON from both: live, after a restart from snapshots, and
after a full replay of each store's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import talkstats.service.runtimes as runtimes_module
from talkstats.api.app import create_app
from talkstats.config import load_settings
from talkstats.domain.timeutil import instant_from_datetime
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, load_scenario, reference_data, scenario_path
from talkstats.simulator.driver import create_reference_data
from talkstats.store import open_store

from .conftest import CHEAP, Client, FakeClock, basic

SCENARIO = load_scenario(scenario_path("help-desk"))
ZONE = ZoneInfo(SCENARIO.timezone)
DAY, TODAY, BEFORE = "2026-03-10", "2026-03-11", "2026-03-09"
ADMIN = ("admin@parity.example", "parity-pass")
HOUR = 3600 * 1_000_000_000
STATS = "/api/v2/channels/voice/stats"


def local(day: str, clock: str) -> int:
    return instant_from_datetime(datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE))


class Side:
    """A service on one store, its in-process HTTP client and the shared fake clock."""

    def __init__(
        self, url: str, clock: FakeClock, host: str = "parity", **more_settings: object
    ) -> None:
        self.url = url
        settings = load_settings(
            {
                "database_url": url,
                "rate_limit_talk": 0,
                "rate_limit_queue_activity": 0,
                **more_settings,
            },
            environ={},
        )
        self.service = Talkstats(
            open_store(url, create=True),
            settings,
            clock=clock,
            monotonic=clock.monotonic,
            hasher=CHEAP,
        )
        self.client = Client(create_app(self.service), f"http://{host}.talkstats.test")
        self.closed = False

    def get(self, path: str) -> bytes:
        response = self.client.get(path, headers=basic(*ADMIN))
        assert response.status_code == 200, (self.url, path, response.text)
        return response.content

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.close()
            self.service.close()


def requests() -> list[str]:
    """Every statistics (and reference-data) read, under every filter, for each day."""
    ref = reference_data(SCENARIO)
    numbers = [p.id for p in ref.phone_numbers]
    groups = [g.id for g in ref.groups]
    agents = [a.id for a in ref.agents]
    number_sets = [[n] for n in numbers] + [numbers, [numbers[0], 999_999]]
    group_sets = [[g] for g in groups] + [groups]
    paths: list[str] = []
    for day in (None, DAY, TODAY, BEFORE):
        date = f"date={day}&" if day else ""
        paths.append(f"{STATS}/account_overview?{date}")
        paths += [
            f"{STATS}/account_overview?{date}phone_number_ids={','.join(map(str, s))}"
            for s in number_sets
        ]
        paths.append(f"{STATS}/agents_overview?{date}")
        for per_page in (2, 100):
            pages = -(-(len(agents) + 1) // per_page)
            paths += [
                f"{STATS}/agents_activity?{date}per_page={per_page}&page={page}"
                for page in range(1, pages + 2)  # one past the end too
            ]
        paths += [
            f"{STATS}/agents_activity?{date}group_ids={','.join(map(str, s))}&per_page=3"
            for s in group_sets
        ]
        for threshold in (0, 20, 60):
            paths.append(f"{STATS}/service_level?{date}threshold={threshold}")
            paths += [
                f"{STATS}/service_level?{date}threshold={threshold}&phone_number_ids={n}"
                for n in numbers
            ]
    paths.append(f"{STATS}/current_queue_activity")
    paths += [f"{STATS}/current_queue_activity?phone_number_ids={n}" for n in numbers]
    paths += [f"/api/v2/channels/voice/availabilities/{a}" for a in agents]
    paths += ["/api/v2/users?per_page=3", "/api/v2/groups", "/api/v2/channels/voice/phone_numbers"]
    return paths


@pytest.fixture
def sides(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Side, Side, FakeClock]]:
    clock = FakeClock(local(DAY, "00:00:00"))
    lite = Side(f"sqlite:///{tmp_path / 'parity.db'}", clock)
    pg = Side(postgres_url, clock)
    yield lite, pg, clock
    lite.close()
    pg.close()


def setup_account(side: Side) -> None:
    account = side.service.create_account(
        "parity", SCENARIO.timezone, "professional", admin_email=ADMIN[0], admin_password=ADMIN[1]
    )
    create_reference_data(side.service, account, reference_data(SCENARIO))


def answers(side: Side) -> dict[str, bytes]:
    for account in side.service.accounts():  # as a server's upkeep does at start
        side.service.load(account)
    return {path: side.get(path) for path in requests()}


def assert_identical(expected: dict[str, bytes], got: dict[str, bytes], what: str) -> None:
    differing = [path for path in expected if expected[path] != got[path]]
    assert differing == [], f"{what}: {len(differing)} reads differ, first {differing[:3]}"


def test_a_simulated_day_reads_the_same_on_sqlite_and_postgresql(
    sides: tuple[Side, Side, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    lite, pg, clock = sides
    for side in (lite, pg):
        setup_account(side)
    accounts = [side.service.account("parity") for side in (lite, pg)]
    assert None not in accounts
    sim = Simulator(SCENARIO, 7, local(DAY, "00:00:00"), id_prefix="parity")
    sent = 0
    until = local(DAY, "00:00:00")
    while until < local(TODAY, "11:30:00"):
        until += HOUR
        batch = sim.advance(until)
        clock.now_ns = until
        clock.mono += 3600
        outcomes = [
            side.service.ingest(account, batch)  # type: ignore[arg-type]
            for side, account in zip((lite, pg), accounts, strict=True)
        ]
        assert [asdict(r) for r in outcomes[0].results] == [asdict(r) for r in outcomes[1].results]
        assert outcomes[0].rejected == 0, outcomes[0].results
        sent += len(batch)
        if until == local(DAY, "12:00:00"):  # re-sending part of a batch: duplicates on both
            again = [
                side.service.ingest(account, batch[:5])  # type: ignore[arg-type]
                for side, account in zip((lite, pg), accounts, strict=True)
            ]
            assert [o.duplicates for o in again] == [min(5, len(batch))] * 2
    assert sent > 1_000

    live = answers(lite)
    assert len(live) > 100
    assert_identical(live, answers(pg), "live")

    # a restart from each store's snapshots, then a full replay of each store's log
    urls = (lite.url, pg.url)
    lite.close()
    pg.close()
    restarted = [Side(url, clock) for url in urls]
    try:
        for side in restarted:
            assert_identical(live, answers(side), f"after a restart on {side.url[:10]}")
    finally:
        for side in restarted:
            side.close()
    monkeypatch.setattr(runtimes_module, "snapshot_version", lambda account: "no-such-snapshot")
    replayed = [Side(url, clock) for url in urls]
    try:
        for side in replayed:
            assert_identical(live, answers(side), f"after a replay on {side.url[:10]}")
    finally:
        for side in replayed:
            side.close()
