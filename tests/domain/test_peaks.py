"""max_calls_waiting (half-open intervals, out-of-order arrival, phone-number subsets)
and the service_level extension."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkstats.domain.aggregates import PeakTimeline

from .story import Story


def test_queue_to_callback_at_the_same_instant_counts_once() -> None:
    s = Story()
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:01:00").call("c1", "callback_requested")  # leaves the line, enters callbacks
    s.at("09:02:00").call("c1", "ended")
    assert s.overview()["max_calls_waiting"] == 1


@pytest.mark.parametrize("entry_first", [False, True])
def test_one_leaves_exactly_when_another_enters(entry_first: bool) -> None:
    s = Story()
    s.at("08:00:00").agent(1, "online")
    s.at("09:00:00").inbound("c1").call("c1", "callback_requested")  # waits all along
    s.at("09:02:00").inbound("c2").call("c2", "queued")
    s.at("09:03:00").inbound("c3").call("c3", "queued")
    s.at("09:04:00").inbound("c4")
    # at 09:04 c2 leaves [09:02, 09:04) and c4 enters [09:04, ...): 3 waiting, never 4
    if entry_first:
        s.call("c4", "queued").call("c2", "answered", agent_id=1)
    else:
        s.call("c2", "answered", agent_id=1).call("c4", "queued")
    assert s.overview()["max_calls_waiting"] == 3
    assert s.queue()["calls_waiting"] == 2
    assert s.queue()["callbacks_waiting"] == 1


@pytest.mark.parametrize(
    ("a_enters", "peak"),
    [
        ("09:05:30", 2),  # [09:05:30, 09:07) overlaps B's [09:05, 09:06)
        ("09:06:00", 1),  # A enters exactly when B left
        ("09:04:00", 2),  # A's whole visit reaches into B's
    ],
)
def test_peaks_with_events_arriving_out_of_order_across_calls(a_enters: str, peak: int) -> None:
    s = Story()
    s.at("09:00:00").inbound("a").inbound("b")
    s.at("09:05:00").call("b", "queued")
    s.at("09:06:00").call("b", "ended")  # B's exit is sent first...
    s.at(a_enters).call("a", "queued")  # ...then A's entry, which happened before it
    s.at("09:07:00").call("a", "ended")
    assert s.overview()["max_calls_waiting"] == peak
    assert s.overview(phone_number_ids=[10])["max_calls_waiting"] == peak


def test_out_of_order_exit_before_a_later_entry_keeps_the_peak_exact() -> None:
    s = Story()
    s.at("09:00:00").inbound("a").inbound("b")
    s.at("09:10:00").call("b", "queued")  # B waits from 09:10
    s.at("09:01:00").call("a", "queued")
    s.at("09:10:00").call("a", "ended")  # A leaves exactly when B arrives
    assert s.overview()["max_calls_waiting"] == 1
    s.at("09:00:00").inbound("c")
    s.at("09:09:59").call("c", "queued")  # c overlaps both at 09:10
    s.at("09:10:00.5").call("c", "ended")
    # at 09:09:59: a, c; at 09:10: b, c (a left) -> 2
    assert s.overview()["max_calls_waiting"] == 2


def subset_story() -> Story:
    s = Story(phone_numbers=[10, 20, 30])
    s.at("09:00:00").inbound("c1", 10).call("c1", "queued")  # 10: [09:00, 09:10)
    s.at("09:01:00").inbound("c2", 10).call("c2", "queued")  # 10: [09:01, 09:09)
    s.at("09:20:00").inbound("c3", 20).call("c3", "queued")  # 20: [09:20, 09:30)
    s.at("09:05:00").inbound("c4", 30).call("c4", "queued")  # 30: [09:05, 09:25)
    s.at("09:09:00").call("c2", "ended")
    s.at("09:10:00").call("c1", "ended")
    s.at("09:25:00").call("c4", "ended")
    s.at("09:30:00").call("c3", "ended")
    return s


@pytest.mark.parametrize(
    ("numbers", "peak"),
    [
        (None, 3),  # 09:05 -> 09:09: c1, c2, c4
        ([10], 2),
        ([20], 1),
        ([30], 1),
        ([10, 20], 2),  # not 2 + 1: number 20's peak is later
        ([20, 30], 2),  # 09:20 -> 09:25: c3, c4
        ([10, 30], 3),
        ([10, 20, 30], 3),
        ([40], 0),  # no such calls
    ],
)
def test_max_calls_waiting_is_recomputed_for_the_subset(
    numbers: list[int] | None, peak: int
) -> None:
    s = subset_story()
    assert s.overview(phone_number_ids=numbers)["max_calls_waiting"] == peak


def test_subset_peak_follows_later_events_after_a_read() -> None:
    s = subset_story()
    assert s.overview(phone_number_ids=[10, 20])["max_calls_waiting"] == 2  # cached now
    s.at("09:02:00").inbound("c5", 20).call("c5", "queued")  # arrives late, waits 09:02-09:03
    s.at("09:03:00").call("c5", "ended")
    assert s.overview(phone_number_ids=[10, 20])["max_calls_waiting"] == 3  # c1, c2, c5
    assert s.overview(phone_number_ids=[20, 10])["max_calls_waiting"] == 3
    assert s.overview(phone_number_ids=[20, 30])["max_calls_waiting"] == 2
    assert s.overview()["max_calls_waiting"] == 3
    s.at("09:06:00").inbound("c6", 20).call("c6", "callback_requested")  # waits on
    assert s.overview(phone_number_ids=[10, 20])["max_calls_waiting"] == 3  # c1, c2, c6
    assert s.overview(phone_number_ids=[10, 20, 30])["max_calls_waiting"] == 4  # + c4
    assert s.overview()["max_calls_waiting"] == 4


def test_phone_number_filter_restricts_every_call_field() -> None:
    s = Story(phone_numbers=[10, 20])
    s.at("08:00:00").agent(1, "online")
    s.at("09:00:00").inbound("c1", 10).call("c1", "queued")
    s.at("09:00:40").call("c1", "answered", agent_id=1)
    s.at("09:01:00").call("c1", "ended")  # 60 s, waited 40
    s.at("09:02:00").inbound("c2", 20).call("c2", "queued")
    s.at("09:02:10").call("c2", "ended")  # 10 s, abandoned after 10
    s.at("09:03:00").call("c1", "wrap_up_ended", agent_id=1)  # wrap-up 120 s on number 10
    o10, o20, o = (
        s.overview(phone_number_ids=[10]),
        s.overview(phone_number_ids=[20]),
        s.overview(),
    )
    assert (o10["total_calls"], o10["total_call_duration"], o10["max_queue_wait_time"]) == (
        1,
        60,
        40,
    )
    assert (o20["total_calls"], o20["total_call_duration"], o20["max_queue_wait_time"]) == (
        1,
        10,
        10,
    )
    assert (o["total_calls"], o["total_call_duration"], o["average_queue_wait_time"]) == (2, 70, 25)
    assert (o10["total_wrap_up_time"], o20["total_wrap_up_time"]) == (120, 0)
    assert (o10["total_calls_abandoned_in_queue"], o20["total_calls_abandoned_in_queue"]) == (0, 1)
    assert s.overview(phone_number_ids=[]) == Story().overview()  # an empty filter: nothing


def within_story(answered_within: int, offered: int) -> Story:
    """``offered`` calls each waiting on the line; the first ``answered_within`` are answered
    after exactly 20 s, the others abandon after 21 s."""
    s = Story(agents=list(range(1, answered_within + 1)))
    for i in range(offered):
        cid = f"c{i}"
        s.at("09:00:00").inbound(cid).call(cid, "queued")
        if i < answered_within:
            s.at("09:00:20").call(cid, "answered", agent_id=i + 1)
        else:
            s.at("09:00:21").call(cid, "ended")
    return s


@pytest.mark.parametrize(
    ("within", "offered", "percent"),
    [
        (1, 1, 100.0),
        (2, 3, 66.7),  # 66.666...
        (1, 6, 16.7),  # 16.666...
        (1, 8, 12.5),
        (1, 16, 6.3),  # 6.25 -> halves away from zero
        (3, 16, 18.8),  # 18.75
        (0, 3, 0.0),
    ],
)
def test_service_level_percent_rounding(within: int, offered: int, percent: float) -> None:
    sl = within_story(within, offered).service_level()
    assert sl == {
        "threshold": 20,
        "answered_within": within,
        "offered": offered,
        "percent": percent,
    }


def test_service_level_threshold_boundary_and_population() -> None:
    s = Story(agents=[1, 2, 3])
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:20").call("c1", "answered", agent_id=1)  # exactly 20 s: within
    s.at("09:01:00").inbound("c2").call("c2", "queued")
    s.at("09:01:20.000000001").call("c2", "answered", agent_id=2)  # 1 ns over
    s.at("09:02:00").inbound("c3").call("c3", "queued")
    s.at("09:02:05").call("c3", "ended")  # abandoned: offered, not within
    s.at("09:03:00").inbound("c4").call("c4", "queued")
    s.at("09:03:03").call("c4", "callback_requested")
    s.at("09:03:10").call("c4", "answered", agent_id=3)  # via callback: not within
    s.at("09:04:00").inbound("c5", source="web_widget").call("c5", "callback_requested")
    s.at("09:05:00").inbound("c6").call("c6", "queued")  # still waiting: not offered yet
    assert s.service_level() == {
        "threshold": 20,
        "answered_within": 1,
        "offered": 4,
        "percent": 25.0,
    }
    assert s.service_level(threshold=21)["answered_within"] == 2  # 20.000000001 <= 21
    assert s.service_level(threshold=21)["percent"] == 50.0
    assert s.service_level(threshold=19)["answered_within"] == 0
    assert s.service_level(threshold=0)["percent"] == 0.0
    assert s.service_level(phone_number_ids=[20])["percent"] is None  # nothing offered


def test_service_level_counts_a_call_answered_after_a_second_visit() -> None:
    s = Story(agents=[1])
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:15").call("c1", "voicemail", reason="no_available_agents")
    s.at("09:01:00").call("c1", "queued")
    assert s.service_level()["offered"] == 0  # back in the queue: no finished wait
    s.at("09:01:10").call("c1", "answered", agent_id=1)  # total wait 15 + 10 = 25 s
    assert s.service_level() == {
        "threshold": 20,
        "answered_within": 0,
        "offered": 1,
        "percent": 0.0,
    }
    assert s.overview()["average_queue_wait_time"] == 25
    assert s.overview()["average_time_to_answer"] == 70  # 09:00:00 -> 09:01:10


def _merged_by_sweep(parts: list[PeakTimeline]) -> tuple[list[int], list[int], list[int]]:
    """The merged timeline the slow, obvious way: every part's net change per instant,
    summed per instant across parts, swept in time order."""
    net: dict[int, int] = defaultdict(int)
    for part in parts:
        before = 0
        for instant, value in zip(part.times, part.values, strict=True):
            net[instant] += value - before
            before = value
    times, values, best = [], [], []
    level = peak = 0
    for instant in sorted(net):
        level += net[instant]
        peak = max(peak, level)
        times.append(instant)
        values.append(level)
        best.append(peak)
    return times, values, best


_changes = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from([1, -1])), max_size=30
)  # (instant, +1 enters / -1 leaves), in any order: out-of-order adds included


@given(st.lists(_changes, max_size=5))
def test_merging_timelines_equals_sweeping_their_changes(
    changes: list[list[tuple[int, int]]],
) -> None:
    parts = []
    for part_changes in changes:
        part = PeakTimeline()
        for instant, delta in part_changes:
            part.add(instant, delta)
        parts.append(part)
    merged = PeakTimeline.merged(parts)
    times, values, best = _merged_by_sweep(parts)
    assert list(merged.times) == times
    assert list(merged.values) == values
    assert list(merged.best) == best
    assert merged.peak == (best[-1] if best else 0)


def test_a_merged_timeline_takes_later_changes_like_any_other() -> None:
    a, b = PeakTimeline(), PeakTimeline()
    a.add(10, 1)
    b.add(10, 1)
    b.add(20, -1)
    merged = PeakTimeline.merged([a, b])
    assert (list(merged.times), list(merged.values), merged.peak) == ([10, 20], [2, 1], 2)
    merged.add(15, 1)  # out of order, into the merged arrays
    merged.add(30, 2)
    assert (list(merged.times), list(merged.values), merged.peak) == (
        [10, 15, 20, 30],
        [2, 3, 2, 4],
        4,
    )
