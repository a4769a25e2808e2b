"""The wallboard's HTML: the board's frame, the sign-in form, the display-link page.

Every word comes from the language's catalog (``text.py``); every value is escaped.
Pages load only this server's own files (the Content-Security-Policy says so), and
no script is inline: the board's settings travel as a JSON data block.
"""

from __future__ import annotations

import hashlib
from functools import cache
from html import escape
from importlib import resources
from typing import Any

import orjson
from starlette.responses import HTMLResponse

from .text import fill, words

STATIC = "/wallboard/static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make a form's Origin "null"
    "Cache-Control": "no-store",
}

TILES = (
    # (key, label, group) in screen order; the browser fills in the numbers. Row one:
    # the queue and today's calls; row two: the service level (two wide) and agents.
    ("calls_waiting", "tile.calls_waiting", "queue"),
    ("callbacks_waiting", "tile.callbacks_waiting", "queue"),
    ("longest_wait", "tile.longest_wait", "queue"),
    ("average_wait", "tile.average_wait", "queue"),
    ("calls_today", "tile.calls_today", "today"),
    ("answered", "tile.answered", "today"),
    ("abandoned", "tile.abandoned", "today"),
    ("service_level", "tile.service_level", "today"),
    ("agents_online", "tile.agents_online", "agents"),
    ("agents_available", "tile.agents_available", "agents"),
    ("agents_on_call", "tile.agents_on_call", "agents"),
    ("agents_wrap_up", "tile.agents_wrap_up", "agents"),
    ("agents_away", "tile.agents_away", "agents"),
)


@cache
def asset_version(name: str) -> str:
    """A short digest of a static file, so a new release is never served from a cache."""
    data = (resources.files("talkstats.web") / "static" / name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def asset(name: str) -> str:
    return f"{STATIC}/{name}?v={asset_version(name)}"


def _document(lang: str, title: str, body: str, head: str = "", status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{asset("wallboard.css")}">\n{head}</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def signin(
    lang: str, *, next_path: str, message: str | None = None, status: int = 200
) -> HTMLResponse:
    w = words(lang)
    notice = f'<p class="notice" role="alert">{escape(message)}</p>' if message else ""
    body = f"""<main class="card">
<h1>{escape(w["signin.title"])}</h1>
<p>{escape(w["signin.intro"])}</p>
{notice}
<form method="post" action="/wallboard/signin">
<input type="hidden" name="next" value="{escape(next_path)}">
<label>{escape(w["signin.email"])}
<input type="email" name="email" autocomplete="username" required autofocus></label>
<label>{escape(w["signin.password"])}
<input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">{escape(w["signin.submit"])}</button>
</form>
</main>"""
    return _document(lang, w["signin.title"], body, status=status)


def link(lang: str) -> HTMLResponse:
    w = words(lang)
    config = {"text": {k: v for k, v in w.items() if k.startswith("link.")}}
    head = (
        f'<script type="application/json" id="wallboard-config">{_json(config)}</script>\n'
        f'<script src="{asset("link.js")}" defer></script>\n'
    )
    body = f"""<main class="card">
<h1>{escape(w["link.title"])}</h1>
<p id="link-status" role="status">{escape(w["link.opening"])}</p>
</main>"""
    return _document(lang, w["link.title"], body, head)


def error(lang: str, message: str, status: int) -> HTMLResponse:
    w = words(lang)
    body = f'<main class="card"><h1>{escape(w["error.title"])}</h1><p>{escape(message)}</p></main>'
    return _document(lang, w["error.title"], body, status=status)


def board(lang: str, *, subdomain: str, config: dict[str, Any]) -> HTMLResponse:
    """The board's frame: header, banner, empty tiles, chart and table; wallboard.js
    fills them from the live stream."""
    w = words(lang)
    tiles = "\n".join(
        f'<section class="tile tile-{group}" data-tile="{key}">'
        f'<h2>{escape(w[label])}</h2><p class="value">–</p><p class="detail"></p></section>'
        for key, label, group in TILES
    )
    columns = [
        ("name", "agents.name"),
        ("status", "agents.status"),
        ("time", "agents.time"),
        ("calls_accepted", "agents.accepted"),
        ("calls_missed", "agents.missed"),
        ("total_talk_time", "agents.talk"),
    ]
    headers = "".join(
        f'<th scope="col"><button type="button" data-sort="{key}">{escape(w[label])}</button></th>'
        for key, label in columns
    )
    head = (
        f'<link rel="stylesheet" href="{asset("vendor/uplot/uPlot.min.css")}">\n'
        f'<script type="application/json" id="wallboard-config">{_json(config)}</script>\n'
        f'<script src="{asset("vendor/uplot/uPlot.iife.min.js")}" defer></script>\n'
        f'<script src="{asset("wallboard.js")}" defer></script>\n'
    )
    body = f"""<header class="top">
<h1>{escape(w["page.title"])} <span class="account">{escape(subdomain)}</span></h1>
<p class="filters" id="filters"></p>
<p class="updated" id="updated" aria-live="off"></p>
<button type="button" id="open-settings">{escape(w["settings.open"])}</button>
<form method="post" action="/wallboard/signout" class="signout">
<button type="submit">{escape(w["signout"])}</button></form>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main class="board">
<div class="tiles">
{tiles}
</div>
<section class="chart-panel"><h2>{escape(w["chart.title"])}</h2><div id="chart"></div>
<ul class="legend" id="legend"></ul></section>
<section class="agents-panel"><h2>{escape(w["agents.title"])}</h2>
<table id="agents"><thead><tr>{headers}</tr></thead><tbody></tbody></table>
<p class="more" id="agents-more"></p></section>
</main>
<dialog id="settings"></dialog>"""
    return _document(lang, fill(w["page.title"]) + f" · {subdomain}", body, head)


def _json(data: Any) -> str:
    """JSON safe inside a <script> data block (no "</" can close it)."""
    return orjson.dumps(data).decode().replace("</", "<\\/")
