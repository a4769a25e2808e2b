"""Signing in to the wallboard: the form, the cookie, who may, what a cookie opens."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from talkstats.web.sessions import COOKIE

from .conftest import ADMIN, AGENT, END_USER, ORIGIN, Web


def cookie_of(response: httpx.Response) -> Any:
    header = response.headers["set-cookie"]
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    return jar[COOKIE], header.lower()


def config_of(page: httpx.Response) -> dict[str, Any]:
    m = re.search(
        r'<script type="application/json" id="wallboard-config">(.*?)</script>', page.text
    )
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_the_board_asks_for_a_sign_in_first(web: Web) -> None:
    r = web.client.get("/wallboard?phone_number_ids=10", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/wallboard/signin?next=%2Fwallboard%3Fphone_number_ids%3D10"
    form = web.client.get(r.headers["location"])
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert 'name="password"' in form.text and 'value="/wallboard?phone_number_ids=10"' in form.text
    assert "default-src 'self'" in form.headers["content-security-policy"]
    assert "<script>" not in form.text  # no inline script anywhere


def test_sign_in_sets_a_safe_cookie_and_goes_where_it_was_asked(web: Web) -> None:
    r = web.signin(*AGENT, data={"next": "/wallboard?group_ids=100"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wallboard?group_ids=100"
    morsel, header = cookie_of(r)
    assert morsel["path"] == "/wallboard"
    assert morsel["max-age"] == str(12 * 3600)
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header
    assert AGENT[1] not in header and AGENT[1] not in r.headers["location"]
    page = web.client.get("/wallboard?group_ids=100")
    assert page.status_code == 200
    config = config_of(page)
    assert config["session"] == "user" and config["account"] == "acme"
    assert config["filters"] == {
        "phone_number_ids": None,
        "group_ids": [100],
        "sl_threshold": 20,
        "sl_target": 80,
    }
    assert {n["id"] for n in config["phone_numbers"]} == {10, 20}
    assert config["text"]["tile.calls_waiting"] == "Calls waiting"
    assert config["stream"] == "/wallboard/stream?group_ids=100"


def test_https_makes_the_cookie_secure(make_web: Callable[..., Web]) -> None:
    web = make_web(base="https://acme.talkstats.test")
    r = web.signin(*AGENT, headers={"Origin": "https://acme.talkstats.test"})
    _, header = cookie_of(r)
    assert "secure" in header


def test_an_api_token_signs_in_too(web: Web) -> None:
    created = web.api("POST", "/api/v2/api_tokens").json()["api_token"]
    assert web.signin(ADMIN[0], created["token"]).status_code == 303


@pytest.mark.parametrize(
    ("who", "status", "words"),
    [
        ((AGENT[0], "wrong"), 401, "did not work"),
        (("nobody@acme.test", "x"), 401, "did not work"),
        ((END_USER[0], END_USER[1]), 403, "Only agents and admins"),
        (("admin@other.test", "other-pass"), 401, "did not work"),  # another account's admin
    ],
)
def test_who_may_not(web: Web, who: tuple[str, str], status: int, words: str) -> None:
    r = web.signin(*who)
    assert r.status_code == status and words in r.text
    assert "set-cookie" not in r.headers


def test_a_post_from_another_site_is_refused(web: Web) -> None:
    for headers in ({"Origin": "https://evil.test"}, {"Origin": "null"}):
        r = web.client.post(
            "/wallboard/signin", data={"email": AGENT[0], "password": AGENT[1]}, headers=headers
        )
        assert r.status_code == 403 and "set-cookie" not in r.headers
    no_origin = web.client.post("/wallboard/signin", data={"email": AGENT[0], "password": AGENT[1]})
    assert no_origin.status_code == 403
    referer = web.client.post(
        "/wallboard/signin",
        data={"email": AGENT[0], "password": AGENT[1]},
        headers={"Referer": "http://acme.talkstats.test/wallboard/signin"},
        follow_redirects=False,
    )
    assert referer.status_code == 303


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test/wallboard", "/api/v2/users", "/wallboard\\@x"]
)
def test_no_open_redirect(web: Web, target: str) -> None:
    r = web.signin(*AGENT, data={"next": target}, follow_redirects=False)
    assert r.headers["location"] == "/wallboard"


def test_the_session_expires(web: Web) -> None:
    web.signin(*AGENT)
    assert web.client.get("/wallboard").status_code == 200
    web.clock.advance(12 * 3600 - 1)
    assert web.client.get("/wallboard").status_code == 200
    web.clock.advance(1)
    assert web.client.get("/wallboard", follow_redirects=False).status_code == 303
    assert web.client.get("/wallboard/session").status_code == 401


def test_a_tampered_or_foreign_cookie_opens_nothing(web: Web) -> None:
    r = web.signin(*AGENT)
    value = cookie_of(r)[0].value
    web.client.http.cookies.clear()
    forged = value.replace(".u.2.", ".u.1.")  # claim to be the admin
    for cookie in (forged, value[:-2], "garbage"):
        page = web.client.get(
            "/wallboard", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
        )
        assert page.status_code == 303, cookie


def test_the_cookie_never_opens_the_api(web: Web) -> None:
    r = web.signin(*ADMIN)
    value = cookie_of(r)[0].value
    api = web.client.get(
        "/api/v2/channels/voice/stats/account_overview", headers={"Cookie": f"{COOKIE}={value}"}
    )
    assert api.status_code == 401


def test_sessions_survive_a_restart(make_web: Callable[..., Web], tmp_path: Any) -> None:
    first = make_web(path=tmp_path / "same")
    value = cookie_of(first.signin(*AGENT))[0].value
    second = make_web(path=tmp_path / "same")  # a new service and app on the same database
    page = second.client.get("/wallboard", headers={"Cookie": f"{COOKIE}={value}"})
    assert page.status_code == 200


def test_sign_out(web: Web) -> None:
    web.signin(*AGENT)
    r = web.client.post("/wallboard/signout", headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wallboard/signin"
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert web.client.get("/wallboard", follow_redirects=False).status_code == 303
    assert web.client.post("/wallboard/signout").status_code == 403  # no Origin


def test_bad_filters_are_named(web: Web) -> None:
    web.signin(*AGENT)
    for query, word in (
        ("phone_number_ids=abc", "phone_number_ids"),
        ("group_ids=0", "group_ids"),
        ("sl_threshold=-1", "sl_threshold: &#x27;-1&#x27;"),
        ("sl_target=101", "sl_target"),
    ):
        r = web.client.get(f"/wallboard?{query}")
        assert r.status_code == 400 and word in r.text, query


def test_sign_in_counts_against_the_rate_limit(make_web: Callable[..., Web]) -> None:
    web = make_web(rate_limit_talk=2)
    assert web.signin(AGENT[0], "wrong").status_code == 401
    assert web.signin(AGENT[0], "wrong").status_code == 401
    assert web.signin(*AGENT).status_code == 429


def test_no_account_at_this_address(make_web: Callable[..., Web]) -> None:
    web = make_web(base="http://unknown.example.test")  # two accounts, no default
    assert web.client.get("/wallboard").status_code == 404
    assert web.signin(*AGENT, headers={"Origin": "http://unknown.example.test"}).status_code == 404


def test_the_language_follows_the_browser_when_a_catalog_exists(web: Web) -> None:
    web.signin(*AGENT)
    page = web.client.get("/wallboard", headers={"Accept-Language": "xx-YY, en;q=0.5"})
    assert config_of(page)["lang"] == "en" and '<html lang="en">' in page.text


def test_static_files_are_served_by_the_server_itself(web: Web) -> None:
    web.signin(*AGENT)
    page = web.client.get("/wallboard").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assets = [s for s in sources if s.startswith("/wallboard/static/")]
    assert len(assets) == 4
    assert all(s.startswith(("/wallboard/", "data:")) for s in sources), sources
    for path in assets:
        r = web.client.get(path)
        assert r.status_code == 200 and len(r.content) > 500, path


def test_the_wallboard_is_not_in_the_api_document(web: Web) -> None:
    paths = web.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/wallboard")]
    assert "/api/v2/wallboard/display_links" in paths
