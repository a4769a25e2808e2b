"""The whole app (API and wallboard) in-process over a real SQLite file and a fake clock.

The account ``acme`` of tests/api/conftest.py (agents 2 and 3, an end user 4, phone
numbers 10 and 20, groups 100 and 200); requests go to ``http://acme.talkstats.test``
with this server's own Origin on every POST, as a browser sends it.

``@pytest.mark.slow`` tests here (the asset build, which needs the npm registry) run
only when asked for: ``-m slow`` or ``TALKSTATS_SLOW=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from talkstats.service import Talkstats
from talkstats.store import Account
from talkstats.web.app import create_app
from talkstats.web.live import Pause
from tests.api.conftest import ADMIN, AGENT, END_USER, Client, FakeClock, basic, build

BASE = "http://acme.talkstats.test"
ORIGIN = {"Origin": BASE}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("TALKSTATS_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or TALKSTATS_SLOW=1")
    for item in items:
        if "slow" in item.keywords and "tests/web" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)


@dataclass
class Web:
    client: Client
    service: Talkstats
    clock: FakeClock
    acme: Account

    def signin(self, email: str, password: str, **kw: Any) -> httpx.Response:
        headers = {**ORIGIN, **kw.pop("headers", {})}
        return self.client.post(
            "/wallboard/signin",
            data={"email": email, "password": password, **kw.pop("data", {})},
            headers=headers,
            **kw,
        )

    def api(self, method: str, path: str, who: tuple[str, str] = ADMIN, **kw: Any) -> Any:
        return self.client.request(method, path, headers=basic(*who), **kw)


@pytest.fixture
def make_web(tmp_path: Path) -> Iterator[Callable[..., Web]]:
    opened: list[tuple[Client, Talkstats]] = []

    def make(
        base: str = BASE, path: Path | None = None, pause: Pause | None = None, **settings: Any
    ) -> Web:
        where = path or tmp_path / f"web{len(opened)}"
        where.mkdir(exist_ok=True)
        if (where / "talkstats.db").exists():
            service, clock, acme = reopen(where, settings)
        else:
            service, clock, acme, _ = build(where, settings)
        client = Client(create_app(service, pause=pause), base)
        opened.append((client, service))
        return Web(client, service, clock, acme)

    yield make
    for client, service in opened:
        client.close()
        service.close()


def reopen(where: Path, settings: dict[str, Any]) -> tuple[Talkstats, FakeClock, Account]:
    """The same database in a new service: a server restart."""
    from talkstats.config import load_settings
    from talkstats.store import SQLiteStore
    from tests.api.conftest import CHEAP, local_ns

    clock = FakeClock(local_ns("08:00:00"))
    service = Talkstats(
        SQLiteStore(where / "talkstats.db"),
        load_settings(settings, environ={}),
        clock=clock,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )
    account = service.account("acme")
    assert account is not None
    return service, clock, account


@pytest.fixture
def web(make_web: Callable[..., Web]) -> Web:
    return make_web()


__all__ = ["ADMIN", "AGENT", "BASE", "END_USER", "ORIGIN", "Web"]
