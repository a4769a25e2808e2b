"""A server following a log that another process writes: lag, idle rounds, wake-ups.

The other process is a second service on the same SQLite file (as `talkstats ingest`
or another worker would be). The server's background rounds are set an hour apart and
the store's watcher is off, so only the test's explicit ``tick()`` or ``wake()`` moves
it, except in the test of the watcher itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from talkstats.api.app import create_app
from talkstats.service import Talkstats

from .conftest import build, local_ns
from .test_isolation import STATS, _restart, acme, events, until_ok

IDLE = 3600.0  # seconds between background rounds: never, in a test


def no_watch(wake: Callable[[int], None]) -> Callable[[], None]:
    return lambda: None


@asynccontextmanager
async def quiet_server(
    service: Talkstats, *, watch: bool = False
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan started (background rounds an hour apart, and without
    the store's wake-ups unless ``watch``), and a client."""
    if not watch:
        service.watch = no_watch  # type: ignore[method-assign]
    app = create_app(service)
    app.state.upkeep.interval = IDLE
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x.test") as client:
            assert await until_ok(client, {"url": "/readyz"}) == 200
            await app.state.upkeep.tick()  # waits for the first round, which may still run
            yield app, client


def agent_state(response: httpx.Response) -> str:
    rows = response.json()["agents_activity"]
    return str(next(row for row in rows if row["agent_id"] == 2)["agent_state"])


async def state_within(client: httpx.AsyncClient, wanted: str, *, tries: int) -> str:
    """Agent 2's state, polled every 10 ms until it is ``wanted`` or the tries run out."""
    state = ""
    for _ in range(tries):
        state = agent_state(await client.get(**acme(f"{STATS}/agents_activity")))
        if state == wanted:
            break
        await asyncio.sleep(0.01)
    return state


def test_readyz_reports_the_lag_and_fails_above_the_limit(tmp_path: Path) -> None:
    service, clock, account, _ = build(tmp_path, {"readyz_max_events_behind": 4})
    clock.now_ns = local_ns("09:00:00")
    other = _restart(tmp_path, clock)

    async def scenario() -> None:
        async with quiet_server(service) as (app, client):
            batch = events(5)
            assert other.ingest(account, batch[:3]).accepted == 3
            r = await client.get("/readyz")
            assert r.status_code == 200
            assert r.json() == {
                "status": "ready",
                "pid": os.getpid(),
                "events_behind": 3,
                "accounts_behind": {"acme": 3},
            }
            metrics = (await client.get("/metrics")).text
            assert 'talkstats_events_behind{account="acme"} 3.0' in metrics
            assert 'talkstats_events_behind{account="other"} 0.0' in metrics

            assert other.ingest(account, batch[3:]).accepted == 2
            r = await client.get("/readyz")
            assert r.status_code == 503 and "retry-after" in r.headers
            body = r.json()
            assert body["error"] == "ServiceUnavailable" and body["status"] == "behind"
            assert body["events_behind"] == 5 and body["accounts_behind"] == {"acme": 5}

            await app.state.upkeep.tick()
            r = await client.get("/readyz")
            assert r.status_code == 200 and r.json()["events_behind"] == 0
            assert r.json()["accounts_behind"] == {}

    asyncio.run(scenario())
    other.close()
    service.close()


def test_a_limit_of_zero_never_fails_readiness_for_lag(tmp_path: Path) -> None:
    service, clock, account, _ = build(tmp_path, {"readyz_max_events_behind": 0})
    clock.now_ns = local_ns("09:00:00")
    other = _restart(tmp_path, clock)

    async def scenario() -> None:
        async with quiet_server(service) as (_, client):
            assert other.ingest(account, events(30)).accepted == 30
            r = await client.get("/readyz")
            assert r.status_code == 200 and r.json()["events_behind"] == 30

    asyncio.run(scenario())
    other.close()
    service.close()


def test_an_idle_round_reads_nothing_but_the_change_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, clock, account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    other = _restart(tmp_path, clock)
    reads: list[str] = []
    store = service.store
    for name in ("log_heads", "list_accounts"):
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            reads.append(_name)
            return _real(*args)

        monkeypatch.setattr(store, name, counted)

    async def scenario() -> None:
        async with quiet_server(service) as (app, client):
            upkeep = app.state.upkeep
            await upkeep.tick()  # a full round: records the mark
            reads.clear()
            for _ in range(3):
                await upkeep.tick()
            assert reads == [], "nothing was committed: no store reads"

            assert other.ingest(account, events(3)).accepted == 3
            await upkeep.tick()
            assert "log_heads" in reads and "list_accounts" in reads
            r = await client.get(**acme(f"{STATS}/agents_activity"))
            assert agent_state(r) == "online"  # event 2 of 3

            await upkeep.tick()  # the round's own record writes moved the mark once
            reads.clear()
            await upkeep.tick()
            assert reads == []

    asyncio.run(scenario())
    other.close()
    service.close()


def test_a_notification_catches_the_account_up_between_rounds(tmp_path: Path) -> None:
    service, clock, account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    other = _restart(tmp_path, clock)

    async def scenario() -> None:
        async with quiet_server(service) as (app, client):
            r = await client.get(**acme(f"{STATS}/agents_activity"))
            assert agent_state(r) == "offline"
            assert other.ingest(account, events(2)).accepted == 2
            app.state.upkeep.wake(account.id)  # what a store's listener calls
            # bounded: the follower runs as soon as the loop lets it
            assert await state_within(client, "away", tries=200) == "away"  # without a round

    asyncio.run(scenario())
    other.close()
    service.close()


def test_the_store_watcher_wakes_the_follower_without_a_round(tmp_path: Path) -> None:
    service, clock, account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    other = _restart(tmp_path, clock)

    async def scenario() -> None:
        async with quiet_server(service, watch=True) as (_, client):
            assert other.ingest(account, events(2)).accepted == 2
            # bounded poll: the watcher looks every 50 ms
            assert await state_within(client, "away", tries=2000) == "away"

    asyncio.run(scenario())
    other.close()
    service.close()
