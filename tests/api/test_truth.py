"""One truth over HTTP: no input makes the numbers run ahead of the log, or a 500.

The reproducers of the hardening issue, sent as a hostile client would, plus the Host
header rules that decide which account a request reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from talkstats.domain.projection import AccountProjection
from talkstats.store import SQLiteStore

from .conftest import Env, local_iso, local_ns

EVENTS = "/api/v2/channels/voice/events"
AO = "/api/v2/channels/voice/stats/account_overview"


def logged_ids(env: Env) -> list[str]:
    store = env.service.store
    assert isinstance(store, SQLiteStore)
    return [orjson.loads(b)["id"] for _, b in store.read_events(env.acme.id, 0, 10**6)]


def total_calls(env: Env) -> int:
    return int(env.get(AO).json()["account_overview"]["total_calls"])


def started(event_id: str, call_id: str, clock: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "call.started",
        "time": local_iso(clock),
        "call_id": call_id,
        "direction": "inbound",
        "phone_number_id": 10,
    }


def test_the_year_one_reproducer_rejects_one_event_and_keeps_the_other(env: Env) -> None:
    env.clock.now_ns = local_ns("09:00:00")
    batch = [
        started("r1-a", "R1", "09:00:00"),
        {
            "id": "r1-b",
            "type": "agent.state_changed",
            "time": "0001-01-01T00:00:00+23:59",
            "agent_id": 2,
            "state": "online",
        },
    ]
    r = env.post(EVENTS, json={"events": batch})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["accepted", "rejected"]
    assert results[1]["field"] == "time" and "before 1970-01-01T00:00:00Z" in results[1]["error"]
    assert logged_ids(env) == ["r1-a"]
    assert total_calls(env) == 1
    again = env.post(EVENTS, json=batch[0]).json()
    assert again["results"][0]["status"] == "duplicate"


def test_a_call_in_year_one_then_queued_is_rejected_not_a_500(env: Env) -> None:
    ancient = {**started("a1", "A1", "09:00:00"), "time": "0001-01-02T00:00:00Z"}
    queued = {"id": "a2", "type": "call.queued", "time": "0001-01-02T00:00:05Z", "call_id": "A1"}
    r = env.post(EVENTS, json={"events": [ancient, queued]})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "rejected"]
    queue = env.get("/api/v2/channels/voice/stats/current_queue_activity").json()
    assert queue["current_queue_activity"]["calls_waiting"] == 0
    assert logged_ids(env) == []


def test_an_internal_error_in_one_event_is_a_rejection_not_a_500(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.clock.now_ns = local_ns("09:00:00")
    real_apply = AccountProjection.apply

    def apply(self: AccountProjection, event: Any, now: int) -> None:
        real_apply(self, event, now)
        if event.id == "bad":
            raise OverflowError("injected after the call was folded")

    monkeypatch.setattr(AccountProjection, "apply", apply)
    batch = [
        started("ok1", "C1", "08:00:00"),
        started("bad", "C2", "08:00:01"),
        started("ok2", "C3", "08:00:02"),
    ]
    r = env.post(EVENTS, json={"events": batch})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected", "accepted"]
    assert "internal error" in body["results"][1]["error"]
    assert "Traceback" not in r.text and "Overflow" not in r.text
    assert logged_ids(env) == ["ok1", "ok2"]
    assert total_calls(env) == 2  # the phantom call C2 is gone


def test_two_host_headers_are_refused(env: Env) -> None:
    headers = [
        *env.headers["agent"].items(),
        ("Host", "acme.talkstats.test"),
        ("Host", "other.talkstats.test"),
    ]
    r = env.client.get(AO, headers=headers)
    assert r.status_code == 400
    assert r.json() == {
        "error": "InvalidValue",
        "description": "The request has 2 Host headers; send exactly one.",
    }


@pytest.mark.parametrize("strict", [False, True])
def test_a_host_naming_no_account(make_env: Callable[..., Env], strict: bool) -> None:
    env = make_env(default_account="acme", strict_hosts=strict)
    agent = env.headers["agent"]
    # a known subdomain, and bare hosts, whatever the mode
    for host in ("acme.talkstats.test", "localhost:8080", "127.0.0.1", "[::1]:8080", "acme"):
        assert env.client.get(AO, headers={**agent, "Host": host}).status_code == 200, host
    # a mistyped subdomain: the default account's data, or 404 under strict_hosts
    r = env.client.get(AO, headers={**agent, "Host": "acmee.talkstats.test"})
    if strict:
        assert r.status_code == 404 and r.json()["error"] == "RecordNotFound"
    else:
        assert r.status_code == 200
