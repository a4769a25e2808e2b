"""Administration endpoints: creates, validation (422 naming the field), duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Env, basic


def details(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "RecordInvalid" and body["description"] == "Record validation errors"
    out: dict[str, Any] = body["details"]
    return out


def test_create_user_then_it_can_log_in(env: Env) -> None:
    r = env.post(
        "/api/v2/users",
        json={
            "user": {
                "name": "Agent Nine",
                "email": "nine@acme.test",
                "role": "agent",
                "id": 9,
                "password": "nine-pass",
                "avatar_url": "https://img.test/9.png",
            }
        },
    )
    assert r.status_code == 201
    user = r.json()["user"]
    assert (user["id"], user["name"], user["role"]) == (9, "Agent Nine", "agent")
    assert "password" not in r.text and "argon2" not in r.text
    assert (
        env.client.get("/api/v2/ping", headers=basic("nine@acme.test", "nine-pass")).status_code
        == 200
    )
    rows = env.get("/api/v2/channels/voice/stats/agents_activity").json()["agents_activity"]
    assert 9 in [row["agent_id"] for row in rows]


def test_create_user_defaults_to_end_user(env: Env) -> None:
    r = env.post("/api/v2/users", json={"user": {"name": "Caller", "email": "c@x.test"}})
    assert r.status_code == 201 and r.json()["user"]["role"] == "end-user"


@pytest.mark.parametrize(
    "user,field",
    [
        ({"email": "a@b.test"}, "name"),
        ({"name": "", "email": "a@b.test"}, "name"),
        ({"name": "A"}, "email"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "email": "a@b.test", "role": "owner"}, "role"),
        ({"name": "A", "email": "a@b.test", "id": -1}, "id"),
        ({"name": "A", "email": "a@b.test", "id": "7"}, "id"),
        ({"name": "A", "email": "a@b.test", "password": ""}, "password"),
        ({"name": "A", "email": "a@b.test", "avatar_url": 5}, "avatar_url"),
        # U+0000 cannot be stored by PostgreSQL: refused on every store alike
        ({"name": "A\x00B", "email": "a@b.test"}, "name"),
        ({"name": "A", "email": "a\x00@b.test"}, "email"),
        ({"name": "A", "email": "a@b.test", "avatar_url": "https://x/\x00"}, "avatar_url"),
    ],
)
def test_create_user_validation(env: Env, user: dict[str, Any], field: str) -> None:
    assert field in details(env.post("/api/v2/users", json={"user": user}))


def test_create_user_duplicates(env: Env) -> None:
    dup_email = details(
        env.post("/api/v2/users", json={"user": {"name": "X", "email": "AGENT@acme.test"}})
    )
    assert dup_email["email"][0]["error"] == "DuplicateValue"
    assert "already" in dup_email["email"][0]["description"]
    dup_id = details(
        env.post("/api/v2/users", json={"user": {"name": "X", "email": "x@acme.test", "id": 2}})
    )
    assert dup_id["id"][0]["error"] == "DuplicateValue"
    # the caller knows its account: the description names neither its id nor subdomain
    assert dup_id["id"][0]["description"] == "user id 2 already exists"


def test_create_user_body_shape(env: Env) -> None:
    r = env.post("/api/v2/users", json={"name": "no wrapper"})
    assert r.status_code == 400 and r.json()["error"] == "InvalidValue"


def test_groups_and_memberships(env: Env) -> None:
    g = env.post("/api/v2/groups", json={"group": {"name": "Night shift"}})
    assert g.status_code == 201
    group_id = g.json()["group"]["id"]
    assert group_id == 201
    m = env.post(
        "/api/v2/group_memberships", json={"group_membership": {"user_id": 3, "group_id": group_id}}
    )
    assert m.status_code == 201
    assert {k: m.json()["group_membership"][k] for k in ("user_id", "group_id")} == {
        "user_id": 3,
        "group_id": group_id,
    }
    rows = env.get(f"/api/v2/channels/voice/stats/agents_activity?group_ids={group_id}").json()
    assert [r["agent_id"] for r in rows["agents_activity"]] == [3]
    again = details(
        env.post(
            "/api/v2/group_memberships",
            json={"group_membership": {"user_id": 3, "group_id": group_id}},
        )
    )
    assert again["user_id"][0]["error"] == "DuplicateValue"
    assert "group_id" in details(
        env.post(
            "/api/v2/group_memberships", json={"group_membership": {"user_id": 3, "group_id": 999}}
        )
    )
    assert "user_id" in details(
        env.post(
            "/api/v2/group_memberships",
            json={"group_membership": {"user_id": 999, "group_id": group_id}},
        )
    )
    assert "user_id" in details(
        env.post(
            "/api/v2/group_memberships",
            json={"group_membership": {"user_id": 4, "group_id": group_id}},
        )
    )  # end user
    assert "group_id" in details(
        env.post("/api/v2/group_memberships", json={"group_membership": {"user_id": 3}})
    )
    dup_group = details(env.post("/api/v2/groups", json={"group": {"name": "X", "id": 100}}))
    assert dup_group["id"][0]["error"] == "DuplicateValue"


def test_phone_numbers(env: Env) -> None:
    r = env.post(
        "/api/v2/channels/voice/phone_numbers",
        json={"phone_number": {"id": 30, "number": "+33100000030", "name": "VIP"}},
    )
    assert r.status_code == 201
    assert r.json()["phone_number"]["id"] == 30 and r.json()["phone_number"]["name"] == "VIP"
    unnamed = env.post(
        "/api/v2/channels/voice/phone_numbers", json={"phone_number": {"number": "+33100000031"}}
    )
    assert unnamed.status_code == 201 and unnamed.json()["phone_number"]["name"] == "+33100000031"
    assert "number" in details(
        env.post(
            "/api/v2/channels/voice/phone_numbers", json={"phone_number": {"name": "no number"}}
        )
    )
    assert "id" in details(
        env.post(
            "/api/v2/channels/voice/phone_numbers",
            json={"phone_number": {"id": 10, "number": "+1"}},
        )
    )
    # events may now name the new number
    q = env.get("/api/v2/channels/voice/stats/current_queue_activity?phone_number_ids=30")
    assert q.status_code == 200


def test_api_tokens_are_shown_once(env: Env) -> None:
    r = env.post("/api/v2/api_tokens", json={"api_token": {"description": "wallboard"}})
    assert r.status_code == 201
    token = r.json()["api_token"]
    assert token["description"] == "wallboard" and token["user_id"] == 1
    assert len(token["token"]) == 40
    assert env.post("/api/v2/api_tokens", content=b"").status_code == 201  # body optional
