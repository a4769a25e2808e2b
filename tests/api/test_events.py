"""POST /api/v2/channels/voice/events: single, batch, NDJSON, idempotency, rejections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from talkstats.service import Unavailable

from .conftest import Env, local_iso

EVENTS = "/api/v2/channels/voice/events"


def online(event_id: str, agent_id: int = 2, clock: str = "07:59:00") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "agent.state_changed",
        "time": local_iso(clock),
        "agent_id": agent_id,
        "state": "online",
    }


def test_single_event(env: Env) -> None:
    r = env.post(EVENTS, json=online("e1"))
    assert r.status_code == 200
    assert r.json() == {
        "results": [{"index": 0, "id": "e1", "status": "accepted"}],
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
    }
    assert "retry-after" not in r.headers and "x-rate-limit" in r.headers
    state = env.get("/api/v2/channels/voice/availabilities/2").json()["availability"]
    assert state["agent_state"] == "online"


def test_batch_reports_each_outcome_in_order(env: Env) -> None:
    assert env.post(EVENTS, json=online("e1")).json()["accepted"] == 1
    batch = [
        online("e1"),  # duplicate, same content
        {**online("e1"), "state": "away"},  # same id, other content: conflict
        online("e2", agent_id=99),  # unknown agent
        {**online("e3"), "colour": "red"},  # unknown field
        online("e4", agent_id=3),
        "not an object",
    ]
    body = env.post(EVENTS, json={"events": batch}).json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert "error" not in results[0] and "error" not in results[4]
    assert "e1" in results[1]["error"] and results[1]["field"] == "id"
    assert "e2" in results[2]["error"] and results[2]["field"] == "agent_id"
    assert "colour" in results[3]["error"]
    assert results[5]["id"] is None and results[5]["error"]


def test_ndjson(env: Env) -> None:
    lines = [
        orjson.dumps(online("n1")),
        b"",
        b"{not json",
        orjson.dumps(online("n2", 3)),
        orjson.dumps(online("n1")),
    ]
    r = env.post(
        EVENTS, content=b"\n".join(lines) + b"\n", headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 200
    body = r.json()
    assert [(x["index"], x["id"], x["status"]) for x in body["results"]] == [
        (0, "n1", "accepted"),
        (1, None, "rejected"),
        (2, "n2", "accepted"),
        (3, "n1", "duplicate"),
    ]
    assert "line 3" in body["results"][1]["error"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 1)


def test_an_ndjson_line_that_is_no_object_names_its_line(env: Env) -> None:
    body = orjson.dumps(online("o1")) + b"\n[1]\n42\n"
    r = env.post(EVENTS, content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200
    errors = [x.get("error") for x in r.json()["results"]]
    assert errors[1] == "line 2: an event must be a JSON object, got an array"
    assert errors[2] == "line 3: an event must be a JSON object, got a number"
    assert r.json()["rejected"] == 2 and r.json()["accepted"] == 1


def test_ndjson_all_lines_bad_is_still_200(env: Env) -> None:
    r = env.post(EVENTS, content=b"nope\n[1,\n", headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200
    assert r.json()["rejected"] == 2 and r.json()["accepted"] == 0


def test_ndjson_sent_as_json_says_which_content_type_to_use(env: Env) -> None:
    body = orjson.dumps(online("j1")) + b"\n" + orjson.dumps(online("j2", 3)) + b"\n"
    r = env.post(EVENTS, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "InvalidValue"
    description = r.json()["description"]
    assert "unexpected content after document" in description
    assert "Content-Type: application/x-ndjson" in description
    # other JSON errors are not NDJSON: no hint
    bad = env.post(EVENTS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert "ndjson" not in bad.json()["description"]


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "event object"),
        (b'{"events": {}}', "array"),
        (b'{"events": []}', "no events"),
    ],
)
def test_bad_bodies_are_400(env: Env, content: bytes, needle: str) -> None:
    r = env.post(EVENTS, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "InvalidValue"
    assert needle in r.json()["description"]


def test_too_many_events_is_413(make_env: Callable[..., Env]) -> None:
    env = make_env(max_batch_events=2)
    r = env.post(EVENTS, json={"events": [online("a"), online("b"), online("c")]})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert env.post(EVENTS, json={"events": [online("a"), online("b")]}).status_code == 200


def test_unavailable_store_is_503_with_retry_after(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise Unavailable("disk full")

    monkeypatch.setattr(env.service, "ingest", down)
    r = env.post(EVENTS, json=online("e1"))
    assert r.status_code == 503
    assert r.json()["error"] == "ServiceUnavailable" and "disk" not in r.text
    assert int(r.headers["retry-after"]) >= 1


def test_token_of_an_admin_may_ingest(env: Env) -> None:
    plain = env.post("/api/v2/api_tokens", json={}).json()["api_token"]["token"]
    r = env.client.post(EVENTS, json=online("t1"), headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
