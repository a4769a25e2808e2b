"""Instants, local days and rounding.

Inside the core an instant is an ``int`` of nanoseconds since the Unix epoch (UTC):
exact, cheap to compare and to add. Local days come from IANA time zones, so days of
23 and 25 hours (DST changes) fall out of the zone rules rather than out of arithmetic.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NS_PER_SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The earliest instant talkstats accepts: the Unix epoch. Real history goes back years,
# never centuries; the bound keeps every instant a non-negative 64-bit count of
# nanoseconds and every local day inside what the calendar functions can represent.
EARLIEST = 0
EARLIEST_TEXT = "1970-01-01T00:00:00Z"
TOO_EARLY = f"is before {EARLIEST_TEXT}, the earliest time talkstats accepts"

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,  # \d is 0-9 only, not every Unicode digit
)
# An instant's text splits at fixed places: "2026-11-26T09:15" (the minute), ":02" (the
# second) and the rest (fraction and offset, ".250+01:00"). A minute or an ending that
# has passed the full check is remembered with its value, and the 60 valid seconds are
# known, so the common parse is three slices and three dictionary lookups. Event
# times cluster (many a minute, few distinct endings), so the caches stay small.
_MINUTES: dict[str, int] = {}  # "2026-11-26T09:15" -> seconds since the epoch, as UTC
_SECONDS = {f":{n:02d}": n for n in range(60)}
_ENDINGS: dict[str, int] = {}  # ".250+01:00" -> fraction minus offset, in ns
_CACHE_LIMIT = 4096


class InvalidInstant(ValueError):
    """A timestamp string that is not an RFC 3339 instant with an offset."""


def parse_instant(text: str) -> int:
    """Parse an RFC 3339 instant (offset required) into integer nanoseconds.

    Up to nine fractional digits are kept exactly. Instants before the Unix epoch are
    refused (``EARLIEST``).
    """
    minute = _MINUTES.get(text[:16])
    if minute is not None:
        second = _SECONDS.get(text[16:19])
        ending = _ENDINGS.get(text[19:])
        if second is not None and ending is not None:
            instant = (minute + second) * NS_PER_SECOND + ending
            if instant < EARLIEST:
                raise InvalidInstant(TOO_EARLY)
            return instant
    return _parse_and_remember(text)


def _parse_and_remember(text: str) -> int:
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise InvalidInstant(
            "must be an RFC 3339 instant with an offset, like 2026-11-26T09:15:02Z"
        )
    minute_text, second_text, fraction, offset_text = m.groups()
    second = int(second_text)
    if second > 59:
        raise InvalidInstant("has a seconds field above 59")
    minute = _minute_since_epoch(minute_text)
    offset = _offset_seconds(offset_text)
    ending = (int(fraction.ljust(9, "0")) if fraction else 0) - offset * NS_PER_SECOND
    for cache, key, value in ((_MINUTES, minute_text, minute), (_ENDINGS, text[19:], ending)):
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value
    instant = (minute + second) * NS_PER_SECOND + ending
    if instant < EARLIEST:
        raise InvalidInstant(TOO_EARLY)
    return instant


def _minute_since_epoch(minute_text: str) -> int:
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM" read as UTC."""
    try:
        base = datetime(
            int(minute_text[0:4]),
            int(minute_text[5:7]),
            int(minute_text[8:10]),
            int(minute_text[11:13]),
            int(minute_text[14:16]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidInstant(f"is not a valid date and time ({exc})") from None
    return (base - _EPOCH) // timedelta(seconds=1)


def _offset_seconds(offset_text: str) -> int:
    if offset_text in ("Z", "z"):
        return 0
    hours, minutes = int(offset_text[1:3]), int(offset_text[4:6])
    if hours > 23 or minutes > 59:
        raise InvalidInstant("has an invalid UTC offset")
    return (hours * 3600 + minutes * 60) * (1 if offset_text[0] == "+" else -1)


def format_instant(ns: int) -> str:
    """Format nanoseconds as an RFC 3339 UTC instant (for messages and exports)."""
    seconds, rest = divmod(ns, NS_PER_SECOND)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if rest:
        text += "." + f"{rest:09d}".rstrip("0")
    return text + "Z"


def instant_from_datetime(dt: datetime) -> int:
    """Convert an aware datetime to integer nanoseconds."""
    if dt.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def load_zone(name: str) -> ZoneInfo:
    """Load an IANA zone, raising ValueError with a clear message if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


class DayCalendar:
    """Maps instants to local calendar days of one zone and back.

    The bounds of the last day asked for are cached, so the common case (many
    instants of the same day) costs two comparisons.
    """

    def __init__(self, zone_name: str) -> None:
        self.zone_name = zone_name
        self._zone = load_zone(zone_name)
        self._day: date | None = None
        self._start = 0
        self._end = 0

    def __getstate__(self) -> dict[str, str]:
        return {"zone_name": self.zone_name}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["zone_name"])  # type: ignore[misc]

    def day_of(self, ns: int) -> date:
        """The local calendar day containing the instant."""
        if self._start <= ns < self._end and self._day is not None:
            return self._day
        seconds = ns // NS_PER_SECOND
        local = (_EPOCH + timedelta(seconds=seconds)).astimezone(self._zone)
        day = local.date()
        self._start, self._end = self._midnight(day), self._midnight(day + timedelta(days=1))
        self._day = day
        return day

    def bounds(self, day: date) -> tuple[int, int]:
        """``[start, end)`` of a local day in nanoseconds: midnight to next midnight."""
        if day == self._day:
            return self._start, self._end
        return self._midnight(day), self._midnight(day + timedelta(days=1))

    def _midnight(self, day: date) -> int:
        # fold=0: an ambiguous midnight means the first one; a midnight that does not
        # exist (a DST gap at 00:00) maps to the instant the clocks jumped.
        return instant_from_datetime(datetime.combine(day, time(0), tzinfo=self._zone))


def round_seconds(ns: int) -> int:
    """Nanoseconds to whole seconds, halves away from zero."""
    if ns < 0:
        return -round_seconds(-ns)
    return (2 * ns + NS_PER_SECOND) // (2 * NS_PER_SECOND)


def average_seconds(total_ns: int, count: int) -> int:
    """``total / count`` in whole seconds, halves away from zero; 0 for an empty population."""
    if count == 0:
        return 0
    if total_ns < 0:
        return -average_seconds(-total_ns, count)
    return (2 * total_ns + count * NS_PER_SECOND) // (2 * count * NS_PER_SECOND)


def average_count(total: int, count: int) -> int:
    """An average of counts, rounded halves away from zero; 0 for an empty population."""
    if count == 0:
        return 0
    return (2 * total + count) // (2 * count)
