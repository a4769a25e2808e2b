"""The driver: batches, counts, loud rejections, HTTP sending, reference data, tidy-up."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import argon2
import pytest

from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, load_scenario, scenario_path
from talkstats.simulator.driver import (
    Driver,
    DriverError,
    HttpAdmin,
    HttpSink,
    ServiceSink,
    basic_authorization,
    close_open_calls,
    create_reference_data,
)
from talkstats.simulator.reference import reference_data
from talkstats.store import SQLiteStore

from .conftest import NS, at

START = at("2026-03-10T08:00")


@pytest.fixture
def clock() -> list[int]:
    return [START]


@pytest.fixture
def service(tmp_path: Path, clock: list[int]) -> Iterator[Talkstats]:
    svc = Talkstats(
        SQLiteStore(str(tmp_path / "t.db"), create=True),
        Settings(),
        clock=lambda: clock[0],
        monotonic=lambda: clock[0] / NS,
        hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    yield svc
    svc.close()


def _account(service: Talkstats, scenario: str = "help-desk") -> Any:
    s = load_scenario(scenario_path(scenario))
    account = service.create_account(
        "acme", s.timezone, "professional", admin_email="admin@acme.example", admin_password="pw"
    )
    create_reference_data(service, account, reference_data(s))
    return account


def _events(hours: float, seed: int = 1) -> list[dict[str, Any]]:
    sim = Simulator(load_scenario(scenario_path("help-desk")), seed, START)
    return sim.advance(START + round(hours * 3600) * NS)


def test_batches_and_counts_into_the_service(service: Talkstats, clock: list[int]) -> None:
    account = _account(service)
    events = _events(4)
    clock[0] = START + 4 * 3600 * NS
    warnings: list[str] = []
    driver = Driver(ServiceSink(service, account), batch_size=100, warn=warnings.append)
    report = driver.send(events)
    assert (report.sent, report.accepted, report.rejected) == (len(events), len(events), 0)
    assert report.batches == -(-len(events) // 100)
    report = driver.send(events[:50])  # re-sending is acknowledged, not counted twice
    assert (report.accepted, report.duplicates) == (len(events), 50)
    assert warnings == []


def test_every_rejection_is_reported_with_the_event(service: Talkstats, clock: list[int]) -> None:
    account = _account(service)
    clock[0] = START + 3600 * NS
    warnings: list[str] = []
    driver = Driver(ServiceSink(service, account), warn=warnings.append)
    bad = [
        {"id": "x1", "type": "call.ended", "time": "2026-03-10T08:00:01Z", "call_id": "nope"},
        {"id": "x2", "type": "agent.state_changed", "time": "2026-03-10T08:00:01Z",
         "agent_id": 101, "state": "online"},
        {"id": "x3", "type": "agent.state_changed", "time": "2026-03-10T12:00:01Z",
         "agent_id": 102, "state": "online"},  # more than 300 s ahead of the clock
    ]  # fmt: skip
    report = driver.send(bad)
    assert (report.accepted, report.rejected) == (1, 2)
    assert [r.event_id for r in report.rejections] == ["x1", "x3"]
    assert warnings[0].startswith("REJECTED call.ended 'x1' at 2026-03-10T08:00:01Z: ")
    assert "call_id" in warnings[0]
    assert "300 seconds" in warnings[1]


def test_only_the_first_rejections_are_shown(service: Talkstats, clock: list[int]) -> None:
    account = _account(service)
    warnings: list[str] = []
    driver = Driver(ServiceSink(service, account), batch_size=7, warn=warnings.append)
    bad = [{"id": f"x{i}", "type": "call.ended", "time": "2026-03-10T08:00:01Z", "call_id": "no"}
           for i in range(50)]  # fmt: skip
    report = driver.send(bad)
    assert (report.rejected, len(report.rejections), report.unshown) == (50, 20, 30)
    assert len(warnings) == 21 and warnings[19].startswith("REJECTED call.ended 'x19'")
    assert warnings[20] == "more rejections: only the first 20 are shown, the rest are counted"
    assert report.summary().endswith("50 rejected (the first 20 shown)")


def test_reference_data_is_created_once(service: Talkstats) -> None:
    account = _account(service)
    ref = reference_data(load_scenario(scenario_path("help-desk")))
    again = create_reference_data(service, account, ref)
    assert again.created == {"agents": 0, "groups": 0, "memberships": 0, "phone_numbers": 0}
    assert again.existing == {"agents": 6, "groups": 2, "memberships": 9, "phone_numbers": 2}
    assert str(again) == (
        "created nothing; already there: 6 agents, 2 groups, 9 memberships, 2 phone numbers"
    )
    users = {u.id for u in service.store.list_users(account.id)}
    assert {a.id for a in ref.agents} <= users


def test_an_existing_group_gets_the_members_it_lacks(service: Talkstats) -> None:
    """A group made by hand with one member: the scenario's other members are added."""
    s = load_scenario(scenario_path("help-desk"))
    account = service.create_account(
        "acme", s.timezone, "professional", admin_email="admin@acme.example", admin_password="pw"
    )
    service.create_user(account, id=101, name="Ana", email="ana@helpdesk.example", role="agent")
    service.create_group(account, id=1, name="Support")
    service.add_membership(account, group_id=1, user_id=101)
    made = create_reference_data(service, account, reference_data(s))
    assert str(made) == (
        "created 5 agents, 1 group, 8 memberships, 2 phone numbers; "
        "already there: 1 agent, 1 group, 1 membership"
    )
    members = {m.user_id for m in service.store.list_memberships(account.id) if m.group_id == 1}
    assert members == set(range(101, 107))


def test_admin_may_be_a_scenario_agent_but_an_end_user_may_not(service: Talkstats) -> None:
    s = load_scenario(scenario_path("erlang-c"))
    account = service.create_account(
        "q", "UTC", "professional", admin_email="admin@q.example", admin_password="pw"
    )
    notes: list[str] = []
    made = create_reference_data(service, account, reference_data(s), note=notes.append)
    assert made.created["agents"] == 13 and "agent id 1 exists as admin@q.example" in notes[0]
    other = service.create_account(
        "r", "UTC", "professional", admin_email="admin@r.example", admin_password="pw"
    )
    service.create_user(other, id=2, name="Caller", email="c@r.example", role="end-user")
    with pytest.raises(DriverError, match="user id 2 .* is an end user"):
        create_reference_data(service, other, reference_data(s))


def test_close_open_calls_lets_a_new_run_start(service: Talkstats, clock: list[int]) -> None:
    """A run killed mid-day leaves calls open; the tidy-up events end them all."""
    account = _account(service, "bad-day")
    scenario = load_scenario(scenario_path("bad-day"))
    begin = at("2026-03-10T15:00")  # 10:00 in Chicago: the outage is in full swing
    sim = Simulator(scenario, 4, begin)
    stop = begin + 2 * 3600 * NS
    clock[0] = stop
    driver = Driver(ServiceSink(service, account))
    driver.send(sim.advance(stop))
    projection = service.projection(account)
    assert any(not c.ended for c in projection.calls.values())
    driver.send(close_open_calls(projection, stop, "tidy"))
    assert driver.report.rejected == 0
    assert projection.calls == {}
    assert all(a.call_status is None for a in projection.agents.values())
    # a new run from that instant is accepted in full
    later = stop + 3600 * NS
    clock[0] = later
    sim2 = Simulator(scenario, 5, stop + 1_000_000, id_prefix="run2")
    driver.send(sim2.advance(later))
    assert driver.report.rejected == 0


def test_basic_authorization() -> None:
    def decode(header: str) -> str:
        return base64.b64decode(header.removeprefix("Basic ")).decode()

    assert decode(basic_authorization("a@b.example", token="T0K")) == "a@b.example/token:T0K"
    assert decode(basic_authorization("a@b.example", password="pw")) == "a@b.example:pw"
    with pytest.raises(ValueError):
        basic_authorization("a@b.example")


# --- HTTP, against a small stand-in server ------------------------------------------------


class _Server:
    """Records requests; answers from a queue of (status, body, headers), else 200 {...}."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.replies: list[tuple[int, Any, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append((method, self.path, dict(self.headers), body))
                if outer.replies:
                    status, payload, headers = outer.replies.pop(0)
                else:
                    status, payload, headers = 200, outer.default(method, self.path, body), {}
                raw = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def default(self, method: str, path: str, body: Any) -> Any:
        if method == "POST" and path.startswith("/api/v2/channels/voice/events"):
            results = [
                {
                    "index": i,
                    "id": e["id"],
                    "status": "rejected" if e["id"].endswith("bad") else "accepted",
                }
                | (
                    {"error": f"event {e['id']!r}: field 'x': no"}
                    if e["id"].endswith("bad")
                    else {}
                )
                for i, e in enumerate(body["events"])
            ]
            rejected = sum(r["status"] == "rejected" for r in results)
            return {"results": results, "accepted": len(results) - rejected, "duplicates": 0,
                    "rejected": rejected}  # fmt: skip
        if method == "GET":
            key = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            return {key: [], "next_page": None}
        key = {"users": "user", "groups": "group", "group_memberships": "group_membership",
               "phone_numbers": "phone_number"}[path.rsplit("/", 1)[-1]]  # fmt: skip
        return {key: dict(next(iter(body.values())))}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def test_http_sink_posts_batches_with_credentials(server: _Server) -> None:
    auth = basic_authorization("admin@acme.example", token="abc")
    warnings: list[str] = []
    driver = Driver(HttpSink.connect(server.url, auth), batch_size=2, warn=warnings.append)
    events = [{"id": f"e{i}", "type": "x", "time": "t"} for i in range(3)] + [
        {"id": "e3-bad", "type": "call.ended", "time": "2026-03-10T08:00:00Z"}
    ]
    report = driver.send(events)
    assert (report.batches, report.accepted, report.rejected) == (2, 3, 1)
    method, path, headers, body = server.requests[0]
    assert (method, path) == ("POST", "/api/v2/channels/voice/events")
    assert headers["Authorization"] == auth
    assert body == {"events": events[:2]}
    assert warnings == [
        "REJECTED call.ended 'e3-bad' at 2026-03-10T08:00:00Z: event 'e3-bad': field 'x': no"
    ]


def test_http_sink_retries_busy_and_fails_on_bad_credentials(server: _Server) -> None:
    slept: list[float] = []
    sink = HttpSink.connect(server.url, "Basic x", sleep=slept.append)
    server.replies = [(429, {"error": "TooManyRequests"}, {"Retry-After": "7"}), (503, {}, {})]
    assert sink.send([{"id": "a", "type": "x", "time": "t"}]).accepted == 1
    assert slept == [7.0, 2.0]
    server.replies = [(401, {"error": "Couldn't authenticate you"}, {})]
    with pytest.raises(DriverError, match="401"):
        sink.send([{"id": "a", "type": "x", "time": "t"}])
    server.replies = [(422, {"error": "RecordInvalid"}, {})]
    with pytest.raises(DriverError, match="HTTP 422"):
        sink.send([{"id": "a", "type": "x", "time": "t"}])


def test_http_admin_creates_reference_data_with_explicit_ids(server: _Server) -> None:
    ref = reference_data(load_scenario(scenario_path("help-desk")))
    made = HttpAdmin.connect(server.url, "Basic x").create_reference_data(ref)
    assert made.created == {"agents": 6, "groups": 2, "memberships": 9, "phone_numbers": 2}
    posts = [(p, b) for m, p, _, b in server.requests if m == "POST"]
    assert posts[0] == ("/api/v2/users", {"user": {"id": ref.agents[0].id, "name": ref.agents[0].name,
                                                   "email": ref.agents[0].email, "role": "agent"}})  # fmt: skip
    assert ("/api/v2/channels/voice/phone_numbers",
            {"phone_number": {"id": ref.phone_numbers[0].id, "number": ref.phone_numbers[0].number,
                              "name": ref.phone_numbers[0].name}}) in posts  # fmt: skip
