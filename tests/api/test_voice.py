"""Availabilities, phone numbers, groups and users over HTTP."""

from __future__ import annotations

from .conftest import Env

AV = "/api/v2/channels/voice/availabilities"


def test_availability_get_and_put(env: Env) -> None:
    r = env.get(f"{AV}/2.json")
    assert r.json() == {
        "availability": {"agent_state": "offline", "call_status": None, "via": None}
    }
    put = env.put(f"{AV}/2", json={"availability": {"agent_state": "online", "via": "client"}})
    assert put.status_code == 200
    assert put.json() == {
        "availability": {"agent_state": "online", "call_status": None, "via": "client"}
    }
    assert env.get(f"{AV}/2").json() == put.json()
    # recorded as an agent.state_changed: time online accrues
    env.clock.advance(60)
    rows = env.get("/api/v2/channels/voice/stats/agents_activity?group_ids=100").json()
    assert rows["agents_activity"][0]["online_time"] == 60
    # the same state again records nothing and still answers 200
    assert env.put(f"{AV}/2", json={"availability": {"agent_state": "online"}}).status_code == 200


def test_availability_errors(env: Env) -> None:
    assert env.get(f"{AV}/99").status_code == 404
    assert (
        env.put(
            f"{AV}/99", who="admin", json={"availability": {"agent_state": "online"}}
        ).status_code
        == 404
    )
    assert env.get(f"{AV}/4").status_code == 404  # an end user is not an agent
    bad = env.put(f"{AV}/2", json={"availability": {"agent_state": "sleeping"}})
    assert bad.status_code == 422 and bad.json()["error"] == "RecordInvalid"
    assert bad.json()["description"] == "Record validation errors"
    assert "agent_state" in bad.json()["details"]
    bad_via = env.put(f"{AV}/2", json={"availability": {"agent_state": "away", "via": "pigeon"}})
    assert bad_via.status_code == 422 and "via" in bad_via.json()["details"]
    missing = env.put(f"{AV}/2", json={"availability": {}})
    assert missing.status_code == 422 and "agent_state" in missing.json()["details"]
    assert env.put(f"{AV}/2", json={"state": "online"}).status_code == 400
    assert (
        env.put(f"{AV}/2", content=b"{", headers={"Content-Type": "application/json"}).status_code
        == 400
    )


def test_agents_set_only_their_own_availability(env: Env) -> None:
    body = {"availability": {"agent_state": "away"}}
    assert env.put(f"{AV}/3", who="agent", json=body).status_code == 403
    assert env.put(f"{AV}/3", who="agent3", json=body).status_code == 200
    assert env.put(f"{AV}/2", who="admin", json=body).status_code == 200


def test_phone_numbers(env: Env) -> None:
    body = env.get("/api/v2/channels/voice/phone_numbers.json").json()
    assert body["count"] == 2 and body["next_page"] is None
    first = body["phone_numbers"][0]
    assert first["id"] == 10 and first["number"] == "+33100000010"
    assert first["display_number"] == "+33100000010" and first["name"] == "Sales"


def test_groups(env: Env) -> None:
    body = env.get("/api/v2/groups").json()
    assert [(g["id"], g["name"]) for g in body["groups"]] == [(100, "Sales"), (200, "Support")]


def test_users_are_paginated_and_never_show_secrets(env: Env) -> None:
    body = env.get("/api/v2/users?per_page=2").json()
    assert body["count"] == 4 and [u["id"] for u in body["users"]] == [1, 2]
    assert body["next_page"].endswith("per_page=2&page=2")
    user = body["users"][1]
    assert {"id", "name", "email", "role", "avatar_url"} <= set(user)
    assert user["role"] == "agent" and user["avatar_url"] == "https://img.test/2.png"
    everything = env.get("/api/v2/users").text
    assert "argon2" not in everything and "password" not in everything
