"""The window: local midnight, DST days, past dates, *now* and the future limit."""

from __future__ import annotations

from datetime import date

import pytest

from talkstats.domain import stats

from .story import Story

H = 3600


def test_online_across_midnight_is_clipped_to_the_window() -> None:
    s = Story(day="2026-11-26")
    s.at("22:00:00", day="2026-11-25").agent(1, "online")
    s.now("01:00:00")
    row = s.activity()[1]
    # 00:00 -> 01:00 today; the two hours before midnight belong to yesterday
    assert row["online_time"] == 1 * H
    assert row["available_time"] == 1 * H
    past = s.activity(date=date(2026, 11, 25))[1]
    assert past["online_time"] == 2 * H  # 22:00 -> 24:00
    assert past["agent_state"] == "online"


def test_interval_closed_after_midnight_is_split_between_the_days() -> None:
    s = Story(day="2026-11-26")
    s.at("23:30:00", day="2026-11-25").agent(1, "away")
    s.at("00:45:00").agent(1, "offline")
    s.now("02:00:00")
    # today: 00:00 -> 00:45; yesterday: 23:30 -> 24:00
    assert s.activity()[1]["away_time"] == 45 * 60
    assert s.activity()[1]["online_time"] == 45 * 60
    assert s.activity(date=date(2026, 11, 25))[1]["away_time"] == 30 * 60


@pytest.mark.parametrize(
    ("timezone", "day", "next_day", "seconds"),
    [
        ("Europe/Paris", "2026-03-29", "2026-03-30", 23 * H),  # 82800
        ("Europe/Paris", "2026-10-25", "2026-10-26", 25 * H),  # 90000
        ("America/Los_Angeles", "2026-03-08", "2026-03-09", 23 * H),
        ("America/Los_Angeles", "2026-11-01", "2026-11-02", 25 * H),
        ("Asia/Kolkata", "2026-03-29", "2026-03-30", 24 * H),  # no DST
    ],
)
def test_online_all_day_on_dst_days(timezone: str, day: str, next_day: str, seconds: int) -> None:
    s = Story(timezone=timezone, day=next_day)
    s.at("20:00:00", day="2026-03-01" if day < "2026-06" else "2026-10-01").agent(1, "online")
    s.now("10:00:00")
    row = s.activity(date=date.fromisoformat(day))[1]
    assert row["online_time"] == seconds
    assert row["available_time"] == seconds


def test_today_window_on_a_23_hour_day() -> None:
    s = Story(timezone="Europe/Paris", day="2026-03-29")
    s.at("20:00:00", day="2026-03-28").agent(1, "online")
    s.at("01:30:00").agent(1, "away")
    s.at("03:30:00").agent(1, "online")  # 02:00 -> 03:00 does not exist: away 1 h
    s.now("12:00:00")
    row = s.activity()[1]
    assert row["away_time"] == 1 * H
    assert row["online_time"] == 11 * H  # midnight -> noon is 11 h on this day
    assert row["available_time"] == 10 * H


def test_today_window_on_a_25_hour_day_counts_the_repeated_hour() -> None:
    s = Story(timezone="America/Los_Angeles", day="2026-11-01")
    s.at("23:00:00", day="2026-10-31").agent(1, "transfers_only")
    s.now("12:00:00")
    row = s.activity()[1]
    assert row["transfers_only_time"] == 13 * H  # 00:00 PDT -> 12:00 PST
    assert row["online_time"] == 13 * H
    assert row["available_time"] == 0


def test_call_started_yesterday_and_answered_today_counts_for_yesterday() -> None:
    s = Story(day="2026-11-26")
    s.at("08:00:00", day="2026-11-25").agent(1, "online")
    s.at("23:50:00", day="2026-11-25").inbound("c1").call("c1", "queued")
    s.at("00:10:00").call("c1", "answered", agent_id=1)
    s.at("00:20:00").call("c1", "ended")
    s.at("00:21:00").call("c1", "wrap_up_ended", agent_id=1)
    s.now("09:00:00")

    today = s.overview()
    assert today["total_calls"] == 0
    assert today["max_calls_waiting"] == 0
    assert today["total_wrap_up_time"] == 0
    row = s.activity()[1]
    assert (row["calls_accepted"], row["total_talk_time"], row["total_wrap_up_time"]) == (0, 0, 0)
    # online all of today: 9 h, minus nothing (the leg is not today's call, but the
    # agent was still busy 00:10 -> 00:21, so not available then: 9 h - 11 min)
    assert row["online_time"] == 9 * H
    assert row["available_time"] == 9 * H - 11 * 60
    assert s.agents()["total_calls_accepted"] == 0

    past = date(2026, 11, 25)
    y = s.overview(date=past)
    assert y["total_calls"] == 1
    assert y["average_queue_wait_time"] == 20 * 60  # 23:50 -> 00:10
    assert y["average_time_to_answer"] == 20 * 60
    assert y["total_call_duration"] == 30 * 60  # 23:50 -> 00:20
    assert y["total_wrap_up_time"] == 60
    assert y["max_calls_waiting"] == 1
    yrow = s.activity(date=past)[1]
    assert yrow["calls_accepted"] == 1
    assert yrow["total_talk_time"] == 10 * 60  # 00:10 -> 00:20
    assert yrow["total_wrap_up_time"] == 60
    assert s.agents(date=past)["total_calls_accepted"] == 1
    assert s.service_level(date=past)["offered"] == 1


def test_agent_state_via_and_forwarding_number_for_a_past_date() -> None:
    s = Story(day="2026-11-26")
    s.at("10:00:00", day="2026-11-20").agent(2, "transfers_only", via="client")
    s.at("10:00:00", day="2026-11-25").agent(1, "online", via="client", forwarding_number="+331")
    s.at("18:00:00", day="2026-11-25").agent(1, "away", via="phone")
    s.at("09:00:00").agent(1, "offline", forwarding_number=None)
    s.at("09:05:00").inbound("c1").call("c1", "queued").call("c1", "answered", agent_id=1)
    s.now("09:10:00")

    past = s.activity(date=date(2026, 11, 25))
    # end of the 25th: away (18:00), via phone (18:00), forwarding number from 10:00
    assert (past[1]["agent_state"], past[1]["via"], past[1]["forwarding_number"]) == (
        "away",
        "phone",
        "+331",
    )
    assert past[1]["call_status"] is None  # on a call now, but a past date has none
    assert (past[2]["agent_state"], past[2]["via"]) == ("transfers_only", "client")
    assert past[2]["transfers_only_time"] == 24 * H  # the whole 25th
    assert (past[3]["agent_state"], past[3]["via"]) == ("offline", None)
    before = s.activity(date=date(2026, 11, 19))
    assert before[1]["agent_state"] == before[2]["agent_state"] == "offline"

    today = s.activity()
    assert (today[1]["agent_state"], today[1]["via"], today[1]["forwarding_number"]) == (
        "offline",
        "phone",
        None,
    )
    assert today[1]["call_status"] == "on_call"


def test_a_future_date_is_refused() -> None:
    s = Story(day="2026-11-26")
    s.now("09:00:00")
    with pytest.raises(stats.InvalidDate):
        s.overview(date=date(2026, 11, 27))


def test_effective_now_moves_with_an_event_slightly_in_the_future() -> None:
    s = Story(day="2026-11-26")
    s.at("09:00:00").agent(1, "online")
    s.at("10:02:00").now("10:00:00")  # the sender's clock runs 2 minutes ahead
    s.agent(1, "away")
    assert s.current == s.instant("10:02:00")
    row = s.activity()[1]
    assert row["online_time"] == 62 * 60  # 09:00 -> 10:02, not cut at the server's 10:00
    assert row["away_time"] == 0
    s.now("10:03:00")  # the server clock overtakes the event again
    assert s.activity()[1]["away_time"] == 60


def test_event_exactly_300_seconds_ahead_is_accepted_one_ns_more_is_rejected() -> None:
    s = Story(day="2026-11-26")
    s.at("10:05:00").now("10:00:00")
    s.agent(1, "online")  # exactly 300 s ahead: allowed
    s.at("10:05:00.000000001").now("10:00:00")
    exc = s.reject({"type": "agent.state_changed", "agent_id": 2, "state": "online", "id": "fut"})
    assert (exc.event_id, exc.field) == ("fut", "time")
    assert "'fut'" in str(exc) and "'time'" in str(exc)
