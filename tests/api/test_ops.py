"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import os

import pytest

from talkstats.store import StoreError

from .conftest import Env


def test_healthz(env: Env) -> None:
    r = env.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "retry-after" not in r.headers


def test_readyz(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env.client.get("/readyz").json() == {
        "status": "ready",
        "pid": os.getpid(),
        "events_behind": 0,
        "accounts_behind": {},
    }

    def broken() -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(env.service.store, "list_accounts", broken)
    r = env.client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"] == "ServiceUnavailable"
    assert "locked" not in r.text and "retry-after" in r.headers


def test_openapi_and_docs(env: Env) -> None:
    spec = env.client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v2/channels/voice/stats/account_overview" in paths
    assert "/api/v2/channels/voice/events" in paths
    activity = paths["/api/v2/channels/voice/stats/agents_activity"]["get"]
    assert [p["name"] for p in activity["parameters"]] == ["group_ids", "page", "per_page", "date"]
    assert env.client.get("/docs").status_code == 200


def test_a_store_that_is_down_gives_503_not_500(env: Env) -> None:
    env.service.store.close()  # the real store, unusable from now on

    r = env.get("/api/v2/channels/voice/stats/account_overview.json")

    assert r.status_code == 503
    assert r.json()["error"] == "ServiceUnavailable"
    assert "Traceback" not in r.text and "retry-after" in r.headers
