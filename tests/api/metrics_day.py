"""A simulated morning in two accounts, sent through the in-process app, and /metrics
read back with prometheus-client's own parser.

``desk`` runs the help-desk scenario (two phone numbers, two groups) and ``busy`` the
bad-day one (long queues, callbacks), both from 05:00 local to mid-morning, on a real
SQLite file with a fake clock. Shared by the /metrics tests and the dashboard check.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.parser import text_string_to_metric_families

from talkstats.api.app import create_app
from talkstats.config import load_settings
from talkstats.domain.timeutil import instant_from_datetime
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, load_scenario, scenario_path
from talkstats.simulator.driver import create_reference_data
from talkstats.simulator.reference import reference_data
from talkstats.store import Account, SQLiteStore

from .conftest import CHEAP, FakeClock

EVENTS = "/api/v2/channels/voice/events"
STATS = "/api/v2/channels/voice/stats"
DAY = "2026-03-10"
ACCOUNTS = {  # subdomain -> (scenario, seed, local time of the scrape)
    "desk": ("help-desk", 7, "10:43:00"),
    "busy": ("bad-day", 7, "10:57:00"),
}
AFTER = 12_345_000_000  # the scrape: 12.345 s after the later of the two moments
PASSWORD = "admin-pass"
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def local_ns(zone: str, clock: str) -> int:
    t = datetime.fromisoformat(f"{DAY}T{clock}").replace(tzinfo=ZoneInfo(zone))
    return instant_from_datetime(t)


def basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()}


class Http:
    """Synchronous requests to an ASGI app from a given client address."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app, client=client)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://talkstats.test")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@dataclass
class Day:
    service: Talkstats
    clock: FakeClock
    app: Any
    http: Http
    accounts: dict[str, Account]
    events: dict[str, list[dict[str, Any]]]
    sent: dict[str, dict[str, int]]  # the API's totals of the ingestion responses

    def headers(self, account: str) -> dict[str, str]:
        return {"host": f"{account}.talkstats.test", **basic(f"admin@{account}.test")}

    def api(self, account: str, path: str, **params: Any) -> dict[str, Any]:
        r = self.http.get(f"{STATS}/{path}", params=params, headers=self.headers(account))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def post_events(self, account: str, events: list[Any]) -> dict[str, Any]:
        r = self.http.request(
            "POST", EVENTS, json={"events": events}, headers=self.headers(account)
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        totals = self.sent[account]
        for key in ("accepted", "duplicates", "rejected"):
            totals[key] += body[key]
        return body

    def scrape(self, **headers: str) -> Samples:
        r = self.http.get("/metrics", headers=headers)
        assert r.status_code == 200, r.text
        return parse(r.text)


def parse(text: str) -> Samples:
    """Every sample of an exposition, by sample name and sorted labels."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def simulated_day(path: Path, **settings: Any) -> Iterator[Day]:
    scenarios = {name: load_scenario(scenario_path(s)) for name, (s, _, _) in ACCOUNTS.items()}
    moments = {
        name: local_ns(scenarios[name].timezone, moment)
        for name, (_, _, moment) in ACCOUNTS.items()
    }
    clock = FakeClock(max(moments.values()) + AFTER)
    service = Talkstats(
        SQLiteStore(path / "talkstats.db", create=True),
        load_settings(settings, environ={}),
        clock=clock,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )
    app = create_app(service)
    http = Http(app)
    accounts: dict[str, Account] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    day = Day(service, clock, app, http, accounts, events, {})
    for name, (_, seed, _) in ACCOUNTS.items():
        scenario = scenarios[name]
        account = service.create_account(
            name,
            scenario.timezone,
            "professional",
            admin_email=f"admin@{name}.test",
            admin_password=PASSWORD,
        )
        create_reference_data(service, account, reference_data(scenario))
        start = local_ns(scenario.timezone, "05:00:00")
        sim = Simulator(scenario, seed, start)
        accounts[name] = account
        events[name] = sim.advance(moments[name])
        day.sent[name] = {"accepted": 0, "duplicates": 0, "rejected": 0}
        for i in range(0, len(events[name]), 500):
            day.post_events(name, events[name][i : i + 500])
        assert day.sent[name]["rejected"] == 0
    try:
        yield day
    finally:
        http.close()
        service.close()
