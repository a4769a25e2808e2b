"""The timeline extension: intervals of the day, kept incrementally, equal to brute force.

- a story with hand-computed numbers, per filter and interval;
- a simulated day (four phone numbers): every interval of every filter equals a
  recomputation from the events, for a past day and for today read along the way;
- Hypothesis streams (late events across calls, DST nights) against the same;
- the read's cost does not depend on the day's calls: a traced read of a small and
  of a ten times larger day executes exactly the same lines of the domain.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from datetime import date, datetime
from itertools import combinations
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from talkstats.domain import stats
from talkstats.domain.decoding import parse_batch
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import Event, parse_event
from talkstats.domain.projection import AccountProjection
from talkstats.domain.timeline import INTERVALS
from talkstats.domain.timeutil import NS_PER_SECOND, instant_from_datetime
from talkstats.simulator import Simulator, load_scenario, reference_data, scenario_path
from tests.domain import timeline_brute
from tests.domain.story import Story
from tests.domain.strategies import NUMBERS, Stream, streams

NS = NS_PER_SECOND
MINUTE = 60 * NS


def keyed(body: dict[str, Any], zone: ZoneInfo) -> list[dict[str, int]]:
    """The endpoint's intervals with ``start`` turned back into an instant."""
    return [
        {**row, "start": instant_from_datetime(datetime.fromisoformat(row["start"]))}
        for row in body["intervals"]
    ]


# --- a story -----------------------------------------------------------------------------


def story() -> Story:
    s = Story(agents=[1, 2], phone_numbers=[10, 20])
    s.at("09:00:00").agent(1, "online")
    s.at("09:01:00").inbound("c1", 10)
    s.at("09:01:10").call("c1", "queued")
    s.at("09:01:20").inbound("c2", 20)
    s.at("09:01:30").call("c2", "queued")
    s.at("09:02:00").call("c1", "answered", agent_id=1)
    s.at("09:04:00").call("c2", "ended")  # abandoned in queue
    s.at("09:05:00").call("c1", "ended").call("c1", "wrap_up_ended", agent_id=1)
    s.at("09:14:00").inbound("c3", 10)
    s.at("09:14:30").call("c3", "queued")  # still waiting at the end
    s.at("09:15:00").agent(2, "online")
    s.at("09:16:00").outbound("c4", 2, 20)
    s.at("09:16:10").call("c4", "answered", agent_id=2)
    s.at("09:17:00").call("c4", "ended").call("c4", "wrap_up_ended", agent_id=2)
    s.now("09:20:00")
    return s


def last_two(s: Story, **kw: Any) -> list[tuple[Any, ...]]:
    body = stats.timeline(s.projection, s.current, **kw)
    return [
        (
            r["start"][11:16],
            r["calls"],
            r["offered"],
            r["answered"],
            r["abandoned"],
            r["max_calls_waiting"],
            r["calls_waiting"],
        )
        for r in body["intervals"][-2:]
    ]


def test_a_story_in_quarter_hours() -> None:
    s = story()
    body = stats.timeline(s.projection, s.current)
    assert body["interval"] == 900 and body["date"] == "2026-11-26"
    assert body["timezone"] == "Europe/Paris"
    assert len(body["intervals"]) == 38  # 00:00 .. 09:15
    assert body["intervals"][0]["start"] == "2026-11-26T00:00:00+01:00"
    assert last_two(s) == [("09:00", 3, 3, 1, 1, 2, 1), ("09:15", 1, 0, 0, 0, 1, 1)]
    assert last_two(s, phone_number_ids=[10]) == [
        ("09:00", 2, 2, 1, 0, 1, 1),
        ("09:15", 0, 0, 0, 0, 1, 1),
    ]
    assert last_two(s, phone_number_ids=[20]) == [
        ("09:00", 1, 1, 0, 1, 1, 0),
        ("09:15", 1, 0, 0, 0, 0, 0),
    ]
    assert last_two(s, phone_number_ids=[10, 20]) == last_two(s)
    assert last_two(s, phone_number_ids=[99]) == [
        ("09:00", 0, 0, 0, 0, 0, 0),
        ("09:15", 0, 0, 0, 0, 0, 0),
    ]


def test_totals_agree_with_account_overview() -> None:
    s = story()
    for numbers in (None, [10], [20], [10, 20]):
        totals = stats.timeline(s.projection, s.current, phone_number_ids=numbers)["totals"]
        overview = s.overview(phone_number_ids=numbers)
        assert totals["calls"] == overview["total_calls"]
        assert totals["offered"] == overview["total_inbound_calls"]
        assert totals["abandoned"] == overview["total_calls_abandoned_in_queue"]
        assert totals["max_calls_waiting"] == overview["max_calls_waiting"]


def test_other_intervals() -> None:
    s = story()
    five = stats.timeline(s.projection, s.current, interval=5)["intervals"]
    assert [(r["start"][11:16], r["calls"], r["max_calls_waiting"], r["calls_waiting"])
            for r in five[-4:]] == [
        ("09:00", 2, 2, 0),
        ("09:05", 0, 0, 0),
        ("09:10", 1, 1, 1),
        ("09:15", 1, 1, 1),
    ]  # fmt: skip
    hour = stats.timeline(s.projection, s.current, interval=60)["intervals"]
    assert len(hour) == 10 and hour[-1]["calls"] == 4 and hour[-1]["max_calls_waiting"] == 2
    with pytest.raises(ValueError):
        stats.timeline(s.projection, s.current, interval=7)


def test_a_past_day_has_every_interval_and_days_of_23_and_25_hours() -> None:
    s = Story(timezone="Europe/Paris", day="2026-03-29")  # clocks go forward at 02:00
    s.at("01:50:00").inbound("c1", 10)
    s.at("03:05:00").call("c1", "queued")  # 01:50 and 03:05 are 15 minutes apart
    s.at("03:06:00").call("c1", "ended")
    s.now("12:00:00", day="2026-03-31")
    short = stats.timeline(s.projection, s.current, date=date(2026, 3, 29))["intervals"]
    assert len(short) == 92
    assert [r["start"][11:] for r in short[7:9]] == ["01:45:00+01:00", "03:00:00+02:00"]
    assert (short[7]["calls"], short[8]["max_calls_waiting"], short[8]["abandoned"]) == (1, 1, 0)
    assert short[7]["abandoned"] == 1  # counted where the call started
    longer = Story(timezone="Europe/Paris", day="2026-10-25")
    longer.now("12:00:00", day="2026-10-27")
    assert len(stats.timeline(longer.projection, longer.current, date=date(2026, 10, 25))[
        "intervals"]) == 100  # fmt: skip


def test_late_changes_give_what_in_order_delivery_gives() -> None:
    """Waits of other calls arriving late land in earlier buckets and get recomputed."""

    def run(order: list[int]) -> dict[str, Any]:
        s = Story(agents=[1], phone_numbers=[10, 20])
        script = [
            ("09:00:00", "c1", "started", {"direction": "inbound", "phone_number_id": 10}),
            ("09:00:10", "c1", "queued", {}),
            ("09:03:00", "c1", "ended", {}),
            ("09:00:00", "c2", "started", {"direction": "inbound", "phone_number_id": 20}),
            ("09:00:00", "c2", "queued", {}),
            ("09:01:00", "c2", "callback_requested", {}),
            ("09:04:30", "c2", "ended", {}),
            ("09:02:00", "c3", "started", {"direction": "inbound", "phone_number_id": 10}),
            ("09:02:00", "c3", "queued", {}),
            ("09:03:00", "c3", "ended", {}),
        ]
        for i in order:
            clock, call, kind, fields = script[i]
            s.at(clock).call(call, kind, **fields)
        s.now("09:30:00")
        return {
            str(n): stats.timeline(s.projection, s.current, interval=5, phone_number_ids=n)
            for n in (None, [10], [20], [10, 20])
        }

    in_order = run([0, 3, 4, 1, 5, 7, 8, 2, 9, 6])
    assert in_order == run(list(range(10)))  # c1 whole, then c2 (earlier), then c3
    assert in_order == run([7, 8, 9, 3, 4, 5, 6, 0, 1, 2])
    first = in_order["None"]["intervals"][108]  # 09:00-09:05
    assert (first["max_calls_waiting"], first["calls_waiting"]) == (3, 0)


def test_a_snapshot_carries_the_timeline() -> None:
    s = story()
    before = stats.timeline(s.projection, s.current, phone_number_ids=[10, 20])
    copy: AccountProjection = pickle.loads(pickle.dumps(s.projection))
    assert stats.timeline(copy, s.current, phone_number_ids=[10, 20]) == before
    assert copy.timeline.peaks is copy.peaks  # still the projection's own timelines
    copy.apply(parse_event({"id": "x1", "type": "call.ended", "call_id": "c3",
                            "time": s.iso("09:19:00")}), s.current)  # fmt: skip
    after = stats.timeline(copy, s.current)["intervals"][-1]
    assert after["abandoned"] == 0 and after["calls_waiting"] == 0
    assert stats.timeline(copy, s.current)["intervals"][-2]["abandoned"] == 2


# --- a simulated day, every filter -------------------------------------------------------

DAY = date(2026, 3, 10)
SCENARIO_NUMBERS = (100, 110, 120, 130)
FILTERS: list[list[int] | None] = [None] + [
    list(c) for size in range(1, 5) for c in combinations(SCENARIO_NUMBERS, size)
]


def simulated(scale: float = 1.0, seed: int = 3) -> tuple[AccountProjection, list[Event], int]:
    """center-200 cut to 20 agents and a few hundred calls (times ``scale``) on 2026-03-10."""
    overrides = [f"phone_numbers.{i}.calls_per_hour={round(15 * scale)}" for i in range(4)]
    overrides += ["phone_numbers.0.web_widget_share=0.2", "calls.callback_request_probability=0.3"]
    overrides += ["agents.count=20", "shifts.0.agents=6", "shifts.1.agents=6"]  # queues form
    overrides += ["shifts.2.agents=6", "shifts.3.agents=2", "groups.0.member_range=[2001, 2012]"]
    overrides += ["groups.1.member_range=[2008, 2016]", "groups.2.member_range=[2013, 2020]"]
    overrides += ["calls.handle_time_mean=500"]
    scenario = load_scenario(scenario_path("center-200"), overrides)
    ref = reference_data(scenario)
    directory = Directory()
    for agent in ref.agents:
        directory.add_agent(AgentInfo(agent.id, agent.name))
    for group in ref.groups:
        directory.add_group(group.id)
        for member in group.members:
            directory.add_member(group.id, member)
    for number in ref.phone_numbers:
        directory.add_phone_number(number.id)
    projection = AccountProjection(scenario.timezone, directory)
    start, end = projection.calendar.bounds(DAY)
    raw = Simulator(scenario, seed, start).advance(end)
    events = [e for e in parse_batch(raw) if isinstance(e, Event)]
    assert len(events) == len(raw)
    return projection, events, end


def check_day(p: AccountProjection, events: list[Event], now: int, day: date | None) -> None:
    calls = timeline_brute.calls_of(events)
    w = stats.window(p, now, day)
    day_start, day_end = p.calendar.bounds(w.day)
    for interval in INTERVALS:
        for numbers in FILTERS:
            got = stats.timeline(p, now, interval=interval, date=day, phone_number_ids=numbers)
            want = timeline_brute.timeline(
                calls, day_start, day_end, w.end, interval * MINUTE, set(numbers or []) or None
            )
            assert keyed(got, ZoneInfo(p.timezone)) == want, (interval, numbers)


def test_a_simulated_day_equals_brute_force_for_every_filter() -> None:
    p, events, end = simulated()
    chunk = len(events) // 5
    for i in range(0, len(events), chunk):  # today, read as the day goes on
        for event in events[i : i + chunk]:
            p.apply(event, end)
        now = p.effective_now(p.latest_time)
        check_day(p, events[: i + chunk], now, None)
    check_day(p, events, end + 3600 * NS, DAY)  # the next morning: a past day


def test_simulated_traffic_is_realistic_enough_to_mean_something() -> None:
    p, events, end = simulated()
    for event in events:
        p.apply(event, end)
    totals = stats.timeline(p, end, date=DAY, interval=60)["totals"]
    assert totals["calls"] > 300 and totals["abandoned"] > 5 and totals["max_calls_waiting"] > 2
    assert totals["answered"] > totals["offered"] // 2


@settings(max_examples=40, deadline=None)
@given(streams())
def test_hypothesis_streams_equal_brute_force(stream: Stream) -> None:
    p = stream.projection()
    events = [parse_event(raw) for raw in stream.events]
    for event, server_now in zip(events, stream.server_nows, strict=True):
        p.apply(event, server_now)
        now = p.effective_now(server_now)
        stats.timeline(p, now, phone_number_ids=[10, 20])  # keep a set cached meanwhile
    now = p.effective_now(stream.server_nows[-1])
    calls = timeline_brute.calls_of(events)
    days = {p.calendar.day_of(c.start) for c in calls.values()} | {p.calendar.day_of(now)}
    for day in sorted(days):
        w = stats.window(p, now, day)
        day_start, day_end = p.calendar.bounds(day)
        for numbers in (None, [10], [20], list(NUMBERS)):
            got = stats.timeline(p, now, interval=5, date=day, phone_number_ids=numbers)
            want = timeline_brute.timeline(
                calls, day_start, day_end, w.end, 5 * MINUTE, set(numbers or []) or None
            )
            assert keyed(got, ZoneInfo(p.timezone)) == want, (day, numbers)


# --- the cost of a read does not grow with the day ---------------------------------------


@pytest.fixture
def traced() -> Iterator[Any]:
    def run(fn: Any) -> int:
        """How many lines of talkstats.domain ``fn()`` executes."""
        count = 0

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal count
            if "talkstats/domain" not in frame.f_code.co_filename.replace("\\", "/"):
                return None
            if event == "line":
                count += 1
            return tracer

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            fn()
        finally:
            sys.settrace(previous)
        return count

    yield run


def test_a_read_executes_the_same_lines_whatever_the_number_of_calls(traced: Any) -> None:
    small, small_events, end = simulated(scale=1)
    large, large_events, _ = simulated(scale=10)
    for p, events in ((small, small_events), (large, large_events)):
        for event in events:
            p.apply(event, end)
    started = [sum(e.type == "call.started" for e in ev) for ev in (small_events, large_events)]
    assert started[1] > 8 * started[0]
    now = end - 3 * 3600 * NS  # today, late in the afternoon
    for numbers in (None, [100], [100, 110, 120]):
        for interval in (5, 15):

            def read(p: AccountProjection, n: Any = numbers, i: int = interval) -> Any:
                return lambda: stats.timeline(p, now, interval=i, phone_number_ids=n)

            read(small)()  # first reads: caches of day bounds and of the set of numbers
            read(large)()
            lines = traced(read(small)), traced(read(large))
            assert lines[0] == lines[1], (numbers, interval, lines)
            assert lines[0] < 20_000
