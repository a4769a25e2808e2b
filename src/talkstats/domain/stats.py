"""The read side: every statistic of SEMANTICS.md from a projection and *now*.

Reads combine the incrementally maintained totals with the intervals still open at
now; none scans the day's calls or events. ``date=None`` means today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from .aggregates import AgentTotals, CallTotals
from .projection import ALL_NUMBERS, ONLINE_STATES, AccountProjection, AgentLive
from .timeutil import NS_PER_SECOND, average_count, average_seconds, round_seconds

PLANS = ("team", "professional", "enterprise")


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
    start, end = p.calendar.bounds(day)
    return Window(day, start, end, False)


def _sorted(fields: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(fields.items()))


# --- account_overview ------------------------------------------------------------


def _call_totals(p: AccountProjection, day: date, numbers: frozenset[int] | None) -> CallTotals:
    by_number = p.call_days.get(day, {})
    if numbers is None:
        return by_number.get(ALL_NUMBERS) or CallTotals()
    out = CallTotals()
    for number in numbers:
        part = by_number.get(number)
        if part is not None:
            out.add(part)
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
        "max_queue_wait_time": round_seconds(t.max_queue_wait),
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
    t = _call_totals(p, w.day, numbers)
    within = sum(n for secs, n in t.answered_wait_histogram.items() if secs <= threshold)
    offered = t.finished_waits
    percent = None if offered == 0 else round_tenth(100 * within, offered)
    return {
        "threshold": threshold,
        "answered_within": within,
        "offered": offered,
        "percent": percent,
    }


def round_tenth(numerator: int, denominator: int) -> float:
    """numerator / denominator rounded to one decimal, halves away from zero."""
    tenths = (20 * numerator + denominator) // (2 * denominator)
    return tenths / 10


# --- agents -------------------------------------------------------------------------


@dataclass(slots=True)
class _TimeInState:
    online: int = 0
    available: int = 0
    away: int = 0
    transfers_only: int = 0


def _time_in_state(agent: AgentLive | None, totals: AgentTotals | None, w: Window) -> _TimeInState:
    out = _TimeInState()
    if totals is not None:
        out.online, out.available = totals.online, totals.available
        out.away, out.transfers_only = totals.away, totals.transfers_only
    if agent is not None and agent.status in ONLINE_STATES:
        span = w.end - max(agent.segment_start, w.start)
        if span > 0:
            out.online += span
            if agent.status == "away":
                out.away += span
            elif agent.status == "transfers_only":
                out.transfers_only += span
            elif agent.call_status is None:
                out.available += span
    return out


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
    """GET agents_activity rows for the given agents, in the given order."""
    w = window(p, now, date)
    day_totals = p.agent_days.get(w.day, {})
    professional = is_professional(plan)
    rows = []
    for agent_id in agent_ids:
        info = p.directory.agents[agent_id]
        agent = p.agents.get(agent_id)
        totals = day_totals.get(agent_id) or AgentTotals()
        tis = _time_in_state(agent, totals, w)
        status, via, forwarding = _state_at_end_of(agent, w)
        row: dict[str, Any] = {
            "agent_id": agent_id,
            "agent_state": status,
            "available_time": round_seconds(tis.available),
            "avatar_url": info.avatar_url,
            "away_time": round_seconds(tis.away),
            "call_status": agent.call_status if agent is not None and w.today else None,
            "calls_accepted": totals.accepted,
            "calls_denied": totals.denied,
            "calls_missed": totals.missed,
            "forwarding_number": forwarding,
            "name": info.name,
            "online_time": round_seconds(tis.online),
            "total_call_duration": round_seconds(totals.call_duration),
            "total_talk_time": round_seconds(totals.talk_time),
            "total_wrap_up_time": round_seconds(totals.wrap_up_time),
            "transfers_only_time": round_seconds(tis.transfers_only),
            "via": via,
        }
        if professional:
            row.update(
                accepted_third_party_conferences=totals.accepted_conferences,
                accepted_transfers=totals.accepted_transfers,
                average_hold_time=average_seconds(totals.hold_time, totals.legs),
                average_talk_time=average_seconds(totals.talk_time, totals.legs),
                average_wrap_up_time=average_seconds(totals.wrap_up_time, totals.wrap_ups),
                calls_put_on_hold=totals.calls_put_on_hold,
                started_third_party_conferences=totals.started_conferences,
                started_transfers=totals.started_transfers,
                total_hold_time=round_seconds(totals.hold_time),
            )
        rows.append(_sorted(row))
    return rows


def agents_overview(
    p: AccountProjection, now: int, *, plan: str, date: date | None = None
) -> dict[str, int]:
    """GET agents_overview: totals over the window's active agents and their averages."""
    w = window(p, now, date)
    day_totals = p.agent_days.get(w.day, {})
    sums = AgentTotals()
    tis_sum = _TimeInState()
    active = 0
    for agent_id in p.directory.agents:
        agent = p.agents.get(agent_id)
        totals = day_totals.get(agent_id)
        tis = _time_in_state(agent, totals, w)
        if tis.online <= 0 and not (totals is not None and totals.touched_calls):
            continue
        active += 1
        tis_sum.online += tis.online
        tis_sum.available += tis.available
        tis_sum.away += tis.away
        tis_sum.transfers_only += tis.transfers_only
        if totals is not None:
            for name in _AGENT_SUMS:
                setattr(sums, name, getattr(sums, name) + getattr(totals, name))
    out = {
        "average_wrap_up_time": average_seconds(sums.wrap_up_time, sums.wrap_ups),
        "total_calls_accepted": sums.accepted,
        "total_calls_denied": sums.denied,
        "total_calls_missed": sums.missed,
        "total_talk_time": round_seconds(sums.talk_time),
        "total_wrap_up_time": round_seconds(sums.wrap_up_time),
    }
    if is_professional(plan):
        out.update(
            average_accepted_transfers=average_count(sums.accepted_transfers, active),
            average_available_time=average_seconds(tis_sum.available, active),
            average_away_time=average_seconds(tis_sum.away, active),
            average_calls_accepted=average_count(sums.accepted, active),
            average_calls_denied=average_count(sums.denied, active),
            average_calls_missed=average_count(sums.missed, active),
            average_calls_put_on_hold=average_count(sums.calls_put_on_hold, active),
            average_hold_time=average_seconds(sums.hold_time, sums.legs),
            average_online_time=average_seconds(tis_sum.online, active),
            average_started_transfers=average_count(sums.started_transfers, active),
            average_talk_time=average_seconds(sums.talk_time, sums.legs),
            average_transfers_only_time=average_seconds(tis_sum.transfers_only, active),
            total_accepted_transfers=sums.accepted_transfers,
            total_calls_put_on_hold=sums.calls_put_on_hold,
            total_hold_time=round_seconds(sums.hold_time),
            total_started_transfers=sums.started_transfers,
        )
    return _sorted(out)


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
    "InvalidDate",
    "Window",
    "account_overview",
    "agents_activity",
    "agents_overview",
    "availability",
    "current_queue_activity",
    "is_professional",
    "service_level",
    "window",
]
