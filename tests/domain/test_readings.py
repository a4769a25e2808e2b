"""read_account (what /metrics shows) and the rejection classes, as small event stories."""

from __future__ import annotations

import pytest

from talkstats.domain.events import EventRejected
from talkstats.domain.readings import (
    AGENT_STATUSES,
    CALL_STATUSES,
    WAIT_BOUNDS,
    AccountReading,
    cumulative_buckets,
    read_account,
    wait_bounds,
)
from talkstats.domain.reasons import STATE, TIME, UNKNOWN_REFERENCE, rule_broken

from .story import Story


def reading(s: Story, threshold: int = 20) -> AccountReading:
    return read_account(s.projection, s.current, threshold=threshold)


def busy_morning() -> Story:
    """Agents 1-3 (groups 100 = {1, 2}, 200 = {3}); numbers 10 and 20.

    c1 on 10: queued 09:00:00, answered by agent 1 at 09:00:12.5 (a 13 s wait as the
    service level counts it), ended 09:05, agent 1 in wrap-up since.
    c2 on 10: queued 09:01, abandoned 09:02 (a 60 s wait, not answered).
    c3 on 20: queued 09:03, answered by agent 2 at 09:03:45 (45 s), still talking.
    c4 on 20: queued 09:09:30, still waiting at now = 09:10.
    c5 on 20: a callback requested at 09:08 (web widget), waiting.
    """
    s = Story(groups={100: [1, 2], 200: [3]})
    s.at("08:00:00").agent(1, "online").agent(2, "online").agent(3, "away")
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:12.5").call("c1", "answered", agent_id=1)
    s.at("09:01:00").inbound("c2").call("c2", "queued")
    s.at("09:02:00").call("c2", "ended")
    s.at("09:03:00").inbound("c3", 20).call("c3", "queued")
    s.at("09:03:45").call("c3", "answered", agent_id=2)
    s.at("09:05:00").call("c1", "ended")
    s.at("09:08:00").inbound("c5", 20, source="web_widget").call("c5", "callback_requested")
    s.at("09:09:30").inbound("c4", 20).call("c4", "queued")
    s.now("09:10:00")
    return s


def test_queues_per_phone_number_equal_current_queue_activity() -> None:
    s = busy_morning()
    r = reading(s)
    by_number = {q.phone_number_id: q for q in r.queues}
    assert sorted(by_number) == [10, 20]
    assert (by_number[10].calls_waiting, by_number[10].longest_wait) == (0, 0.0)
    q20 = by_number[20]
    assert (q20.calls_waiting, q20.callbacks_waiting, q20.longest_wait) == (1, 1, 30.0)
    api = s.queue(phone_number_ids=[20])
    assert (api["calls_waiting"], api["callbacks_waiting"], api["longest_wait_time"]) == (1, 1, 30)


def test_agents_by_status_and_call_status_for_the_account_and_each_group() -> None:
    r = reading(busy_morning())
    # every pair is present, so a dashboard never sees a series disappear
    assert set(r.agents) == {(s, c) for s in AGENT_STATUSES for c in CALL_STATUSES}
    nonzero = {key: n for key, n in r.agents.items() if n}
    # agent 1 in wrap-up after c1, agent 2 on c3, agent 3 away
    assert nonzero == {("online", "wrap_up"): 1, ("online", "on_call"): 1, ("away", "none"): 1}
    assert {k: n for k, n in r.group_agents[100].items() if n} == {
        ("online", "wrap_up"): 1,
        ("online", "on_call"): 1,
    }
    assert {k: n for k, n in r.group_agents[200].items() if n} == {("away", "none"): 1}


def test_a_group_member_that_is_not_an_agent_is_not_counted() -> None:
    s = Story(agents=[1], groups={100: [1, 99]})  # 99: a member who is not an agent
    assert sum(reading(s).group_agents[100].values()) == 1


def test_todays_calls_by_direction_and_outcome_per_phone_number() -> None:
    s = busy_morning()
    s.at("09:09:40").outbound("c6", 3, phone_number_id=10)
    days = {d.phone_number_id: d for d in reading(s).days}
    assert days[10].calls == {"inbound": 2, "outbound": 1}
    assert days[20].calls == {"inbound": 3, "outbound": 0}
    assert days[10].outcomes["answered"] == 1
    assert days[10].outcomes["abandoned_in_queue"] == 1
    assert days[20].outcomes["answered"] == 1
    assert days[20].outcomes["callback_requested"] == 1
    assert days[10].outcomes["voicemail"] == days[20].outcomes["voicemail"] == 0
    overview = s.overview(phone_number_ids=[10])
    assert overview["total_calls_abandoned_in_queue"] == 1
    assert overview["total_outbound_calls"] == 1


def test_finished_waits_and_the_answered_wait_histogram() -> None:
    days = {d.phone_number_id: d for d in reading(busy_morning()).days}
    d10 = days[10]
    # c1 waited 12.5 s (answered), c2 60 s (abandoned): both finished
    assert (d10.finished_waits, d10.finished_wait_time) == (2, 72.5)
    # only c1 was answered: its wait counts as 13 whole seconds (rounded up)
    buckets = dict(d10.answered_wait_buckets)
    assert (buckets[10.0], buckets[15.0], buckets[float("inf")]) == (0, 1, 1)
    assert d10.answered_wait_sum == 13
    d20 = days[20]  # c3 answered after 45 s; c4 still waiting: not finished
    assert d20.finished_waits == 1
    assert (dict(d20.answered_wait_buckets)[30.0], dict(d20.answered_wait_buckets)[45.0]) == (0, 1)


def test_the_service_level_equals_the_extension_and_its_threshold_is_a_bucket() -> None:
    s = busy_morning()
    r = reading(s, threshold=13)
    level = r.service_level
    assert (level.answered_within, level.offered, level.ratio) == (1, 3, pytest.approx(1 / 3))
    assert s.service_level(threshold=13)["answered_within"] == 1
    assert 13.0 in dict(r.days[0].answered_wait_buckets)
    assert wait_bounds(20) == list(WAIT_BOUNDS)
    assert wait_bounds(13)[:4] == [5, 10, 13, 15]


def test_before_any_finished_wait_there_is_no_service_level_ratio() -> None:
    r = reading(Story())
    assert r.service_level.ratio is None
    assert all(d.finished_waits == 0 and d.answered_wait_sum == 0 for d in r.days)


def test_cumulative_buckets_count_values_up_to_each_bound() -> None:
    histogram = {1: 2, 5: 1, 6: 4, 30: 1}
    assert cumulative_buckets(histogram, [5, 10]) == [(5.0, 3), (10.0, 7), (float("inf"), 8)]
    assert cumulative_buckets({}, [5]) == [(5.0, 0), (float("inf"), 0)]


def test_yesterdays_calls_are_not_today() -> None:
    s = busy_morning()
    s.now("09:00:00", day="2026-11-27")
    r = reading(s)
    assert all(sum(d.calls.values()) == 0 for d in r.days)
    # the live state carries over midnight: the caller still waits
    assert {q.phone_number_id: q.calls_waiting for q in r.queues}[20] == 1


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "call.queued", "call_id": "nope"}, UNKNOWN_REFERENCE),
        ({"type": "agent.state_changed", "agent_id": 42, "state": "online"}, UNKNOWN_REFERENCE),
        ({"type": "call.answered", "call_id": "c2", "agent_id": 1}, STATE),
        ({"type": "call.queued", "call_id": "c1"}, STATE),
    ],
)
def test_the_projections_rejections_fall_into_their_class(
    event: dict[str, object], reason: str
) -> None:
    s = busy_morning()
    assert rule_broken(s.reject(event)) == reason


def test_time_rules_are_their_own_class() -> None:
    s = busy_morning()
    s.at("08:59:00")  # before agent 1's last event
    older = s.reject({"type": "agent.state_changed", "agent_id": 1, "state": "away"})
    assert rule_broken(older) == TIME
    assert rule_broken(EventRejected("x", "time", "is more than 300 seconds ahead")) == TIME
