"""`talkstats simulate` and the demo's preparation (account, reference data, backfill)."""

from __future__ import annotations

import re
from pathlib import Path

import argon2
import click
import pytest
from click.testing import CliRunner

from talkstats.cli.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_SCENARIO, describe, prepare_demo
from talkstats.cli.simulate import resolve_window, simulate
from talkstats.config import Settings
from talkstats.domain import stats
from talkstats.service import Talkstats
from talkstats.simulator import load_scenario, scenario_path
from talkstats.simulator.driver import basic_authorization
from talkstats.store import SQLiteStore

from .conftest import NS, at

NOW = at("2026-03-10T14:30")


def test_window_of_a_day_in_the_scenario_zone() -> None:
    start, end, capped = resolve_window(zone="Europe/Berlin", now=NOW, day="2026-03-09")
    assert (start, end, capped) == (at("2026-03-08T23:00"), at("2026-03-09T23:00"), False)


def test_window_defaults_to_today_until_now() -> None:
    assert resolve_window(zone="UTC", now=NOW) == (at("2026-03-10T00:00"), NOW, False)


def test_window_from_and_hours_naive_times_in_the_zone() -> None:
    start, end, _ = resolve_window(zone="Asia/Tokyo", now=NOW, from_="2026-03-09T09:00", hours=2.5)
    assert (start, end) == (at("2026-03-09T00:00"), at("2026-03-09T02:30"))
    start, end, _ = resolve_window(zone="UTC", now=NOW, from_="2026-03-09T09:00+01:00",
                                   to="2026-03-09T10:00Z")  # fmt: skip
    assert (start, end) == (at("2026-03-09T08:00"), at("2026-03-09T10:00"))


def test_window_that_passes_now_stops_at_now() -> None:
    assert resolve_window(zone="UTC", now=NOW, day="2026-03-10") == (
        at("2026-03-10T00:00"),
        NOW,
        True,
    )
    with pytest.raises(click.UsageError, match="empty"):
        resolve_window(zone="UTC", now=NOW, day="2026-03-11")
    with pytest.raises(click.UsageError):
        resolve_window(zone="UTC", now=NOW, day="2026-03-09", from_="2026-03-09T00:00")


def _simulate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(simulate, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_simulate_into_a_store_is_idempotent_and_deterministic(tmp_path: Path) -> None:
    logs = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path}/{name}.db"
        args = ("--database", url, "--account", "acme", "--scenario", "help-desk", "--seed", "7",
                "--day", "2026-03-09", "--create-reference-data")  # fmt: skip
        code, out = _simulate(*args)
        assert code == 0, out
        assert "created account acme (Europe/Berlin)" in out
        assert "reference data: created 6 agents, 2 groups, 9 memberships, 2 phone numbers" in out
        assert " 0 duplicates, 0 rejected" in out
        store = SQLiteStore(f"{tmp_path}/{name}.db", create=True)
        account = store.get_account("acme")
        assert account is not None
        logs.append([body for _, body in store.read_events(account.id, 0, 100_000)])
        store.close()
    assert logs[0] == logs[1] and len(logs[0]) > 500
    code, out = _simulate(*args)  # the same run again: all duplicates
    assert code == 0 and f"0 accepted, {len(logs[0])} duplicates, 0 rejected" in out


def _log_size(path: Path) -> int:
    store = SQLiteStore(str(path))
    account = store.get_account("acme")
    assert account is not None
    size = store.log_head(account.id)
    store.close()
    return size


def test_simulate_refuses_a_day_older_than_the_account_up_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    base = ("--database", url, "--account", "acme", "--create-reference-data")
    assert _simulate(*base, "--day", "2026-03-10", "--seed", "1")[0] == 0
    before = _log_size(tmp_path / "x.db")
    # an earlier day afterwards: every agent already has later events
    code, out = _simulate(*base, "--day", "2026-03-09", "--seed", "2")
    assert code == 1
    assert "before the latest events of the scenario's agents in account acme" in out
    latest = re.search(r"\((2026-03-10T[0-9:.]+Z)\)", out)  # the last agent logged off
    assert latest is not None and f"(--from {latest[1]})" in out
    assert "--account NEW --create-reference-data" in out
    assert "REJECTED" not in out
    assert _log_size(tmp_path / "x.db") == before  # nothing of the refused run was stored
    # the advice works: from there on, nothing is rejected
    code, out = _simulate(*base, "--from", latest[1], "--hours", "1", "--seed", "3")
    assert code == 0 and " 0 rejected" in out, out


def test_simulate_shows_the_first_20_rejections_and_counts_the_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    base = ("--database", url, "--account", "acme", "--create-reference-data",
            "--id-prefix", "same")  # fmt: skip
    assert _simulate(*base, "--day", "2026-03-09", "--seed", "1")[0] == 0
    # the next day with the same ids: each id already names another event
    code, out = _simulate(*base, "--day", "2026-03-10", "--seed", "2")
    assert code == 1
    shown = [line for line in out.splitlines() if line.startswith("REJECTED")]
    assert len(shown) == 20 and "was already used by an event with different content" in shown[0]
    assert "more rejections: only the first 20 are shown, the rest are counted" in out
    summary = next(line for line in out.splitlines() if line.startswith("sent "))
    rejected = int(summary.split(" rejected")[0].rsplit(" ", 1)[1])
    assert rejected > 500 and summary.endswith("(the first 20 shown)")
    assert f"{rejected} EVENT(S) REJECTED (the first 20 listed above, {rejected - 20} more" in out


def test_simulate_needs_an_account_and_credentials(tmp_path: Path) -> None:
    code, out = _simulate("--database", f"sqlite:///{tmp_path}/y.db", "--day", "2026-03-09")
    assert code == 2 and "--account" in out
    code, out = _simulate("--url", "http://127.0.0.1:9", "--email", "a@b.example")
    assert code == 2 and "--token or --password" in out


def _service(path: Path, clock: list[int]) -> Talkstats:
    return Talkstats(
        SQLiteStore(str(path), create=True),
        Settings(),
        clock=lambda: clock[0],
        monotonic=lambda: clock[0] / NS,
        hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )


def test_demo_backfills_today_and_restarts_cleanly(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_path("help-desk"))
    clock = [NOW]
    service = _service(tmp_path / "demo.db", clock)
    account, sim, driver, _, (calls, events) = prepare_demo(service, scenario, 1, NOW)
    assert (account.subdomain, account.timezone, account.plan) == (
        "demo",
        "Europe/Berlin",
        "professional",
    )
    login = basic_authorization(DEMO_ADMIN, password=DEMO_PASSWORD)  # the printed login
    admin = service.authenticate(account, login)
    assert admin is not None and admin.role == "admin"
    assert calls > 20 and driver.report.accepted == events and driver.report.rejected == 0
    first = service.store.read_events(account.id, 0, 1)[0][1]
    assert '"2026-03-09T23:00:00.000Z"' in first  # local midnight in Berlin
    # live: a few more seconds, then a clean stop
    clock[0] = NOW + 5 * 60 * NS
    driver.send(sim.advance(clock[0]))
    driver.send(sim.finish(clock[0]))
    assert driver.report.rejected == 0
    service.close()

    # restart (same database): continues after the last event, new id prefix
    clock[0] = NOW + 20 * 60 * NS
    service = _service(tmp_path / "demo.db", clock)
    _, sim2, driver2, _, _ = prepare_demo(service, scenario, 1, clock[0])
    assert sim2.prefix != sim.prefix and driver2.report.rejected == 0
    assert sim2.now_ns == clock[0]

    # killed without finish (calls still open): the next start ends what was left open
    clock[0] = NOW + 60 * 60 * NS
    driver2.send(sim2.advance(clock[0]))
    service.close()
    clock[0] = NOW + 80 * 60 * NS
    service = _service(tmp_path / "demo.db", clock)
    assert any(not c.ended for c in service.projection(account).calls.values())
    _, _, driver3, _, _ = prepare_demo(service, scenario, 2, clock[0])
    assert driver3.report.rejected == 0 and driver3.report.accepted > 0
    service.close()


def _berlin(day: str, clock: str) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    return int(local.timestamp()) * NS


@pytest.mark.parametrize(
    "local", ["00:20", "03:00", "04:29", "07:00", "11:00", "15:30", "19:00", "23:40"]
)
def test_the_demo_is_alive_at_any_hour(tmp_path: Path, local: str) -> None:
    """The default scenario has agents on duty and calls coming in, whatever the hour."""
    scenario = load_scenario(scenario_path(DEMO_SCENARIO))
    clock = [_berlin("2026-03-10", local)]
    service = _service(tmp_path / "demo.db", clock)
    account, sim, driver, _, _ = prepare_demo(service, scenario, 1, clock[0])
    for _ in range(15):  # a quarter of an hour of live traffic, a minute at a time
        clock[0] += 60 * NS
        driver.send(sim.advance(clock[0]))
    assert driver.report.rejected == 0
    projection = service.projection(account)
    assert projection.agents_online >= 1
    overview = stats.account_overview(projection, service.now(account), plan=account.plan)
    assert overview["total_calls"] >= 3
    text = describe(service, account, scenario, clock[0])
    assert text.startswith("simulating round-the-clock: 24/7 support center")
    assert f"it is {clock_text(clock[0])} there, {projection.agents_online} agents online" in text
    assert "looks closed" not in text
    service.close()


def clock_text(ns: int) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return f"{datetime.fromtimestamp(ns // NS, ZoneInfo('Europe/Berlin')):%H:%M}"


def test_the_demo_says_when_a_scenario_is_closed(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_path("help-desk"))
    clock = [_berlin("2026-03-10", "04:29")]
    service = _service(tmp_path / "demo.db", clock)
    account, *_ = prepare_demo(service, scenario, 1, clock[0])
    text = describe(service, account, scenario, clock[0])
    assert "it is 04:29 there, 0 agents online" in text
    assert "no agent of help-desk is on duty at this hour" in text and "round-the-clock" in text
    service.close()
