"""Time has bounds, and a long gap costs nothing.

Events before 1970-01-01T00:00:00Z are refused whatever their offset; history from
years back is fine. An agent's interval that spans years is folded in one step: its
whole days are kept as one entry, read on demand for any day inside it.
"""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstats.domain import stats
from talkstats.domain.decoding import parse_batch
from talkstats.domain.events import EventRejected, parse_event
from talkstats.domain.stats import InvalidDate
from talkstats.domain.timeutil import TOO_EARLY, InvalidInstant, format_instant, parse_instant

from .story import Story

NS = 1_000_000_000


@pytest.mark.parametrize(
    "text",
    [
        "1969-12-31T23:59:59.999999999Z",
        "1970-01-01T00:59:59+01:00",
        "0001-01-01T00:00:00+23:59",
        "0001-01-02T00:00:00Z",
        "1900-06-01T12:00:00-05:00",
    ],
)
def test_instants_before_the_epoch_are_refused(text: str) -> None:
    for _ in range(2):  # the second time through the minute and ending caches
        with pytest.raises(InvalidInstant, match="before 1970-01-01T00:00:00Z"):
            parse_instant(text)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1969-12-31T19:00:00.5-05:00", NS // 2),
        ("2010-03-01T08:00:00Z", 1_267_430_400 * NS),
    ],
)
def test_the_epoch_and_real_history_are_accepted(text: str, ns: int) -> None:
    assert parse_instant(text) == ns
    assert parse_instant(text) == ns  # cached


@pytest.mark.parametrize("decode", ["parse_event", "parse_batch"])
def test_an_event_before_the_epoch_is_rejected_naming_the_time(decode: str) -> None:
    event = {
        "id": "r1-b",
        "type": "agent.state_changed",
        "time": "0001-01-01T00:00:00+23:59",
        "agent_id": 35,
        "state": "online",
    }
    if decode == "parse_event":
        with pytest.raises(EventRejected) as raised:
            parse_event(event)
        rejected = raised.value
    else:
        (item,) = parse_batch([event])
        assert isinstance(item, EventRejected)
        rejected = item
    assert (rejected.event_id, rejected.field) == ("r1-b", "time")
    assert TOO_EARLY in rejected.message


def online_since_1970() -> Story:
    """Agent 1 online from the epoch (01:00 in Paris, then on CET) until told otherwise."""
    s = Story(timezone="Europe/Paris", day="2026-11-26")
    s.at("01:00:00", day="1970-01-01").agent(1, "online", via="client")
    assert s.events[0].time == 0
    return s


def test_a_gap_of_fifty_six_years_is_one_step() -> None:
    s = online_since_1970()
    s.at("09:00:00").agent(1, "offline")
    p = s.projection
    assert len(p.agents[1].whole_days) == 1
    # the first and the last partial day only: never one entry per day of the gap
    assert sum(1 for day_totals in p.agent_days.values() if 1 in day_totals) == 2
    assert len(pickle.dumps(p)) < 1_000_000


def test_days_inside_a_long_interval_are_computed_on_read() -> None:
    s = online_since_1970()
    s.at("09:00:00").agent(1, "away")
    s.now("10:00:00")
    # a whole day in 2019 (Europe/Paris: 24 h), the 25-hour day of 2019's fall-back,
    # the first day (from the epoch to local midnight: 1970-01-01 01:00 CET)
    for day, hours in ((date(2019, 5, 14), 24), (date(2019, 10, 27), 25)):
        row = s.activity(date=day)[1]
        assert row["online_time"] == row["available_time"] == hours * 3600
        assert row["agent_state"] == "online"
        overview = s.agents(date=day)
        assert overview["average_online_time"] == hours * 3600
    first = s.activity(date=date(1970, 1, 1))[1]
    assert first["online_time"] == 23 * 3600  # 01:00 CET .. midnight
    today = s.activity()[1]
    assert today["online_time"] == 10 * 3600  # midnight .. 09:00 online, 09:00 .. 10:00 away
    assert today["away_time"] == 3600 and today["available_time"] == 9 * 3600


def test_dates_before_any_event_can_exist_are_invalid() -> None:
    s = online_since_1970()
    for day in (date(1969, 12, 30), date(1, 1, 1)):
        with pytest.raises(InvalidDate, match="earliest"):
            s.overview(date=day)
    s.overview(date=date(1970, 1, 1))


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 4000 * 86_400), min_size=1, max_size=6),
    states=st.lists(st.sampled_from(["online", "away", "transfers_only", "offline"]), min_size=7),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_time_in_states_over_long_gaps_matches_a_day_by_day_count(
    gaps: list[int], states: list[str], zone: str
) -> None:
    """The O(1) fold equals counting every local day one by one, for sampled days."""
    s = Story(timezone=zone, day="2026-11-26")
    t = 1_000_000_000 * NS  # 2001-09-09
    changes: list[tuple[int, str]] = []
    for gap, state in zip([0, *gaps], states, strict=False):
        t += gap * NS
        s._time_text = format_instant(t)
        s._time = t
        s._now = max(s._now, t)
        s.agent(1, state)
        changes.append((t, state))
    end = t + 3600 * NS
    s._now = end
    calendar = s.projection.calendar
    first, last = calendar.day_of(changes[0][0]), calendar.day_of(end)
    span = (last - first).days
    for offset in sorted({0, span // 3, span // 2, span}):
        day = first + timedelta(days=offset)
        start, stop = calendar.bounds(day)
        stop = min(stop, end)
        expected = _online_between(changes, start, stop)
        row = stats.agents_activity(
            s.projection, end, plan="enterprise", agent_ids=[1], date=None if day == last else day
        )[0]
        assert row["online_time"] == round(expected / NS), (day, changes)


def _online_between(changes: list[tuple[int, str]], start: int, stop: int) -> int:
    total = 0
    for (t, state), nxt in zip(changes, [*changes[1:], (stop, "")], strict=True):
        if state != "offline":
            total += max(0, min(nxt[0], stop) - max(t, start))
    return total
