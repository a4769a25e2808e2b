"""Several `talkstats serve` processes on one PostgreSQL database, and what they answer.

Used by the multi-process tests: start the processes, give the account agents, phone
numbers and groups through one of them, build events on yesterday's clock, and read
every statistics endpoint (under every filter) from each process, so that their
answers can be compared byte for byte.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

ZONE = ZoneInfo("America/New_York")
EVENTS = "/api/v2/channels/voice/events"
STATS = "/api/v2/channels/voice/stats"
# Processes answer without a rate limit: the tests read every endpoint many times.
UNLIMITED = {"TALKSTATS_RATE_LIMIT_TALK": "0", "TALKSTATS_RATE_LIMIT_QUEUE_ACTIVITY": "0"}
CONVERGE_S = 30.0  # deadline for processes to agree (they follow the log every 0.5 s)
POLL_S = 0.1
CALLS_PER_BATCH = 4

Event = dict[str, Any]


def start(database: str, workdir: Path, count: int) -> list[Server]:
    """``count`` servers on the database, each on a port of its own, all ready."""
    servers = []
    for n in range(count):
        where = workdir / f"process-{n}"
        where.mkdir(parents=True, exist_ok=True)
        server = Server(database, where, env=UNLIMITED)
        servers.append(server)
        server.start()
    return servers


def session() -> requests.Session:
    s = requests.Session()
    s.auth = ADMIN
    return s


class Reference:
    """The account's agents, phone numbers and groups, created through one server."""

    def __init__(self, url: str, agents: int, numbers: int = 2, groups: int = 2) -> None:
        s = session()
        self.agents: list[int] = []
        for n in range(agents):
            user = {"name": f"Agent {n}", "email": f"agent{n}@acme.test", "role": "agent"}
            self.agents.append(_create(s, f"{url}/api/v2/users", "user", user))
        self.numbers = [
            _create(
                s,
                f"{url}/api/v2/channels/voice/phone_numbers",
                "phone_number",
                {"number": f"+1212555{n:04d}", "name": f"Line {n}"},
            )
            for n in range(numbers)
        ]
        self.groups = [
            _create(s, f"{url}/api/v2/groups", "group", {"name": f"Group {n}"})
            for n in range(groups)
        ]
        for i, agent in enumerate(self.agents):
            membership = {"user_id": agent, "group_id": self.groups[i % len(self.groups)]}
            _create(s, f"{url}/api/v2/group_memberships", "group_membership", membership)

    def await_seen_by(self, servers: Iterable[Server]) -> None:
        """Wait until every server knows every agent (another process created them)."""
        s = session()
        for server in servers:
            wait_for(
                lambda server=server: all(  # type: ignore[misc]
                    s.get(
                        f"{server.url}/api/v2/channels/voice/availabilities/{a}", timeout=10
                    ).status_code
                    == 200
                    for a in self.agents
                ),
                f"{server.url} to see the agents",
            )


def _create(s: requests.Session, url: str, key: str, fields: dict[str, Any]) -> int:
    response = s.post(url, json={key: fields}, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()[key]["id"])


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = CONVERGE_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


class Clock:
    """Yesterday's local time, from a given hour, one step per event (thread-confined)."""

    def __init__(self, hour: int, minute: int = 0) -> None:
        yesterday = datetime.now(ZONE).date() - timedelta(days=1)
        self.day = yesterday.isoformat()
        self.now = datetime.combine(yesterday, datetime.min.time(), ZONE).replace(
            hour=hour, minute=minute
        )

    def tick(self) -> str:
        self.now += timedelta(milliseconds=250)
        return self.now.astimezone(ZoneInfo("UTC")).isoformat()


def complete_calls(
    agents: list[int], number: int, clock: Clock, prefix: str, batches: int
) -> list[list[Event]]:
    """Batches of whole calls (started, queued, answered, ended, wrapped up)."""
    out = []
    for b in range(batches):
        batch: list[Event] = []

        def add(event_id: str, b: int = b, batch: list[Event] = batch, **fields: Any) -> None:
            batch.append({"id": f"{prefix}{b}-{event_id}", "time": clock.tick(), **fields})

        for c in range(CALLS_PER_BATCH):
            call, agent = f"{prefix}{b}-c{c}", agents[c % len(agents)]
            add(
                f"c{c}-s",
                type="call.started",
                call_id=call,
                direction="inbound",
                phone_number_id=number,
            )
            add(f"c{c}-q", type="call.queued", call_id=call)
            add(f"c{c}-a", type="call.answered", call_id=call, agent_id=agent)
            add(f"c{c}-e", type="call.ended", call_id=call)
            add(f"c{c}-w", type="call.wrap_up_ended", call_id=call, agent_id=agent)
        out.append(batch)
    for agent in agents:
        out[-1].append(
            {
                "id": f"{prefix}off-{agent}",
                "time": clock.tick(),
                "type": "agent.state_changed",
                "agent_id": agent,
                "state": "offline",
            }
        )
    return out


def paths(ref: Reference, day: str) -> list[str]:
    """Every statistics read under every filter (docs/api.md), for now and for ``day``."""
    numbers, groups = ref.numbers, ref.groups
    number_filters = [str(n) for n in numbers] + [",".join(map(str, numbers))]
    group_filters = [str(g) for g in groups] + [",".join(map(str, groups))]
    out: list[str] = []
    for date in ("", f"date={day}&"):
        out.append(f"{STATS}/account_overview?{date}")
        out += [f"{STATS}/account_overview?{date}phone_number_ids={f}" for f in number_filters]
        out.append(f"{STATS}/agents_overview?{date}")
        out += [f"{STATS}/agents_activity?{date}per_page=3&page={p}" for p in range(1, 5)]
        out += [f"{STATS}/agents_activity?{date}group_ids={f}" for f in group_filters]
        for threshold in (0, 20):
            out.append(f"{STATS}/service_level?{date}threshold={threshold}")
            out += [
                f"{STATS}/service_level?{date}threshold={threshold}&phone_number_ids={f}"
                for f in number_filters
            ]
        for interval in ("5m", "60m"):
            out.append(f"{STATS}/timeline?{date}interval={interval}")
            out += [
                f"{STATS}/timeline?{date}interval={interval}&phone_number_ids={f}"
                for f in number_filters
            ]
    out.append(f"{STATS}/current_queue_activity")
    out += [f"{STATS}/current_queue_activity?phone_number_ids={f}" for f in number_filters]
    out += [f"/api/v2/channels/voice/availabilities/{a}" for a in ref.agents]
    return out


def answers(server: Server, reads: Sequence[str]) -> dict[str, str]:
    """Every read's body, with the server's own address (in page links) made neutral."""
    s = session()
    where = server.url.split("://", 1)[1]
    out = {}
    for path in reads:
        response = s.get(f"{server.url}{path}", timeout=10)
        assert response.status_code == 200, (server.url, path, response.text)
        out[path] = response.text.replace(where, "SERVER")
    return out


def agreed(servers: Sequence[Server], reads: Sequence[str]) -> dict[str, str]:
    """Poll until every server gives identical answers to every read; those answers."""
    last: list[dict[str, str]] = []

    def same() -> bool:
        nonlocal last
        last = [answers(server, reads) for server in servers]
        return all(a == last[0] for a in last[1:])

    try:
        wait_for(same, "every process to give the same statistics")
    except AssertionError:
        differing = [p for p in reads if len({a[p] for a in last}) > 1]
        raise AssertionError(f"{len(differing)} reads differ, first: {differing[:3]}") from None
    return last[0]


class Retries:
    """How many 503s the writers were told to retry (thread-safe)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


RETRIES = Retries()


def post(s: requests.Session, url: str, events: Sequence[Event]) -> requests.Response:
    """Post a batch; a 503 (with Retry-After, as a client must honour it) is sent again.

    A process answers 503 when the log kept moving under a batch (other processes
    appending to the same account) or while its projection is rebuilt; nothing of
    such a batch was acknowledged, so sending it again is what a client does.
    """
    end = time.monotonic() + CONVERGE_S
    while True:
        response = s.post(f"{url}{EVENTS}", json={"events": list(events)}, timeout=30)
        if response.status_code != 503 or time.monotonic() > end:
            return response
        assert int(response.headers["Retry-After"]) > 0, response.headers
        RETRIES.add()
        time.sleep(POLL_S)
