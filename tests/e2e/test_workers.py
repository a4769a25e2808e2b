"""`talkstats serve --workers 2`: two real worker processes on one socket and one log.

The kernel hands each new connection to one worker and a connection stays with it, so
a test reaches a chosen worker through a connection whose `/readyz` answered with that
worker's pid (checked again after each request: an idle connection that the server
closed is opened anew, perhaps to the other worker). Waits are bounded polls for a
condition, never sleeps.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import POLL, Server
from tests.e2e.test_crash import CALLS_PER_BATCH, EVENTS, OVERVIEW, ZONE, build_batches

pytestmark = pytest.mark.e2e

DEADLINE = 30.0  # seconds: the bound of every poll (a loaded CI machine; usually < 1 s)


class Worker:
    """Requests that are answered by one chosen worker process."""

    def __init__(self, url: str, pid: int, session: requests.Session) -> None:
        self.url = url
        self.pid = pid
        self.session = session

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if _pid(self.session, self.url) == self.pid:
                response = self.session.request(method, f"{self.url}{path}", timeout=30, **kw)
                if _pid(self.session, self.url) == self.pid:
                    return response
            self.session.close()  # that connection reached another worker: try another
            self.session = _session()
        raise AssertionError(f"worker {self.pid} could not be reached")


def _session() -> requests.Session:
    session = requests.Session()
    session.auth = ADMIN
    return session


def _pid(session: requests.Session, url: str) -> int | None:
    """The pid of the worker holding this connection, if it is ready."""
    try:
        response = session.get(f"{url}/readyz", timeout=10)
    except (requests.ConnectionError, requests.Timeout):
        return None
    return int(response.json()["pid"]) if response.status_code == 200 else None


def workers(url: str, count: int, *, exclude: frozenset[int] = frozenset()) -> list[Worker]:
    """One connection to each of ``count`` ready workers (none in ``exclude``)."""
    found: dict[int, Worker] = {}
    deadline = time.monotonic() + DEADLINE
    while len(found) < count and time.monotonic() < deadline:
        session = _session()
        pid = _pid(session, url)
        if pid is None or pid in found or pid in exclude:
            session.close()
            time.sleep(POLL)  # a new connection may reach the same worker: poll again
            continue
        found[pid] = Worker(url, pid, session)
    assert len(found) == count, f"reached workers {sorted(found)}, wanted {count}"
    return list(found.values())


def total_calls(worker: Worker, day: str) -> int:
    response = worker.request("GET", f"{OVERVIEW}.json", params={"date": day})
    assert response.status_code == 200, response.text
    return int(response.json()["account_overview"]["total_calls"])


def await_total(worker: Worker, day: str, expected: int) -> None:
    """Poll the worker's reads until they count ``expected`` calls (bounded)."""
    deadline = time.monotonic() + DEADLINE
    seen = total_calls(worker, day)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(POLL)
        seen = total_calls(worker, day)
    assert seen == expected, f"worker {worker.pid} counts {seen} calls, not {expected}"


def post(worker: Worker, batch: list[dict[str, Any]]) -> None:
    response = worker.request("POST", EVENTS, json={"events": batch})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(batch), response.json()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_two_workers_share_the_log_restart_and_stop(database: str, tmp_path: Path) -> None:
    server = Server(
        database,
        tmp_path,
        args=["--port", "0", "--database", database, "--workers", "2", "--log-level", "info"],
    )
    try:
        url = server.start()
        first, second = workers(url, 2)

        # reference data created through one worker ...
        agents = []
        for n in range(3):
            created = first.request(
                "POST",
                "/api/v2/users",
                json={"user": {"name": f"Agent {n}", "email": f"a{n}@acme.test", "role": "agent"}},
            )
            assert created.status_code == 201, created.text
            agents.append(created.json()["user"]["id"])
        created = first.request(
            "POST",
            "/api/v2/channels/voice/phone_numbers",
            json={"phone_number": {"number": "+12125550100", "name": "Main"}},
        )
        assert created.status_code == 201, created.text
        number = created.json()["phone_number"]["id"]
        yesterday = datetime.now(ZONE).date() - timedelta(days=1)
        start = datetime.combine(yesterday, datetime.min.time(), ZONE).replace(hour=12)
        batches = build_batches(agents, number, start, count=4)
        day = yesterday.isoformat()

        # ... validates events ingested through the other; each worker reads what the
        # other acknowledged
        post(second, batches[0])
        await_total(first, day, CALLS_PER_BATCH)
        post(first, batches[1])
        await_total(second, day, 2 * CALLS_PER_BATCH)

        # a worker killed with -9 is restarted, and catches up with what the other
        # acknowledged meanwhile
        os.kill(first.pid, signal.SIGKILL)
        post(second, batches[2])
        (restarted,) = workers(url, 1, exclude=frozenset({first.pid, second.pid}))
        await_total(restarted, day, 3 * CALLS_PER_BATCH)
        post(restarted, batches[3])
        await_total(second, day, 4 * CALLS_PER_BATCH)
        assert not alive(first.pid)

        # SIGTERM to the parent stops every worker gracefully, each snapshotting
        assert server.stop() == 0, server.stderr()
        stderr = server.stderr()
        assert f"(pid {first.pid}) exited with signal SIGKILL; restarting it" in stderr
        assert stderr.count("stopped; projections snapshotted") == 2  # each worker
        assert "talkstats stopped" in stderr  # and the supervisor
        assert not alive(second.pid) and not alive(restarted.pid)

        # and a single process on the same log counts every call once
        single = Server(database, tmp_path / "single")
        (tmp_path / "single").mkdir()
        try:
            single_url = single.start()
            (only,) = workers(single_url, 1)
            assert total_calls(only, day) == 4 * CALLS_PER_BATCH
            assert single.stop() == 0
        finally:
            single.close()
    finally:
        server.close()
