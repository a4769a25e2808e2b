"""The incremental exports over HTTP (in-process app, real SQLite file, fake clock)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from talkstats.domain.records import CALL_FIELDS, LEG_FIELDS

from .conftest import Env, local_iso, local_ns

CALLS = "/api/v2/channels/voice/stats/incremental/calls"
LEGS = "/api/v2/channels/voice/stats/incremental/legs"


def story(env: Env) -> None:
    events: list[dict[str, Any]] = []

    def add(clock: str, kind: str, **fields: Any) -> None:
        events.append({"id": f"x{len(events)}", "type": kind, "time": local_iso(clock), **fields})

    add("07:00:00", "agent.state_changed", agent_id=2, state="online")
    add("07:00:00", "agent.state_changed", agent_id=3, state="online")
    add("07:10:00", "call.started", call_id="c1", direction="inbound", phone_number_id=10)
    add("07:10:05", "call.queued", call_id="c1", group_id=100)
    add("07:10:20", "call.answered", call_id="c1", agent_id=2)
    add("07:12:00", "call.transfer_started", call_id="c1")
    add("07:12:10", "call.transfer_accepted", call_id="c1", agent_id=3)
    add("07:15:00", "call.ended", call_id="c1")
    add("07:15:30", "call.wrap_up_ended", call_id="c1", agent_id=2)
    add("07:16:00", "call.wrap_up_ended", call_id="c1", agent_id=3)
    add("07:20:00", "call.started", call_id="c2", direction="outbound", phone_number_id=20,
        agent_id=2)  # fmt: skip
    env.clock.set("07:30:00")
    env.ingest(events)


def test_calls_and_legs_with_every_field(env: Env) -> None:
    story(env)
    r = env.get(f"{CALLS}.json?start_time=0", who="admin")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert set(body) == {"calls", "count", "end_time", "next_page"}
    assert body["count"] == 2
    first, second = body["calls"]
    assert tuple(first) == CALL_FIELDS
    assert (first["id"], first["external_id"], second["id"]) == (1, "c1", 2)
    assert first["phone_number"] == "+33100000010" and second["phone_number_id"] == 20
    assert first["created_at"] == "2026-11-26T06:10:00Z"  # 07:10 in Paris
    assert (first["duration"], first["wait_time"], first["talk_time"]) == (300, 15, 280)
    assert first["completion_status"] == "completed" and second["completion_status"] is None
    assert body["end_time"] == local_ns("07:20:00") // 10**9
    legs = env.get(f"{LEGS}?start_time=0", who="admin").json()
    assert legs["count"] == 3
    assert all(tuple(leg) == LEG_FIELDS for leg in legs["legs"])
    assert [(leg["id"], leg["call_id"], leg["agent_id"]) for leg in legs["legs"]] == [
        (1, 1, 2),
        (2, 1, 3),
        (3, 2, 2),
    ]


def test_next_page_keeps_the_path_form_and_ends_with_an_empty_page(env: Env) -> None:
    story(env)
    body = env.get(f"{CALLS}.json?start_time=0", who="admin").json()
    url = urlsplit(body["next_page"])
    assert url.path.endswith("/incremental/calls.json")
    query = parse_qs(url.query)
    assert query["start_time"] == [str(body["end_time"])] and "after" in query
    again = env.get(body["next_page"], who="admin").json()
    assert again["calls"] == [] and again["count"] == 0
    assert again["end_time"] == body["end_time"] and again["next_page"] == body["next_page"]


def test_start_time_is_inclusive_and_records_come_back_after_a_change(env: Env) -> None:
    story(env)
    body = env.get(f"{CALLS}?start_time=0", who="admin").json()
    # a client that keeps only end_time sees the records of that second again
    again = env.get(f"{CALLS}?start_time={body['end_time']}", who="admin").json()
    assert [c["id"] for c in again["calls"]] == [2]
    env.clock.set("07:40:00")
    env.ingest([{"id": "y1", "type": "call.ended", "time": local_iso("07:35:00"), "call_id": "c2"}])
    later = env.get(body["next_page"], who="admin").json()
    assert [(c["id"], c["completion_status"]) for c in later["calls"]] == [(2, "not_answered")]
    assert later["end_time"] == local_ns("07:35:00") // 10**9


def test_who_may_export_and_bad_parameters(env: Env) -> None:
    assert env.get(f"{CALLS}?start_time=0", who="agent").status_code == 403
    assert env.get(f"{CALLS}?start_time=0", who="none").status_code == 401
    assert env.get(f"{CALLS}?start_time=0", who="other_admin").status_code == 401
    for query, word in (
        ("", "start_time: is required"),
        ("?start_time=abc", "start_time"),
        ("?start_time=-5", "start_time"),
        ("?start_time=99999999999999999", "too far"),
        ("?start_time=0&after=x", "after: 'x' is not a stamp from a next_page URL"),
        ("?start_time=0&after=" + "9" * 23, "is not a stamp from a next_page URL"),
        ("?start_time=1.5", "is not a whole number of seconds since 1970"),
    ):
        r = env.get(f"{LEGS}{query}", who="admin")
        assert r.status_code == 400, query
        assert r.json()["error"] == "InvalidValue" and word in r.json()["description"]


def test_a_future_start_time_gives_an_empty_page(env: Env) -> None:
    story(env)
    future = local_ns("23:00:00") // 10**9
    body = env.get(f"{CALLS}?start_time={future}", who="admin").json()
    assert body == {
        "calls": [],
        "count": 0,
        "end_time": future,
        "next_page": f"http://acme.talkstats.test{CALLS}?start_time={future}",
    }


def test_the_exports_have_their_own_rate_limit(make_env: Any) -> None:
    env = make_env(rate_limit_incremental_exports=2)
    for _ in range(2):
        r = env.get(f"{CALLS}?start_time=0", who="admin")
        assert r.status_code == 200
        assert r.headers["x-rate-limit"] == "2"
    r = env.get(f"{LEGS}?start_time=0", who="admin")
    assert r.status_code == 429
    assert r.json()["error"] == "TooManyRequests"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert env.get("/api/v2/channels/voice/stats/agents_overview").status_code == 200
    env.clock.advance(120)
    assert env.get(f"{LEGS}?start_time=0", who="admin").status_code == 200


def test_a_page_runs_to_the_end_of_its_last_second(make_env: Any, monkeypatch: Any) -> None:
    from talkstats import exports

    monkeypatch.setattr(exports, "PAGE_SIZE", 2)
    env = make_env()
    env.clock.set("09:00:00")
    events = [
        {"id": f"s{n}", "type": "call.started", "time": local_iso("08:00:00"),
         "call_id": f"c{n}", "direction": "inbound", "phone_number_id": 10}
        for n in range(5)
    ]  # fmt: skip
    events.append(
        {"id": "s9", "type": "call.started", "time": local_iso("08:00:01"), "call_id": "c9",
         "direction": "inbound", "phone_number_id": 10}
    )  # fmt: skip
    env.ingest(events)
    seen: list[int] = []
    url = f"{CALLS}?start_time=0"
    pages = 0
    while True:
        body = env.get(url, who="admin").json()
        if not body["calls"]:
            break
        pages += 1
        seen += [c["id"] for c in body["calls"]]
        url = body["next_page"]
    assert seen == [1, 2, 3, 4, 5, 6] and pages == 2  # 5 in one second, then 1
