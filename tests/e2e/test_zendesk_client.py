"""A real Zendesk client library (Zenpy) reads the statistics from a real server.

Zenpy builds ``{scheme}://{subdomain}.{domain}/api/v2/...`` URLs; with subdomain
``127`` and domain ``0.0.1:PORT`` that is ``http://127.0.0.1:PORT``, and the Host's
first label ``127`` names no account, so the server's only account answers. Zenpy's
``ZENPY_FORCE_SCHEME`` switches it to plain HTTP.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("America/New_York")


def zenpy_client(url: str, monkeypatch: pytest.MonkeyPatch, **credentials: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zenpy's own deprecation noise, not ours
        from zenpy import Zenpy

    host_port = url.split("://", 1)[1]
    assert host_port.startswith("127.0.0.1:")
    return Zenpy(subdomain="127", domain=host_port[len("127.") :], **credentials)


def seed(url: str) -> None:
    auth = ADMIN
    api = f"{url}/api/v2"
    r = requests.post(
        f"{api}/users.json",
        auth=auth,
        timeout=10,
        json={"user": {"id": 7, "name": "Ada", "email": "ada@acme.test", "role": "agent"}},
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        f"{api}/channels/voice/phone_numbers.json",
        auth=auth,
        timeout=10,
        json={"phone_number": {"id": 1, "number": "+15550001", "name": "Main"}},
    )
    assert r.status_code == 201, r.text
    start = datetime.now(ZONE).replace(microsecond=0) - timedelta(minutes=30)

    def at(seconds: int) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    events = [
        {
            "id": "z1",
            "type": "agent.state_changed",
            "time": at(0),
            "agent_id": 7,
            "state": "online",
            "via": "client",
        },
        {
            "id": "z2",
            "type": "call.started",
            "time": at(60),
            "call_id": "c1",
            "direction": "inbound",
            "phone_number_id": 1,
        },
        {"id": "z3", "type": "call.queued", "time": at(65), "call_id": "c1"},
        {"id": "z4", "type": "call.answered", "time": at(75), "call_id": "c1", "agent_id": 7},
        {"id": "z5", "type": "call.ended", "time": at(195), "call_id": "c1"},
        {"id": "z6", "type": "call.wrap_up_ended", "time": at(225), "call_id": "c1", "agent_id": 7},
        {
            "id": "z7",
            "type": "call.started",
            "time": at(300),
            "call_id": "c2",
            "direction": "inbound",
            "phone_number_id": 1,
        },
        {"id": "z8", "type": "call.queued", "time": at(301), "call_id": "c2"},
    ]
    r = requests.post(
        f"{api}/channels/voice/events", auth=auth, timeout=10, json={"events": events}
    )
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def test_zenpy_reads_every_talk_stats_endpoint(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    if datetime.now(ZONE).time() < datetime.min.time().replace(hour=0, minute=40):
        pytest.skip("the seeded calls would start before local midnight (yesterday)")
    seed(server.url)
    client = zenpy_client(server.url, monkeypatch, email=ADMIN[0], password=ADMIN[1])

    overview = client.talk.account_overview()
    assert overview.total_calls == 2
    assert overview.total_inbound_calls == 2
    assert overview.max_queue_wait_time == 10  # c1 queued 65 -> 75

    queue = client.talk.current_queue_activity()
    assert queue.calls_waiting == 1  # c2 still waits
    assert queue.agents_online == 1

    agents = client.talk.agents_overview()
    assert agents.total_calls_accepted == 1
    assert agents.total_talk_time == 120

    rows = list(client.talk.agents_activity())
    ada = next(row for row in rows if row.agent_id == 7)
    assert ada.calls_accepted == 1 and ada.total_wrap_up_time == 30 and ada.agent_state == "online"


def test_zenpy_with_an_api_token_and_a_wrong_password(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = requests.post(f"{server.url}/api/v2/api_tokens.json", auth=ADMIN, timeout=10, json={})
    assert r.status_code == 201, r.text
    token = r.json()["api_token"]["token"]
    good = zenpy_client(server.url, monkeypatch, email=ADMIN[0], token=token)
    assert good.talk.current_queue_activity().calls_waiting == 0

    bad = zenpy_client(server.url, monkeypatch, email=ADMIN[0], password="wrong")
    from zenpy.lib.exception import APIException

    with pytest.raises(APIException):
        bad.talk.current_queue_activity()


def test_zenpy_reads_the_incremental_exports_to_the_end(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server.url)
    client = zenpy_client(server.url, monkeypatch, email=ADMIN[0], password=ADMIN[1])
    # Zenpy follows next_page until a page comes back empty (or end_time is within
    # five minutes of its own clock: the seeded calls are 25 minutes old and more).
    calls = list(client.talk.calls.incremental(start_time=0))
    assert [(c.id, c.external_id) for c in calls] == [(1, "c1"), (2, "c2")]
    c1 = calls[0]
    assert (c1.duration, c1.wait_time, c1.talk_time, c1.wrap_up_time) == (135, 10, 120, 30)
    assert c1.completion_status == "completed" and c1.agent_id == 7
    assert calls[1].completion_status is None  # still waiting in the queue
    legs = list(client.talk.legs.incremental(start_time=0))
    assert [(leg.call_id, leg.agent_id, leg.talk_time) for leg in legs] == [(1, 7, 120)]
