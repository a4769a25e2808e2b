"""Three `talkstats serve` processes on one PostgreSQL database, written to at once.

Writers send conflicting events to different processes at the same moment (a barrier
releases both requests together): one call started by two events with different ids,
two agents answering the same waiting call, one agent answering two calls, one event
id sent twice. Other writers send traffic that conflicts with nothing, round robin.
Afterwards exactly one event of each conflicting pair was accepted (by the responses,
and by the log itself), every process answers every statistics read identically, and
so does a fresh process that replays the whole log (no snapshot). A process killed
with -9 under load leaves the others serving and acknowledging, and catches up with
them when it is started again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import fleet
from tests.e2e.fleet import CALLS_PER_BATCH, Clock, Event, Reference, complete_calls
from tests.e2e.harness import Server

psycopg = pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[test]'")

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database", ["postgres"], indirect=True)]

LANES = 4  # writers of conflicting pairs, each with agents of its own
ROUNDS = 5
AGENTS_PER_LANE = 3
NOISE_AGENTS = 2
NOISE_BATCHES = 30


@pytest.fixture
def processes(database: str, tmp_path: Path) -> Iterator[list[Server]]:
    servers = fleet.start(database, tmp_path, 3)
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


def logged(database: str) -> dict[str, str]:
    """event id -> body of every event in the log (the test's own schema)."""
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute("SELECT event_id, body FROM events").fetchall()
    return {bytes(i).decode(): body for i, body in rows}


def race(url_a: str, a: Event, url_b: str, b: Event) -> tuple[str, str]:
    """Post ``a`` and ``b`` to two servers at the same moment; their two statuses."""
    gate = threading.Barrier(2)
    statuses: list[str] = ["", ""]

    def send(slot: int, url: str, event: Event) -> None:
        s = fleet.session()
        gate.wait(timeout=30)
        response = fleet.post(s, url, [event])
        assert response.status_code == 200, response.text
        statuses[slot] = response.json()["results"][0]["status"]

    threads = [
        threading.Thread(target=send, args=(0, url_a, a)),
        threading.Thread(target=send, args=(1, url_b, b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses[0], statuses[1]


class Lane(threading.Thread):
    """Rounds of races on calls and agents that no other writer touches."""

    def __init__(self, lane: int, urls: list[str], agents: list[int], number: int) -> None:
        super().__init__(daemon=True)
        self.lane, self.urls, self.agents, self.number = lane, urls, agents, number
        self.clock = Clock(8, lane * 10)
        self.session = fleet.session()
        self.races: list[tuple[str, Event, str, Event, str]] = []  # kind, a, sa, b, sb
        self.failure: str | None = None
        self.sent = 0

    def url(self, n: int) -> str:
        return self.urls[n % len(self.urls)]

    def event(self, event_id: str, **fields: Any) -> Event:
        return {"id": f"l{self.lane}-{event_id}", "time": self.clock.tick(), **fields}

    def send(self, n: int, *events: Event) -> None:
        """Events that must be accepted (the lane's own calls, in order)."""
        response = fleet.post(self.session, self.url(n), events)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["accepted"] == len(events), body
        self.sent += len(events)

    def pair(self, kind: str, n: int, a: Event, b: Event) -> str:
        """Race ``a`` (to server n) against ``b`` (to server n + 1); the winner's id."""
        sa, sb = race(self.url(n), a, self.url(n + 1), b)
        self.races.append((kind, a, sa, b, sb))
        return str(a["id"] if sa == "accepted" else b["id"])

    def run(self) -> None:
        try:
            for r in range(ROUNDS):
                self.round(r)
            for agent in self.agents:  # nothing is left open: today's reads stay still
                self.send(
                    agent,
                    self.event(
                        f"off-{agent}", type="agent.state_changed", agent_id=agent, state="offline"
                    ),
                )
        except Exception as exc:  # reported by the test
            self.failure = f"lane {self.lane}: {type(exc).__name__}: {exc}"

    def round(self, r: int) -> None:
        a1, a2, a3 = self.agents
        call = f"l{self.lane}-r{r}"
        started = {
            "type": "call.started",
            "call_id": call,
            "direction": "inbound",
            "phone_number_id": self.number,
        }
        time = self.clock.tick()
        # one call started by two different events, at two servers
        self.pair(
            "start",
            r,
            {"id": f"{call}-start-a", "time": time, **started},
            {"id": f"{call}-start-b", "time": time, **started},
        )
        self.send(r + 2, self.event(f"r{r}-queued", type="call.queued", call_id=call))
        # two agents answer the same waiting call through two servers
        time = self.clock.tick()
        won = self.pair(
            "answer",
            r + 1,
            {
                "id": f"{call}-answer-a",
                "time": time,
                "type": "call.answered",
                "call_id": call,
                "agent_id": a1,
            },
            {
                "id": f"{call}-answer-b",
                "time": time,
                "type": "call.answered",
                "call_id": call,
                "agent_id": a2,
            },
        )
        winner = a1 if won.endswith("-a") else a2
        # one event id sent to two servers (the same event: one accepted, one duplicate)
        hold = self.event(f"r{r}-hold", type="call.hold_started", call_id=call)
        self.pair("same id", r + 2, hold, dict(hold))
        self.send(
            r,
            self.event(f"r{r}-unhold", type="call.hold_ended", call_id=call),
            self.event(f"r{r}-end", type="call.ended", call_id=call),
            self.event(f"r{r}-wrap", type="call.wrap_up_ended", call_id=call, agent_id=winner),
        )
        # one agent answers two waiting calls through two servers
        calls = [f"{call}-x", f"{call}-y"]
        for c in calls:
            self.send(
                r + 1,
                self.event(
                    f"{c}-start",
                    type="call.started",
                    call_id=c,
                    direction="inbound",
                    phone_number_id=self.number,
                ),
                self.event(f"{c}-queued", type="call.queued", call_id=c),
            )
        time = self.clock.tick()
        won = self.pair(
            "busy",
            r,
            {
                "id": f"{calls[0]}-answer",
                "time": time,
                "type": "call.answered",
                "call_id": calls[0],
                "agent_id": a3,
            },
            {
                "id": f"{calls[1]}-answer",
                "time": time,
                "type": "call.answered",
                "call_id": calls[1],
                "agent_id": a3,
            },
        )
        answered = calls[0] if won.startswith(calls[0]) else calls[1]
        self.send(
            r + 2,
            *[self.event(f"{c}-end", type="call.ended", call_id=c) for c in calls],
            self.event(
                f"{answered}-wrap", type="call.wrap_up_ended", call_id=answered, agent_id=a3
            ),
        )


class Streamer(threading.Thread):
    """Posts batches round robin over the servers; a server that does not answer is
    skipped and the batch sent to the next one (as a load balancer would)."""

    def __init__(self, servers: list[Server], batches: list[list[Event]], first: int) -> None:
        super().__init__(daemon=True)
        self.servers, self.batches, self.next = servers, batches, first
        self.acknowledged: list[tuple[int, str]] = []  # (batch, server url)
        self.failure: str | None = None
        self.on_ack: Callable[[], None] = lambda: None

    def run(self) -> None:
        s = fleet.session()
        try:
            for index, batch in enumerate(self.batches):
                for _ in range(50):
                    url = self.servers[self.next % len(self.servers)].url
                    self.next += 1
                    try:
                        response = fleet.post(s, url, batch)
                    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                        continue  # a killed server: the next one gets the batch
                    assert response.status_code == 200, response.text
                    statuses = {r["status"] for r in response.json()["results"]}
                    # re-sent after a kill: the first attempt may have been committed
                    assert statuses <= {"accepted", "duplicate"}, response.json()
                    self.acknowledged.append((index, url))
                    self.on_ack()
                    break
                else:
                    raise AssertionError(f"batch {index}: no server took it")
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"


def total_calls(body: str) -> int:
    return int(json.loads(body)["account_overview"]["total_calls"])


def assert_exactly_one_won(lanes: list[Lane], log: dict[str, str]) -> int:
    """Each race: one accepted, the other rejected (or a duplicate of the same event);
    the log holds the accepted event and not the rejected one. The number of races."""
    count = 0
    for lane in lanes:
        for kind, a, sa, b, sb in lane.races:
            count += 1
            if kind == "same id":
                assert sorted((sa, sb)) == ["accepted", "duplicate"], (kind, a["id"], sa, sb)
                assert a["id"] in log
                continue
            assert sorted((sa, sb)) == ["accepted", "rejected"], (kind, a["id"], sa, sb)
            winner, loser = (a, b) if sa == "accepted" else (b, a)
            assert winner["id"] in log and loser["id"] not in log, (kind, winner["id"])
    return count


def test_three_processes_accept_one_of_each_conflicting_pair_and_agree(
    database: str, processes: list[Server], tmp_path: Path
) -> None:
    """Three processes, racing writers: one of each conflicting pair, the same stats."""
    ref = Reference(processes[0].url, LANES * AGENTS_PER_LANE + NOISE_AGENTS)
    ref.await_seen_by(processes[1:])
    urls = [p.url for p in processes]
    lanes = [
        Lane(
            n, urls, ref.agents[n * AGENTS_PER_LANE : (n + 1) * AGENTS_PER_LANE], ref.numbers[n % 2]
        )
        for n in range(LANES)
    ]
    noise = Streamer(
        processes,
        complete_calls(ref.agents[-NOISE_AGENTS:], ref.numbers[1], Clock(14), "n", NOISE_BATCHES),
        first=0,
    )
    for writer in [*lanes, noise]:
        writer.start()
    for writer in [*lanes, noise]:
        writer.join(timeout=120)
        assert not writer.is_alive()
    assert [lane.failure for lane in lanes if lane.failure] == []
    assert noise.failure is None, noise.failure
    assert len(noise.acknowledged) == NOISE_BATCHES

    log = logged(database)
    races = assert_exactly_one_won(lanes, log)
    assert races == LANES * ROUNDS * 4
    expected = races + sum(lane.sent for lane in lanes)  # each race logs one event
    expected += sum(len(b) for b in noise.batches)
    assert len(log) == expected
    print(f"{races} races, {len(log)} events logged, {fleet.RETRIES.count} 503s retried so far")

    reads = fleet.paths(ref, lanes[0].clock.day)
    shared = fleet.agreed(processes, reads)
    overview = f"{fleet.STATS}/account_overview?date={lanes[0].clock.day}&"
    calls = LANES * ROUNDS * 3 + NOISE_BATCHES * CALLS_PER_BATCH
    assert total_calls(shared[overview]) == calls

    # a single process replaying the whole log (no snapshot) answers the same
    for server in processes:
        assert server.stop() == 0, server.stderr()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM snapshots")
    fresh = fleet.start(database, tmp_path / "fresh", 1)[0]
    try:
        assert fleet.answers(fresh, reads) == shared
    finally:
        fresh.close()


def test_a_process_killed_under_load_leaves_the_others_serving_and_catches_up(
    database: str, processes: list[Server]
) -> None:
    """kill -9 one of three processes under load; it catches up after a restart."""
    ref = Reference(processes[0].url, 6)
    ref.await_seen_by(processes[1:])
    acks = threading.Semaphore(0)
    streamers = []
    for n in range(3):
        pair = ref.agents[2 * n : 2 * n + 2]
        batches = complete_calls(pair, ref.numbers[n % 2], Clock(9 + n), f"s{n}-", 40)
        streamer = Streamer(processes, batches, first=n)
        streamer.on_ack = acks.release
        streamers.append(streamer)
    for streamer in streamers:
        streamer.start()
    for _ in range(15):  # a fixed number of acknowledgements, not a time
        assert acks.acquire(timeout=60), [s.failure for s in streamers]
    victim = processes[2]
    victim.kill()
    marks = [len(s.acknowledged) for s in streamers]
    reads = fleet.paths(ref, Clock(9).day)
    fleet.answers(processes[0], reads)  # the others keep serving reads
    for streamer in streamers:
        streamer.join(timeout=120)
        assert not streamer.is_alive()
        assert streamer.failure is None, streamer.failure
    survivors = {p.url for p in processes[:2]}
    for streamer, mark in zip(streamers, marks, strict=True):
        # (the first may be the victim's answer, read just before it died)
        after_kill = [url for _, url in streamer.acknowledged[mark + 1 :]]
        assert len(after_kill) > 10 and set(after_kill) <= survivors, after_kill

    log = logged(database)
    sent = {e["id"] for s in streamers for batch in s.batches for e in batch}
    assert sent <= set(log), "an acknowledged event is missing from the log"
    assert len(log) == len(sent)

    victim.start()  # a new port; it loads the log the others wrote meanwhile
    shared = fleet.agreed(processes, reads)
    overview = f"{fleet.STATS}/account_overview?date={Clock(9).day}&"
    assert total_calls(shared[overview]) == 3 * 40 * CALLS_PER_BATCH
