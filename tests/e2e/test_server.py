"""The real server process: admin API, ingestion, every endpoint, SIGTERM and restart.

Events are placed on *yesterday* in the account's time zone and read back with a fixed
``date=``, so the numbers do not depend on when the test runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("America/New_York")
STATS = "/api/v2/channels/voice/stats"


def yesterday_at(hour: int, minute: int, second: int = 0) -> datetime:
    today = datetime.now(ZONE).date()
    return datetime.combine(today - timedelta(days=1), datetime.min.time(), ZONE).replace(
        hour=hour, minute=minute, second=second
    )


def rfc3339(when: datetime, utc: bool = False) -> str:
    if utc:
        return when.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.isoformat()


def traffic(agent: int, number: int, group: int) -> list[dict[str, Any]]:
    """Yesterday 10:00-10:12 local: agent online; one answered, one abandoned, one outbound."""
    t = yesterday_at
    ev: list[dict[str, Any]] = []

    def add(kind: str, when: datetime, **fields: Any) -> None:
        # alternate offsets: the server compares instants, not strings
        ev.append(
            {
                "id": f"e2e-{len(ev) + 1}",
                "type": kind,
                "time": rfc3339(when, utc=len(ev) % 2 == 0),
                **fields,
            }
        )

    add("agent.state_changed", t(10, 0), agent_id=agent, state="online", via="client")
    add("call.started", t(10, 1), call_id="c1", direction="inbound", phone_number_id=number)
    add("call.queued", t(10, 1, 10), call_id="c1", group_id=group)
    add("call.offered", t(10, 1, 20), call_id="c1", agent_id=agent)
    add("call.answered", t(10, 1, 30), call_id="c1", agent_id=agent)
    add("call.hold_started", t(10, 2), call_id="c1")
    add("call.hold_ended", t(10, 2, 30), call_id="c1")
    add("call.ended", t(10, 3, 30), call_id="c1")
    add("call.wrap_up_ended", t(10, 4), call_id="c1", agent_id=agent)
    add("call.started", t(10, 5), call_id="c2", direction="inbound", phone_number_id=number)
    add("call.queued", t(10, 5, 5), call_id="c2", group_id=group)
    add("call.ended", t(10, 5, 35), call_id="c2")
    add(
        "call.started",
        t(10, 10),
        call_id="c3",
        direction="outbound",
        phone_number_id=number,
        agent_id=agent,
    )
    add("call.answered", t(10, 10, 10), call_id="c3", agent_id=agent)
    add("call.ended", t(10, 11, 10), call_id="c3")
    add("call.wrap_up_ended", t(10, 11, 10), call_id="c3", agent_id=agent)
    return ev


def both(session: requests.Session, url: str, path: str, **params: Any) -> dict[str, Any]:
    """GET path with and without .json; both 200 JSON with the same body."""
    bodies = []
    for suffix in ("", ".json"):
        response = session.get(f"{url}{path}{suffix}", params=params, timeout=10)
        assert response.status_code == 200, (path, suffix, response.text)
        assert response.headers["content-type"].startswith("application/json")
        bodies.append(response.json())
    assert bodies[0] == bodies[1]
    return bodies[0]


def create(session: requests.Session, url: str, path: str, key: str, record: dict[str, Any]) -> int:
    response = session.post(f"{url}{path}", json={key: record}, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()[key]["id"])


def read_stats(session: requests.Session, url: str, day: str) -> dict[str, Any]:
    return {
        "account_overview": both(session, url, f"{STATS}/account_overview", date=day),
        "agents_overview": both(session, url, f"{STATS}/agents_overview", date=day),
        "agents_activity": both(session, url, f"{STATS}/agents_activity", date=day),
        "service_level": both(session, url, f"{STATS}/service_level", date=day, threshold=15),
    }


def snapshot_position(database: str) -> tuple[int | None, int]:
    """(position of the account's projection snapshot or None, head of its log)."""
    from talkstats.service import SNAPSHOT_FORMAT
    from talkstats.store import open_store

    store = open_store(database, create=True)
    try:
        account = store.get_account("acme")
        assert account is not None
        found = store.load_snapshot(account.id, f"{SNAPSHOT_FORMAT}:{account.timezone}")
        return (None if found is None else found[0]), store.log_head(account.id)
    finally:
        store.close()


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_server_end_to_end(server: Server) -> None:
    url = server.url
    admin = requests.Session()
    admin.auth = ADMIN
    day = yesterday_at(12, 0).date().isoformat()

    # no credentials: 401 in Zendesk's shape
    anonymous = requests.get(f"{url}{STATS}/account_overview.json", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Couldn't authenticate you"}

    # reference data over the admin API
    agent = create(
        admin,
        url,
        "/api/v2/users",
        "user",
        {
            "name": "Ann Agent",
            "email": "ann@acme.test",
            "role": "agent",
            "password": "ann-password",
        },
    )
    number = create(
        admin,
        url,
        "/api/v2/channels/voice/phone_numbers",
        "phone_number",
        {"number": "+12125550100", "name": "Support line"},
    )
    group = create(admin, url, "/api/v2/groups", "group", {"name": "Support"})
    create(
        admin,
        url,
        "/api/v2/group_memberships",
        "group_membership",
        {"user_id": agent, "group_id": group},
    )

    # events over HTTP; re-sending is idempotent
    events = traffic(agent, number, group)
    posted = admin.post(f"{url}/api/v2/channels/voice/events", json={"events": events}, timeout=30)
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (len(events), 0, 0), body
    again = admin.post(
        f"{url}/api/v2/channels/voice/events.json", json={"events": events}, timeout=30
    ).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, len(events), 0)
    bad = admin.post(
        f"{url}/api/v2/channels/voice/events",
        json={
            "id": "bad-1",
            "type": "call.ended",
            "time": rfc3339(yesterday_at(11, 0)),
            "call_id": "nope",
        },
        timeout=10,
    ).json()
    assert bad["rejected"] == 1 and "bad-1" in bad["results"][0]["error"]

    # the four Zendesk stats endpoints (and the extension), with and without .json
    before = read_stats(admin, url, day)
    overview = before["account_overview"]["account_overview"]
    assert overview["total_calls"] == 3
    assert overview["total_inbound_calls"] == 2
    assert overview["total_outbound_calls"] == 1
    assert overview["total_calls_abandoned_in_queue"] == 1
    assert overview["total_call_duration"] == 150 + 35 + 70
    assert overview["total_hold_time"] == 30
    assert overview["max_queue_wait_time"] == 30
    activity = before["agents_activity"]
    assert activity["count"] == 2  # the admin is an agent too
    ann = next(row for row in activity["agents_activity"] if row["agent_id"] == agent)
    assert ann["name"] == "Ann Agent"
    assert ann["calls_accepted"] == 1
    agents = before["agents_overview"]["agents_overview"]
    assert agents["total_calls_accepted"] == 1
    level = before["service_level"]["service_level"]
    assert level["threshold"] == 15
    assert (level["answered_within"], level["offered"]) == (0, 2)  # waits of 20 s and 30 s
    queue = both(admin, url, f"{STATS}/current_queue_activity")["current_queue_activity"]
    assert queue["calls_waiting"] == 0
    assert queue["agents_online"] == 1
    today = both(admin, url, f"{STATS}/account_overview")["account_overview"]
    assert today["total_calls"] == 0  # the calls were yesterday

    # an agent may read the stats but not administer
    ann_session = requests.Session()
    ann_session.auth = ("ann@acme.test", "ann-password")
    assert ann_session.get(f"{url}{STATS}/agents_overview", timeout=10).status_code == 200
    denied = ann_session.post(f"{url}/api/v2/groups", json={"group": {"name": "X"}}, timeout=10)
    assert denied.status_code == 403

    # availabilities GET / PUT
    path = f"/api/v2/channels/voice/availabilities/{agent}"
    shown = both(admin, url, path)["availability"]
    assert shown == {"agent_state": "online", "call_status": None, "via": "client"}
    put = admin.put(f"{url}{path}.json", json={"availability": {"agent_state": "away"}}, timeout=10)
    assert put.status_code == 200, put.text
    assert put.json()["availability"]["agent_state"] == "away"
    assert both(admin, url, path)["availability"]["agent_state"] == "away"
    assert (
        admin.get(f"{url}/api/v2/channels/voice/availabilities/999", timeout=10).status_code == 404
    )

    # reference listings
    numbers = both(admin, url, "/api/v2/channels/voice/phone_numbers")
    assert [n["id"] for n in numbers["phone_numbers"]] == [number]
    assert numbers["phone_numbers"][0]["number"] == "+12125550100"
    groups = both(admin, url, "/api/v2/groups")
    assert [(g["id"], g["name"]) for g in groups["groups"]] == [(group, "Support")]
    users = both(admin, url, "/api/v2/users")
    assert {u["email"] for u in users["users"]} == {ADMIN[0], "ann@acme.test"}
    assert users["count"] == 2 and users["next_page"] is None

    # operations
    assert requests.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200
    openapi = requests.get(f"{url}/openapi.json", timeout=10)
    assert openapi.status_code == 200
    assert f"{STATS}/account_overview" in openapi.json()["paths"]

    # SIGTERM: a clean exit, with the snapshot taken
    assert server.stop() == 0, server.stderr()
    assert "Traceback" not in server.stderr()
    snapshot, head = snapshot_position(server.database)
    assert snapshot == head, (snapshot, head, server.stderr())

    # restart on the same database: the same statistics for that day
    url = server.start()
    after = read_stats(admin, url, day)
    assert after == before
    assert both(admin, url, path)["availability"]["agent_state"] == "away"
    assert server.stop() == 0, server.stderr()
