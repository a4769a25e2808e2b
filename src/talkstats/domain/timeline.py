"""Today (or a past day) in intervals: calls per interval and callers waiting over time.

The projection tells a :class:`Timeline` about each call that starts, is answered or
is abandoned, and about each change in the number of callers waiting; the timeline
keeps, per local day and phone number (and for all numbers), one slot per 5-minute
*base bucket* from local midnight. A read adds up base buckets into the asked
interval (5, 15, 30 or 60 minutes): its cost is the number of buckets in the day
(at most 300) times the phone numbers in the filter, whatever the number of calls.

Calls are counted in the bucket of their ``call.started`` (a call belongs to the
interval it arrived in, as it belongs to the day it started on), so each interval's
counts are a partition of the day's and add up to them exactly.

Callers waiting (on the line and callback requests, the population of
``max_calls_waiting``) are kept per bucket as two relative numbers: the net change
over the bucket and the highest level reached in it above the level it opened at.
The opening level of bucket ``k`` is the sum of the net changes before it, so a
change that arrives late (an event older than others already folded) touches only
its own bucket, never the later ones. That bucket is then recomputed from the
day's :class:`PeakTimeline` (which the projection keeps anyway) between the
bucket's bounds: the cost is the changes inside that one bucket.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import MutableSequence
from dataclasses import dataclass
from datetime import date

from .aggregates import PeakTimeline
from .timeutil import NS_PER_SECOND, DayCalendar

BASE_MINUTES = 5
BASE_NS = BASE_MINUTES * 60 * NS_PER_SECOND
INTERVALS = (5, 15, 30, 60)  # minutes; each a multiple of the base bucket
ALL_NUMBERS = 0  # the key of all phone numbers together (ids are positive)
SUBSET_LIMIT = 32  # sets of several phone numbers kept up to date (least recently read go)
_NO_LEVEL = -(2**31)  # "no level reached yet" in a bucket's lead (int32 arrays)
_NO_INSTANT = -(2**63)  # a bucket's last changed instant when nothing changed in it


def bucket_count(day_start: int, day_end: int) -> int:
    """Base buckets in a local day (276, 288 or 300 on a day of 23, 24 or 25 hours)."""
    return -(-(day_end - day_start) // BASE_NS)


Column = MutableSequence[int]  # a list while its day is written to, an array once frozen


def _frozen(column: Column, code: str) -> Column:
    return column if isinstance(column, array) else array(code, column)


def _thawed(column: Column) -> Column:
    return column.tolist() if isinstance(column, array) else column


class Waiting:
    """Callers waiting over one day, per base bucket, relative to each bucket's opening.

    ``net[k]``: the change over bucket k. ``high[k]``: the highest level reached in
    bucket k above its opening level (0 when nothing changes in it; below 0 when the
    first change falls on the bucket's first instant and lowers it). ``lead[k]``: the
    same highest level, not counting the bucket's last changed instant, and ``last[k]``
    that instant: together they let a change at or after the last instant be folded
    in O(1).

    Columns are lists while the day is written to (three times faster to update than
    arrays) and arrays once it is past (``freeze``: a third of the memory).
    """

    __slots__ = ("start", "net", "high", "lead", "last")
    CODES = (("net", "i"), ("high", "i"), ("lead", "i"), ("last", "q"))

    def __init__(self, start: int, buckets: int) -> None:
        self.start = start
        self.net: Column = [0] * buckets
        self.high: Column = [0] * buckets
        self.lead: Column = [0] * buckets
        self.last: Column = [_NO_INSTANT] * buckets

    def freeze(self) -> None:
        for name, code in self.CODES:
            setattr(self, name, _frozen(getattr(self, name), code))

    def thaw(self) -> None:
        for name, _ in self.CODES:
            setattr(self, name, _thawed(getattr(self, name)))

    def __getstate__(self) -> tuple[object, ...]:
        columns = (_frozen(getattr(self, name), code) for name, code in self.CODES)
        return (self.start, *(bytes(memoryview(c)) for c in columns))  # type: ignore[arg-type]

    def __setstate__(self, state: tuple[object, ...]) -> None:
        start, *blobs = state
        assert isinstance(start, int)
        self.start = start
        for (name, code), blob in zip(self.CODES, blobs, strict=True):
            column = array(code)
            column.frombytes(blob)  # type: ignore[arg-type]
            setattr(self, name, column)

    def changed(self, instant: int, delta: int) -> bool:
        """Fold a change of ``delta`` callers at ``instant`` in O(1), if it comes at or
        after the bucket's last change; False if it lands before (then ``recompute``)."""
        k = (instant - self.start) // BASE_NS
        last = self.last[k]
        if instant > last:  # the bucket's first changed instant, or a later one
            net = self.net[k]
            if last == _NO_INSTANT:
                lead = 0 if instant > self.start + k * BASE_NS else _NO_LEVEL
            else:
                lead = self.lead[k]
                if net > lead:
                    lead = net
            self.lead[k] = lead
            self.last[k] = instant
        elif instant == last:
            net = self.net[k]
            lead = self.lead[k]
        else:
            return False
        net += delta
        self.net[k] = net
        self.high[k] = net if net > lead else lead
        return True

    def late(self, instant: int, source: PeakTimeline) -> None:
        """A change before the bucket's last one: the bucket again from ``source``, the
        day's timeline of the same callers, which already holds the change."""
        self.recompute((instant - self.start) // BASE_NS, source)

    def recompute(self, k: int, source: PeakTimeline) -> None:
        """Bucket k again from the day's timeline: O(changed instants in the bucket)."""
        bucket_start = self.start + k * BASE_NS
        times, values = source.times, source.values
        first = bisect_left(times, bucket_start)
        stop = bisect_left(times, bucket_start + BASE_NS)
        opening = values[first - 1] if first > 0 else 0
        if first == stop:
            self.net[k] = self.high[k] = self.lead[k] = 0
            self.last[k] = _NO_INSTANT
            return
        lead = 0 if times[first] > bucket_start else _NO_LEVEL
        if stop - 1 > first:  # the highest level before the bucket's last change
            lead = max(lead, max(values[first : stop - 1]) - opening)
        net = values[stop - 1] - opening
        self.lead[k] = lead
        self.net[k] = net
        self.high[k] = max(lead, net)
        self.last[k] = times[stop - 1]

    @classmethod
    def of(cls, start: int, buckets: int, source: PeakTimeline) -> Waiting:
        """Built from a whole day's timeline (used once per new set of phone numbers)."""
        waiting = cls(start, buckets)
        times = source.times
        for k in range(buckets):  # a bucket with no change is left as it is
            low = bisect_left(times, start + k * BASE_NS)
            if low < len(times) and times[low] < start + (k + 1) * BASE_NS:
                waiting.recompute(k, source)
        return waiting


class DaySeries:
    """One day's per-bucket counts and callers waiting, for one phone number or all."""

    __slots__ = ("start", "calls", "offered", "answered", "abandoned", "waiting")
    COUNTS = ("calls", "offered", "answered", "abandoned")

    def __init__(self, start: int, buckets: int) -> None:
        self.start = start
        self.calls: Column = [0] * buckets
        self.offered: Column = [0] * buckets
        self.answered: Column = [0] * buckets
        self.abandoned: Column = [0] * buckets
        self.waiting = Waiting(start, buckets)

    def freeze(self) -> None:
        for name in self.COUNTS:
            setattr(self, name, _frozen(getattr(self, name), "I"))
        self.waiting.freeze()

    def thaw(self) -> None:
        for name in self.COUNTS:
            setattr(self, name, _thawed(getattr(self, name)))
        self.waiting.thaw()

    def __getstate__(self) -> tuple[object, ...]:
        counts = (_frozen(getattr(self, name), "I") for name in self.COUNTS)
        return (*(bytes(memoryview(c)) for c in counts), self.waiting)  # type: ignore[arg-type]

    def __setstate__(self, state: tuple[object, ...]) -> None:
        *blobs, waiting = state
        assert isinstance(waiting, Waiting)
        self.waiting = waiting
        self.start = waiting.start
        for name, blob in zip(self.COUNTS, blobs, strict=True):
            column = array("I")
            column.frombytes(blob)  # type: ignore[arg-type]
            setattr(self, name, column)


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval of a read: counts of the calls that started in it, callers waiting.

    ``max_calls_waiting`` is the peak inside the interval; ``calls_waiting`` the level
    at its end (at the window's end for the interval that contains it).
    """

    start: int
    calls: int
    offered: int
    answered: int
    abandoned: int
    max_calls_waiting: int
    calls_waiting: int


@dataclass(slots=True)
class _Subset:
    """Callers waiting for a set of several phone numbers: their merged timeline (a
    late change is re-read from it) and its per-bucket series."""

    merged: PeakTimeline
    waiting: Waiting


class Timeline:
    """Per-bucket series of every day and phone number, kept as events are folded.

    ``peaks`` is the projection's day -> phone number -> PeakTimeline mapping (the
    same object): waiting changes are recorded there first, and a late change is
    re-read from it. Series of sets of several phone numbers are built on their first
    read and then kept up to date; they are a cache, not part of snapshots.
    """

    def __init__(self, calendar: DayCalendar, peaks: dict[date, dict[int, PeakTimeline]]) -> None:
        self.calendar = calendar
        self.peaks = peaks
        self.days: dict[date, dict[int, DaySeries]] = {}
        self._subsets: dict[tuple[date, frozenset[int]], _Subset] = {}
        # (day, phone number) -> (all numbers' series, the number's): one lookup a hook
        self._pairs: dict[tuple[date, int], tuple[DaySeries, DaySeries]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"calendar": self.calendar, "peaks": self.peaks, "days": self.days}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._subsets = {}
        self._pairs = {}

    def forget(self, day: date) -> None:
        """Drop what is kept on the side for a day that leaves memory (sealing.py)."""
        self._pairs = {key: pair for key, pair in self._pairs.items() if key[0] != day}
        self._subsets = {key: sub for key, sub in self._subsets.items() if key[0] != day}

    # --- writes (called by the projection once an event is accepted) ---------------------

    def _series(self, day: date, phone_number_id: int) -> tuple[DaySeries, DaySeries]:
        pair = self._pairs.get((day, phone_number_id))
        if pair is None:
            pair = self._pairs[(day, phone_number_id)] = self._make(day, phone_number_id)
        return pair

    def _make(self, day: date, phone_number_id: int) -> tuple[DaySeries, DaySeries]:
        """The pair for a write, thawed (lists). A day later than every other freezes
        the days before it: past days take a third of the memory, and rarely change."""
        if day not in self.days and all(other < day for other in self.days):
            for series_of_day in self.days.values():
                for series in series_of_day.values():
                    series.freeze()
            self._pairs = {key: pair for key, pair in self._pairs.items() if key[0] == day}
        by_number = self.days.get(day)
        if by_number is None:
            by_number = self.days[day] = {}
        every = by_number.get(ALL_NUMBERS)
        start, end = self.calendar.bounds(day)
        if every is None:
            every = by_number[ALL_NUMBERS] = DaySeries(start, bucket_count(start, end))
        one = by_number.get(phone_number_id)
        if one is None:
            one = by_number[phone_number_id] = DaySeries(start, bucket_count(start, end))
        every.thaw()
        one.thaw()
        return every, one

    def call_started(self, day: date, phone_number_id: int, started: int, inbound: bool) -> None:
        every, one = self._series(day, phone_number_id)
        k = (started - every.start) // BASE_NS
        every.calls[k] += 1
        one.calls[k] += 1
        if inbound:
            every.offered[k] += 1
            one.offered[k] += 1

    def call_answered(self, day: date, phone_number_id: int, started: int) -> None:
        """An inbound call's first answer by an agent (from the queue or a callback)."""
        every, one = self._series(day, phone_number_id)
        k = (started - every.start) // BASE_NS
        every.answered[k] += 1
        one.answered[k] += 1

    def call_abandoned(self, day: date, phone_number_id: int, started: int) -> None:
        """A call that ended while its caller waited on the line."""
        every, one = self._series(day, phone_number_id)
        k = (started - every.start) // BASE_NS
        every.abandoned[k] += 1
        one.abandoned[k] += 1

    def waiting_changed(self, day: date, phone_number_id: int, instant: int, delta: int) -> None:
        """Callers waiting changed at ``instant`` (already recorded in ``peaks``)."""
        every, one = self._series(day, phone_number_id)
        if not every.waiting.changed(instant, delta):
            every.waiting.late(instant, self.peaks[day][ALL_NUMBERS])
        if not one.waiting.changed(instant, delta):
            one.waiting.late(instant, self.peaks[day][phone_number_id])
        if self._subsets:
            for (subset_day, numbers), subset in self._subsets.items():
                if subset_day == day and phone_number_id in numbers:
                    subset.merged.add(instant, delta)
                    if not subset.waiting.changed(instant, delta):
                        subset.waiting.late(instant, subset.merged)

    # --- reads ---------------------------------------------------------------------------

    def read(
        self, day: date, end: int, interval_minutes: int, numbers: frozenset[int] | None
    ) -> list[Interval]:
        """The day's intervals that start before ``end`` (the window's end).

        ``numbers`` None means all phone numbers. Cost: O(buckets of the day x numbers);
        for a set of several numbers, the first read also merges their waiting
        timelines once (O(their changes that day)); later reads are O(buckets).
        """
        if interval_minutes not in INTERVALS:
            raise ValueError(f"interval must be one of {INTERVALS} minutes")
        start, day_end = self.calendar.bounds(day)
        buckets = bucket_count(start, day_end)
        per = interval_minutes // BASE_MINUTES
        used = min(buckets, max(1, -(-(end - start) // BASE_NS)))  # base buckets before end
        by_number = self.days.get(day, {})
        parts: list[DaySeries]
        if numbers is None:
            parts = [by_number.get(ALL_NUMBERS) or DaySeries(start, buckets)]
            waiting = parts[0].waiting
        else:
            parts = [by_number[n] for n in sorted(numbers) if n in by_number]
            if len(parts) == 1:
                waiting = parts[0].waiting
            elif not parts:
                waiting = Waiting(start, buckets)
            else:
                waiting = self._subset_waiting(day, numbers, start, buckets)
        out: list[Interval] = []
        level = 0
        for first in range(0, used, per):
            calls = offered = answered = abandoned = 0
            peak = -(2**62)
            for k in range(first, min(first + per, used)):
                for series in parts:
                    calls += series.calls[k]
                    offered += series.offered[k]
                    answered += series.answered[k]
                    abandoned += series.abandoned[k]
                peak = max(peak, level + waiting.high[k])
                level += waiting.net[k]
            out.append(
                Interval(
                    start + first * BASE_NS,
                    calls,
                    offered,
                    answered,
                    abandoned,
                    max(peak, 0),
                    level,
                )
            )
        return out

    def _subset_waiting(
        self, day: date, numbers: frozenset[int], start: int, buckets: int
    ) -> Waiting:
        key = (day, numbers)
        subset = self._subsets.pop(key, None)
        if subset is None:
            by_number = self.peaks.get(day, {})
            merged = PeakTimeline.merged([by_number[n] for n in numbers if n in by_number])
            subset = _Subset(merged, Waiting.of(start, buckets, merged))
        self._subsets[key] = subset  # most recently read last
        while len(self._subsets) > SUBSET_LIMIT:
            del self._subsets[next(iter(self._subsets))]
        return subset.waiting
