"""Helpers of the queue_log tests: a parser fed from text, every event checked by a real
projection (the event contract), and the statistics read from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from talkstats.connectors.asterisk.lines import parse_line
from talkstats.connectors.asterisk.mapping import KnownReference, Mapping, Resolver
from talkstats.connectors.asterisk.parser import QueueLogParser
from talkstats.domain import stats
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import parse_event
from talkstats.domain.projection import AccountProjection

T0 = int(datetime(2026, 3, 10, 9, 0, tzinfo=UTC).timestamp())  # 10:00 in Paris
DAY = date(2026, 3, 10)
NS = 1_000_000_000


def log(text: str, base: int = T0) -> list[str]:
    """queue_log lines from a compact text: ``+SECONDS|rest`` lines are at T0 + SECONDS."""
    out = []
    for raw in text.strip().splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        if raw.startswith("+"):
            offset, rest = raw[1:].split("|", 1)
            raw = f"{base + int(offset)}|{rest}"
        out.append(raw)
    return out


class Replay:
    """A parser whose every event must be accepted by a projection."""

    def __init__(
        self,
        mapping: Mapping | None = None,
        known: KnownReference | None = None,
        timezone: str = "Europe/Paris",
        **options: Any,
    ) -> None:
        self.resolver = Resolver(mapping, known)
        self.parser = QueueLogParser(self.resolver, **options)
        self.directory = Directory()
        for uid, (name, role) in (known.users if known else {}).items():
            if role in ("agent", "admin"):
                self.directory.add_agent(AgentInfo(uid, name))
        for gid in known.groups if known else {}:
            self.directory.add_group(gid)
        for pid in known.phone_numbers if known else {}:
            self.directory.add_phone_number(pid)
        self.projection = AccountProjection(timezone, self.directory)
        self.events: list[dict[str, Any]] = []
        self.names: dict[int, str] = {}

    def _apply(self, events: Iterable[dict[str, Any]]) -> None:
        new = self.resolver.take_new()
        for agent_id, name in new.agents:
            self.directory.add_agent(AgentInfo(agent_id, name))
            self.names[agent_id] = name
        for group_id, _ in new.groups:
            self.directory.add_group(group_id)
        for number_id, _, _ in new.phone_numbers:
            self.directory.add_phone_number(number_id)
        for group_id, agent_id in new.memberships:
            self.directory.add_member(group_id, agent_id)
        for obj in events:
            self.projection.apply(parse_event(obj), 2**62)  # raises on a rejected event
            self.events.append(obj)

    def feed(self, text: str, base: int = T0) -> list[dict[str, Any]]:
        before = len(self.events)
        for raw in log(text, base):
            self._apply(sorted(self.parser.feed(parse_line(raw)), key=_key))
        return self.events[before:]

    def finish(self) -> list[dict[str, Any]]:
        before = len(self.events)
        self._apply(sorted(self.parser.finish(), key=_key))
        return self.events[before:]

    def expire(self, now: int) -> list[dict[str, Any]]:
        before = len(self.events)
        self._apply(sorted(self.parser.expire(now), key=_key))
        return self.events[before:]

    def types(self, events: list[dict[str, Any]] | None = None) -> list[str]:
        return [e["type"] for e in (self.events if events is None else events)]

    # --- reads at a fixed now: the end of the day -----------------------------------
    NOW = T0 * NS + 12 * 3600 * NS

    def overview(self) -> dict[str, Any]:
        return stats.account_overview(self.projection, self.NOW, plan="enterprise", date=DAY)

    def activity(self) -> dict[int, dict[str, Any]]:
        rows = stats.agents_activity(
            self.projection,
            self.NOW,
            plan="enterprise",
            agent_ids=self.projection.directory.agent_ids(),
            date=DAY,
        )
        return {row["agent_id"]: row for row in rows}

    def queue(self, now: int | None = None) -> dict[str, Any]:
        return stats.current_queue_activity(self.projection, now or self.NOW)


def _key(event: dict[str, Any]) -> str:
    return event["time"]
