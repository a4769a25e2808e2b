"""Accounts do not wait for each other, and loading never blocks the event loop.

The app runs with its lifespan (background loading and log following) on a real SQLite
file. Slowness is made deterministic: a hook holds one account's ingestion or load on
a threading.Event while the test checks what every other request gets. Nothing here
measures time; a request that would be blocked makes the test fail by timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest

from talkstats.api.app import create_app
from talkstats.config import load_settings
from talkstats.service import Talkstats
from talkstats.service import ingest as ingestion
from talkstats.store import SQLiteStore
from talkstats.store.base import NewUser

from .conftest import ADMIN, CHEAP, OTHER_ADMIN, FakeClock, basic, build, local_iso, local_ns

STATS = "/api/v2/channels/voice/stats"
GUARD = 30  # seconds: a request that would be blocked fails the test instead of hanging


@asynccontextmanager
async def running(service: Talkstats) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan started, and a client for it."""
    app = create_app(service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x.test") as client:
            yield app, client


def acme(path: str) -> dict[str, Any]:
    return {"url": path, "headers": {**basic(*ADMIN), "Host": "acme.talkstats.test"}}


def other(path: str) -> dict[str, Any]:
    return {"url": path, "headers": {**basic(*OTHER_ADMIN), "Host": "other.talkstats.test"}}


def events(n: int, prefix: str = "e") -> list[dict[str, Any]]:
    """n agent state changes of agent 2 (acme), one a second from 08:00."""
    out = []
    for i in range(n):
        clock = f"08:{i // 60 % 60:02d}:{i % 60:02d}"
        out.append(
            {
                "id": f"{prefix}{i}",
                "type": "agent.state_changed",
                "time": local_iso(clock),
                "agent_id": 2,
                "state": "online" if i % 2 == 0 else "away",
            }
        )
    return out


async def until_ok(client: httpx.AsyncClient, request: dict[str, Any]) -> int:
    """Poll a request until it answers 200 (readiness polling, not waiting for time)."""
    status = 0
    for _ in range(GUARD * 20):
        status = (await client.get(**request)).status_code
        if status == 200:
            break
        await asyncio.sleep(0.05)
    return status


async def wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, GUARD), "the hook was never reached"


def test_a_slow_batch_in_one_account_does_not_hold_up_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, clock, acme_account, other_account = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    inside, release = threading.Event(), threading.Event()
    real_run = ingestion._Batch.run

    def slow_run(batch: Any) -> Any:  # folding and committing: acme's lock is held
        if batch.account.subdomain == "acme":
            inside.set()
            release.wait(GUARD)
        return real_run(batch)

    monkeypatch.setattr(ingestion._Batch, "run", slow_run)

    async def scenario() -> None:
        async with running(service) as (app, client):
            ctx = app.state.context
            post = asyncio.create_task(
                client.post(**acme("/api/v2/channels/voice/events"), json={"events": events(10)})
            )
            await wait(inside)
            # acme's lock is held by its batch; other's reads answer all the same
            assert ctx.lock(acme_account.id).locked()
            for path in ("account_overview", "agents_activity", "current_queue_activity"):
                r = await asyncio.wait_for(client.get(**other(f"{STATS}/{path}")), GUARD)
                assert r.status_code == 200, r.text
            assert (await client.get("/healthz")).status_code == 200
            assert not post.done()
            release.set()
            r = await asyncio.wait_for(post, GUARD)
            assert r.status_code == 200 and r.json()["accepted"] == 10

    asyncio.run(scenario())
    service.close()


def test_reads_of_an_account_do_not_wait_for_its_batch_waiting_on_the_store(
    tmp_path: Path,
) -> None:
    """A batch waiting for the write lock (another process appending, say) or reading
    the store holds nothing the account's reads need; they answer from the projection
    as it stands, and the batch goes on once the lock is free."""
    service, clock, acme_account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    assert service.ingest(acme_account, events(4)).accepted == 4
    taken, release = threading.Event(), threading.Event()

    def another_writer() -> None:  # holds acme's write lock as another process would
        with service.store.write_lock(acme_account.id):
            taken.set()
            release.wait(GUARD)

    async def scenario() -> None:
        async with running(service) as (app, client):
            holder = threading.Thread(target=another_writer)
            holder.start()
            await wait(taken)
            post = asyncio.create_task(
                client.post(
                    **acme("/api/v2/channels/voice/events"), json={"events": events(14, "f")[4:]}
                )
            )
            for path in ("account_overview", "agents_activity", "current_queue_activity"):
                r = await asyncio.wait_for(client.get(**acme(f"{STATS}/{path}")), GUARD)
                assert r.status_code == 200, r.text
            r = await asyncio.wait_for(client.get(**acme(f"{STATS}/agents_activity")), GUARD)
            assert _state_of_agent_2(r.json()) == "away"  # of 4 events, the last: e3
            assert not post.done()  # still waiting for the write lock
            release.set()
            r = await asyncio.wait_for(post, GUARD)
            assert r.status_code == 200 and r.json()["accepted"] == 10
            await asyncio.to_thread(holder.join, GUARD)
            r = await client.get(**acme(f"{STATS}/agents_activity"))
            assert _state_of_agent_2(r.json()) == "away"  # f13

    asyncio.run(scenario())
    service.close()


def _state_of_agent_2(body: dict[str, Any]) -> str:
    (row,) = [row for row in body["agents_activity"] if row["agent_id"] == 2]
    return str(row["agent_state"])


def _restart(tmp_path: Path, clock: FakeClock, **settings: Any) -> Talkstats:
    return Talkstats(
        SQLiteStore(tmp_path / "talkstats.db"),
        load_settings(settings, environ={}),
        clock=clock,
        monotonic=clock.monotonic,
        hasher=CHEAP,
    )


def test_loading_runs_off_the_loop_and_answers_503_until_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, clock, _, _ = build(tmp_path, {})
    clock.now_ns = local_ns("10:00:00")
    acme_account = first.account("acme")
    assert acme_account is not None
    assert first.ingest(acme_account, events(300)).accepted == 300
    first.store.close()  # a crash: no snapshot at the log head

    service = _restart(tmp_path, clock)
    inside, release = threading.Event(), threading.Event()
    real_catch_up = service.runtimes.catch_up

    def slow_catch_up(account: Any, runtime: Any, progress: Any = None) -> int:
        if account.subdomain == "acme" and progress is not None:
            inside.set()
            release.wait(GUARD)
        return real_catch_up(account, runtime, progress)

    monkeypatch.setattr(service.runtimes, "catch_up", slow_catch_up)

    async def scenario() -> None:
        async with running(service) as (_, client):
            await wait(inside)
            assert (await client.get("/healthz")).status_code == 200
            # the other account loads beside it, and answers once loaded
            assert (await until_ok(client, other(f"{STATS}/account_overview"))) == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"] == "2"
            body = ready.json()
            assert body["status"] == "loading" and body["error"] == "ServiceUnavailable"
            assert body["accounts_loading"] == [
                {"account": "acme", "state": "loading", "events_left": 300}
            ]
            stats = await client.get(**acme(f"{STATS}/account_overview"))
            assert stats.status_code == 503 and stats.headers["retry-after"] == "2"
            assert "loading" in stats.json()["description"]
            post = await client.post(
                **acme("/api/v2/channels/voice/events"), json={"events": events(1, "x")}
            )
            assert post.status_code == 503
            release.set()
            assert (await until_ok(client, {"url": "/readyz"})) == 200
            stats = await client.get(**acme(f"{STATS}/agents_activity"))
            assert stats.status_code == 200
            agent = next(row for row in stats.json()["agents_activity"] if row["agent_id"] == 2)
            assert agent["agent_state"] == "away"  # event 299

    asyncio.run(scenario())
    service.close()


def test_the_upkeep_follows_what_another_process_writes(tmp_path: Path) -> None:
    service, clock, acme_account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    cli = _restart(tmp_path, clock)

    async def scenario() -> None:
        async with running(service) as (app, client):
            upkeep = app.state.upkeep
            assert cli.ingest(acme_account, events(3)).accepted == 3
            cli.create_user(acme_account, name="New", email="new@acme.test", role="agent", id=9)
            await upkeep.tick()
            r = await client.get(**acme(f"{STATS}/agents_activity"))
            rows = {row["agent_id"]: row for row in r.json()["agents_activity"]}
            assert rows[2]["agent_state"] == "online" and 9 in rows

    asyncio.run(scenario())
    cli.close()
    service.close()


def test_snapshots_are_taken_in_the_background_not_by_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, clock, acme_account, _ = build(tmp_path, {"snapshot_every_events": 5})
    clock.now_ns = local_ns("09:00:00")
    saved: list[int] = []
    real_save = service.store.save_snapshot

    def save(account_id: int, seq: int, version: str, blob: bytes) -> None:
        saved.append(seq)
        real_save(account_id, seq, version, blob)

    monkeypatch.setattr(service.store, "save_snapshot", save)

    async def scenario() -> None:
        async with running(service) as (app, client):
            r = await client.post(
                **acme("/api/v2/channels/voice/events"), json={"events": events(10)}
            )
            assert r.status_code == 200 and r.json()["accepted"] == 10
            assert saved == []  # not on the request path
            await app.state.upkeep.tick()
            assert saved == [service.store.log_head(acme_account.id)]

    asyncio.run(scenario())
    service.close()


def test_the_service_ingests_after_its_server_stopped(tmp_path: Path) -> None:
    """The CLI may ingest once the server's loop is gone (the demo ends its open calls
    on Ctrl-C): the account's lock went with the loop, and nothing waits for it."""
    service, clock, acme_account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")

    async def scenario() -> None:
        async with running(service) as (_, client):
            r = await client.post(
                **acme("/api/v2/channels/voice/events"), json={"events": events(2)}
            )
            assert r.json()["accepted"] == 2

    asyncio.run(scenario())
    assert service.ingest(acme_account, events(4)[2:]).accepted == 2
    service.close()


def test_writers_waiting_for_the_store_never_take_the_threads_a_lock_holder_needs(
    tmp_path: Path,
) -> None:
    """A batch waiting for the store's write lock sits in a thread of its own pool: a
    create that holds the account's lock still gets a thread of the shared pool, even
    when that pool has a single one (standing for a pool whose threads are all busy)."""
    service, clock, acme_account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    taken, release = threading.Event(), threading.Event()

    def another_writer() -> None:
        with service.store.write_lock(acme_account.id):
            taken.set()
            release.wait(GUARD)

    async def scenario() -> None:
        async with running(service) as (_, client):
            assert (await client.get(**acme(f"{STATS}/account_overview"))).status_code == 200
            shared = anyio.to_thread.current_default_thread_limiter()
            tokens, shared.total_tokens = shared.total_tokens, 1
            holder = threading.Thread(target=another_writer)
            holder.start()
            try:
                await wait(taken)
                post = asyncio.create_task(
                    client.post(**acme("/api/v2/channels/voice/events"), json={"events": events(2)})
                )
                create = asyncio.create_task(
                    client.post(**acme("/api/v2/groups"), json={"group": {"name": "Night"}})
                )
                r = await asyncio.wait_for(create, GUARD)  # not stuck behind the batch
                assert r.status_code == 201, r.text
                assert not post.done()  # still waiting for the write lock
                release.set()
                r = await asyncio.wait_for(post, GUARD)
                assert r.status_code == 200 and r.json()["accepted"] == 2
            finally:
                release.set()
                shared.total_tokens = tokens
                await asyncio.to_thread(holder.join, GUARD)

    asyncio.run(scenario())
    service.close()


def test_reference_data_created_while_a_follower_rebuilds_the_directory_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process adds an agent; while this one rebuilds its directory from the
    store, a create through this process waits for it, so neither agent is lost."""
    service, clock, acme_account, _ = build(tmp_path, {})
    clock.now_ns = local_ns("09:00:00")
    building, release = threading.Event(), threading.Event()
    real_directory = service.runtimes.directory

    def slow_directory(account: Any) -> Any:
        directory = real_directory(account)
        if not building.is_set():
            building.set()
            release.wait(GUARD)
        return directory

    async def scenario() -> None:
        async with running(service) as (app, client):
            assert (await client.get(**acme(f"{STATS}/account_overview"))).status_code == 200
            monkeypatch.setattr(service.runtimes, "directory", slow_directory)
            # another process adds agent 501
            service.store.create_user(
                acme_account.id, NewUser(501, "Ann", "ann@acme.test", "agent", None, None)
            )
            follower = asyncio.create_task(app.state.context.guarded(service.follow, acme_account))
            await wait(building)
            create = asyncio.create_task(
                client.post(
                    **acme("/api/v2/users"),
                    json={
                        "user": {"id": 502, "name": "Bo", "email": "bo@acme.test", "role": "agent"}
                    },
                )
            )
            r = await asyncio.wait_for(client.get(**other(f"{STATS}/account_overview")), GUARD)
            assert r.status_code == 200
            assert not create.done()  # waits for the rebuild: the account's lock is held
            release.set()
            await asyncio.wait_for(follower, GUARD)
            assert (await asyncio.wait_for(create, GUARD)).status_code == 201
            agents = service.loaded(acme_account).directory.agents  # type: ignore[union-attr]
            assert {501, 502} <= set(agents)
            for agent_id in (501, 502):
                r = await client.get(**acme(f"/api/v2/channels/voice/availabilities/{agent_id}"))
                assert r.status_code == 200, (agent_id, r.text)

    asyncio.run(scenario())
    service.close()
