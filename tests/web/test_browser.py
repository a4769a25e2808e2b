"""The wallboard in a real browser against a real server fed by the simulator.

Headless Chromium from Debian's ``chromium`` package, driven by Playwright (launched
with its executable path: nothing downloads a browser), against ``talkstats serve``
processes. The simulator sends two hours of traffic up to now over HTTP and leaves
calls open, so callers are waiting while the tests look. Screenshots (1920x1080,
light and dark) are kept in ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.harness import Server, environment, talkstats

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ZONE = "America/New_York"
ADMIN = ("admin@acme.test", "admin-password")
STATS = "/api/v2/channels/voice/stats"
SCENARIO = f"""
name = "wallboard-test"
[account]
timezone = "{ZONE}"
[agents]
count = 4
first_id = 101
names = ["Ana Lima", "Ben Novak", "Chloe Okafor", "David Berg"]
[[shifts]]
agents = 4
start = 0
end = 24
[[groups]]
id = 7
name = "Support"
members = "all"
[[groups]]
id = 8
name = "Sales"
members = [101, 102]
[[phone_numbers]]
id = 11
name = "Support line"
group_id = 7
calls_per_hour = 70
[[phone_numbers]]
id = 12
name = "Sales line"
group_id = 8
calls_per_hour = 30
web_widget_share = 0.1
[calls]
handle_time_mean = 240
patience_mean = 900
max_queue_wait = 3600
callback_request_probability = 0.05
wrap_up_mean = 20
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a fresh account, with two hours of simulated traffic up to now."""
    workdir = tmp_path_factory.mktemp("wallboard")
    database = f"sqlite:///{workdir / 'talkstats.db'}"
    talkstats(
        "account", "create", "acme", "--timezone", ZONE, "--plan", "professional",
        "--admin-email", ADMIN[0], "--admin-password", ADMIN[1], database=database,
    )  # fmt: skip
    running = Server(database, workdir)
    running.start()
    scenario = workdir / "scenario.toml"
    scenario.write_text(SCENARIO)
    start = (datetime.now(ZoneInfo(ZONE)) - timedelta(hours=2)).replace(tzinfo=None)
    done = subprocess.run(
        [
            sys.executable, "-m", "talkstats", "simulate", "--scenario", str(scenario),
            "--seed", "5", "--from", start.isoformat(timespec="seconds"), "--hours", "2",
            "--url", running.url, "--email", ADMIN[0], "--password", ADMIN[1],
            "--create-reference-data", "--no-finish",
        ],
        capture_output=True, text=True, timeout=120, env=environment(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield running
    finally:
        running.close()


def api(server: Server, path: str, **params: Any) -> Any:
    r = requests.get(f"{server.url}{path}", params=params, auth=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def signed_in(chromium: Any, server: Server, path: str = "/wallboard", **context: Any) -> Any:
    page = chromium.new_context(viewport={"width": 1920, "height": 1080}, **context).new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(f"{server.url}{path}")
    assert "/wallboard/signin" in page.url
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/wallboard(\?.*)?$"))
    filled(page)
    page.problems = problems
    return page


def filled(page: Any) -> None:
    """Wait until the first board and the chart have arrived."""
    page.wait_for_function(
        "() => document.querySelector('[data-tile=calls_today] .value').dataset.value !== undefined"
        " && document.querySelector('#chart canvas') !== null",
        timeout=10_000,
    )


def seconds(text: str) -> int:
    """'1:02:05' / '2:05' -> seconds."""
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


def tiles(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-tile]",
        "nodes => Object.fromEntries(nodes.map(n => "
        "[n.dataset.tile, n.querySelector('.value').innerText.replace(/\\s/g, '')]))",
    )


def agents_table(page: Any) -> list[tuple[str, str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        "#agents tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    return [(row[0], row[1]) for row in rows]


STATUS_LABEL = {
    "on_call": "On a call",
    "wrap_up": "Wrap-up",
    "online": "Available",
    "away": "Away",
    "transfers_only": "Transfers only",
    "offline": "Offline",
}


@pytest.mark.parametrize("query", ["", "phone_number_ids=12&group_ids=8&sl_threshold=30"])
def test_every_tile_shows_what_the_api_says(chromium: Any, server: Server, query: str) -> None:
    page = signed_in(chromium, server, f"/wallboard?{query}" if query else "/wallboard")
    shown = tiles(page)
    ids = {"phone_number_ids": "12"} if query else {}
    groups = {"group_ids": "8"} if query else {}
    queue = api(server, f"{STATS}/current_queue_activity", **ids)["current_queue_activity"]
    overview = api(server, f"{STATS}/account_overview", **ids)["account_overview"]
    level = api(server, f"{STATS}/service_level", threshold=30 if query else 20, **ids)
    timeline = api(server, f"{STATS}/timeline", **ids)["timeline"]
    rows = api(server, f"{STATS}/agents_activity", **groups)["agents_activity"]
    assert overview["total_calls"] > 20 and queue["calls_waiting"] > 0  # a busy morning
    assert shown["calls_waiting"] == str(queue["calls_waiting"])
    assert shown["callbacks_waiting"] == str(queue["callbacks_waiting"])
    # it ticks: the tile was read a moment before the API
    assert abs(seconds(shown["longest_wait"]) - queue["longest_wait_time"]) <= 1
    assert seconds(shown["average_wait"]) == overview["average_queue_wait_time"]
    assert shown["calls_today"] == str(overview["total_calls"])
    assert shown["answered"] == str(timeline["totals"]["answered"])
    assert shown["abandoned"] == str(overview["total_calls_abandoned_in_queue"])
    percent = level["service_level"]["percent"]
    assert shown["service_level"] == ("–" if percent is None else f"{percent:.1f}%")
    states = [(r["agent_state"], r["call_status"]) for r in rows]
    assert shown["agents_online"] == str(
        sum(s in ("online", "away", "transfers_only") for s, _ in states)
    )
    assert shown["agents_available"] == str(sum(s == "online" and c is None for s, c in states))
    assert shown["agents_on_call"] == str(sum(c == "on_call" for _, c in states))
    assert shown["agents_wrap_up"] == str(sum(c == "wrap_up" for _, c in states))
    assert shown["agents_away"] == str(sum(s == "away" for s, _ in states))
    table = sorted(agents_table(page))
    expected = sorted((r["name"], STATUS_LABEL[r["call_status"] or r["agent_state"]]) for r in rows)
    assert table == expected
    assert page.problems == []


def test_a_new_event_shows_within_a_second(chromium: Any, server: Server) -> None:
    page = signed_in(chromium, server)
    before = int(tiles(page)["calls_today"])
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    posted = requests.post(
        f"{server.url}/api/v2/channels/voice/events",
        json={"events": [
            {"id": "late-1", "type": "call.started", "time": now, "call_id": "late-call",
             "direction": "inbound", "phone_number_id": 11},
        ]},
        auth=ADMIN, timeout=10,
    )  # fmt: skip
    assert posted.status_code == 200 and posted.json()["accepted"] == 1
    acknowledged = time.monotonic()
    page.wait_for_function(
        "(want) => document.querySelector('[data-tile=calls_today] .value').dataset.value === want",
        arg=str(before + 1),
        timeout=1000,
        polling="raf",
    )
    print(f"shown {time.monotonic() - acknowledged:.3f} s after the acknowledgement")


def test_screenshots_light_and_dark(chromium: Any, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page = signed_in(chromium, server, color_scheme=scheme)
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(12, 16, 22)") == (scheme == "dark")
        page.wait_for_timeout(300)  # let the chart's canvas paint before the picture
        path = ARTIFACTS / f"wallboard-{scheme}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 50_000
        assert page.problems == []


def test_a_display_link_opens_the_board_but_not_the_api(chromium: Any, server: Server) -> None:
    created = requests.post(
        f"{server.url}/api/v2/wallboard/display_links",
        json={"display_link": {"description": "Lobby TV"}},
        auth=ADMIN,
        timeout=10,
    )
    assert created.status_code == 201
    link = created.json()["display_link"]
    page = chromium.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.goto(link["url"])
    page.wait_for_url(re.compile(r".*/wallboard$"))
    assert link["token"] not in page.url
    filled(page)
    assert int(tiles(page)["calls_today"]) > 20
    token = link["token"]
    # what the screen holds (its session cookie, the token) opens none of the API
    cookies = page.context.cookies()
    assert [(c["name"], c["path"], c["httpOnly"]) for c in cookies] == [
        ("talkstats_wallboard", "/wallboard", True)
    ]
    session = f"talkstats_wallboard={cookies[0]['value']}"
    basic = base64.b64encode(f"{ADMIN[0]}/token:{token}".encode()).decode()
    for path in (f"{STATS}/account_overview", "/api/v2/ping", "/api/v2/users"):
        for headers in (
            {"Cookie": session},
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Basic {basic}"},
        ):
            r = requests.get(f"{server.url}{path}", headers=headers, timeout=10)
            assert r.status_code == 401, (path, headers)
    # revoked: the screen is signed out within seconds
    revoked = requests.delete(
        f"{server.url}/api/v2/wallboard/display_links/{link['id']}", auth=ADMIN, timeout=10
    )
    assert revoked.status_code == 204
    page.wait_for_url(re.compile(r".*/wallboard/signin\?reason=revoked.*"), timeout=15_000)
    assert "revoked" in page.inner_text(".notice")


def test_the_banner_while_the_server_is_away(chromium: Any, server: Server) -> None:
    page = signed_in(chromium, server)
    banner = page.locator("#banner")
    assert banner.is_hidden()
    port = int(server.url.rsplit(":", 1)[1])
    assert server.stop() == 0, server.stderr()
    banner.wait_for(state="visible", timeout=5000)
    text = banner.inner_text()
    assert "cannot be reached" in text and "old" in text
    assert page.locator("body.stale").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wallboard-unreachable.png"))
    server.start(port=port)  # the same address: the screen finds it by itself
    banner.wait_for(state="hidden", timeout=15_000)
    filled(page)
    assert int(tiles(page)["calls_today"]) > 20
