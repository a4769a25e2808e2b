"""The documentation stands on its own: its links resolve inside the repository, and
the worked example of docs/events.md gives the numbers it shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from talkstats.api.app import create_app
from tests import worked_example
from tests.api.conftest import ADMIN, Client, basic, build

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The page without fenced blocks and code spans (examples are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _links(text: str) -> Iterator[str]:
    prose = _prose(text)
    for pattern in (_INLINE_LINK, _REFERENCE, _AUTOLINK):
        for match in pattern.finditer(prose):
            yield match.group(1)


def _anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a page (lowercase, punctuation dropped, -N for repeats)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text())):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def problems(page: Path, text: str) -> list[str]:
    """What is wrong with the links of ``text``, a page at ``page``."""
    found = []
    if "../shared" in text or "shared/spec" in text:
        found.append("mentions ../shared")
    for link in _links(text):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        if _SCHEME.match(link):
            found.append(f"{link}: not a web link")
            continue
        path, _, anchor = link.partition("#")
        base = ROOT if path.startswith("/") else page.parent
        target = (base / path.lstrip("/")).resolve() if path else page
        if not target.is_relative_to(ROOT):
            found.append(f"{link}: leaves the repository")
        elif not target.exists():
            found.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            found.append(f"{link}: no such heading")
    return found


def test_the_pages_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/events.md", "docs/statistics.md", "docs/connecting.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_stays_in_the_repository_and_resolves(page: Path) -> None:
    assert problems(page, page.read_text()) == []


def test_the_link_check_finds_each_kind_of_problem() -> None:
    page = ROOT / "docs" / "new.md"
    text = (
        "See [the spec](../../shared/spec/EVENTS.md), [gone](gone.md), "
        "[a heading](statistics.md#no-such-heading), [a file](file:///etc/passwd), "
        "[fine](statistics.md#what-date-changes), [root](/README.md), [web](https://x.example) "
        "and `[code](not-a-link.md)`.\n\n```\n[block](not-a-link-either.md)\n```\n"
    )
    assert problems(page, text) == [
        "mentions ../shared",
        "../../shared/spec/EVENTS.md: leaves the repository",
        "gone.md: no such file",
        "statistics.md#no-such-heading: no such heading",
        "file:///etc/passwd: not a web link",
    ]


def test_the_anchor_rule_matches_github() -> None:
    page = ROOT / "docs" / "statistics.md"
    assert {"what-date-changes", "the-zendesk-text-and-how-talkstats-reads-it"} <= _anchors(page)


# --- the worked example of docs/events.md -------------------------------------------

STATS = "/api/v2/channels/voice/stats"


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Client]:
    """The API's test account (professional, Europe/Paris) with the example's agents,
    group and phone number, the day after the example."""
    service, clock, acme, _ = build(tmp_path, {})
    assert (acme.timezone, acme.plan) == (worked_example.ZONE, "professional")
    clock.set("12:00:00", day="2026-11-27")
    service.create_group(acme, name="Support", id=worked_example.GROUP)
    for agent_id, name in worked_example.AGENTS.items():
        service.create_user(
            acme, name=name, email=f"{name.lower()}@acme.example", role="agent", id=agent_id
        )
        service.add_membership(acme, group_id=worked_example.GROUP, user_id=agent_id)
    service.create_phone_number(
        acme, number="+33100000001", name="Main line", id=worked_example.PHONE_NUMBER
    )
    client = Client(create_app(service), "http://acme.talkstats.test")
    try:
        yield client
    finally:
        client.close()
        service.close()


def _get(client: Client, path: str) -> Any:
    response = client.get(path, headers=basic(*ADMIN))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_worked_example_gives_the_numbers_it_shows(example: Client) -> None:
    events = worked_example.events()
    post = {"json": {"events": events}, "headers": basic(*ADMIN)}
    first = example.post("/api/v2/channels/voice/events", **post).json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (len(events), 0, 0)
    again = example.post("/api/v2/channels/voice/events", **post).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, len(events), 0)

    day = f"date={worked_example.DAY}"
    for endpoint in ("account_overview", "agents_overview", "service_level"):
        shown = worked_example.expected(endpoint)
        assert _get(example, f"{STATS}/{endpoint}?{day}") == shown, endpoint
    rows = _get(example, f"{STATS}/agents_activity?group_ids={worked_example.GROUP}&{day}")
    by_agent = {row["agent_id"]: row for row in rows["agents_activity"]}
    shown_rows = worked_example.expected_activity()
    assert set(by_agent) == set(shown_rows)
    for agent_id, shown in shown_rows.items():
        row = by_agent[agent_id]
        assert {field: row[field] for field in shown} == shown, agent_id
        left_out = set(row) - set(shown) - {"agent_id", "name"}
        assert all(row[field] in (0, None) for field in left_out), agent_id
    assert _get(example, f"{STATS}/service_level?threshold=30&{day}")["service_level"][
        "percent"
    ] == pytest.approx(100.0)
