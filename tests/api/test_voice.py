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


def test_every_record_url_resolves(env: Env) -> None:
    lists = {
        "/api/v2/users": ("users", "user"),
        "/api/v2/groups": ("groups", "group"),
        "/api/v2/channels/voice/phone_numbers": ("phone_numbers", "phone_number"),
        "/api/v2/group_memberships": ("group_memberships", "group_membership"),
    }
    for path, (many, one) in lists.items():
        records = env.get(f"{path}.json").json()[many]
        assert records, path
        for record in records:
            shown = env.get(record["url"])  # the url as the listing gives it (with .json)
            assert shown.status_code == 200, record["url"]
            assert shown.json() == {one: record}
            bare = env.get(record["url"].removesuffix(".json"))
            assert bare.json() == {one: record}


def test_memberships_are_listed(env: Env) -> None:
    body = env.get("/api/v2/group_memberships").json()
    assert [(m["group_id"], m["user_id"]) for m in body["group_memberships"]] == [
        (100, 2),
        (200, 3),
    ]
    assert body["count"] == 2


def test_a_record_that_is_not_there_is_404(env: Env) -> None:
    for path in (
        "/api/v2/users/99",
        "/api/v2/users/99.json",
        "/api/v2/groups/7",
        "/api/v2/channels/voice/phone_numbers/11.json",
        "/api/v2/group_memberships/3",
        "/api/v2/users/abc",
        "/api/v2/users/-1",
    ):
        r = env.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_records_of_another_account_are_not_shown(env: Env) -> None:
    # user 1 of acme exists; `other`'s admin authenticates only in `other`
    assert env.get("/api/v2/users/1", who="other_admin").status_code == 401
    other_admin = env.service.store.list_users(env.other.id)[0].id
    assert other_admin == 1  # the same id in the other account names another person
    assert env.get("/api/v2/users/1").json()["user"]["email"] == "admin@acme.test"


def test_showing_records_needs_an_agent(env: Env) -> None:
    assert env.get("/api/v2/users/2", who="none").status_code == 401
    assert env.get("/api/v2/groups/100", who="end_user").status_code == 403
    assert env.get("/api/v2/groups/100", who="agent").status_code == 200
