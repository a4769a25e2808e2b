"""A service on a real SQLite file with simulated traffic, and the truth to compare with.

``truth(world)`` checks the promise of ingestion: every event a response called
accepted is in the log, nothing is in the projection that is not in the log, and every
endpoint of the live projection equals the same endpoint computed on a fresh fold of
the log (no snapshot, independent of the service's own replay code).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argon2
import orjson
import pytest

from talkstats.config import load_settings
from talkstats.domain import stats
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import parse_event
from talkstats.domain.projection import AccountProjection
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, load_scenario, scenario_path
from talkstats.simulator.driver import create_reference_data
from talkstats.simulator.reference import reference_data
from talkstats.store import Account, SQLiteStore

NS = 1_000_000_000
START = 1_773_129_600 * NS  # 2026-03-10T08:00:00Z
CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)


class Clock:
    """The injected wall clock (ns) and monotonic clock (s); moved by the tests."""

    def __init__(self, ns: int) -> None:
        self.ns = ns
        self.mono = 1000.0

    def wall(self) -> int:
        return self.ns

    def monotonic(self) -> float:
        return self.mono


@dataclass
class World:
    path: Path
    service: Talkstats
    account: Account
    clock: Clock
    events: list[dict[str, Any]]  # two hours of help-desk traffic from START


def open_service(path: Path, clock: Clock, **settings: Any) -> Talkstats:
    return Talkstats(
        SQLiteStore(path, create=True),
        load_settings(settings, environ={}),
        clock=clock.wall,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock(START + 2 * 3600 * NS)
    path = tmp_path / "talkstats.db"
    service = open_service(path, clock)
    scenario = load_scenario(scenario_path("help-desk"))
    account = service.create_account(
        "acme", scenario.timezone, "professional", admin_email="a@acme.test", admin_password="pw"
    )
    create_reference_data(service, account, reference_data(scenario))
    events = Simulator(scenario, 3, START).advance(START + 2 * 3600 * NS)
    yield World(path, service, account, clock, events)
    service.close()


def logged(world: World) -> list[dict[str, Any]]:
    """Every event in the account's log, in order (read with a separate store handle)."""
    store = SQLiteStore(world.path)
    try:
        return [orjson.loads(body) for _, body in store.read_events(world.account.id, 0, 10**9)]
    finally:
        store.close()


def fresh_fold(world: World) -> AccountProjection:
    """The account's log folded into a new projection, without the service's code."""
    store = SQLiteStore(world.path)
    try:
        directory = Directory()
        for user in store.list_users(world.account.id):
            if user.role in ("agent", "admin"):
                directory.add_agent(AgentInfo(user.id, user.name, user.avatar_url))
        for group in store.list_groups(world.account.id):
            directory.add_group(group.id)
        for membership in store.list_memberships(world.account.id):
            directory.add_member(membership.group_id, membership.user_id)
        for number in store.list_phone_numbers(world.account.id):
            directory.add_phone_number(number.id)
        rows = store.read_events(world.account.id, 0, 10**9)
    finally:
        store.close()
    projection = AccountProjection(world.account.timezone, directory)
    for _, body in rows:
        projection.apply(parse_event(orjson.loads(body)), 2**62)
    return projection


def endpoints(p: AccountProjection, now: int) -> dict[str, Any]:
    """Every endpoint's body, unfiltered and under every phone-number and group filter."""
    plan = "professional"
    numbers = sorted(p.directory.phone_numbers)
    out: dict[str, Any] = {
        "account_overview": stats.account_overview(p, now, plan=plan),
        "agents_overview": stats.agents_overview(p, now, plan=plan),
        "current_queue_activity": stats.current_queue_activity(p, now),
        "service_level": stats.service_level(p, now),
        "agents_activity": stats.agents_activity(
            p, now, plan=plan, agent_ids=p.directory.agent_ids()
        ),
    }
    for n in numbers:
        out[f"account_overview/{n}"] = stats.account_overview(
            p, now, plan=plan, phone_number_ids=[n]
        )
        out[f"current_queue_activity/{n}"] = stats.current_queue_activity(
            p, now, phone_number_ids=[n]
        )
        out[f"service_level/{n}"] = stats.service_level(p, now, phone_number_ids=[n])
    for g in sorted(p.directory.groups):
        ids = p.directory.agent_ids_in_groups([g])
        out[f"agents_activity/{g}"] = stats.agents_activity(p, now, plan=plan, agent_ids=ids)
    return out


def assert_truth(world: World, accepted_ids: set[str]) -> None:
    """Acknowledged = stored; the projection holds exactly the log; same numbers."""
    log = logged(world)
    log_ids = [e["id"] for e in log]
    assert accepted_ids <= set(log_ids), "an acknowledged event is not in the log"
    live = world.service.projection(world.account)
    assert live.event_count == len(log_ids), "the projection and the log disagree"
    now = live.effective_now(world.clock.wall())
    assert endpoints(live, now) == endpoints(fresh_fold(world), now)
