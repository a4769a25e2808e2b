"""agents_activity and agents_overview: time in states, offers, active agents, groups."""

from __future__ import annotations

from datetime import date

from talkstats.domain import stats
from talkstats.domain.directory import AgentInfo, Directory

from .story import Story


def test_time_in_each_state_and_availability() -> None:
    s = Story()
    s.at("08:00:00").agent(1, "online", via="client")
    s.at("08:30:00").agent(1, "away")
    s.at("08:40:00").agent(1, "transfers_only")
    s.at("09:00:00").agent(1, "online")
    s.at("09:10:00").inbound("c1").call("c1", "queued").call("c1", "offered", agent_id=1)
    s.at("09:10:30").call("c1", "answered", agent_id=1)  # ringing does not stop availability
    s.at("09:20:00").call("c1", "ended")
    s.at("09:25:00").call("c1", "wrap_up_ended", agent_id=1)
    s.at("09:40:00").agent(1, "offline")
    s.now("10:00:00")
    a = s.activity()[1]
    assert a["away_time"] == 600  # 08:30 -> 08:40
    assert a["transfers_only_time"] == 1200  # 08:40 -> 09:00
    assert a["online_time"] == 6000  # 08:00 -> 09:40
    # online status: 08:00-08:30 (1800) + 09:00-09:40 (2400); minus on_call/wrap_up
    # 09:10:30 -> 09:25 (870): 4200 - 870 = 3330
    assert a["available_time"] == 3330
    assert (a["agent_state"], a["via"], a["call_status"]) == ("offline", "client", None)


def test_busy_while_away_is_not_available_and_not_double_counted() -> None:
    s = Story()
    s.at("09:00:00").agent(1, "away")
    s.at("09:00:00").outbound("c1", 1)
    s.at("09:10:00").agent(1, "online")  # status changes during the call
    s.at("09:20:00").call("c1", "ended")
    s.at("09:30:00").call("c1", "wrap_up_ended", agent_id=1)
    s.now("10:00:00")
    a = s.activity()[1]
    assert a["away_time"] == 600
    assert a["online_time"] == 3600
    assert a["available_time"] == 1800  # 09:30 -> 10:00


def test_offers_declined_missed_and_conferences() -> None:
    s = Story(agents=[1, 2, 3])
    for agent_id in (1, 2, 3):
        s.at("08:00:00").agent(agent_id, "online")
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.call("c1", "offered", agent_id=1).call("c1", "declined", agent_id=1)
    s.call("c1", "offered", agent_id=2).call("c1", "missed", agent_id=2)
    s.call("c1", "offered", agent_id=1).call("c1", "offered", agent_id=2)
    s.at("09:00:30").call("c1", "answered", agent_id=3)  # closes both open offers, uncounted
    s.reject({"type": "call.missed", "call_id": "c1", "agent_id": 2})
    s.call("c1", "conference_started").call("c1", "conference_accepted", agent_id=1)
    s.call("c1", "conference_accepted", agent_id=2)
    assert s.activity()[1]["call_status"] is None  # a conference guest's status is unchanged
    s.at("09:01:00").call("c1", "ended")
    a = s.activity()
    assert (a[1]["calls_denied"], a[1]["calls_missed"]) == (1, 0)
    assert (a[2]["calls_denied"], a[2]["calls_missed"]) == (0, 1)
    assert (a[3]["calls_accepted"], a[3]["started_third_party_conferences"]) == (1, 1)
    assert (a[1]["accepted_third_party_conferences"], a[2]["accepted_third_party_conferences"]) == (
        1,
        1,
    )
    g = s.agents()
    assert (g["total_calls_accepted"], g["total_calls_denied"], g["total_calls_missed"]) == (
        1,
        1,
        1,
    )
    assert g["average_calls_denied"] == 0  # 1 / 3 active agents


def test_active_agents_and_per_agent_averages() -> None:
    s = Story(agents=[1, 2, 3, 4, 5, 6], day="2026-11-26")
    s.at("20:00:00", day="2026-11-25").agent(5, "online")
    s.at("23:00:00", day="2026-11-25").agent(5, "offline")  # online yesterday only
    s.at("08:00:00").agent(1, "online")  # agent 1: online 08:00 -> 09:00
    s.at("09:00:00").agent(1, "offline")
    s.at("09:00:00").inbound("c1").call("c1", "queued")
    s.call("c1", "offered", agent_id=2).call("c1", "declined", agent_id=2)  # offline, offered
    s.at("09:00:10").call("c1", "answered", agent_id=4)  # offline agent with a leg
    s.at("09:00:40").call("c1", "ended")  # agent 4: talk 30 s, wrap-up open
    s.at("09:30:00").agent(6, "online")  # online exactly at now: 0 s
    s.now("09:30:00")
    # A = {1, 2, 4}: 1 online 3600 s, 2 has an offer, 4 has a leg; 3, 5, 6 are not active
    g = s.agents()
    assert g["average_online_time"] == 1200  # 3600 / 3
    assert g["average_available_time"] == 1200
    assert g["average_calls_accepted"] == 0  # 1 / 3 = 0.33 -> 0
    assert g["average_calls_denied"] == 0
    assert g["total_calls_accepted"] == 1 and g["total_calls_denied"] == 1
    assert g["total_talk_time"] == 30 and g["average_talk_time"] == 30  # 1 closed leg
    s.at("09:30:00").agent(5, "online")
    s.now("09:30:01")
    # now 1 and 5 and 6 have online time: A = {1, 2, 4, 5, 6}; online 3600 + 1 + 1
    assert s.agents()["average_online_time"] == 720  # 3602 / 5 = 720.4
    assert s.agents(date=date(2026, 11, 25))["average_online_time"] == 10800  # agent 5 alone


def test_wrap_up_alone_makes_an_agent_active_for_the_calls_day() -> None:
    s = Story(agents=[1, 2], day="2026-11-26")
    s.at("23:59:00", day="2026-11-25").inbound("c1").call("c1", "queued")
    s.call("c1", "answered", agent_id=1)
    s.at("00:00:30").call("c1", "ended")
    s.at("00:01:00").call("c1", "wrap_up_ended", agent_id=1)
    s.now("09:00:00")
    assert s.agents()["average_wrap_up_time"] == 0  # the call is yesterday's
    y = s.agents(date=date(2026, 11, 25))
    assert y["average_wrap_up_time"] == 30  # 00:00:30 -> 00:01:00
    assert y["total_talk_time"] == 90  # 23:59:00 -> 00:00:30
    assert y["average_calls_accepted"] == 1  # 1 / |A| = 1 (agent 1 only)


def test_group_filtering_and_agent_ordering() -> None:
    directory = Directory()
    for agent_id in (5, 3, 9, 1, 7):
        directory.add_agent(AgentInfo(agent_id, f"A{agent_id}", f"https://x/{agent_id}.png"))
    directory.add_group(100)
    directory.add_member(100, 9)
    directory.add_member(100, 3)
    directory.add_member(200, 3)
    directory.add_member(200, 1)
    directory.add_group(300)
    assert directory.agent_ids() == [1, 3, 5, 7, 9]
    assert directory.agent_ids_in_groups([200, 100]) == [1, 3, 9]
    assert directory.agent_ids_in_groups([300]) == []
    assert directory.agent_ids_in_groups([999]) == []
    s = Story(agents=[])
    s.projection.directory = directory
    s.at("09:00:00").agent(9, "online")
    s.now("10:00:00")
    rows = stats.agents_activity(
        s.projection, s.current, plan="team", agent_ids=directory.agent_ids_in_groups([100, 200])
    )
    assert [r["agent_id"] for r in rows] == [1, 3, 9]
    assert rows[0]["name"] == "A1" and rows[0]["avatar_url"] == "https://x/1.png"
    assert rows[2]["online_time"] == 3600
    assert rows[0]["online_time"] == 0 and rows[0]["agent_state"] == "offline"


def test_agents_online_counts_transfers_only_and_busy_agents() -> None:
    s = Story(agents=[1, 2, 3, 4])
    s.at("09:00:00").agent(1, "online").agent(2, "away").agent(3, "transfers_only")
    s.agent(4, "online").agent(4, "offline")
    s.outbound("c1", 1)
    assert s.queue()["agents_online"] == 3
    assert s.queue(phone_number_ids=[20])["agents_online"] == 3
