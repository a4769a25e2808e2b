"""The worked example of docs/events.md, read from the page itself.

The page marks each part with an HTML comment, ``<!-- worked-example:NAME -->``,
followed by a fenced JSON block or a Markdown table. Tests send the events it shows
and compare what talkstats answers with the numbers it shows, so the page cannot
drift from the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS_MD = ROOT / "docs" / "events.md"
DAY = "2026-11-26"
ZONE = "Europe/Paris"
AGENTS = {7: "Ada", 8: "Ben", 9: "Cleo"}
GROUP = 10
PHONE_NUMBER = 1


def _part(name: str) -> str:
    """The text of the block or table right after the marker ``name``."""
    text = EVENTS_MD.read_text()
    marker = f"<!-- worked-example:{name} -->\n"
    assert text.count(marker) == 1, f"docs/events.md: one marker {marker.strip()} expected"
    rest = text.split(marker, 1)[1]
    fenced = re.match(r"```json\n(.*?)\n```", rest, re.DOTALL)
    if fenced:
        return fenced.group(1)
    table = re.match(r"((?:\|.*\|\n)+)", rest)
    assert table, f"docs/events.md: no JSON block or table after {marker.strip()}"
    return table.group(1)


def _json(name: str) -> Any:
    return json.loads(_part(name))


def events() -> list[dict[str, Any]]:
    """The request body's events."""
    body = _json("events")
    found: list[dict[str, Any]] = body["events"]
    return found


def expected(endpoint: str) -> dict[str, Any]:
    """The body shown for account_overview, agents_overview or service_level."""
    shown: dict[str, Any] = _json(endpoint)
    return shown


def expected_activity() -> dict[int, dict[str, Any]]:
    """agents_activity as the table shows it: agent id -> {field: value}."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in _part("agents_activity").splitlines()
    ]
    header, _, *body = rows
    agent_ids = [int(cell.split()[0]) for cell in header[1:]]
    table: dict[int, dict[str, Any]] = {agent_id: {} for agent_id in agent_ids}
    for field, *values in body:
        for agent_id, value in zip(agent_ids, values, strict=True):
            table[agent_id][field] = int(value) if value.isdigit() else value
    return table
