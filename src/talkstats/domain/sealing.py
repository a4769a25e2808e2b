"""Sealing: a past day that can no longer change leaves memory (docs/architecture.md).

A day is *sealable* once it ended (in the account's timezone) at least ``SEAL_GRACE``
before *now* and nothing still live can write to it:

- no open call started on it (a call counts in the day it started on, and its live
  record holds references to that day's totals);
- no agent is online, away or transfers-only since an instant of that day (closing
  that status interval adds its first partial day to the day's agent totals).

Any other event that could touch the day is one whose own time falls on it (a late
``call.started``, or an agent event after the agent's last one): the projection sees
that before it checks anything and raises ``DaySealed``; the caller unseals the day
(puts it back, live) and applies the event again. So sealing never changes an answer
or a rule; it only moves where a day is kept.

What a sealed day keeps is what its reads need: the day's call totals, agent totals
and interval series per phone number, each phone number's timeline of callers
waiting (sets of several numbers merge them) and the peak of all numbers (its
timeline is rebuilt from the numbers' only if the day is unsealed). Its finished call
ids go to the store separately: a new call may never reuse them. Live per-agent state
(status history, whole-day intervals) stays in the projection: it is per agent, not
per call.

Pure: the caller stores and loads the sealed form and decides when to run this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .aggregates import AgentTotals, CallTotals, PeakTimeline
from .projection import ALL_NUMBERS, ONLINE_STATES, AccountProjection
from .timeline import DaySeries
from .timeutil import NS_PER_SECOND

SEAL_GRACE = 3600 * NS_PER_SECOND  # how long after its end a day stays live at least


@dataclass(slots=True)
class SealedDay:
    """What the reads of one sealed day need (pickled into the store)."""

    day: date
    call_totals: dict[int, CallTotals]
    agent_totals: dict[int, AgentTotals]
    peaks: dict[int, PeakTimeline]  # per phone number, without the all-numbers one
    all_peak: int  # the all-numbers peak of callers waiting
    series: dict[int, DaySeries]


def live_days(p: AccountProjection) -> set[date]:
    """The days the projection holds in memory as live (not sealed)."""
    days = set(p.call_days) | set(p.agent_days) | set(p.peaks) | set(p.timeline.days)
    days |= set(p.finished_by_day)
    return days - set(p.sealed)


def sealable_days(p: AccountProjection, now: int, grace: int = SEAL_GRACE) -> list[date]:
    """Live days that can be sealed at ``now`` (the statistics' now), oldest first."""
    calendar = p.calendar
    ended = [d for d in live_days(p) if calendar.bounds(d)[1] + grace <= now]
    if not ended:
        return []
    blocked = {call.day for call in p.calls.values()}
    for agent in p.agents.values():
        if agent.status in ONLINE_STATES:
            blocked.add(calendar.day_of(agent.segment_start))
    return sorted(d for d in ended if d not in blocked)


def take(p: AccountProjection, day: date) -> tuple[SealedDay, list[str]]:
    """The day's sealed form and its finished call ids; the projection is unchanged."""
    peaks = dict(p.peaks.get(day, {}))
    every = peaks.pop(ALL_NUMBERS, None)
    sealed = SealedDay(
        day=day,
        call_totals=p.call_days.get(day, {}),
        agent_totals=p.agent_days.get(day, {}),
        peaks=peaks,
        all_peak=every.peak if every is not None else 0,
        series=p.timeline.days.get(day, {}),
    )
    return sealed, list(p.finished_by_day.get(day, ()))


def drop(p: AccountProjection, day: date, version: str) -> None:
    """Forget a day whose sealed form was stored as ``version``."""
    for days in (p.call_days, p.agent_days, p.peaks, p.timeline.days):
        days.pop(day, None)
    p.finished_calls.difference_update(p.finished_by_day.pop(day, ()))
    p.timeline.forget(day)
    p.subset_peaks.forget(day)
    p.read_cache.clear()
    p.mounted.pop(day, None)
    p.sealed[day] = version
    p.sealed_before = max(p.sealed_before, p.calendar.bounds(day)[1])


def mount(p: AccountProjection, sealed: SealedDay, *, timelines: bool = False) -> None:
    """Put a sealed day back for reading only (it stays sealed: writes raise DaySealed).

    Without ``timelines`` each phone number keeps only its peak (all that reads of all
    numbers or of one number need: a few hundred kB for 1,000 agents whatever the
    calls); with them, reads of sets of several numbers can merge their timelines.
    """
    day = sealed.day
    assert day in p.sealed, f"{day} is not sealed"
    unmount(p, day)
    start = p.calendar.bounds(day)[0]
    if not timelines:
        sealed.peaks = {n: _peak_only(start, line.peak) for n, line in sealed.peaks.items()}
    _install(p, sealed, _peak_only(start, sealed.all_peak))
    p.mounted[day] = timelines  # most recently read last


def mounted_with_timelines(p: AccountProjection, day: date) -> bool:
    return p.mounted.get(day, False)


def _peak_only(start: int, peak: int) -> PeakTimeline:
    """A timeline that answers only ``peak`` (a sealed day's is never written to)."""
    line = PeakTimeline()
    line.times.append(start)
    line.values.append(0)
    line.best.append(peak)
    return line


def touch(p: AccountProjection, day: date) -> None:
    """A mounted day was read again: it goes last in the order of eviction."""
    p.mounted[day] = p.mounted.pop(day)


def unmount(p: AccountProjection, day: date) -> None:
    """Forget a day read back with ``mount`` (it stays sealed in the store)."""
    if day not in p.mounted:
        return
    del p.mounted[day]
    for days in (p.call_days, p.agent_days, p.peaks, p.timeline.days):
        days.pop(day, None)
    p.timeline.forget(day)
    p.subset_peaks.forget(day)
    p.read_cache.clear()


def unseal(p: AccountProjection, sealed: SealedDay) -> None:
    """Make a sealed day live again, exactly as it was before it was sealed."""
    day = sealed.day
    unmount(p, day)
    every = PeakTimeline.merged(list(sealed.peaks.values()))
    _install(p, sealed, every)
    del p.sealed[day]
    p.sealed_before = max((p.calendar.bounds(d)[1] for d in p.sealed), default=-(2**62))


def _install(p: AccountProjection, sealed: SealedDay, every: PeakTimeline) -> None:
    day = sealed.day
    if sealed.call_totals:
        p.call_days[day] = sealed.call_totals
    if sealed.agent_totals:
        p.agent_days[day] = sealed.agent_totals
    if sealed.peaks or sealed.all_peak:
        p.peaks[day] = {ALL_NUMBERS: every, **sealed.peaks}
    if sealed.series:
        p.timeline.days[day] = sealed.series
    p.read_cache.clear()
