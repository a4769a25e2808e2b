"""An independent, deliberately naive reading of docs/statistics.md for the property tests.

It keeps every call's history (no incremental totals, no caches) and computes each
statistic from it the slow, obvious way. It shares no code with the core except
``round_seconds`` / ``average_seconds`` for output rounding (tested on their own in
test_timeutil.py). It assumes a contract-valid stream.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from math import floor
from typing import Any

from talkstats.domain.events import Event
from talkstats.domain.timeutil import average_seconds, round_seconds

NS = 1_000_000_000
ONLINE = ("online", "away", "transfers_only")


@dataclass
class Call:
    id: str
    start: int
    number: int
    direction: str
    source: str
    outside_hours: bool
    end: int | None = None
    line: list[list[int | None]] = field(default_factory=list)  # [start, end) visits
    callback: list[list[int | None]] = field(default_factory=list)
    callback_requested: bool = False
    callback_waits: list[int] = field(default_factory=list)  # answered requests only
    voicemail: str | None = None
    textbacks: int = 0
    first_answer: int | None = None
    answered_from_line: bool = False
    abandoned: bool = False
    holds: list[int] = field(default_factory=list)  # closed hold spans
    hold_since: int | None = None
    wrap_ups: list[int] = field(default_factory=list)  # finished spans
    agent: int | None = None


@dataclass
class Leg:
    agent: int
    call: str
    start: int
    end: int | None = None
    hold: int = 0


@dataclass
class AgentDay:
    accepted: int = 0
    denied: int = 0
    missed: int = 0
    accepted_transfers: int = 0
    started_transfers: int = 0
    accepted_conferences: int = 0
    started_conferences: int = 0
    held_calls: set[str] = field(default_factory=set)
    wrap_ups: list[int] = field(default_factory=list)
    touched: bool = False


def _open(spans: list[list[int | None]]) -> bool:
    return bool(spans) and spans[-1][1] is None


def _close(spans: list[list[int | None]], t: int) -> None:
    if _open(spans):
        spans[-1][1] = t


class Reference:
    """Fold events (in delivery order) into plain histories."""

    def __init__(self, events: list[Event], day_of: Any) -> None:
        self.day_of = day_of  # ns -> local date
        self.calls: dict[str, Call] = {}
        self.legs: list[Leg] = []
        self.open_legs: dict[str, Leg] = {}
        self.wrap_start: dict[tuple[str, int], int] = {}
        self.agent_days: dict[tuple[Any, int], AgentDay] = defaultdict(AgentDay)
        # agent -> [(time, seq, "status" | "call", value)]
        self.changes: dict[int, list[tuple[int, int, str, str | None]]] = defaultdict(list)
        self.status: dict[int, str] = {}
        for seq, event in enumerate(events):
            self._fold(seq, event)

    def _agent_day(self, call: Call, agent: int) -> AgentDay:
        return self.agent_days[(self.day_of(call.start), agent)]

    def _start_leg(self, seq: int, call: Call, agent: int, t: int) -> None:
        self.open_legs[call.id] = leg = Leg(agent, call.id, t)
        self.legs.append(leg)
        call.agent = agent
        self.changes[agent].append((t, seq, "call", "on_call"))
        self._agent_day(call, agent).touched = True

    def _end_leg(self, seq: int, call: Call, t: int) -> None:
        leg = self.open_legs.pop(call.id)
        if call.hold_since is not None:
            call.holds.append(t - call.hold_since)
            leg.hold += t - call.hold_since
            call.hold_since = None
        leg.end = t
        call.agent = None
        self.wrap_start[(call.id, leg.agent)] = t
        self.changes[leg.agent].append((t, seq, "call", "wrap_up"))

    def _fold(self, seq: int, e: Event) -> None:
        t, a = e.time, e.agent_id
        if e.type == "agent.state_changed":
            assert a is not None and e.state is not None
            self.changes[a].append((t, seq, "status", e.state))
            self.status[a] = e.state
            return
        assert e.call_id is not None
        if e.type == "call.started":
            assert e.direction is not None and e.phone_number_id is not None
            call = self.calls[e.call_id] = Call(
                e.call_id, t, e.phone_number_id, e.direction, e.source, e.outside_business_hours
            )
            if a is not None:
                self._start_leg(seq, call, a, t)
            return
        call = self.calls[e.call_id]
        kind = e.type.removeprefix("call.")
        if kind == "textback_sent":
            call.textbacks += 1
        elif kind == "queued":
            call.line.append([t, None])
        elif kind == "callback_requested":
            _close(call.line, t)
            call.callback.append([t, None])
            call.callback_requested = True
        elif kind == "offered":
            assert a is not None
            self._agent_day(call, a).touched = True
        elif kind in ("declined", "missed"):
            assert a is not None
            day = self._agent_day(call, a)
            if kind == "declined":
                day.denied += 1
            else:
                day.missed += 1
        elif kind == "answered":
            assert a is not None
            if call.first_answer is None:
                call.first_answer = t
            if call.direction == "outbound":
                return
            if _open(call.line):
                call.answered_from_line = True
                _close(call.line, t)
            else:
                assert _open(call.callback)
                start = call.callback[-1][0]
                assert start is not None
                call.callback_waits.append(t - start)
                _close(call.callback, t)
            self._agent_day(call, a).accepted += 1
            self._start_leg(seq, call, a, t)
        elif kind == "hold_started":
            call.hold_since = t
            assert call.agent is not None
            self._agent_day(call, call.agent).held_calls.add(call.id)
        elif kind == "hold_ended":
            assert call.hold_since is not None
            call.holds.append(t - call.hold_since)
            self.open_legs[call.id].hold += t - call.hold_since
            call.hold_since = None
        elif kind == "transfer_started":
            assert call.agent is not None
            self._agent_day(call, call.agent).started_transfers += 1
        elif kind == "transfer_accepted":
            assert a is not None
            self._end_leg(seq, call, t)
            self._agent_day(call, a).accepted_transfers += 1
            self._start_leg(seq, call, a, t)
        elif kind == "conference_started":
            assert call.agent is not None
            self._agent_day(call, call.agent).started_conferences += 1
        elif kind == "conference_accepted":
            assert a is not None
            self._agent_day(call, a).accepted_conferences += 1
        elif kind == "voicemail":
            call.voicemail = e.reason
            _close(call.line, t)
            _close(call.callback, t)
        elif kind == "ended":
            call.end = t
            call.abandoned = _open(call.line)
            _close(call.line, t)
            _close(call.callback, t)
            if call.agent is not None:
                self._end_leg(seq, call, t)
        elif kind == "wrap_up_ended":
            assert a is not None
            span = t - self.wrap_start.pop((call.id, a))
            call.wrap_ups.append(span)
            self._agent_day(call, a).wrap_ups.append(span)
            self.changes[a].append((t, seq, "call", None))

    # --- reads ---------------------------------------------------------------------------

    def calls_in(self, start: int, end: int, numbers: list[int] | None) -> list[Call]:
        return [
            c
            for c in self.calls.values()
            if start <= c.start < end and (numbers is None or c.number in numbers)
        ]

    @staticmethod
    def finished_wait(call: Call) -> int | None:
        if not call.line or _open(call.line):
            return None
        return sum(e - s for s, e in call.line)  # type: ignore[operator]

    def account_overview(self, start: int, end: int, numbers: list[int] | None) -> dict[str, int]:
        calls = self.calls_in(start, end, numbers)
        ended = [c.end - c.start for c in calls if c.end is not None]
        waits = [w for w in map(self.finished_wait, calls) if w is not None]
        wraps = [w for c in calls for w in c.wrap_ups]
        answered = [c for c in calls if c.first_answer is not None]
        callback_waits = [w for c in calls for w in c.callback_waits]
        to_answer = [
            c.first_answer - c.start
            for c in calls  # type: ignore[operator]
            if c.answered_from_line
        ]
        hold = sum(h for c in calls for h in c.holds)
        return {
            "average_call_duration": average_seconds(sum(ended), len(ended)),
            "average_callback_wait_time": average_seconds(sum(callback_waits), len(callback_waits)),
            "average_hold_time": average_seconds(hold, len(answered)),
            "average_queue_wait_time": average_seconds(sum(waits), len(waits)),
            "average_time_to_answer": average_seconds(sum(to_answer), len(to_answer)),
            "average_wrap_up_time": average_seconds(sum(wraps), len(wraps)),
            "max_calls_waiting": self.peak(start, end, numbers),
            "max_queue_wait_time": round_seconds(max(waits, default=0)),
            "total_call_duration": round_seconds(sum(ended)),
            "total_callback_calls": sum(c.callback_requested for c in calls),
            "total_calls": len(calls),
            "total_calls_abandoned_in_queue": sum(c.abandoned for c in calls),
            "total_calls_outside_business_hours": sum(c.outside_hours for c in calls),
            "total_calls_with_exceeded_queue_wait_time": sum(
                c.voicemail == "exceeded_queue_wait_time" for c in calls
            ),
            "total_calls_with_requested_voicemail": sum(c.voicemail == "requested" for c in calls),
            "total_embeddable_callback_calls": sum(
                c.callback_requested and c.source == "web_widget" for c in calls
            ),
            "total_hold_time": round_seconds(hold),
            "total_inbound_calls": sum(c.direction == "inbound" for c in calls),
            "total_outbound_calls": sum(c.direction == "outbound" for c in calls),
            "total_textback_requests": sum(c.textbacks for c in calls),
            "total_voicemails": sum(c.voicemail is not None for c in calls),
            "total_wrap_up_time": round_seconds(sum(wraps)),
        }

    def service_level(
        self, start: int, end: int, numbers: list[int] | None, threshold: int
    ) -> dict[str, Any]:
        offered = within = 0
        for call in self.calls_in(start, end, numbers):
            wait = self.finished_wait(call)
            if wait is None:
                continue
            offered += 1
            within += call.answered_from_line and wait <= threshold * NS
        percent = None
        if offered:  # 100 * within / offered to one decimal, halves up (never negative)
            percent = floor(Fraction(1000 * within, offered) + Fraction(1, 2)) / 10
        return {
            "threshold": threshold,
            "answered_within": within,
            "offered": offered,
            "percent": percent,
        }

    def peak(self, start: int, end: int, numbers: list[int] | None) -> int:
        """At each instant a wait begins, count the half-open waits covering it."""
        spans = [s for c in self.calls_in(start, end, numbers) for s in c.line + c.callback]
        best = 0
        for x, _ in spans:
            assert x is not None
            if start <= x < end:
                best = max(
                    best,
                    sum(1 for s, e in spans if s is not None and s <= x and (e is None or x < e)),
                )
        return best

    def time_in_states(self, agent: int, start: int, end: int) -> dict[str, int]:
        """Exact ns in [start, end) per status, plus available (status online, no call)."""
        out = dict.fromkeys(("online", "away", "transfers_only", "status_online", "available"), 0)
        status, busy = "offline", None
        changes = sorted(self.changes.get(agent, []))
        points = [t for t, *_ in changes] + [end]
        for i, (_, _, what, value) in enumerate(changes):
            if what == "status":
                status = value
            else:
                busy = value
            lo, hi = max(points[i], start), min(points[i + 1], end)
            if hi <= lo or status not in ONLINE:
                continue
            out["online"] += hi - lo
            if status == "online":
                out["status_online"] += hi - lo
                if busy is None:
                    out["available"] += hi - lo
            else:
                out[status] += hi - lo
        return out

    def agent_row(self, agent: int, day: Any, start: int, end: int) -> dict[str, Any]:
        """The call-derived and time-in-state fields of one agents_activity row."""
        legs = [
            leg
            for leg in self.legs
            if leg.agent == agent
            and leg.end is not None
            and self.day_of(self.calls[leg.call].start) == day
        ]
        duration = sum(leg.end - leg.start for leg in legs)  # type: ignore[operator]
        hold = sum(leg.hold for leg in legs)
        d = self.agent_days.get((day, agent), AgentDay())
        tis = self.time_in_states(agent, start, end)
        return {
            "accepted_third_party_conferences": d.accepted_conferences,
            "accepted_transfers": d.accepted_transfers,
            "available_time": round_seconds(tis["available"]),
            "average_hold_time": average_seconds(hold, len(legs)),
            "average_talk_time": average_seconds(duration - hold, len(legs)),
            "average_wrap_up_time": average_seconds(sum(d.wrap_ups), len(d.wrap_ups)),
            "away_time": round_seconds(tis["away"]),
            "calls_accepted": d.accepted,
            "calls_denied": d.denied,
            "calls_missed": d.missed,
            "calls_put_on_hold": len(d.held_calls),
            "online_time": round_seconds(tis["online"]),
            "started_third_party_conferences": d.started_conferences,
            "started_transfers": d.started_transfers,
            "total_call_duration": round_seconds(duration),
            "total_hold_time": round_seconds(hold),
            "total_talk_time": round_seconds(duration - hold),
            "total_wrap_up_time": round_seconds(sum(d.wrap_ups)),
            "transfers_only_time": round_seconds(tis["transfers_only"]),
        }

    def queue(self, now: int, numbers: list[int] | None) -> dict[str, int]:
        calls = [c for c in self.calls.values() if numbers is None or c.number in numbers]
        line = [now - c.line[-1][0] for c in calls if _open(c.line)]  # type: ignore[operator]
        callbacks = [c for c in calls if _open(c.callback)]
        return {
            "agents_online": sum(s in ONLINE for s in self.status.values()),
            "average_wait_time": average_seconds(sum(line), len(line)),
            "callbacks_waiting": len(callbacks),
            "calls_waiting": len(line),
            "embeddable_callbacks_waiting": sum(c.source == "web_widget" for c in callbacks),
            "longest_wait_time": round_seconds(max(line, default=0)),
        }
