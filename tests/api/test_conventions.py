"""docs/api.md conventions over HTTP: paths, tenancy, auth, roles, rate limits, sizes, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from talkstats.api.errors import FORBIDDEN_DESCRIPTION

from .conftest import ADMIN, AGENT, Env, basic

STATS = "/api/v2/channels/voice/stats"
AO = f"{STATS}/account_overview"
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
FORBIDDEN = {"error": "Forbidden", "description": FORBIDDEN_DESCRIPTION}


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        AO,
        f"{STATS}/agents_activity",
        f"{STATS}/agents_overview",
        f"{STATS}/current_queue_activity",
        f"{STATS}/service_level",
        "/api/v2/channels/voice/availabilities/2",
        "/api/v2/channels/voice/phone_numbers",
        "/api/v2/groups",
        "/api/v2/users",
        "/api/v2/ping",
    ],
)
def test_every_path_with_and_without_json_suffix(env: Env, path: str) -> None:
    plain, suffixed = env.get(path), env.get(path + ".json")
    assert plain.status_code == suffixed.status_code == 200
    assert plain.json() == suffixed.json()
    assert suffixed.headers["content-type"] == "application/json; charset=utf-8"


def test_unknown_path_is_record_not_found(env: Env) -> None:
    for path in ("/api/v2/nope", "/api/v2/nope.json", "/nope"):
        r = env.get(path)
        assert r.status_code == 404 and r.json() == NOT_FOUND
    assert env.get("/api/v2/channels/voice/availabilities/999").json() == NOT_FOUND


def test_wrong_method_is_405_with_json_body(env: Env) -> None:
    r = env.client.delete(AO, headers=env.headers["agent"])
    assert r.status_code == 405 and r.json()["error"] == "MethodNotAllowed"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "GET" in r.headers["allow"]


def test_request_validation_never_leaks_detail_shape(env: Env) -> None:
    r = env.get("/api/v2/channels/voice/availabilities/abc")
    assert r.status_code == 400 and "detail" not in r.json()
    assert r.json()["error"] == "InvalidValue" and "agent_id" in r.json()["description"]


def test_unexpected_exception_is_500_without_traceback(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("talkstats.domain.stats.account_overview", boom)
    r = env.get(AO)
    assert r.status_code == 500
    assert r.json()["error"] == "InternalError"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "x-rate-limit" in r.headers
    assert any("secret internals" in str(rec.exc_info) for rec in caplog.records)


# --------------------------------------------------------------------------- tenancy


def test_tenancy_by_host_first_label(env: Env) -> None:
    r = env.client.get(
        AO, headers={**basic("admin@other.test", "other-pass"), "Host": "other.talkstats.test"}
    )
    assert r.status_code == 200
    # team plan: base fields only
    assert "total_inbound_calls" not in r.json()["account_overview"]


def test_unknown_host_without_default_account_is_404(env: Env) -> None:
    r = env.client.get(AO, headers={**env.headers["agent"], "Host": "nobody.example.com"})
    assert r.status_code == 404 and r.json() == NOT_FOUND


def test_unknown_host_uses_configured_default_account(make_env: Callable[..., Env]) -> None:
    env = make_env(default_account="acme")
    for host in ("nobody.example.com", "localhost:8080", "127.0.0.1"):
        r = env.client.get(AO, headers={**env.headers["agent"], "Host": host})
        assert r.status_code == 200, host


# --------------------------------------------------------------------------- auth


def test_each_auth_form(env: Env) -> None:
    token = env.post("/api/v2/api_tokens", json={"api_token": {"description": "ci"}})
    assert token.status_code == 201
    plain = token.json()["api_token"]["token"]
    for headers in (
        basic(*ADMIN),
        basic("ADMIN@acme.test", ADMIN[1]),  # emails are case-insensitive
        basic(f"{ADMIN[0]}/token", plain),
        {"Authorization": f"Bearer {plain}"},
    ):
        assert env.client.get(AO, headers=headers).status_code == 200, headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(AGENT[0], "wrong"),
        basic("nobody@acme.test", "x"),
        basic(f"{AGENT[0]}/token", "not-a-token-at-all-xxxxxxxxxxxxxxxxxxxxx"),
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Digest abc"},
        basic("admin@other.test", "other-pass"),  # another account's credentials
    ],
)
def test_bad_credentials_are_401(env: Env, headers: dict[str, str]) -> None:
    r = env.client.get(AO, headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "Couldn't authenticate you"}
    assert r.headers["www-authenticate"].startswith("Basic realm=")
    assert "x-rate-limit" in r.headers and "retry-after" not in r.headers


def test_other_accounts_token_is_401(env: Env) -> None:
    _, plain = env.service.create_api_token(env.other, user_id=1)
    assert env.client.get(AO, headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    token_basic = basic("admin@other.test/token", plain)
    assert env.client.get(AO, headers=token_basic).status_code == 401


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", AO),
        ("GET", f"{STATS}/agents_activity"),
        ("GET", f"{STATS}/agents_overview"),
        ("GET", f"{STATS}/current_queue_activity"),
        ("GET", "/api/v2/users"),
        ("GET", "/api/v2/groups"),
        ("GET", "/api/v2/channels/voice/phone_numbers"),
        ("GET", "/api/v2/channels/voice/availabilities/2"),
        ("GET", "/api/v2/ping"),
        ("POST", "/api/v2/channels/voice/events"),
        ("POST", "/api/v2/users"),
        ("POST", "/api/v2/api_tokens"),
    ],
)
def test_end_user_is_403_everywhere(env: Env, method: str, path: str) -> None:
    r = env.client.request(method, path, headers=env.headers["end_user"], json={})
    assert r.status_code == 403 and r.json() == FORBIDDEN


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/users",
        "/api/v2/groups",
        "/api/v2/group_memberships",
        "/api/v2/channels/voice/phone_numbers",
        "/api/v2/api_tokens",
        "/api/v2/channels/voice/events",
    ],
)
def test_agent_on_admin_endpoint_is_403(env: Env, path: str) -> None:
    r = env.post(path, who="agent", json={})
    assert r.status_code == 403 and r.json() == FORBIDDEN


def test_cached_credential_skips_hashing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env.get(AO).status_code == 200

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached credential must not reach the service")

    monkeypatch.setattr(env.service, "authenticate", no_hashing)
    assert env.get(AO).status_code == 200
    env.clock.advance(301)  # past the cache TTL: verified again
    monkeypatch.undo()
    assert env.get(AO).status_code == 200


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_on_every_response(env: Env) -> None:
    ok = env.get(AO)
    assert ok.headers["x-rate-limit"] == "15000"
    assert int(ok.headers["x-rate-limit-remaining"]) < 15000
    assert "retry-after" not in ok.headers
    for r in (
        env.get(AO, who="none"),
        env.get("/api/v2/nope"),
        env.get(AO, who="end_user"),
        env.get(f"{AO}?phone_number_ids=x"),
        env.get("/healthz"),
    ):
        assert "x-rate-limit" in r.headers and "x-rate-limit-remaining" in r.headers
        assert "retry-after" not in r.headers
    q = env.get(f"{STATS}/current_queue_activity")
    assert q.headers["x-rate-limit"] == "2500"


def test_429_with_retry_after(make_env: Callable[..., Env]) -> None:
    env = make_env(rate_limit_talk=3, rate_limit_window_seconds=60)
    seen = [env.get(AO) for _ in range(3)]
    assert [r.status_code for r in seen] == [200, 200, 200]
    assert [r.headers["x-rate-limit-remaining"] for r in seen] == ["2", "1", "0"]
    assert all("retry-after" not in r.headers for r in seen)
    refused = env.get(AO)
    assert refused.status_code == 429
    assert refused.json()["error"] == "TooManyRequests" and refused.json()["description"]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-rate-limit"] == "3"
    assert refused.headers["x-rate-limit-remaining"] == "0"
    # the limit counts every /api request of the account, whatever the credentials
    assert env.get(AO, who="none").status_code == 429
    env.clock.advance(int(refused.headers["retry-after"]))
    again = env.get(AO)
    assert again.status_code == 200 and "retry-after" not in again.headers


def test_queue_activity_bucket(make_env: Callable[..., Env]) -> None:
    env = make_env(rate_limit_queue_activity=1)
    cqa = f"{STATS}/current_queue_activity.json"
    assert env.get(cqa).status_code == 200
    refused = env.get(cqa)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert env.get(AO).status_code == 200  # the other Talk endpoints still answer


def test_lifted_limits(make_env: Callable[..., Env]) -> None:
    env = make_env(rate_limit_talk=0, rate_limit_queue_activity=0)
    r = env.get(AO)
    assert r.status_code == 200 and int(r.headers["x-rate-limit"]) >= 2**31 - 1


# --------------------------------------------------------------------------- sizes


def test_413_by_content_length(make_env: Callable[..., Env]) -> None:
    env = make_env(max_request_bytes=100)
    r = env.post("/api/v2/groups", content=b"x" * 101, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert "x-rate-limit" in r.headers
    ok = env.post("/api/v2/groups", json={"group": {"name": "ok"}})
    assert ok.status_code == 201


def test_413_by_streamed_body(make_env: Callable[..., Env]) -> None:
    env = make_env(max_request_bytes=100)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b'{"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx": 1}'

    r = env.post("/api/v2/channels/voice/events", content=chunks())
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
