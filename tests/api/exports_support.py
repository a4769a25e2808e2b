"""Shared by the export tests: a simulated account in the in-process app, and readers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from talkstats.simulator import Scenario, Simulator, reference_data
from talkstats.simulator.driver import create_reference_data
from talkstats.store import Account

from .conftest import Env, basic

SIM_ADMIN = ("admin@sim.test", "sim-pass")
CALLS = "/api/v2/channels/voice/stats/incremental/calls"
LEGS = "/api/v2/channels/voice/stats/incremental/legs"


@dataclass
class SimAccount:
    """An account ``sim`` holding a scenario's reference data, read over HTTP."""

    env: Env
    account: Account
    scenario: Scenario
    headers: dict[str, str]
    base: str = "http://sim.talkstats.test"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.scenario.timezone)

    def local_ns(self, text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=self.zone).timestamp()) * 10**9

    def get(self, path: str) -> Any:
        url = path if path.startswith("http") else f"{self.base}{path}"
        r = self.env.client.get(url, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def ingest(self, events: list[dict[str, Any]]) -> None:
        if events:
            outcome = self.env.service.ingest(self.account, events)
            assert outcome.rejected == 0, [r.error for r in outcome.results if r.error][:3]

    def pages(self, url: str) -> Iterator[dict[str, Any]]:
        """Follow next_page until a page comes back empty (yields the non-empty ones)."""
        while True:
            body = self.get(url)
            if not body["count"]:
                return
            yield body
            url = body["next_page"]

    def export(self, kind: str) -> dict[int, dict[str, Any]]:
        """Every record of ``kind``, read from start_time=0 to the end, by id."""
        path = CALLS if kind == "calls" else LEGS
        out: dict[int, dict[str, Any]] = {}
        for body in self.pages(f"{path}.json?start_time=0"):
            for record in body[kind]:
                assert record["id"] not in out, "one record twice in one pass"
                out[record["id"]] = record
        return out


def sim_account(env: Env, scenario: Scenario) -> SimAccount:
    service = env.service
    account = service.create_account(
        "sim", scenario.timezone, "enterprise", admin_email=SIM_ADMIN[0],
        admin_password=SIM_ADMIN[1],
    )  # fmt: skip
    create_reference_data(service, account, reference_data(scenario))
    return SimAccount(env, account, scenario, basic(*SIM_ADMIN))


def whole_seconds(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The simulator's millisecond times floored to the second (order is kept).

    Records round each duration; the statistics round a total once. On whole-second
    times both are exact, so their identities hold to the second.
    """
    for event in events:
        event["time"] = event["time"][:19] + "Z"
    return events


def simulate(scenario: Scenario, seed: int, start_ns: int) -> Simulator:
    return Simulator(scenario, seed, start_ns, id_prefix=f"t{seed}")
