"""Instants, rounding and local days, against independent computations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkstats.domain.timeutil import (
    DayCalendar,
    InvalidInstant,
    average_seconds,
    format_instant,
    parse_instant,
    round_seconds,
)

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
instants = st.integers(0, 4_102_444_800 * NS - 1)  # 1970 .. 2100
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59)  # minutes


def spell(ns: int, offset_minutes: int, digits: int) -> str:
    """An RFC 3339 spelling of ``ns`` at a UTC offset, with ``digits`` fraction digits."""
    seconds, fraction = divmod(ns, NS)
    local = EPOCH + timedelta(seconds=seconds, minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{fraction:09d}"[:digits]
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


@given(instants, offsets)
def test_parse_instant_reads_every_offset_and_all_nine_digits(ns: int, offset: int) -> None:
    assert parse_instant(spell(ns, offset, 9)) == ns
    truncated = ns - ns % 1000  # six digits: whole microseconds
    assert parse_instant(spell(ns, offset, 6)) == truncated


@given(instants)
def test_format_instant_round_trips(ns: int) -> None:
    assert parse_instant(format_instant(ns)) == ns


@given(st.lists(st.tuples(st.integers(0, 59), offsets), min_size=1, max_size=20))
def test_the_same_minute_under_different_offsets(points: list[tuple[int, int]]) -> None:
    base = 1_790_000_000 // 60 * 60  # a whole minute
    for second, offset in points:
        ns = (base + second) * NS
        assert parse_instant(spell(ns, offset, 0)) == ns
        # the same wall-clock minute text with another offset is another instant
        assert parse_instant(spell(ns, offset, 0)[:-6] + "Z") == ns + offset * 60 * NS


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-26T09:00:00",
        "2026-11-26T09:00:60Z",
        "2026-02-30T09:00:00Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T09:00:00+24:00",
        "2026-11-26T09:00:00.1234567890Z",
        "2026-11-26T09:00Z",
        " 2026-11-26T09:00:00Z",
    ],
)
def test_invalid_instants(text: str) -> None:
    with pytest.raises(InvalidInstant):
        parse_instant(text)


def half_away(x: Fraction) -> int:
    return floor(x + Fraction(1, 2)) if x >= 0 else -floor(-x + Fraction(1, 2))


@given(st.integers(-(10**15), 10**15))
def test_round_seconds_halves_away_from_zero(ns: int) -> None:
    assert round_seconds(ns) == half_away(Fraction(ns, NS))


@given(st.integers(0, 10**15), st.integers(0, 10**4))
def test_average_seconds(total: int, count: int) -> None:
    expected = 0 if count == 0 else half_away(Fraction(total, count * NS))
    assert average_seconds(total, count) == expected


def test_rounding_examples() -> None:
    assert round_seconds(2_500_000_000) == 3
    assert round_seconds(-2_500_000_000) == -3
    assert round_seconds(2_499_999_999) == 2
    assert average_seconds(3 * NS, 2) == 2  # 1.5 -> 2
    assert average_seconds(5 * NS, 0) == 0


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Paris", "2026-03-29", 23),
        ("Europe/Paris", "2026-10-25", 25),
        ("America/Los_Angeles", "2026-03-08", 23),
        ("America/Los_Angeles", "2026-11-01", 25),
        ("America/Santiago", "2026-09-06", 23),  # DST starts at midnight: 00:00 does not exist
        ("Asia/Kolkata", "2026-03-29", 24),
    ],
)
def test_day_bounds(zone: str, day: str, hours: int) -> None:
    calendar = DayCalendar(zone)
    start, end = calendar.bounds(date.fromisoformat(day))
    assert end - start == hours * 3600 * NS
    assert calendar.day_of(start) == date.fromisoformat(day)
    assert calendar.day_of(end - 1) == date.fromisoformat(day)
    assert calendar.day_of(end) == date.fromisoformat(day) + timedelta(days=1)


@given(instants, st.sampled_from(["Europe/Paris", "America/Los_Angeles", "Australia/Lord_Howe"]))
def test_day_of_matches_zoneinfo(ns: int, zone: str) -> None:
    calendar = DayCalendar(zone)
    expected = (EPOCH + timedelta(seconds=ns // NS)).astimezone(ZoneInfo(zone)).date()
    assert calendar.day_of(ns) == expected
    start, end = calendar.bounds(expected)
    assert start <= ns < end
