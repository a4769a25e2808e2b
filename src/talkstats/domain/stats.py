"""The read side: every statistic of docs/statistics.md from a projection and *now*.

Reads combine the incrementally maintained totals with the intervals still open at
now; none scans the day's calls or events. ``date=None`` means today.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .aggregates import AgentTotals, CallTotals
from .projection import ALL_NUMBERS, ONLINE_STATES, AccountProjection, AgentLive
from .timeline import INTERVALS
from .timeutil import (
    EARLIEST,
    NS_PER_SECOND,
    average_count,
    average_seconds,
    load_zone,
    round_seconds,
)

PLANS = ("team", "professional", "enterprise")
_FIRST_DAY = date(1969, 12, 31)


class InvalidDate(ValueError):
    """A ``date`` that is not a day of the account's past or today."""


def is_professional(plan: str) -> bool:
    """Whether the plan gets the "Professional plan and above" fields."""
    return plan in ("professional", "enterprise")


@dataclass(frozen=True, slots=True)
class Window:
    """The instants a statistic covers: ``[start, end)`` of one local day, cut at now."""

    day: date
    start: int
    end: int  # min(next midnight, now)
    today: bool


def window(p: AccountProjection, now: int, day: date | None = None) -> Window:
    """Today's window ``[midnight, now]``, or a whole past day."""
    today = p.calendar.day_of(now)
    if day is None or day == today:
        start, _ = p.calendar.bounds(today)
        return Window(today, start, now, True)
    if day > today:
        raise InvalidDate(f"{day.isoformat()} is in the future for this account")
    # The day before 1970-01-01 still holds the first instants after the epoch in zones
    # west of UTC; anything earlier cannot hold an event (timeutil.EARLIEST).
    if day < _FIRST_DAY:
        raise InvalidDate(f"{day.isoformat()} is before the earliest day talkstats can hold")
    start, end = p.calendar.bounds(day)
    if end <= EARLIEST:
        raise InvalidDate(f"{day.isoformat()} is before the earliest day talkstats can hold")
    return Window(day, start, end, False)


def _sorted(fields: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(fields.items()))


# --- account_overview ------------------------------------------------------------


def _call_totals(
    p: AccountProjection, day: date, numbers: frozenset[int] | None, *, histogram: bool = False
) -> CallTotals:
    """The day's call totals for some phone numbers (O(numbers), never O(calls))."""
    by_number = p.call_days.get(day, {})
    if numbers is None:
        return by_number.get(ALL_NUMBERS) or CallTotals()
    out = CallTotals()
    for number in numbers:
        part = by_number.get(number)
        if part is not None:
            out.add(part, histogram=histogram)
    return out


def _peak(p: AccountProjection, day: date, numbers: frozenset[int] | None) -> int:
    if numbers is None:
        timeline = p.peaks.get(day, {}).get(ALL_NUMBERS)
        return timeline.peak if timeline is not None else 0
    return p.subset_peaks.peak(p, day, numbers)


def account_overview(
    p: AccountProjection,
    now: int,
    *,
    plan: str,
    date: date | None = None,
    phone_number_ids: Iterable[int] | None = None,
) -> dict[str, int]:
    """GET account_overview: calls started in the window, optionally per phone number."""
    w = window(p, now, date)
    numbers = frozenset(phone_number_ids) if phone_number_ids is not None else None
    t = _call_totals(p, w.day, numbers)
    out = {
        "average_call_duration": average_seconds(t.duration, t.ended),
        "average_queue_wait_time": average_seconds(t.queue_wait, t.finished_waits),
        "average_wrap_up_time": average_seconds(t.wrap_up_time, t.wrap_ups),
        "max_calls_waiting": _peak(p, w.day, numbers),
        "max_queue_wait_time": round_seconds(t.largest_wait()),
        "total_call_duration": round_seconds(t.duration),
        "total_calls": t.calls,
        "total_voicemails": t.voicemails,
        "total_wrap_up_time": round_seconds(t.wrap_up_time),
    }
    if is_professional(plan):
        out.update(
            average_callback_wait_time=average_seconds(t.callback_wait, t.callbacks_answered),
            average_hold_time=average_seconds(t.hold_time, t.answered),
            average_time_to_answer=average_seconds(t.time_to_answer, t.answered_from_queue),
            total_callback_calls=t.callback_calls,
            total_calls_abandoned_in_queue=t.abandoned,
            total_calls_outside_business_hours=t.outside_business_hours,
            total_calls_with_exceeded_queue_wait_time=t.exceeded_queue_wait,
            total_calls_with_requested_voicemail=t.requested_voicemail,
            total_hold_time=round_seconds(t.hold_time),
            total_inbound_calls=t.inbound,
            total_outbound_calls=t.outbound,
            total_textback_requests=t.textbacks,
            total_embeddable_callback_calls=t.embeddable_callback_calls,
        )
    return _sorted(out)


def service_level(
    p: AccountProjection,
    now: int,
    *,
    threshold: int = 20,
    date: date | None = None,
    phone_number_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Extension: share of calls with a finished queue wait answered within ``threshold`` s."""
    w = window(p, now, date)
    numbers = frozenset(phone_number_ids) if phone_number_ids is not None else None
    t = _call_totals(p, w.day, numbers, histogram=True)
    within = sum(n for secs, n in t.answered_wait_histogram.items() if secs <= threshold)
    offered = t.finished_waits
    percent = None if offered == 0 else round_tenth(100 * within, offered)
    return {
        "threshold": threshold,
        "answered_within": within,
        "offered": offered,
        "percent": percent,
    }


def timeline(
    p: AccountProjection,
    now: int,
    *,
    interval: int = 15,
    date: date | None = None,
    phone_number_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Extension: the window in intervals of ``interval`` minutes (5, 15, 30 or 60).

    Each interval counts the calls that started in it (calls, inbound ``offered``,
    ``answered`` by an agent, ``abandoned`` in queue) and gives the peak and the
    closing level of callers waiting; ``totals`` adds them up for the window. Today
    stops at the interval holding *now*. O(5-minute buckets of the day x numbers).
    """
    w = window(p, now, date)
    numbers = frozenset(phone_number_ids) if phone_number_ids is not None else None
    rows = p.timeline.read(w.day, w.end, interval, numbers)
    zone = load_zone(p.timezone)
    intervals = [
        {
            "abandoned": r.abandoned,
            "answered": r.answered,
            "calls": r.calls,
            "calls_waiting": r.calls_waiting,
            "max_calls_waiting": r.max_calls_waiting,
            "offered": r.offered,
            "start": _local_iso(r.start, zone),
        }
        for r in rows
    ]
    return {
        "date": w.day.isoformat(),
        "interval": interval * 60,
        "intervals": intervals,
        "timezone": p.timezone,
        "totals": {
            "abandoned": sum(r.abandoned for r in rows),
            "answered": sum(r.answered for r in rows),
            "calls": sum(r.calls for r in rows),
            "max_calls_waiting": max(r.max_calls_waiting for r in rows),
            "offered": sum(r.offered for r in rows),
        },
    }


def _local_iso(ns: int, zone: Any) -> str:
    """An instant as local RFC 3339 with its offset (2026-11-26T09:15:00+01:00)."""
    return datetime.fromtimestamp(ns // NS_PER_SECOND, UTC).astimezone(zone).isoformat()


def round_tenth(numerator: int, denominator: int) -> float:
    """numerator / denominator rounded to one decimal, halves away from zero."""
    tenths = (20 * numerator + denominator) // (2 * denominator)
    return tenths / 10


# --- agents -------------------------------------------------------------------------

_ZERO_TOTALS = AgentTotals()


def _open_span(agent: AgentLive | None, w: Window) -> int:
    """How much of the agent's open status interval lies in the window (0 if offline)."""
    if agent is None or agent.status not in ONLINE_STATES:
        return 0
    span = w.end - max(agent.segment_start, w.start)
    return span if span > 0 else 0


def _whole_days_in(agent: AgentLive | None, w: Window) -> tuple[int, str, bool]:
    """(time, status, available) of the agent's whole-day interval inside the window.

    Intervals are sorted and disjoint, and a window lies within one local day, so at
    most one overlaps: a binary search finds it.
    """
    if agent is None or not agent.whole_days:
        return 0, "", False
    spans = agent.whole_days
    i = bisect_left(spans, (w.end,))
    if i == 0:
        return 0, "", False
    span = spans[i - 1]
    overlap = min(span.end, w.end) - max(span.start, w.start)
    if overlap <= 0:
        return 0, "", False
    return overlap, span.status, span.available


def _state_at_end_of(agent: AgentLive | None, w: Window) -> tuple[str, str | None, str | None]:
    """(status, via, forwarding number) now, or at the end of a past window's day."""
    if agent is None:
        return "offline", None, None
    if w.today:
        return agent.status, agent.via, agent.forwarding_number
    found: tuple[str, str | None, str | None] = ("offline", None, None)
    for day, status, via, forwarding in agent.history:
        if day > w.day:
            break
        found = (status, via, forwarding)
    return found


def agents_activity(
    p: AccountProjection,
    now: int,
    *,
    plan: str,
    agent_ids: Iterable[int],
    date: date | None = None,
) -> list[dict[str, Any]]:
    """GET agents_activity rows for the given agents, in the given order (keys sorted).

    What a row holds apart from its four status times changes only with events, so it
    is built once per state of the projection (``_activity_bases``) and copied; the
    status times, which grow with *now* while an agent is online, are added per read.
    """
    w = window(p, now, date)
    bases = _activity_bases(p, w, is_professional(plan))
    agents = p.agents
    rows = []
    for agent_id in agent_ids:
        base = bases.get(agent_id)
        if base is None:
            base = bases[agent_id] = _activity_base(p, w, agent_id, is_professional(plan))
        row, online, available, away, transfers_only = base
        agent = agents.get(agent_id)
        span = _open_span(agent, w)
        if span:
            assert agent is not None
            online += span
            if agent.status == "away":
                away += span
            elif agent.status == "transfers_only":
                transfers_only += span
            elif agent.call_status is None:
                available += span
        whole, whole_status, whole_available = _whole_days_in(agent, w)
        if whole:
            online += whole
            if whole_status == "away":
                away += whole
            elif whole_status == "transfers_only":
                transfers_only += whole
            elif whole_available:
                available += whole
        row = row.copy()  # the keys keep their (sorted) places as they are set
        row["available_time"] = round_seconds(available)
        row["away_time"] = round_seconds(away)
        row["online_time"] = round_seconds(online)
        row["transfers_only_time"] = round_seconds(transfers_only)
        rows.append(row)
    return rows


# agent id -> (row without its status times, closed online, available, away and
# transfers-only time of the window's day)
_ActivityBases = dict[int, tuple[dict[str, Any], int, int, int, int]]


def _activity_bases(p: AccountProjection, w: Window, professional: bool) -> _ActivityBases:
    """The agents' rows built since the projection's last event, for this window."""
    key = ("agents_activity", w.day, w.start, None if w.today else w.end, professional)
    state = (p.event_count, len(p.directory.agents))
    cached = p.read_cache.get(key)
    if isinstance(cached, tuple) and cached[0] == state:
        bases: _ActivityBases = cached[1]
        return bases
    if len(p.read_cache) > 64:
        p.read_cache.clear()
    bases = {}
    p.read_cache[key] = (state, bases)
    return bases


def _activity_base(
    p: AccountProjection, w: Window, agent_id: int, professional: bool
) -> tuple[dict[str, Any], int, int, int, int]:
    info = p.directory.agents[agent_id]
    agent = p.agents.get(agent_id)
    t = p.agent_days.get(w.day, {}).get(agent_id) or _ZERO_TOTALS
    status, via, forwarding = _state_at_end_of(agent, w)
    call_status = agent.call_status if agent is not None and w.today else None
    talk = t.call_duration - t.hold_time
    row: dict[str, Any]
    if professional:
        row = {
            "accepted_third_party_conferences": t.accepted_conferences,
            "accepted_transfers": t.accepted_transfers,
            "agent_id": agent_id,
            "agent_state": status,
            "available_time": 0,
            "avatar_url": info.avatar_url,
            "average_hold_time": average_seconds(t.hold_time, t.legs),
            "average_talk_time": average_seconds(talk, t.legs),
            "average_wrap_up_time": average_seconds(t.wrap_up_time, t.wrap_ups),
            "away_time": 0,
            "call_status": call_status,
            "calls_accepted": t.accepted,
            "calls_denied": t.denied,
            "calls_missed": t.missed,
            "calls_put_on_hold": t.calls_put_on_hold,
            "forwarding_number": forwarding,
            "name": info.name,
            "online_time": 0,
            "started_third_party_conferences": t.started_conferences,
            "started_transfers": t.started_transfers,
            "total_call_duration": round_seconds(t.call_duration),
            "total_hold_time": round_seconds(t.hold_time),
            "total_talk_time": round_seconds(talk),
            "total_wrap_up_time": round_seconds(t.wrap_up_time),
            "transfers_only_time": 0,
            "via": via,
        }
    else:
        row = {
            "agent_id": agent_id,
            "agent_state": status,
            "available_time": 0,
            "avatar_url": info.avatar_url,
            "away_time": 0,
            "call_status": call_status,
            "calls_accepted": t.accepted,
            "calls_denied": t.denied,
            "calls_missed": t.missed,
            "forwarding_number": forwarding,
            "name": info.name,
            "online_time": 0,
            "total_call_duration": round_seconds(t.call_duration),
            "total_talk_time": round_seconds(talk),
            "total_wrap_up_time": round_seconds(t.wrap_up_time),
            "transfers_only_time": 0,
            "via": via,
        }
    return row, t.online, t.available, t.away, t.transfers_only


_AGENT_SUMS = (
    "accepted",
    "denied",
    "missed",
    "legs",
    "call_duration",
    "hold_time",
    "wrap_ups",
    "wrap_up_time",
    "accepted_transfers",
    "started_transfers",
    "calls_put_on_hold",
)
_CATEGORIES = ("online", "available", "away", "transfers_only")


@dataclass(slots=True)
class _OverviewBase:
    """agents_overview's sums over the agents, with the open intervals kept symbolic.

    Open status intervals are stored as (count, sum of their starts in the window) per
    category, so the time they add up to at any *now* is ``count * now - sum``. It is
    computed once per state of the projection and reused by every read until the next
    event, which makes a read O(1) however many agents there are.
    """

    sums: AgentTotals
    closed: dict[str, int]
    open_count: dict[str, int]
    open_start_sum: dict[str, int]
    active: int  # agents active whatever now is
    pending_starts: list[int]  # agents active only once now passes their open interval's start


def _overview_base(p: AccountProjection, w: Window) -> _OverviewBase:
    key = (
        "agents_overview",
        w.day,
        w.start,
        None if w.today else w.end,
        p.event_count,
        len(p.directory.agents),
    )
    cached = p.read_cache.get(key)
    if isinstance(cached, _OverviewBase):
        return cached
    day_totals = p.agent_days.get(w.day, {})
    sums = AgentTotals()
    closed = dict.fromkeys(_CATEGORIES, 0)
    open_count = dict.fromkeys(_CATEGORIES, 0)
    open_start_sum = dict.fromkeys(_CATEGORIES, 0)
    active = 0
    pending: list[int] = []
    for agent_id in p.directory.agents:
        agent = p.agents.get(agent_id)
        totals = day_totals.get(agent_id)
        start = None
        if agent is not None and agent.status in ONLINE_STATES:
            start = max(agent.segment_start, w.start)
            if not w.today and start >= w.end:
                start = None
        whole, whole_status, whole_available = _whole_days_in(agent, w)
        if whole or (totals is not None and (totals.online > 0 or totals.touched_calls)):
            active += 1
            if totals is not None:
                for name in _AGENT_SUMS:
                    setattr(sums, name, getattr(sums, name) + getattr(totals, name))
        elif start is not None:
            pending.append(start)
        if totals is not None:
            closed["online"] += totals.online
            closed["available"] += totals.available
            closed["away"] += totals.away
            closed["transfers_only"] += totals.transfers_only
        if whole:
            closed["online"] += whole
            if whole_status in ("away", "transfers_only"):
                closed[whole_status] += whole
            elif whole_available:
                closed["available"] += whole
        if start is not None:
            assert agent is not None
            categories = ["online"]
            if agent.status == "away":
                categories.append("away")
            elif agent.status == "transfers_only":
                categories.append("transfers_only")
            elif agent.call_status is None:
                categories.append("available")
            for category in categories:
                open_count[category] += 1
                open_start_sum[category] += start
    base = _OverviewBase(sums, closed, open_count, open_start_sum, active, sorted(pending))
    if len(p.read_cache) > 64:
        p.read_cache.clear()
    p.read_cache[key] = base
    return base


def agents_overview(
    p: AccountProjection, now: int, *, plan: str, date: date | None = None
) -> dict[str, int]:
    """GET agents_overview: totals over the window's active agents and their averages."""
    w = window(p, now, date)
    base = _overview_base(p, w)
    end = w.end
    tis = {
        c: base.closed[c] + base.open_count[c] * end - base.open_start_sum[c] for c in _CATEGORIES
    }
    active = base.active + bisect_left(base.pending_starts, end)
    s = base.sums
    talk = s.call_duration - s.hold_time
    if not is_professional(plan):
        return {
            "average_wrap_up_time": average_seconds(s.wrap_up_time, s.wrap_ups),
            "total_calls_accepted": s.accepted,
            "total_calls_denied": s.denied,
            "total_calls_missed": s.missed,
            "total_talk_time": round_seconds(talk),
            "total_wrap_up_time": round_seconds(s.wrap_up_time),
        }
    return {
        "average_accepted_transfers": average_count(s.accepted_transfers, active),
        "average_available_time": average_seconds(tis["available"], active),
        "average_away_time": average_seconds(tis["away"], active),
        "average_calls_accepted": average_count(s.accepted, active),
        "average_calls_denied": average_count(s.denied, active),
        "average_calls_missed": average_count(s.missed, active),
        "average_calls_put_on_hold": average_count(s.calls_put_on_hold, active),
        "average_hold_time": average_seconds(s.hold_time, s.legs),
        "average_online_time": average_seconds(tis["online"], active),
        "average_started_transfers": average_count(s.started_transfers, active),
        "average_talk_time": average_seconds(talk, s.legs),
        "average_transfers_only_time": average_seconds(tis["transfers_only"], active),
        "average_wrap_up_time": average_seconds(s.wrap_up_time, s.wrap_ups),
        "total_accepted_transfers": s.accepted_transfers,
        "total_calls_accepted": s.accepted,
        "total_calls_denied": s.denied,
        "total_calls_missed": s.missed,
        "total_calls_put_on_hold": s.calls_put_on_hold,
        "total_hold_time": round_seconds(s.hold_time),
        "total_started_transfers": s.started_transfers,
        "total_talk_time": round_seconds(talk),
        "total_wrap_up_time": round_seconds(s.wrap_up_time),
    }


# --- live ------------------------------------------------------------------------------


def current_queue_activity(
    p: AccountProjection, now: int, *, phone_number_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """GET current_queue_activity: who waits now, and for how long."""
    if phone_number_ids is None:
        queues = list(p.queues.values())
    else:
        queues = [p.queues[n] for n in set(phone_number_ids) if n in p.queues]
    waiting = sum(len(q.waiting) for q in queues)
    start_sum = sum(q.start_sum for q in queues)
    oldest = [o for o in (q.oldest() for q in queues) if o is not None]
    return {
        "agents_online": p.agents_online,
        "average_wait_time": average_seconds(waiting * now - start_sum, waiting),
        "callbacks_waiting": sum(q.callbacks for q in queues),
        "calls_waiting": waiting,
        "embeddable_callbacks_waiting": sum(q.web_callbacks for q in queues),
        "longest_wait_time": round_seconds(now - min(oldest)) if oldest else 0,
    }


def availability(p: AccountProjection, agent_id: int) -> dict[str, str | None]:
    """GET availabilities/{agent_id}: the agent's Talk status now."""
    agent = p.agents.get(agent_id)
    if agent is None:
        return {"agent_state": "offline", "call_status": None, "via": None}
    return {"agent_state": agent.status, "call_status": agent.call_status, "via": agent.via}


__all__ = [
    "NS_PER_SECOND",
    "PLANS",
    "INTERVALS",
    "InvalidDate",
    "Window",
    "account_overview",
    "agents_activity",
    "agents_overview",
    "availability",
    "current_queue_activity",
    "is_professional",
    "service_level",
    "timeline",
    "window",
]
