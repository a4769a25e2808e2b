"""End to end: a whole simulated day written as a queue_log, imported with
`talkstats asterisk import`, gives through every endpoint what the same calls give
through the event API (the calls as a queue_log can tell them: writer.py lists the
deliberate differences, and a test below pins each one)."""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from talkstats.api.app import create_app
from talkstats.cli import cli
from talkstats.config import load_settings
from talkstats.domain.timeutil import instant_from_datetime
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, reference_data, scenario_from_dict, scenario_path
from talkstats.simulator.driver import create_reference_data
from talkstats.simulator.scenario import apply_overrides
from talkstats.store import SQLiteStore
from tests.api.conftest import CHEAP, Client, FakeClock, basic
from tests.connectors.asterisk.writer import as_asterisk_tells_it, queue_log

ZONE = "Europe/Berlin"
DAY = date(2026, 3, 10)
PASSWORD = "day-password"
# what a queue_log can carry (writer.py): no outbound, web widget, callback, text-back,
# conference, IVR or voicemail message time; calls are answered around the clock
OVERRIDES = [
    "agents.via_phone_share=1",
    "calls.ivr_seconds=0",
    "calls.textback_probability=0",
    "calls.conference_probability=0",
    "calls.callback_request_probability=0",
    "calls.voicemail_seconds=0",
    "calls.wrap_up_mean=0",
    "calls.max_queue_wait=300",
    *(
        f"phone_numbers.{i}.{key}={value}"
        for i in (0, 1)
        for key, value in (
            ("outbound_share", 0),
            ("web_widget_share", 0),
            ("business_hours", "[0, 24]"),
            ("outside_hours_share", 0),
            ("calls_per_hour", 30),
        )
    ),
]
ENDPOINTS = [
    "account_overview",
    "agents_activity",
    "agents_overview",
    "current_queue_activity",
    "service_level",
]


def local(day: date, hour: int = 0) -> int:
    return instant_from_datetime(
        datetime.combine(day, datetime.min.time(), ZoneInfo(ZONE)) + timedelta(hours=hour)
    )


@dataclass
class Day:
    events: list[dict[str, Any]]
    lines: list[str]
    expected: list[dict[str, Any]]
    database: str
    import_output: str
    tmp: Path


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    tmp = tmp_path_factory.mktemp("asterisk-day")
    data = tomllib.loads(scenario_path("help-desk").read_text())
    scenario = scenario_from_dict(apply_overrides(data, OVERRIDES))
    start, end = local(DAY), local(DAY + timedelta(days=1))
    sim = Simulator(scenario, 5, start, id_prefix="d")
    events = sim.advance(end) + sim.finish(end)
    ref = reference_data(scenario)
    queues = {p.id: (p.name.lower(), p.number, p.group_id) for p in scenario.phone_numbers}
    names = {a.id: a.name for a in ref.agents}
    agent_queues = {
        a.id: [g.name.lower() for g in scenario.groups if a.id in g.members] for a in ref.agents
    }
    lines = queue_log(events, queues, agent_queues, names)
    expected = as_asterisk_tells_it(events, {p: q[2] for p, q in queues.items()})

    database = f"sqlite:///{tmp / 'day.db'}"
    service = Talkstats(
        SQLiteStore(tmp / "day.db", create=True),
        load_settings({"database_url": database}, environ={}),
        clock=lambda: end,
        monotonic=lambda: 0.0,
        hasher=CHEAP,
    )
    for sub in ("events", "asterisk", "pipelined"):
        account = service.create_account(
            sub, ZONE, "professional", admin_email=f"admin@{sub}.test", admin_password=PASSWORD
        )
        create_reference_data(service, account, ref)
    events_account = service.account("events")
    assert events_account is not None
    for i in range(0, len(expected), 1000):
        outcome = service.ingest(events_account, expected[i : i + 1000])
        assert outcome.rejected == 0, [r for r in outcome.results if r.status == "rejected"][:3]
    service.close()

    (tmp / "queue_log").write_text("\n".join(lines) + "\n")
    (tmp / "map.toml").write_text('[pause_reasons]\n"Transfers only" = "transfers_only"\n')
    result = CliRunner().invoke(
        cli,
        ["asterisk", "import", str(tmp / "queue_log"), "--database", database,
         "--account", "asterisk", "--map", str(tmp / "map.toml")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return Day(events, lines, expected, database, result.output, tmp)


@pytest.fixture
def api(day: Day) -> Iterator[dict[str, Client]]:
    """Clients on one service, by account: the event API's and the queue_log imports'."""
    with reading(day) as clients:
        yield clients


@contextlib.contextmanager
def reading(day: Day) -> Iterator[dict[str, Client]]:
    """Clients on a service opened now (it sees what other processes wrote before)."""
    clock = FakeClock(local(DAY + timedelta(days=1)) - 1_000_000_000)
    service = Talkstats(
        SQLiteStore(day.tmp / "day.db"),
        load_settings({"database_url": day.database}, environ={}),
        clock=clock,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )
    for sub in ("events", "asterisk", "pipelined"):  # loaded before the first request (else 503)
        loaded = service.account(sub)
        assert loaded is not None
        service.projection(loaded)
    app = create_app(service)
    clients = {
        sub: Client(app, f"http://{sub}.talkstats.test")
        for sub in ("events", "asterisk", "pipelined")
    }
    yield clients
    for client in clients.values():
        client.close()
    service.close()


def get(client: Client, sub: str, endpoint: str, **params: Any) -> Any:
    response = client.get(
        f"/api/v2/channels/voice/stats/{endpoint}.json",
        params=params,
        headers=basic(f"admin@{sub}.test", PASSWORD),
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_day_is_big_enough_to_mean_something(day: Day) -> None:
    kinds = {e["type"] for e in day.expected}
    assert sum(e["type"] == "call.started" for e in day.expected) > 300
    assert {"call.missed", "call.voicemail", "call.transfer_started"} <= kinds
    assert {"EXITWITHTIMEOUT", "EXITWITHKEY", "ABANDON", "BLINDTRANSFER", "PAUSEALL"} <= {
        line.split("|")[4] for line in day.lines
    }
    assert "rejected 0" in day.import_output


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("when", ["today", "date"])
def test_every_endpoint_gives_the_same_numbers(
    api: dict[str, Client], endpoint: str, when: str
) -> None:
    params = {"date": DAY.isoformat()} if when == "date" else {}
    expected = get(api["events"], "events", endpoint, **params)
    assert get(api["asterisk"], "asterisk", endpoint, **params) == expected


def test_importing_again_counts_nothing_twice(day: Day, api: dict[str, Client]) -> None:
    before = get(api["asterisk"], "asterisk", "account_overview")
    result = CliRunner().invoke(
        cli,
        ["asterisk", "import", str(day.tmp / "queue_log"), "--database", day.database,
         "--account", "asterisk", "--map", str(day.tmp / "map.toml")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0 and "accepted 0," in result.output
    assert get(api["asterisk"], "asterisk", "account_overview") == before


# --- the deliberate differences, each pinned --------------------------------------------------


def test_what_the_queue_log_cannot_tell_is_what_differs(day: Day) -> None:
    raw = {e["id"]: e for e in day.events}
    kinds = [e["type"] for e in day.events]
    # holds, declines, transfers' second legs, via: present in the day, gone in the log
    assert "call.hold_started" in kinds and "call.declined" in kinds
    assert "call.transfer_accepted" in kinds
    assert any(e.get("via") == "phone" for e in raw.values())
    told = [e["type"] for e in day.expected]
    assert "call.hold_started" not in told and "call.declined" not in told
    assert "call.transfer_accepted" not in told
    assert told.count("call.missed") == kinds.count("call.missed") + kinds.count("call.declined")
    assert all("via" not in e for e in day.expected)
    # a voicemail for want of agents entered the queue first
    empties = [e for e in day.expected if e.get("reason") == "no_available_agents"]
    assert empties, "the day has callers who found nobody online"
    assert all(e["time"].endswith("Z") and "." not in e["time"] for e in day.expected)


def test_a_big_file_is_parsed_on_a_second_core_with_the_same_result(
    day: Day, monkeypatch: pytest.MonkeyPatch
) -> None:
    from talkstats.cli import asterisk as command

    monkeypatch.setattr(command, "PIPELINE_BYTES", 0)
    monkeypatch.setattr(command.os, "cpu_count", lambda: 2)
    result = CliRunner().invoke(
        cli,
        ["asterisk", "import", str(day.tmp / "queue_log"), "--database", day.database,
         "--account", "pipelined", "--map", str(day.tmp / "map.toml")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == day.import_output
    with reading(day) as api:
        for endpoint in ENDPOINTS:
            params = {"date": DAY.isoformat()}
            expected = get(api["asterisk"], "asterisk", endpoint, **params)
            assert get(api["pipelined"], "pipelined", endpoint, **params) == expected
