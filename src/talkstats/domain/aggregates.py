"""Incrementally maintained totals that the statistics are read from.

Everything here is updated as events are folded, so a read costs the same whatever
the number of calls in the day. Durations are integer nanoseconds.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field, fields

import numpy as np


@dataclass(slots=True)
class CallTotals:
    """Call-derived totals of one local day, for one phone number or for all of them."""

    calls: int = 0
    inbound: int = 0
    outbound: int = 0
    outside_business_hours: int = 0
    ended: int = 0
    duration: int = 0
    finished_waits: int = 0
    queue_wait: int = 0
    max_queue_wait: int = 0
    voicemails: int = 0
    exceeded_queue_wait: int = 0
    requested_voicemail: int = 0
    wrap_ups: int = 0
    wrap_up_time: int = 0
    answered: int = 0
    hold_time: int = 0
    answered_from_queue: int = 0
    time_to_answer: int = 0
    callbacks_answered: int = 0
    callback_wait: int = 0
    callback_calls: int = 0
    embeddable_callback_calls: int = 0
    abandoned: int = 0
    textbacks: int = 0
    # whole seconds of queue wait (rounded up) -> calls answered from the queue with it
    answered_wait_histogram: dict[int, int] = field(default_factory=dict)
    # finished waits a later call.queued may still revoke (the caller left the queue
    # without an agent and the call goes on): call id -> wait. Not yet in max_queue_wait.
    open_waits: dict[str, int] = field(default_factory=dict)

    def largest_wait(self) -> int:
        """The largest finished queue wait (max_queue_wait_time)."""
        return max(self.max_queue_wait, max(self.open_waits.values(), default=0))

    def add(self, other: CallTotals, *, histogram: bool = False) -> None:
        """Add another set of totals into this one (maxima take the larger).

        The wait histogram (used only by service_level) is merged when asked for.
        """
        for f in _CALL_SUMS:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.max_queue_wait = max(self.max_queue_wait, other.max_queue_wait)
        self.open_waits.update(other.open_waits)
        if not histogram:
            return
        mine = self.answered_wait_histogram
        for seconds, count in other.answered_wait_histogram.items():
            mine[seconds] = mine.get(seconds, 0) + count


_CALL_SUMS = tuple(
    f.name
    for f in fields(CallTotals)
    if f.name not in ("max_queue_wait", "answered_wait_histogram", "open_waits")
)


@dataclass(slots=True)
class AgentTotals:
    """One agent's totals of one local day.

    Time-in-state fields hold closed intervals only (the open one is added at read
    time, up to now); call-derived fields count calls that started on that day.
    """

    online: int = 0
    available: int = 0
    away: int = 0
    transfers_only: int = 0
    accepted: int = 0
    denied: int = 0
    missed: int = 0
    legs: int = 0
    call_duration: int = 0
    hold_time: int = 0
    wrap_ups: int = 0
    wrap_up_time: int = 0
    accepted_transfers: int = 0
    started_transfers: int = 0
    accepted_conferences: int = 0
    started_conferences: int = 0
    calls_put_on_hold: int = 0
    touched_calls: bool = False

    @property
    def talk_time(self) -> int:
        return self.call_duration - self.hold_time


class PeakTimeline:
    """The number of calls waiting over time, and its peak, under out-of-order updates.

    Changes are kept per distinct instant (so an exit and an entry at the same instant
    net out, as half-open intervals require). ``values[i]`` is the count from
    ``times[i]`` on and ``best[i]`` the peak up to it. An update at or after the last
    instant costs O(1); an earlier one costs the number of later instants.
    """

    __slots__ = ("times", "values", "best")

    def __init__(self) -> None:
        self.times = array("q")
        self.values = array("q")
        self.best = array("q")

    def __getstate__(self) -> tuple[bytes, bytes, bytes]:
        return self.times.tobytes(), self.values.tobytes(), self.best.tobytes()

    def __setstate__(self, state: tuple[bytes, bytes, bytes]) -> None:
        self.times, self.values, self.best = array("q"), array("q"), array("q")
        self.times.frombytes(state[0])
        self.values.frombytes(state[1])
        self.best.frombytes(state[2])

    @property
    def peak(self) -> int:
        return self.best[-1] if self.best else 0

    def add(self, instant: int, delta: int) -> None:
        times, values, best = self.times, self.values, self.best
        n = len(times)
        if n == 0 or instant > times[-1]:
            value = (values[-1] if n else 0) + delta
            times.append(instant)
            values.append(value)
            best.append(max(best[-1] if n else 0, value))
            return
        i = bisect_left(times, instant)
        if times[i] != instant:
            times.insert(i, instant)
            values.insert(i, values[i - 1] if i else 0)
            best.insert(i, 0)
        for j in range(i, len(values)):
            values[j] += delta
        previous = best[i - 1] if i else 0
        for j in range(i, len(values)):
            previous = max(previous, values[j])
            best[j] = previous

    def deltas(self) -> dict[int, int]:
        """The net change at each instant (used to merge timelines)."""
        out: dict[int, int] = {}
        previous = 0
        for instant, value in zip(self.times, self.values, strict=True):
            out[instant] = value - previous
            previous = value
        return out

    @classmethod
    def merged(cls, timelines: list[PeakTimeline]) -> PeakTimeline:
        """The timeline of several together: the same as adding each one's changes in
        time order (changes at one instant net out). Vectorized with numpy: a day of a
        million changes merges in tens of milliseconds."""
        parts = [timeline for timeline in timelines if timeline.times]
        out = cls()
        if not parts:
            return out
        times = np.concatenate([np.frombuffer(part.times, dtype=np.int64) for part in parts])
        deltas = np.concatenate(
            [np.diff(np.frombuffer(part.values, dtype=np.int64), prepend=0) for part in parts]
        )
        order = np.argsort(times, kind="stable")
        times = times[order]
        levels = np.cumsum(deltas[order])
        last = np.empty(len(times), dtype=bool)  # the last change of each instant
        np.not_equal(times[1:], times[:-1], out=last[:-1])
        last[-1] = True
        times, levels = times[last], levels[last]
        best = np.maximum.accumulate(np.maximum(levels, 0))
        out.times = array("q", times.tobytes())
        out.values = array("q", levels.tobytes())
        out.best = array("q", best.tobytes())
        return out


class LiveQueue:
    """Callers waiting now on one phone number: on the line and in the callback queue."""

    __slots__ = ("waiting", "start_sum", "_heap", "callbacks", "web_callbacks")

    def __init__(self) -> None:
        self.waiting: dict[str, int] = {}
        self.start_sum = 0
        self._heap: list[tuple[int, str]] = []
        self.callbacks = 0
        self.web_callbacks = 0

    def enter(self, call_id: str, since: int) -> None:
        self.waiting[call_id] = since
        self.start_sum += since
        heapq.heappush(self._heap, (since, call_id))

    def leave(self, call_id: str) -> None:
        since = self.waiting.pop(call_id)
        self.start_sum -= since
        heap = self._heap
        while heap and self.waiting.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def oldest(self) -> int | None:
        """Start of the longest current wait, or None if nobody waits."""
        return self._heap[0][0] if self._heap else None
