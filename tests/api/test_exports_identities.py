"""The exports agree with the statistics: a simulated evening across midnight.

The call and leg records of a day, read over HTTP by following ``next_page`` to the end,
add up to that day's account_overview, agents_overview and agents_activity (mappings
in docs/statistics.md). The evening has transfers, conferences, holds, callbacks,
voicemails and calls still going at midnight.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from talkstats.domain.timeutil import NS_PER_SECOND, average_seconds
from talkstats.simulator import load_scenario, scenario_path

from .conftest import Env
from .exports_support import SimAccount, sim_account, simulate, whole_seconds

DAY = "2026-03-10"
NEXT = "2026-03-11"


def evening(env: Env) -> tuple[SimAccount, list[dict[str, Any]]]:
    scenario = load_scenario(
        scenario_path("center-200"),
        ["calls.transfer_probability=0.2", "calls.conference_probability=0.05"],
    )
    sim = sim_account(env, scenario)
    sim_ = simulate(scenario, 7, sim.local_ns(f"{DAY}T22:40:00"))
    events = sim_.advance(sim.local_ns(f"{NEXT}T00:20:00"))
    events += sim_.finish(sim.local_ns(f"{NEXT}T00:30:00"))
    env.clock.now_ns = sim.local_ns(f"{NEXT}T01:00:00")
    sim.ingest(whole_seconds(events))
    return sim, events


def local_day(sim: SimAccount, iso_utc: str) -> date:
    return datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone(sim.zone).date()


def avg(total_seconds: int, count: int) -> int:
    return average_seconds(total_seconds * NS_PER_SECOND, count)


def test_the_day_s_records_add_up_to_its_statistics(env: Env) -> None:
    sim, events = evening(env)
    calls = sim.export("calls")
    legs = sim.export("legs")
    day = date.fromisoformat(DAY)
    started = [e for e in events if e["type"] == "call.started"]
    assert len(calls) == len(started)
    assert sorted(c["external_id"] for c in calls.values()) == sorted(e["call_id"] for e in started)

    mine = {i: c for i, c in calls.items() if local_day(sim, c["created_at"]) == day}
    my_legs = [g for g in legs.values() if g["call_id"] in mine]
    across_midnight = [c for c in mine.values() if local_day(sim, c["updated_at"]) != day]
    assert across_midnight, "the evening should have calls going on at midnight"
    assert any(g["transferred_from"] for g in my_legs), "and transfers"
    status = Counter(c["completion_status"] for c in mine.values())
    assert None not in status  # every call of the day has ended

    overview = sim.get(f"/api/v2/channels/voice/stats/account_overview?date={DAY}")
    o = overview["account_overview"]
    ended = [c for c in mine.values() if c["completion_status"]]
    from_queue = [
        c for c in mine.values()
        if c["direction"] == "inbound" and c["time_to_answer"] is not None and not c["callback"]
    ]  # fmt: skip
    completed_legs = [g for g in my_legs if g["completion_status"] == "completed"]
    expected = {
        "total_calls": len(mine),
        "total_inbound_calls": sum(c["direction"] == "inbound" for c in mine.values()),
        "total_outbound_calls": sum(c["direction"] == "outbound" for c in mine.values()),
        "total_call_duration": sum(c["duration"] for c in ended),
        "average_call_duration": avg(sum(c["duration"] for c in ended), len(ended)),
        "total_hold_time": sum(c["hold_time"] for c in mine.values()),
        "total_wrap_up_time": sum(c["wrap_up_time"] for c in mine.values()),
        "average_wrap_up_time": avg(
            sum(c["wrap_up_time"] for c in mine.values()), len(completed_legs)
        ),
        "total_voicemails": sum(c["voicemail"] for c in mine.values()),
        "total_callback_calls": sum(c["callback"] for c in mine.values()),
        "total_embeddable_callback_calls": sum(
            c["callback_source"] == "web_widget" for c in mine.values()
        ),
        "total_calls_abandoned_in_queue": status["abandoned_in_queue"],
        "total_calls_outside_business_hours": sum(
            c["outside_business_hours"] for c in mine.values()
        ),
        "total_calls_with_exceeded_queue_wait_time": sum(
            c["exceeded_queue_wait_time"] for c in mine.values()
        ),
        "total_calls_with_requested_voicemail": sum(
            c["customer_requested_voicemail"] for c in mine.values()
        ),
        "max_queue_wait_time": max((c["wait_time"] for c in mine.values()), default=0),
        "average_time_to_answer": avg(
            sum(c["time_to_answer"] for c in from_queue), len(from_queue)
        ),
    }
    assert {k: o[k] for k in expected} == expected
    assert sum(g["wrap_up_time"] for g in my_legs) == o["total_wrap_up_time"]

    a = sim.get(f"/api/v2/channels/voice/stats/agents_overview?date={DAY}")["agents_overview"]
    talk = sum(g["talk_time"] for g in my_legs)
    accepted = [
        g for g in my_legs
        if mine[g["call_id"]]["direction"] == "inbound" and g["transferred_from"] is None
        and g["completion_status"] == "completed"
    ]  # fmt: skip
    expected_agents = {
        "total_talk_time": talk,
        "average_talk_time": avg(talk, len(completed_legs)),
        "total_hold_time": sum(g["hold_time"] for g in my_legs),
        "total_wrap_up_time": sum(g["wrap_up_time"] for g in my_legs),
        "total_calls_accepted": len(accepted),
        "total_calls_missed": sum(g["completion_status"] == "agent_missed" for g in my_legs),
        "total_calls_denied": sum(g["completion_status"] == "agent_declined" for g in my_legs),
        "total_accepted_transfers": sum(g["transferred_from"] is not None for g in my_legs),
    }
    assert {k: a[k] for k in expected_agents} == expected_agents
    assert talk == sum(c["talk_time"] for c in mine.values())

    rows: dict[int, dict[str, Any]] = {}
    url: str | None = f"/api/v2/channels/voice/stats/agents_activity?date={DAY}"
    while url:
        body = sim.get(url)
        rows.update({row["agent_id"]: row for row in body["agents_activity"]})
        url = body["next_page"]
    for agent_id, row in rows.items():
        own = [g for g in my_legs if g["agent_id"] == agent_id]
        assert row["total_talk_time"] == sum(g["talk_time"] for g in own), agent_id
        assert row["total_hold_time"] == sum(g["hold_time"] for g in own), agent_id
        assert row["total_wrap_up_time"] == sum(g["wrap_up_time"] for g in own), agent_id
        assert row["calls_missed"] == sum(g["completion_status"] == "agent_missed" for g in own), (
            agent_id
        )
