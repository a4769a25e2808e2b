"""Small event stories for domain tests: a projection, a fake clock, terse builders.

    s = Story(agents=[1, 2], phone_numbers=[10])
    s.at("09:00:00").agent(1, "online")
    s.at("09:01:00").call("c1", "started", direction="inbound", phone_number_id=10)
    s.now("10:00:00")
    assert s.overview()["total_calls"] == 1

``s.reject(event)`` sends an event that must be rejected and asserts that the
projection's pickled state did not change; ``s.outbound(...)`` starts an outbound call.
"""

from __future__ import annotations

import itertools
import pickle
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from talkstats.domain import stats
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import Event, EventRejected, parse_event
from talkstats.domain.projection import AccountProjection
from talkstats.domain.timeutil import instant_from_datetime


class Story:
    """A projection plus a local wall clock; times are local to ``timezone``."""

    def __init__(
        self,
        *,
        agents: list[int] = (1, 2, 3),  # type: ignore[assignment]
        phone_numbers: list[int] = (10, 20),  # type: ignore[assignment]
        groups: dict[int, list[int]] | None = None,
        timezone: str = "Europe/Paris",
        day: str = "2026-11-26",
        plan: str = "enterprise",
    ) -> None:
        directory = Directory()
        for agent_id in agents:
            directory.add_agent(AgentInfo(agent_id, f"Agent {agent_id}", None))
        for number in phone_numbers:
            directory.add_phone_number(number)
        for group_id, members in (groups or {}).items():
            directory.add_group(group_id)
            for member in members:
                directory.add_member(group_id, member)
        self.zone = ZoneInfo(timezone)
        self.day = date.fromisoformat(day)
        self.plan = plan
        self.projection = AccountProjection(timezone, directory)
        self.events: list[Event] = []
        self.raw: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._time_text = self.iso("00:00:00")
        self._time = self.instant("00:00:00")
        self._now = self._time

    # --- time -------------------------------------------------------------------
    def _local(self, clock: str, day: str | None) -> tuple[datetime, str]:
        """The whole-second local datetime and the fraction digits (up to 9) of a clock."""
        d = date.fromisoformat(day) if day else self.day
        whole, _, fraction = clock.partition(".")
        t = datetime.fromisoformat(f"{d.isoformat()}T{whole}").replace(tzinfo=self.zone)
        return t, fraction

    def instant(self, clock: str, day: str | None = None) -> int:
        """Local wall time ("09:15:02.5", "09:15:02.000000001", optionally on another
        day) -> ns. An ambiguous wall time (DST fall-back) means its first occurrence."""
        t, fraction = self._local(clock, day)
        return instant_from_datetime(t) + (int(fraction.ljust(9, "0")) if fraction else 0)

    def iso(self, clock: str, day: str | None = None) -> str:
        t, fraction = self._local(clock, day)
        text = t.isoformat()  # 2026-11-26T09:15:02+01:00
        return f"{text[:19]}.{fraction}{text[19:]}" if fraction else text

    def at(self, clock: str, day: str | None = None) -> Story:
        self._time_text = self.iso(clock, day)
        self._time = self.instant(clock, day)
        if self._time > self._now:
            self._now = self._time
        return self

    def now(self, clock: str, day: str | None = None) -> Story:
        self._now = self.instant(clock, day)
        return self

    # --- events -------------------------------------------------------------------
    def send(self, obj: dict[str, Any]) -> Event:
        obj = {"id": f"e{next(self._ids)}", "time": self._time_text, **obj}
        event = parse_event(obj)
        self.projection.apply(event, self._now)
        self.events.append(event)
        self.raw.append(obj)
        return event

    def agent(self, agent_id: int, state: str, **fields: Any) -> Story:
        self.send({"type": "agent.state_changed", "agent_id": agent_id, "state": state, **fields})
        return self

    def call(self, call_id: str, kind: str, **fields: Any) -> Story:
        self.send({"type": f"call.{kind}", "call_id": call_id, **fields})
        return self

    def inbound(self, call_id: str, phone_number_id: int = 10, **fields: Any) -> Story:
        return self.call(
            call_id, "started", direction="inbound", phone_number_id=phone_number_id, **fields
        )

    def outbound(
        self, call_id: str, agent_id: int, phone_number_id: int = 10, **fields: Any
    ) -> Story:
        return self.call(
            call_id,
            "started",
            direction="outbound",
            phone_number_id=phone_number_id,
            agent_id=agent_id,
            **fields,
        )

    def snapshot(self) -> bytes:
        """The projection's whole state as bytes (what a snapshot would store)."""
        return pickle.dumps(self.projection)

    def reject(self, obj: dict[str, Any]) -> EventRejected:
        """Send an event that must be rejected; assert the projection did not change."""
        before = self.snapshot()
        count = len(self.events)
        try:
            self.send(obj)
        except EventRejected as exc:
            assert self.snapshot() == before, "a rejected event changed the projection"
            assert len(self.events) == count
            return exc
        raise AssertionError(f"event was accepted: {obj}")

    # --- reads --------------------------------------------------------------------
    @property
    def current(self) -> int:
        return self.projection.effective_now(self._now)

    def overview(self, **kw: Any) -> dict[str, Any]:
        return stats.account_overview(self.projection, self.current, plan=self.plan, **kw)

    def activity(self, agent_ids: list[int] | None = None, **kw: Any) -> dict[int, dict[str, Any]]:
        ids = agent_ids if agent_ids is not None else self.projection.directory.agent_ids()
        rows = stats.agents_activity(
            self.projection, self.current, plan=self.plan, agent_ids=ids, **kw
        )
        return {row["agent_id"]: row for row in rows}

    def agents(self, **kw: Any) -> dict[str, Any]:
        return stats.agents_overview(self.projection, self.current, plan=self.plan, **kw)

    def queue(self, **kw: Any) -> dict[str, Any]:
        return stats.current_queue_activity(self.projection, self.current, **kw)

    def service_level(self, **kw: Any) -> dict[str, Any]:
        return stats.service_level(self.projection, self.current, **kw)
