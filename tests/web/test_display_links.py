"""Display links: made by an admin, open the wallboard read-only, never the API, revocable."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .conftest import ADMIN, AGENT, ORIGIN, Web

LINKS = "/api/v2/wallboard/display_links"


def create(web: Web, description: str = "Lobby TV") -> dict[str, Any]:
    r = web.api("POST", LINKS, json={"display_link": {"description": description}})
    assert r.status_code == 201, r.text
    link: dict[str, Any] = r.json()["display_link"]
    return link


def open_link(web: Web, token: str) -> Any:
    return web.client.post("/wallboard/link", json={"token": token}, headers=ORIGIN)


def test_an_admin_makes_a_link_and_a_screen_opens_the_board_with_it(web: Web) -> None:
    link = create(web)
    token = link["token"]
    assert link["active"] and link["revoked_at"] is None and link["description"] == "Lobby TV"
    assert link["url"] == f"http://acme.talkstats.test/wallboard/link#{token}"
    page = web.client.get("/wallboard/link")  # what the screen loads; the token stays in #
    assert page.status_code == 200 and "link.js" in page.text
    opened = open_link(web, token)
    assert opened.status_code == 204
    header = opened.headers["set-cookie"].lower()
    assert "httponly" in header and "path=/wallboard" in header
    assert f"max-age={30 * 86400}" in header
    board = web.client.get("/wallboard")
    assert board.status_code == 200 and '"session":"display"' in board.text
    assert web.client.get("/wallboard/session").json()["kind"] == "display"


def test_a_display_token_is_refused_by_the_api(web: Web) -> None:
    token = create(web)["token"]
    stats = "/api/v2/channels/voice/stats/account_overview"
    for authorization in (
        f"Bearer {token}",
        "Basic " + base64.b64encode(f"{ADMIN[0]}/token:{token}".encode()).decode(),
        "Basic " + base64.b64encode(f"{ADMIN[0]}:{token}".encode()).decode(),
    ):
        r = web.client.get(stats, headers={"Authorization": authorization})
        assert r.status_code == 401 and r.json() == {"error": "Couldn't authenticate you"}
    # nor does it sign in as a user on the form
    assert web.signin(ADMIN[0], token).status_code == 401


def test_wrong_tokens_open_nothing(web: Web) -> None:
    token = create(web)["token"]
    for body in ({"token": token[:-1] + ("A" if token[-1] != "A" else "B")}, {"token": ""}, {}):
        r = web.client.post("/wallboard/link", json=body, headers=ORIGIN)
        assert r.status_code == 401 and "set-cookie" not in r.headers
    bad = web.client.post("/wallboard/link", content=b"not json", headers=ORIGIN)
    assert bad.status_code == 401
    assert web.client.post("/wallboard/link", json={"token": token}).status_code == 403  # Origin


def test_revoking_signs_the_screen_out(web: Web) -> None:
    link = create(web)
    open_link(web, link["token"])
    assert web.client.get("/wallboard").status_code == 200
    r = web.api("DELETE", f"{LINKS}/{link['id']}")
    assert r.status_code == 204
    assert web.client.get("/wallboard", follow_redirects=False).status_code == 303
    assert web.client.get("/wallboard/session").status_code == 401
    assert open_link(web, link["token"]).status_code == 401
    listed = web.api("GET", LINKS).json()
    assert listed["count"] == 1 and listed["display_links"][0]["active"] is False
    assert listed["display_links"][0]["revoked_at"] is not None
    assert "token" not in listed["display_links"][0]


def test_list_and_revoke_errors(web: Web) -> None:
    create(web, "one")
    create(web, "two")
    body = web.api("GET", f"{LINKS}.json?per_page=1").json()
    assert body["count"] == 2 and len(body["display_links"]) == 1 and body["next_page"]
    assert web.api("DELETE", f"{LINKS}/999").status_code == 404
    assert web.api("DELETE", f"{LINKS}/abc").status_code == 400
    empty = web.api("POST", LINKS)
    assert empty.status_code == 201 and empty.json()["display_link"]["description"] == ""
    long = web.api("POST", LINKS, json={"display_link": {"description": "x" * 201}})
    assert long.status_code == 422


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_admins(web: Web, method: str) -> None:
    assert web.api(method, LINKS, who=AGENT).status_code == 403
    assert web.client.request(method, LINKS).status_code == 401


def test_a_link_of_one_account_does_not_open_another(web: Web) -> None:
    token = create(web)["token"]
    r = web.client.post(
        "http://other.talkstats.test/wallboard/link",
        json={"token": token},
        headers={"Origin": "http://other.talkstats.test"},
    )
    assert r.status_code == 401


def test_a_display_screen_stays_signed_in_while_used(web: Web) -> None:
    open_link(web, create(web)["token"])
    for _ in range(40):  # 40 days, the screen checks in every day
        web.clock.advance(86_400)
        r = web.client.get("/wallboard/session")
        assert r.status_code == 200
    web.clock.advance(31 * 86_400)  # switched off for a month
    assert web.client.get("/wallboard/session").status_code == 401
