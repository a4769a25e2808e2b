"""Crash safety: SIGKILL the server mid-stream; every acknowledged event survives, once.

A client thread streams batches of valid traffic and records which were acknowledged
(200, every event accepted). The test kills the server after a fixed number of
acknowledgements (not at a random time), restarts it on the same database, and checks
that the day's totals count every acknowledged call exactly once (plus, at most, the
one batch that was in flight), and that re-sending everything yields `duplicate` for
the acknowledged batches and `accepted` for the rest, after which the totals are exact.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("America/New_York")
BATCHES = 200
CALLS_PER_BATCH = 9  # 9 calls x 5 events + 5 agent state changes = 50 events
AGENTS = 5
KILL_AFTER = 60  # acknowledged batches before the SIGKILL
EVENTS = "/api/v2/channels/voice/events"
OVERVIEW = "/api/v2/channels/voice/stats/account_overview"


def build_batches(
    agents: list[int], number: int, start: datetime, count: int = BATCHES
) -> list[list[dict[str, Any]]]:
    """Valid traffic: each batch toggles every agent's state, then 9 complete calls.

    Time advances 100 ms per event (200 batches: under 17 minutes of yesterday's noon
    hour), and every call and agent sees its events in order.
    """
    step = timedelta(milliseconds=100)
    clock = start
    batches = []
    for b in range(count):
        batch: list[dict[str, Any]] = []

        def add(event: dict[str, Any], b: int = b, batch: list[dict[str, Any]] = batch) -> None:
            nonlocal clock
            clock += step
            batch.append(
                {
                    "id": f"b{b}-e{len(batch)}",
                    "time": clock.astimezone(ZoneInfo("UTC")).isoformat(),
                    **event,
                }
            )

        for agent in agents:
            add(
                {
                    "type": "agent.state_changed",
                    "agent_id": agent,
                    "state": "online" if b % 2 == 0 else "away",
                }
            )
        for c in range(CALLS_PER_BATCH):
            call = f"b{b}-c{c}"
            agent = agents[c % len(agents)]
            add(
                {
                    "type": "call.started",
                    "call_id": call,
                    "direction": "inbound",
                    "phone_number_id": number,
                }
            )
            add({"type": "call.queued", "call_id": call})
            add({"type": "call.answered", "call_id": call, "agent_id": agent})
            add({"type": "call.ended", "call_id": call})
            add({"type": "call.wrap_up_ended", "call_id": call, "agent_id": agent})
        batches.append(batch)
    return batches


class Streamer(threading.Thread):
    """Posts the batches in order until one fails; records the acknowledged ones."""

    def __init__(self, url: str, batches: list[list[dict[str, Any]]]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.batches = batches
        self.acknowledged: list[int] = []
        self.attempted = 0
        self.reached = threading.Event()
        self.failure: str | None = None

    def run(self) -> None:
        session = requests.Session()
        session.auth = ADMIN
        try:
            for index, batch in enumerate(self.batches):
                self.attempted = index + 1
                response = session.post(f"{self.url}{EVENTS}", json={"events": batch}, timeout=30)
                body = response.json()
                if response.status_code != 200 or body["accepted"] != len(batch):
                    self.failure = f"batch {index}: {response.status_code} {body}"
                    return
                self.acknowledged.append(index)
                if len(self.acknowledged) == KILL_AFTER:
                    self.reached.set()
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            self.failure = f"connection lost: {type(exc).__name__}"
        finally:
            self.reached.set()


def total_calls(session: requests.Session, url: str, day: str) -> int:
    response = session.get(f"{url}{OVERVIEW}.json", params={"date": day}, timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["account_overview"]["total_calls"])


def test_acknowledged_events_survive_a_crash_exactly_once(server: Server) -> None:
    admin = requests.Session()
    admin.auth = ADMIN
    agents = []
    for n in range(AGENTS):
        created = admin.post(
            f"{server.url}/api/v2/users",
            timeout=10,
            json={"user": {"name": f"Agent {n}", "email": f"agent{n}@acme.test", "role": "agent"}},
        )
        assert created.status_code == 201, created.text
        agents.append(created.json()["user"]["id"])
    created = admin.post(
        f"{server.url}/api/v2/channels/voice/phone_numbers",
        timeout=10,
        json={"phone_number": {"number": "+12125550100", "name": "Main"}},
    )
    assert created.status_code == 201, created.text
    number = created.json()["phone_number"]["id"]

    yesterday = datetime.now(ZONE).date() - timedelta(days=1)
    start = datetime.combine(yesterday, datetime.min.time(), ZONE).replace(hour=12)
    batches = build_batches(agents, number, start)
    day = yesterday.isoformat()

    streamer = Streamer(server.url, batches)
    streamer.start()
    assert streamer.reached.wait(timeout=60), "the stream never reached the kill point"
    server.kill()
    streamer.join(timeout=60)
    assert not streamer.is_alive()
    acknowledged = streamer.acknowledged
    assert len(acknowledged) >= KILL_AFTER, streamer.failure
    assert acknowledged == list(range(len(acknowledged)))  # in order, none skipped
    assert len(acknowledged) < BATCHES, "the kill came after the whole stream"

    url = server.start()
    counted = total_calls(admin, url, day)
    acked_calls = len(acknowledged) * CALLS_PER_BATCH
    # every acknowledged call once; the in-flight batch (never acknowledged) may have
    # been committed just before the kill, as a whole or not at all
    assert counted in (acked_calls, acked_calls + CALLS_PER_BATCH), (counted, acked_calls)

    in_flight_committed = counted > acked_calls
    for index, batch in enumerate(batches):
        response = admin.post(f"{url}{EVENTS}", json={"events": batch}, timeout=30)
        assert response.status_code == 200, response.text
        statuses = {r["status"] for r in response.json()["results"]}
        if index in acknowledged or (in_flight_committed and index == len(acknowledged)):
            assert statuses == {"duplicate"}, (index, statuses)
        else:
            assert statuses == {"accepted"}, (index, response.json())
    assert total_calls(admin, url, day) == BATCHES * CALLS_PER_BATCH

    # and after a clean restart (snapshot + log tail) the totals are the same
    assert server.stop() == 0, server.stderr()
    url = server.start()
    assert total_calls(admin, url, day) == BATCHES * CALLS_PER_BATCH
    assert server.stop() == 0, server.stderr()
