"""The timeline recomputed from the events alone, the slow and obvious way.

Shares no code with the core: each call's waits are rebuilt from its events, each
interval's counts by filtering the calls that started in it, and the callers waiting
at an instant by counting the waits that cover it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from talkstats.domain.events import Event

INFINITY = 2**63


@dataclass
class BruteCall:
    start: int
    number: int
    inbound: bool
    answered: bool = False
    abandoned: bool = False
    waits: list[list[Any]] = field(default_factory=list)  # [kind, start, end or None]

    def close_wait(self, t: int) -> str | None:
        if self.waits and self.waits[-1][2] is None:
            self.waits[-1][2] = t
            return str(self.waits[-1][0])
        return None


def calls_of(events: list[Event]) -> dict[str, BruteCall]:
    """Every call's start, number, direction, answer, abandonment and waits."""
    calls: dict[str, BruteCall] = {}
    for e in events:
        if e.call_id is None:
            continue
        if e.type == "call.started":
            assert e.phone_number_id is not None
            calls[e.call_id] = BruteCall(e.time, e.phone_number_id, e.direction == "inbound")
            continue
        call = calls[e.call_id]
        if e.type == "call.queued":
            call.waits.append(["line", e.time, None])
        elif e.type == "call.callback_requested":
            call.close_wait(e.time)
            call.waits.append(["callback", e.time, None])
        elif e.type == "call.answered":
            if call.inbound:
                call.answered = True
                call.close_wait(e.time)
        elif e.type == "call.voicemail":
            call.close_wait(e.time)
        elif e.type == "call.ended":
            call.abandoned = call.close_wait(e.time) == "line"
    return calls


def timeline(
    calls: dict[str, BruteCall],
    day_start: int,
    day_end: int,
    end: int,
    interval_ns: int,
    numbers: set[int] | None,
) -> list[dict[str, int]]:
    """Intervals of ``interval_ns`` from ``day_start`` that start before ``end`` (at least one)."""
    chosen = [
        c
        for c in calls.values()
        if day_start <= c.start < day_end and (numbers is None or c.number in numbers)
    ]
    changes: dict[int, int] = {}
    for call in chosen:
        for _, s, e in call.waits:
            if s >= day_end:
                continue
            changes[s] = changes.get(s, 0) + 1
            if e is not None and e < day_end:
                changes[e] = changes.get(e, 0) - 1
    instants = sorted(changes)
    levels = list(accumulate(changes[t] for t in instants))

    def level(t: int) -> int:
        i = bisect_right(instants, t)
        return levels[i - 1] if i else 0

    out: list[dict[str, int]] = []
    t0 = day_start
    while t0 < end or not out:
        t1 = min(t0 + interval_ns, day_end)
        started = [c for c in chosen if t0 <= c.start < t1]
        points = [t0] + [t for t in instants if t0 <= t < t1]
        out.append(
            {
                "start": t0,
                "calls": len(started),
                "offered": sum(c.inbound for c in started),
                "answered": sum(c.answered for c in started),
                "abandoned": sum(c.abandoned for c in started),
                "max_calls_waiting": max(level(t) for t in points),
                "calls_waiting": level(t1 - 1),
            }
        )
        t0 = t1
        if t0 >= day_end:
            break
    return out
