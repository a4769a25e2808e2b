"""The four Zendesk stats endpoints over HTTP: exact shapes (golden), plans, date, paging."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from .conftest import Env, local_iso

GOLDEN = Path(__file__).parent / "golden"
STATS = "/api/v2/channels/voice/stats"

TEAM_ACCOUNT_FIELDS = {
    "average_call_duration",
    "average_queue_wait_time",
    "average_wrap_up_time",
    "max_calls_waiting",
    "max_queue_wait_time",
    "total_call_duration",
    "total_calls",
    "total_voicemails",
    "total_wrap_up_time",
}
TEAM_AGENT_FIELDS = {
    "agent_id",
    "agent_state",
    "available_time",
    "avatar_url",
    "away_time",
    "call_status",
    "calls_accepted",
    "calls_denied",
    "calls_missed",
    "forwarding_number",
    "name",
    "online_time",
    "transfers_only_time",
    "total_call_duration",
    "total_talk_time",
    "total_wrap_up_time",
    "via",
}
PRO_AGENT_EXTRA = {
    "accepted_third_party_conferences",
    "accepted_transfers",
    "average_hold_time",
    "average_talk_time",
    "average_wrap_up_time",
    "calls_put_on_hold",
    "started_third_party_conferences",
    "started_transfers",
    "total_hold_time",
}
TEAM_OVERVIEW_FIELDS = {
    "average_wrap_up_time",
    "total_calls_accepted",
    "total_calls_denied",
    "total_calls_missed",
    "total_talk_time",
    "total_wrap_up_time",
}


def story(env: Env) -> None:
    """A small morning at acme (Europe/Paris), read at 10:00."""
    n = iter(range(1, 1000))

    def ev(clock: str, type: str, **fields: Any) -> dict[str, Any]:
        return {"id": f"s{next(n)}", "type": type, "time": local_iso(clock), **fields}

    env.clock.set("10:00:00")
    env.ingest(
        [
            ev("09:00:00", "agent.state_changed", agent_id=2, state="online", via="client"),
            ev(
                "09:00:00",
                "agent.state_changed",
                agent_id=3,
                state="online",
                via="phone",
                forwarding_number="+33600000003",
            ),
            # c1: inbound on 10, queued 20 s, answered by 2, 30 s hold, wrap-up 35 s
            ev("09:10:00", "call.started", call_id="c1", direction="inbound", phone_number_id=10),
            ev("09:10:05", "call.queued", call_id="c1"),
            ev("09:10:20", "call.offered", call_id="c1", agent_id=2),
            ev("09:10:25", "call.answered", call_id="c1", agent_id=2),
            ev("09:12:00", "call.hold_started", call_id="c1"),
            ev("09:12:30", "call.hold_ended", call_id="c1"),
            ev("09:15:25", "call.ended", call_id="c1"),
            ev("09:16:00", "call.wrap_up_ended", call_id="c1", agent_id=2),
            # c2: inbound on 20, abandoned after 38 s in queue; agent 3 missed it
            ev("09:20:00", "call.started", call_id="c2", direction="inbound", phone_number_id=20),
            ev("09:20:02", "call.queued", call_id="c2"),
            ev("09:20:10", "call.offered", call_id="c2", agent_id=3),
            ev("09:20:25", "call.missed", call_id="c2", agent_id=3),
            ev("09:20:40", "call.ended", call_id="c2"),
            # c3: outbound by agent 3 on 10
            ev(
                "09:30:00",
                "call.started",
                call_id="c3",
                direction="outbound",
                phone_number_id=10,
                agent_id=3,
            ),
            ev("09:30:10", "call.answered", call_id="c3", agent_id=3),
            ev("09:33:00", "call.ended", call_id="c3"),
            ev("09:33:00", "call.wrap_up_ended", call_id="c3", agent_id=3),
            # c4: inbound, caller asked for voicemail
            ev("09:40:00", "call.started", call_id="c4", direction="inbound", phone_number_id=10),
            ev("09:40:05", "call.voicemail", call_id="c4", reason="requested"),
            ev("09:41:00", "call.ended", call_id="c4"),
            ev("09:45:00", "agent.state_changed", agent_id=2, state="away", via="client"),
            # c5: inbound on 20, still waiting at 10:00
            ev("09:50:00", "call.started", call_id="c5", direction="inbound", phone_number_id=20),
            ev("09:50:01", "call.queued", call_id="c5"),
        ]
    )
    env.clock.set("10:00:00")


def check_golden(name: str, content: bytes) -> None:
    """The response bytes equal the golden file's JSON exactly (values and key order)."""
    path = GOLDEN / f"{name}.json"
    if os.environ.get("TALKSTATS_UPDATE_GOLDEN"):
        path.write_bytes(orjson.dumps(orjson.loads(content), option=orjson.OPT_INDENT_2) + b"\n")
    assert content == orjson.dumps(orjson.loads(path.read_bytes()))


@pytest.mark.parametrize(
    "name", ["account_overview", "agents_activity", "agents_overview", "current_queue_activity"]
)
def test_golden_professional_shapes(env: Env, name: str) -> None:
    story(env)
    r = env.get(f"{STATS}/{name}.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    check_golden(name, r.content)


def test_golden_numbers_are_the_hand_computed_ones(env: Env) -> None:
    story(env)
    o = env.get(f"{STATS}/account_overview").json()["account_overview"]
    assert (
        o["total_calls"] == 5 and o["total_inbound_calls"] == 4 and o["total_outbound_calls"] == 1
    )
    assert o["total_call_duration"] == 325 + 40 + 180 + 60  # c1..c4 ended
    assert o["max_queue_wait_time"] == 38 and o["average_queue_wait_time"] == 29  # (20+38)/2
    assert o["total_calls_abandoned_in_queue"] == 1 and o["total_voicemails"] == 1
    assert o["total_calls_with_requested_voicemail"] == 1 and o["total_hold_time"] == 30
    assert o["total_wrap_up_time"] == 35 and o["average_time_to_answer"] == 25
    q = env.get(f"{STATS}/current_queue_activity").json()["current_queue_activity"]
    assert q == {
        "agents_online": 2,
        "average_wait_time": 599,
        "callbacks_waiting": 0,
        "calls_waiting": 1,
        "embeddable_callbacks_waiting": 0,
        "longest_wait_time": 599,
    }
    rows = {r["agent_id"]: r for r in env.get(f"{STATS}/agents_activity").json()["agents_activity"]}
    assert rows[2]["calls_accepted"] == 1 and rows[2]["total_talk_time"] == 270
    assert rows[2]["agent_state"] == "away" and rows[2]["away_time"] == 900
    assert rows[3]["calls_missed"] == 1 and rows[3]["forwarding_number"] == "+33600000003"


def test_team_plan_gets_base_fields_only(env: Env) -> None:
    other = {**env.headers["other_admin"], "Host": "other.talkstats.test"}  # a team account
    o = env.client.get(f"{STATS}/account_overview", headers=other).json()["account_overview"]
    assert set(o) == TEAM_ACCOUNT_FIELDS
    rows = env.client.get(f"{STATS}/agents_activity", headers=other).json()["agents_activity"]
    assert rows and all(set(row) == TEAM_AGENT_FIELDS for row in rows)
    overview = env.client.get(f"{STATS}/agents_overview", headers=other).json()
    assert set(overview["agents_overview"]) == TEAM_OVERVIEW_FIELDS


def test_professional_plan_gets_extra_fields(env: Env) -> None:
    rows = env.get(f"{STATS}/agents_activity").json()["agents_activity"]
    assert all(set(row) == TEAM_AGENT_FIELDS | PRO_AGENT_EXTRA for row in rows)
    o = env.get(f"{STATS}/account_overview").json()["account_overview"]
    assert set(o) > TEAM_ACCOUNT_FIELDS and "total_embeddable_callback_calls" in o


def test_phone_number_filter_in_both_forms(env: Env) -> None:
    story(env)
    for query in (
        "phone_number_ids=20",
        "phone_number_ids=[20]",
        "phone_number_ids=%5B20%5D",
        "phone_number_ids=%255B20%255D",
        "phone_number_ids=20,99",
    ):
        o = env.get(f"{STATS}/account_overview?{query}").json()["account_overview"]
        assert o["total_calls"] == 2, query
        q = env.get(f"{STATS}/current_queue_activity?{query}").json()["current_queue_activity"]
        assert q["calls_waiting"] == 1, query
    o = env.get(f"{STATS}/account_overview?phone_number_ids=10").json()["account_overview"]
    assert o["total_calls"] == 3


@pytest.mark.parametrize("empty", ["", "[]", "%5B%5D", " "])
def test_empty_id_list_means_no_filter(env: Env, empty: str) -> None:
    story(env)
    o = env.get(f"{STATS}/account_overview?phone_number_ids={empty}").json()["account_overview"]
    assert o["total_calls"] == 5


def test_group_filter(env: Env) -> None:
    for query in ("group_ids=100", "group_ids=[100]", "group_ids=%5B100%5D"):
        body = env.get(f"{STATS}/agents_activity?{query}").json()
        assert [r["agent_id"] for r in body["agents_activity"]] == [2]
        assert body["count"] == 1
    body = env.get(f"{STATS}/agents_activity?group_ids=100,200").json()
    assert [r["agent_id"] for r in body["agents_activity"]] == [2, 3]
    body = env.get(f"{STATS}/agents_activity?group_ids=").json()
    assert [r["agent_id"] for r in body["agents_activity"]] == [1, 2, 3]  # admins are agents


@pytest.mark.parametrize(
    "endpoint,param",
    [
        ("account_overview", "phone_number_ids"),
        ("current_queue_activity", "phone_number_ids"),
        ("agents_activity", "group_ids"),
    ],
)
def test_id_list_errors(env: Env, endpoint: str, param: str) -> None:
    ids = ",".join(str(i) for i in range(1, 102))
    r = env.get(f"{STATS}/{endpoint}?{param}={ids}")
    assert r.status_code == 400 and r.json()["error"] == "TooManyValues"
    assert param in r.json()["description"]
    r = env.get(f"{STATS}/{endpoint}?{param}=[{ids}]")
    assert r.status_code == 400 and r.json()["error"] == "TooManyValues"
    assert env.get(f"{STATS}/{endpoint}?{param}={ids[:-4]}").status_code == 200  # exactly 100
    for bad in ("1,x", "[1,2.5]", "abc", "-1", "0"):
        r = env.get(f"{STATS}/{endpoint}?{param}={bad}")
        assert r.status_code == 400, bad
        assert r.json()["error"] == "InvalidValue" and param in r.json()["description"]


def test_unknown_params_are_ignored(env: Env) -> None:
    assert env.get(f"{STATS}/account_overview?foo=bar&sort_by=x").status_code == 200


def test_paging_urls_keep_other_params(env: Env) -> None:
    env.service.create_user(env.acme, name="Agent Five", email="a5@acme.test", role="agent", id=5)
    first = env.get(f"{STATS}/agents_activity.json?per_page=2&group_ids=&x=1").json()
    assert [r["agent_id"] for r in first["agents_activity"]] == [1, 2]
    assert first["count"] == 4 and first["previous_page"] is None
    url = urlsplit(first["next_page"])
    assert url.scheme == "http" and url.netloc == "acme.talkstats.test"
    assert url.path == f"{STATS}/agents_activity.json"
    assert parse_qs(url.query, keep_blank_values=True) == {
        "per_page": ["2"],
        "group_ids": [""],
        "x": ["1"],
        "page": ["2"],
    }
    second = env.client.get(first["next_page"], headers=env.headers["agent"]).json()
    assert [r["agent_id"] for r in second["agents_activity"]] == [3, 5]
    assert second["next_page"] is None
    prev = parse_qs(urlsplit(second["previous_page"]).query, keep_blank_values=True)
    assert prev["page"] == ["1"] and prev["per_page"] == ["2"]
    beyond = env.get(f"{STATS}/agents_activity?per_page=2&page=9").json()
    assert beyond["agents_activity"] == [] and beyond["next_page"] is None
    assert parse_qs(urlsplit(beyond["previous_page"]).query)["page"] == ["2"]


def test_paging_defaults_and_errors(env: Env) -> None:
    body = env.get(f"{STATS}/agents_activity").json()
    assert body["count"] == 3 and body["next_page"] is None and body["previous_page"] is None
    assert len(env.get(f"{STATS}/agents_activity?per_page=1000").json()["agents_activity"]) == 3
    for bad in ("page=0", "page=x", "per_page=0", "per_page=-5", "per_page=1.5"):
        r = env.get(f"{STATS}/agents_activity?{bad}")
        assert r.status_code == 400 and r.json()["error"] == "InvalidValue", bad


def test_date_past_future_garbage(env: Env) -> None:
    story(env)
    env.clock.set("10:00:00", day="2026-11-27")
    for endpoint in ("account_overview", "agents_activity", "agents_overview"):
        past = env.get(f"{STATS}/{endpoint}?date=2026-11-26")
        assert past.status_code == 200, endpoint
        future = env.get(f"{STATS}/{endpoint}?date=2026-11-28")
        assert future.status_code == 400 and future.json()["error"] == "InvalidValue"
        assert "date" in future.json()["description"]
        for garbage in ("yesterday", "2026-13-01", "2026-11-31", "20261126", "2026-11-26T00:00"):
            r = env.get(f"{STATS}/{endpoint}", params={"date": garbage})
            assert r.status_code == 400 and r.json()["error"] == "InvalidValue", garbage
    past = env.get(f"{STATS}/account_overview?date=2026-11-26").json()["account_overview"]
    assert past["total_calls"] == 5
    today = env.get(f"{STATS}/account_overview?date=2026-11-27").json()["account_overview"]
    assert today["total_calls"] == 0
    rows = env.get(f"{STATS}/agents_activity?date=2026-11-26").json()["agents_activity"]
    assert {r["agent_id"]: r["agent_state"] for r in rows} == {1: "offline", 2: "away", 3: "online"}


def test_service_level_extension(env: Env) -> None:
    story(env)
    body = env.get(f"{STATS}/service_level.json?threshold=20").json()
    assert body == {
        "service_level": {"threshold": 20, "answered_within": 1, "offered": 2, "percent": 50.0}
    }
    default = env.get(f"{STATS}/service_level").json()["service_level"]
    assert default["threshold"] == 20
    assert env.get(f"{STATS}/service_level?threshold=x").status_code == 400
    assert env.get(f"{STATS}/service_level?phone_number_ids=10").json()["service_level"] == {
        "threshold": 20,
        "answered_within": 1,
        "offered": 1,
        "percent": 100.0,
    }
