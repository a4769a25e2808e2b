"""account_overview and the call-side rules of docs/statistics.md, one small story each."""

from __future__ import annotations

import pytest

from .story import Story


def agents_online(s: Story, *agent_ids: int, clock: str = "08:00:00") -> Story:
    s.at(clock)
    for agent_id in agent_ids:
        s.agent(agent_id, "online")
    return s


def test_transfer_mid_call_splits_the_leg() -> None:
    s = agents_online(Story(), 1, 2)
    s.at("09:00:00").inbound("c1")
    s.at("09:00:05").call("c1", "queued")
    s.at("09:00:10").call("c1", "offered", agent_id=1)
    s.at("09:00:15").call("c1", "answered", agent_id=1)  # queue wait 10 s, answer after 15 s
    s.at("09:01:00").call("c1", "hold_started")
    s.at("09:01:30").call("c1", "hold_ended")  # hold 30 s
    s.at("09:02:00").call("c1", "transfer_started", to_agent_id=2)
    s.at("09:02:20").call("c1", "transfer_accepted", agent_id=2)
    # leg 1: 09:00:15 -> 09:02:20 = 125 s, hold 30, talk 95; agent 1 now in wrap-up
    mid = s.activity()
    assert (mid[1]["call_status"], mid[2]["call_status"]) == ("wrap_up", "on_call")
    assert mid[1]["total_call_duration"] == 125
    s.at("09:03:00").call("c1", "wrap_up_ended", agent_id=1)  # wrap-up 40 s
    s.at("09:05:20").call("c1", "ended")  # leg 2: 09:02:20 -> 09:05:20 = 180 s
    s.at("09:05:30").call("c1", "wrap_up_ended", agent_id=2)  # wrap-up 10 s
    s.now("09:10:00")

    a = s.activity()
    assert a[1]["calls_accepted"] == 1 and a[2]["calls_accepted"] == 0
    assert (a[1]["started_transfers"], a[1]["accepted_transfers"]) == (1, 0)
    assert (a[2]["started_transfers"], a[2]["accepted_transfers"]) == (0, 1)
    assert (a[1]["total_call_duration"], a[1]["total_talk_time"], a[1]["total_hold_time"]) == (
        125,
        95,
        30,
    )
    assert (a[1]["average_talk_time"], a[1]["average_hold_time"], a[1]["calls_put_on_hold"]) == (
        95,
        30,
        1,
    )
    assert (a[2]["total_call_duration"], a[2]["total_talk_time"], a[2]["total_hold_time"]) == (
        180,
        180,
        0,
    )
    assert (a[1]["total_wrap_up_time"], a[2]["total_wrap_up_time"]) == (40, 10)
    assert a[1]["call_status"] is None and a[2]["call_status"] is None
    # available: agent 1 08:00 -> 09:00:15 (3615) + 09:03 -> 09:10 (420) = 4035
    #            agent 2 08:00 -> 09:02:20 (3740) + 09:05:30 -> 09:10 (270) = 4010
    assert (a[1]["available_time"], a[2]["available_time"]) == (4035, 4010)
    assert a[1]["online_time"] == a[2]["online_time"] == 4200

    o = s.overview()
    assert o["total_calls"] == 1
    assert o["total_call_duration"] == 320  # 09:00:00 -> 09:05:20
    assert (o["average_queue_wait_time"], o["max_queue_wait_time"]) == (10, 10)
    assert o["average_time_to_answer"] == 15
    assert (o["total_wrap_up_time"], o["average_wrap_up_time"]) == (50, 25)  # (40 + 10) / 2
    assert (o["total_hold_time"], o["average_hold_time"]) == (30, 30)  # 30 / 1 answered call

    g = s.agents()
    assert g["total_talk_time"] == 275  # 95 + 180
    assert g["average_talk_time"] == 138  # 275 / 2 legs = 137.5 -> 138
    assert g["average_hold_time"] == 15  # 30 / 2 legs
    assert (g["total_wrap_up_time"], g["average_wrap_up_time"]) == (50, 25)
    assert (g["total_accepted_transfers"], g["total_started_transfers"]) == (1, 1)
    assert g["average_accepted_transfers"] == 1  # 1 / 2 active agents = 0.5 -> 1
    assert g["average_calls_accepted"] == 1  # 1 / 2 -> 1
    assert g["average_available_time"] == 4023  # (4035 + 4010) / 2 = 4022.5 -> 4023
    assert g["average_online_time"] == 4200


def test_hold_still_open_when_the_call_ends_closes_at_the_end() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:20").call("c1", "answered", agent_id=1)
    s.at("09:01:00").call("c1", "hold_started")
    s.now("09:02:00")
    assert s.overview()["total_hold_time"] == 0  # an open hold is not counted yet
    assert s.activity()[1]["total_hold_time"] == 0
    s.at("09:02:30").call("c1", "ended")  # hold 09:01:00 -> 09:02:30 = 90 s
    o, a = s.overview(), s.activity()[1]
    assert (o["total_hold_time"], o["average_hold_time"]) == (90, 90)
    # leg 09:00:20 -> 09:02:30 = 130 s, hold 90, talk 40
    assert (a["total_call_duration"], a["total_hold_time"], a["total_talk_time"]) == (130, 90, 40)
    assert a["call_status"] == "wrap_up"
    s.reject({"type": "call.hold_ended", "call_id": "c1"})


def test_hold_still_open_when_a_transfer_is_accepted_closes_there() -> None:
    s = agents_online(Story(), 1, 2)
    s.at("09:00:00").inbound("c1").call("c1", "queued").call("c1", "answered", agent_id=1)
    s.at("09:00:30").call("c1", "hold_started")
    s.at("09:00:40").call("c1", "transfer_started")
    s.at("09:01:10").call("c1", "transfer_accepted", agent_id=2)  # hold 40 s closes here
    exc = s.reject({"type": "call.hold_ended", "call_id": "c1"})  # nothing on hold now
    assert exc.field == "call_id"
    s.at("09:02:10").call("c1", "hold_started")  # agent 2's hold
    s.at("09:02:15").call("c1", "hold_ended")  # 5 s
    s.at("09:03:10").call("c1", "ended")
    a = s.activity()
    # agent 1: leg 70 s (09:00:00 -> 09:01:10), hold 40, talk 30
    assert (a[1]["total_call_duration"], a[1]["total_hold_time"], a[1]["total_talk_time"]) == (
        70,
        40,
        30,
    )
    # agent 2: leg 120 s (09:01:10 -> 09:03:10), hold 5, talk 115
    assert (a[2]["total_call_duration"], a[2]["total_hold_time"], a[2]["total_talk_time"]) == (
        120,
        5,
        115,
    )
    assert a[1]["calls_put_on_hold"] == a[2]["calls_put_on_hold"] == 1
    assert s.overview()["total_hold_time"] == 45  # 40 + 5
    assert s.overview()["average_hold_time"] == 45  # one answered call
    assert s.agents()["total_calls_put_on_hold"] == 2
    assert s.agents()["total_hold_time"] == 45


def test_calls_put_on_hold_counts_distinct_calls() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued").call("c1", "answered", agent_id=1)
    s.at("09:00:10").call("c1", "hold_started").at("09:00:20").call("c1", "hold_ended")
    s.at("09:00:30").call("c1", "hold_started").at("09:00:40").call("c1", "hold_ended")
    s.at("09:01:00").call("c1", "ended")
    a = s.activity()[1]
    assert a["calls_put_on_hold"] == 1  # two holds, one call
    assert a["total_hold_time"] == 20  # 10 + 10


def test_callbacks_from_the_phone_queue_and_from_the_web_widget() -> None:
    s = agents_online(Story(), 1, 2)
    s.at("09:00:00").inbound("c1", 10).call("c1", "queued")
    s.at("09:01:00").call("c1", "callback_requested")  # queue wait 60 s, callback wait starts
    q = s.queue()
    assert (q["calls_waiting"], q["callbacks_waiting"], q["embeddable_callbacks_waiting"]) == (
        0,
        1,
        0,
    )
    s.at("09:02:00").inbound("c2", 20, source="web_widget").call("c2", "callback_requested")
    s.at("09:03:00").inbound("c3", 20, source="web_widget").call("c3", "callback_requested")
    q = s.queue()
    assert (q["callbacks_waiting"], q["embeddable_callbacks_waiting"]) == (3, 2)
    assert s.queue(phone_number_ids=[10])["callbacks_waiting"] == 1
    assert s.queue(phone_number_ids=[20])["embeddable_callbacks_waiting"] == 2
    assert q["calls_waiting"] == 0 and q["average_wait_time"] == 0  # callbacks are not on the line
    s.at("09:05:00").call("c2", "answered", agent_id=2)  # callback wait 180 s
    s.at("09:06:00").call("c2", "ended")
    s.at("09:11:00").call("c1", "answered", agent_id=1)  # callback wait 600 s
    s.at("09:15:00").call("c1", "ended")
    s.at("09:20:00").call("c3", "ended")  # an unsuccessful callback request
    q = s.queue()
    assert (q["callbacks_waiting"], q["embeddable_callbacks_waiting"]) == (0, 0)

    o = s.overview()
    assert o["average_callback_wait_time"] == 390  # (600 + 180) / 2 answered requests
    assert o["total_callback_calls"] == 3
    assert o["total_embeddable_callback_calls"] == 2
    assert o["average_time_to_answer"] == 0  # nothing answered from the on-line queue
    assert o["average_queue_wait_time"] == 60  # only c1 waited on the line
    assert o["total_calls_abandoned_in_queue"] == 0
    # at 09:03: c1, c2, c3 all wait for a callback
    assert o["max_calls_waiting"] == 3
    o20 = s.overview(phone_number_ids=[20])
    assert (o20["average_callback_wait_time"], o20["total_callback_calls"]) == (180, 2)
    assert (o20["total_embeddable_callback_calls"], o20["max_calls_waiting"]) == (2, 2)
    a = s.activity()
    assert a[1]["calls_accepted"] == a[2]["calls_accepted"] == 1


def test_web_widget_call_without_callback_request_is_not_embeddable_callback() -> None:
    s = Story()
    s.at("09:00:00").inbound("c1", source="web_widget").call("c1", "ended")
    assert s.overview()["total_embeddable_callback_calls"] == 0
    assert s.overview()["total_callback_calls"] == 0


def test_second_callback_request_of_a_call_counts_once() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "callback_requested")
    s.at("09:01:00").call("c1", "voicemail", reason="requested")
    s.at("09:02:00").call("c1", "callback_requested")
    s.at("09:02:30").call("c1", "answered", agent_id=1)  # this request waited 30 s
    s.at("09:03:00").call("c1", "ended")
    o = s.overview()
    assert o["total_callback_calls"] == 1
    assert o["average_callback_wait_time"] == 30


def test_abandonment_in_queue() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:45").call("c1", "ended")  # abandoned after 45 s on the line
    s.at("09:01:00").inbound("c2").call("c2", "queued")
    s.at("09:01:05").call("c2", "answered", agent_id=1).at("09:02:00").call("c2", "ended")
    s.at("09:03:00").inbound("c3").call("c3", "queued").call("c3", "callback_requested")
    s.at("09:04:00").call("c3", "ended")  # unsuccessful callback, not abandoned in queue
    s.at("09:05:00").inbound("c4").call("c4", "queued")
    s.at("09:05:10").call("c4", "voicemail", reason="exceeded_queue_wait_time")
    s.at("09:06:00").call("c4", "ended")
    s.at("09:07:00").inbound("c5").call("c5", "ended")  # never queued
    o = s.overview()
    assert o["total_calls_abandoned_in_queue"] == 1
    assert o["max_queue_wait_time"] == 45
    # finished waits: 45 (c1), 5 (c2), 0 (c3), 10 (c4) -> 60 / 4 = 15
    assert o["average_queue_wait_time"] == 15


@pytest.mark.parametrize(
    ("reason", "exceeded", "requested"),
    [
        ("outside_business_hours", 0, 0),
        ("exceeded_queue_wait_time", 1, 0),
        ("requested", 0, 1),
        ("no_available_agents", 0, 0),
    ],
)
def test_each_voicemail_reason(reason: str, exceeded: int, requested: int) -> None:
    s = Story()
    obh = reason == "outside_business_hours"
    s.at("09:00:00").inbound("c1", outside_business_hours=obh).call("c1", "queued")
    s.at("09:00:30").call("c1", "voicemail", reason=reason)
    assert s.queue()["calls_waiting"] == 0  # voicemail leaves the queue
    s.at("09:01:30").call("c1", "ended")
    o = s.overview()
    assert o["total_voicemails"] == 1
    assert o["total_calls_with_exceeded_queue_wait_time"] == exceeded
    assert o["total_calls_with_requested_voicemail"] == requested
    assert o["total_calls_outside_business_hours"] == int(obh)
    assert o["total_calls_abandoned_in_queue"] == 0
    assert o["average_queue_wait_time"] == 30


def test_voicemail_from_the_callback_queue_closes_offers() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "callback_requested")
    s.call("c1", "offered", agent_id=1)
    s.at("09:00:10").call("c1", "voicemail", reason="no_available_agents")
    assert s.queue()["callbacks_waiting"] == 0
    s.reject({"type": "call.declined", "call_id": "c1", "agent_id": 1})  # the offer closed
    assert s.overview()["average_callback_wait_time"] == 0  # not answered


def test_textbacks_are_counted_per_event() -> None:
    s = Story()
    s.at("09:00:00").inbound("c1").call("c1", "textback_sent").call("c1", "textback_sent")
    s.at("09:00:00").inbound("c2", 20).call("c2", "textback_sent")
    assert s.overview()["total_textback_requests"] == 3
    assert s.overview(phone_number_ids=[20])["total_textback_requests"] == 1


def test_caller_still_waiting_at_now_appears_only_in_current_queue_activity() -> None:
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:30").inbound("c2", 20).call("c2", "queued")
    s.now("09:01:00.5")
    q = s.queue()
    assert q["calls_waiting"] == 2
    assert q["average_wait_time"] == 46  # (60.5 + 30.5) / 2 = 45.5 -> 46
    assert q["longest_wait_time"] == 61  # 60.5 -> 61
    assert q["agents_online"] == 1
    q20 = s.queue(phone_number_ids=[20])
    assert (q20["calls_waiting"], q20["longest_wait_time"], q20["agents_online"]) == (1, 31, 1)
    o = s.overview()
    assert (o["total_calls"], o["max_calls_waiting"]) == (2, 2)
    assert (o["average_queue_wait_time"], o["max_queue_wait_time"]) == (0, 0)  # not finished
    assert s.service_level()["offered"] == 0
    s.at("09:02:00").call("c1", "answered", agent_id=1)  # c1 waited 120 s
    q = s.queue()
    assert (q["calls_waiting"], q["longest_wait_time"]) == (1, 90)  # c2: 09:00:30 -> 09:02
    assert s.overview()["average_queue_wait_time"] == 120


def test_caller_waiting_since_before_midnight_is_still_waiting() -> None:
    s = Story(day="2026-11-26")
    s.at("23:59:00", day="2026-11-25").inbound("c0").call("c0", "queued")
    s.now("00:01:00")
    assert s.queue()["longest_wait_time"] == 120
    assert s.overview()["total_calls"] == 0
    assert s.overview()["max_calls_waiting"] == 0  # not a call of today's window


def test_outbound_calls() -> None:
    s = agents_online(Story(), 1, clock="09:00:00")
    s.at("09:10:00").outbound("c1", 1)  # on the call from dialling
    assert s.activity()[1]["call_status"] == "on_call"
    s.at("09:10:20").call("c1", "answered", agent_id=1)  # the callee picked up
    s.at("09:11:00").call("c1", "hold_started").at("09:11:10").call("c1", "hold_ended")
    s.at("09:12:00").call("c1", "ended")  # leg 09:10:00 -> 09:12:00 = 120 s, hold 10
    s.at("09:12:30").call("c1", "wrap_up_ended", agent_id=1)  # wrap-up 30 s
    s.at("09:20:00").outbound("c2", 1, 20)
    s.at("09:20:30").call("c2", "ended")  # never answered: leg 30 s
    s.now("09:30:00")
    o = s.overview()
    assert (o["total_outbound_calls"], o["total_inbound_calls"], o["total_calls"]) == (2, 0, 2)
    assert o["average_hold_time"] == 10  # 10 s / 1 answered call
    assert o["average_time_to_answer"] == 0  # outbound calls are not answered from a queue
    assert o["total_call_duration"] == 150  # 120 + 30
    assert o["average_call_duration"] == 75
    assert (o["total_wrap_up_time"], o["average_wrap_up_time"]) == (30, 30)  # c2's is open
    a = s.activity()[1]
    assert a["calls_accepted"] == 0
    assert (a["total_call_duration"], a["total_talk_time"], a["total_hold_time"]) == (150, 140, 10)
    assert (a["average_talk_time"], a["average_hold_time"]) == (70, 5)  # / 2 legs
    assert a["call_status"] == "wrap_up"
    # available: 09:00 -> 09:10 (600) + 09:12:30 -> 09:20 (450) = 1050
    assert a["available_time"] == 1050
    assert a["online_time"] == 1800


def test_time_to_answer_counts_only_calls_answered_from_the_line() -> None:
    s = agents_online(Story(), 1, 2)
    s.at("09:00:00").inbound("c1")
    s.at("09:00:10").call("c1", "queued")
    s.at("09:00:25").call("c1", "answered", agent_id=1)  # 25 s after call.started
    s.at("09:01:00").inbound("c2").call("c2", "queued")
    s.at("09:01:30").call("c2", "callback_requested")
    s.at("09:02:00").call("c2", "answered", agent_id=2)  # via callback: not counted
    s.at("09:03:00.4").inbound("c3", 20).call("c3", "queued")
    s.at("09:02:30").call("c1", "ended")
    s.at("09:02:40").call("c1", "wrap_up_ended", agent_id=1)
    s.at("09:03:10.4").call("c3", "answered", agent_id=1)  # 10 s after call.started
    o = s.overview()
    assert o["average_time_to_answer"] == 18  # (25 + 10) / 2 = 17.5 -> 18
    assert s.overview(phone_number_ids=[20])["average_time_to_answer"] == 10
    assert o["average_queue_wait_time"] == 18  # (15 + 30 + 10) / 3 = 18.33 -> 18


def test_rounding_halves_away_from_zero_with_fractional_timestamps() -> None:
    s = Story()
    s.at("09:00:00.25").inbound("c1")
    s.at("09:00:02.75").call("c1", "ended")  # 2.5 s -> 3
    assert s.overview()["total_call_duration"] == 3
    assert s.overview()["average_call_duration"] == 3
    s.at("09:01:00").inbound("c2")
    s.at("09:01:01.499999999").call("c2", "ended")  # 1.499999999 s
    # exact sum 3.999999999 s -> 4; the average 1.9999999995 -> 2
    assert s.overview()["total_call_duration"] == 4
    assert s.overview()["average_call_duration"] == 2
    s.at("09:02:00").inbound("c3")
    s.at("09:02:00.000000001").call("c3", "ended")
    # sum 4 s exactly; average 4 / 3 = 1.33 -> 1
    assert s.overview()["total_call_duration"] == 4
    assert s.overview()["average_call_duration"] == 1


def test_averages_over_empty_populations_are_zero() -> None:
    s = Story()
    s.now("12:00:00")
    o = s.overview()
    assert set(o.values()) == {0}
    assert set(s.agents().values()) == {0}
    assert set(s.queue().values()) == {0}
    rows = s.activity()
    assert all(
        value in (0, None, "offline") or key in ("name", "agent_id")
        for row in rows.values()
        for key, value in row.items()
    )
    assert s.service_level() == {
        "threshold": 20,
        "answered_within": 0,
        "offered": 0,
        "percent": None,
    }
    s.at("12:00:00").inbound("c1")  # a call that has not ended
    o = s.overview()
    assert (o["total_calls"], o["average_call_duration"], o["average_hold_time"]) == (1, 0, 0)


TEAM_OVERVIEW = {
    "average_call_duration",
    "average_queue_wait_time",
    "average_wrap_up_time",
    "max_calls_waiting",
    "max_queue_wait_time",
    "total_call_duration",
    "total_calls",
    "total_voicemails",
    "total_wrap_up_time",
}
PRO_OVERVIEW = TEAM_OVERVIEW | {
    "average_callback_wait_time",
    "average_hold_time",
    "average_time_to_answer",
    "total_callback_calls",
    "total_calls_abandoned_in_queue",
    "total_calls_outside_business_hours",
    "total_calls_with_exceeded_queue_wait_time",
    "total_calls_with_requested_voicemail",
    "total_hold_time",
    "total_inbound_calls",
    "total_outbound_calls",
    "total_textback_requests",
    "total_embeddable_callback_calls",
}
TEAM_ACTIVITY = {
    "agent_id",
    "name",
    "avatar_url",
    "agent_state",
    "call_status",
    "via",
    "forwarding_number",
    "online_time",
    "available_time",
    "away_time",
    "transfers_only_time",
    "calls_accepted",
    "calls_denied",
    "calls_missed",
    "total_call_duration",
    "total_talk_time",
    "total_wrap_up_time",
}
PRO_ACTIVITY = TEAM_ACTIVITY | {
    "accepted_transfers",
    "started_transfers",
    "accepted_third_party_conferences",
    "started_third_party_conferences",
    "calls_put_on_hold",
    "total_hold_time",
    "average_hold_time",
    "average_talk_time",
    "average_wrap_up_time",
}
TEAM_AGENTS = {
    "total_calls_accepted",
    "total_calls_denied",
    "total_calls_missed",
    "total_talk_time",
    "total_wrap_up_time",
    "average_wrap_up_time",
}
PRO_AGENTS = TEAM_AGENTS | {
    "total_hold_time",
    "total_calls_put_on_hold",
    "total_accepted_transfers",
    "total_started_transfers",
    "average_talk_time",
    "average_hold_time",
    "average_calls_accepted",
    "average_calls_denied",
    "average_calls_missed",
    "average_calls_put_on_hold",
    "average_accepted_transfers",
    "average_started_transfers",
    "average_available_time",
    "average_away_time",
    "average_online_time",
    "average_transfers_only_time",
}
QUEUE = {
    "agents_online",
    "calls_waiting",
    "callbacks_waiting",
    "embeddable_callbacks_waiting",
    "average_wait_time",
    "longest_wait_time",
}


@pytest.mark.parametrize(
    ("plan", "overview", "activity", "agents"),
    [
        ("team", TEAM_OVERVIEW, TEAM_ACTIVITY, TEAM_AGENTS),
        ("professional", PRO_OVERVIEW, PRO_ACTIVITY, PRO_AGENTS),
        ("enterprise", PRO_OVERVIEW, PRO_ACTIVITY, PRO_AGENTS),
    ],
)
def test_plan_gates_the_exact_key_sets(
    plan: str, overview: set[str], activity: set[str], agents: set[str]
) -> None:
    s = agents_online(Story(plan=plan), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued").call("c1", "answered", agent_id=1)
    assert set(s.overview()) == overview
    assert set(s.overview(phone_number_ids=[10])) == overview
    assert all(set(row) == activity for row in s.activity().values())
    assert set(s.agents()) == agents
    assert set(s.queue()) == QUEUE
    assert len(PRO_OVERVIEW) == 22 and len(PRO_ACTIVITY) == 26 and len(PRO_AGENTS) == 22


def test_a_call_queued_again_has_no_finished_wait_for_the_maximum_either() -> None:
    # Found by test_every_statistic_equals_the_naive_reference: the first visit's wait
    # stayed in max_queue_wait_time while the caller was back in the queue.
    s = agents_online(Story(), 1)
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:30").call("c1", "voicemail", reason="no_available_agents")  # 30 s finished
    assert s.overview()["max_queue_wait_time"] == 30
    s.at("09:00:00").inbound("c2").call("c2", "queued")
    s.at("09:00:10").call("c2", "answered", agent_id=1)  # 10 s
    s.at("09:01:00").call("c1", "queued")  # back in the queue: c1's wait is not finished
    o = s.overview()
    assert (o["max_queue_wait_time"], o["average_queue_wait_time"]) == (10, 10)
    s.at("09:01:20").call("c1", "ended")  # abandoned: 30 + 20 = 50 s
    o = s.overview()
    assert (o["max_queue_wait_time"], o["average_queue_wait_time"]) == (50, 30)  # (50 + 10) / 2
    assert o["total_calls_abandoned_in_queue"] == 1
    assert s.overview(phone_number_ids=[10])["max_queue_wait_time"] == 50


def test_answering_one_call_ends_the_agents_offer_for_another() -> None:
    """Offered c1, the agent picks up c2 instead: c1's offer is over, uncounted."""
    s = Story()
    s.at("09:00:00").inbound("c1").call("c1", "queued").inbound("c2").call("c2", "queued")
    s.at("09:00:05").call("c1", "offered", agent_id=1)
    s.at("09:00:08").call("c2", "answered", agent_id=1)
    assert s.projection.agents[1].offer_call_id is None
    assert s.projection.calls["c1"].offers == set()
    s.reject({"type": "call.missed", "call_id": "c1", "agent_id": 1})
    s.at("09:00:09").call("c1", "offered", agent_id=2).call("c1", "answered", agent_id=2)
    s.at("09:05:00").call("c2", "ended").call("c1", "ended")
    s.at("09:06:00").call("c2", "wrap_up_ended", agent_id=1)
    s.call("c1", "wrap_up_ended", agent_id=2)
    s.at("09:10:00").call("c3", "started", direction="inbound", phone_number_id=10)
    s.call("c3", "queued").call("c3", "offered", agent_id=1)  # free to be rung again
    row = s.activity()[1]
    assert (row["calls_accepted"], row["calls_missed"], row["calls_denied"]) == (1, 0, 0)
