"""An in-process app over a real SQLite file, a fake clock and cheap argon2.

``make_env(**settings)`` builds one; the ``env`` fixture is the default. The account
``acme`` (professional, Europe/Paris) has an admin (id 1), agents 2 and 3, an end user
(4), phone numbers 10 and 20, groups 100 = {2} and 200 = {3}. A second account
``other`` has its own admin, so wrong-account credentials can be tried.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from argon2 import PasswordHasher

from talkstats.api.app import create_app
from talkstats.config import load_settings
from talkstats.domain.timeutil import instant_from_datetime
from talkstats.service import Talkstats
from talkstats.store import Account, SQLiteStore

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)
ZONE = ZoneInfo("Europe/Paris")
DAY = "2026-11-26"
ADMIN = ("admin@acme.test", "admin-pass")
AGENT = ("agent@acme.test", "agent-pass")
AGENT3 = ("agent3@acme.test", "agent3-pass")
END_USER = ("user@acme.test", "user-pass")
OTHER_ADMIN = ("admin@other.test", "other-pass")


def local_ns(clock: str, day: str = DAY) -> int:
    return instant_from_datetime(datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE))


def local_iso(clock: str, day: str = DAY) -> str:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE).isoformat()


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class FakeClock:
    """Wall clock (ns) and monotonic clock (s) that move only when told."""

    now_ns: int
    mono: float = 1000.0

    def __call__(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.mono

    def set(self, clock: str, day: str = DAY) -> None:
        self.now_ns = local_ns(clock, day)

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)
        self.mono += seconds


class Client:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))``.

    Starlette's TestClient warns about httpx (and warnings are errors here); this runs
    each request to completion on one private event loop instead.
    """

    def __init__(self, app: Any, base_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@dataclass
class Env:
    client: Client
    service: Talkstats
    clock: FakeClock
    acme: Account
    other: Account
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, path: str, who: str = "agent", **kw: Any) -> Any:
        return self.client.get(path, headers={**self.headers[who], **kw.pop("headers", {})}, **kw)

    def post(self, path: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.post(path, headers={**self.headers[who], **kw.pop("headers", {})}, **kw)

    def put(self, path: str, who: str = "agent", **kw: Any) -> Any:
        return self.client.put(path, headers={**self.headers[who], **kw.pop("headers", {})}, **kw)

    def ingest(self, events: list[dict[str, Any]]) -> Any:
        outcome = self.service.ingest(self.acme, events)
        assert outcome.rejected == 0, outcome.results
        return outcome


def build(
    tmp_path: Path, settings: dict[str, Any]
) -> tuple[Talkstats, FakeClock, Account, Account]:
    clock = FakeClock(local_ns("08:00:00"))
    service = Talkstats(
        SQLiteStore(tmp_path / "talkstats.db", create=True),
        load_settings(settings, environ={}),
        clock=clock,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )
    acme = service.create_account(
        "acme", "Europe/Paris", "professional", admin_email=ADMIN[0], admin_password=ADMIN[1]
    )
    service.create_user(
        acme,
        name="Agent Two",
        email=AGENT[0],
        role="agent",
        id=2,
        password=AGENT[1],
        avatar_url="https://img.test/2.png",
    )
    service.create_user(
        acme, name="Agent Three", email=AGENT3[0], role="agent", id=3, password=AGENT3[1]
    )
    service.create_user(
        acme, name="End User", email=END_USER[0], role="end-user", id=4, password=END_USER[1]
    )
    service.create_phone_number(acme, number="+33100000010", name="Sales", id=10)
    service.create_phone_number(acme, number="+33100000020", name="Support", id=20)
    service.create_group(acme, name="Sales", id=100)
    service.create_group(acme, name="Support", id=200)
    service.add_membership(acme, group_id=100, user_id=2)
    service.add_membership(acme, group_id=200, user_id=3)
    other = service.create_account(
        "other", "UTC", "team", admin_email=OTHER_ADMIN[0], admin_password=OTHER_ADMIN[1]
    )
    return service, clock, acme, other


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    opened: list[tuple[Client, Talkstats]] = []

    def make(**settings: Any) -> Env:
        path = tmp_path / f"env{len(opened)}"
        path.mkdir()
        service, clock, acme, other = build(path, settings)
        client = Client(create_app(service), "http://acme.talkstats.test")
        opened.append((client, service))
        headers = {
            "admin": basic(*ADMIN),
            "agent": basic(*AGENT),
            "agent3": basic(*AGENT3),
            "end_user": basic(*END_USER),
            "other_admin": basic(*OTHER_ADMIN),
            "none": {},
        }
        return Env(client, service, clock, acme, other, headers)

    yield make
    for client, service in opened:
        client.close()
        service.close()


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()
