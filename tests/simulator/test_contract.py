"""The simulator never emits an event the contract (docs/events.md) rejects."""

from __future__ import annotations

from collections import Counter

import pytest

from talkstats.simulator import Simulator, load_scenario, scenario_path

from .checker import ContractChecker, Violation
from .conftest import DAY, READY, at, full_day, ns_of


@pytest.mark.announce
@pytest.mark.parametrize("name", READY)
def test_ready_scenario_full_day_passes_the_checker(name: str) -> None:
    events, sim = full_day(name)
    checker = ContractChecker(sim.reference_data)
    checker.check_all(events)
    checker.assert_closed()
    assert checker.count == len(events)


def test_center_200_is_a_big_day() -> None:
    events, _ = full_day("center-200")
    assert sum(e["type"] == "call.started" for e in events) >= 50_000


def test_ready_scenarios_together_use_every_event_type_reason_and_state() -> None:
    types: Counter[str] = Counter()
    reasons: set[str] = set()
    states: set[str] = set()
    sources: set[str] = set()
    for name in READY:
        events, _ = full_day(name)
        types.update(e["type"] for e in events)
        reasons |= {e["reason"] for e in events if e["type"] == "call.voicemail"}
        states |= {e["state"] for e in events if e["type"] == "agent.state_changed"}
        sources |= {e.get("source", "phone") for e in events if e["type"] == "call.started"}
    assert len(types) == 18
    assert reasons == {
        "outside_business_hours", "exceeded_queue_wait_time", "requested", "no_available_agents"
    }  # fmt: skip
    assert states == {"online", "away", "transfers_only", "offline"}
    assert sources == {"phone", "web_widget"}
    started = [e for name in READY for e in full_day(name)[0] if e["type"] == "call.started"]
    assert any(e["direction"] == "outbound" for e in started)
    assert any(e["outside_business_hours"] for e in started if e["direction"] == "inbound")


@pytest.mark.parametrize("name", READY)
def test_events_are_in_time_order_and_each_call_starts_first(name: str) -> None:
    events, _ = full_day(name)
    times = [ns_of(e["time"]) for e in events]
    assert times == sorted(times)
    seen: set[str] = set()
    for e in events:
        if "call_id" in e:
            if e["type"] == "call.started":
                seen.add(e["call_id"])
            assert e["call_id"] in seen, e
    # millisecond precision, always UTC
    assert all(len(e["time"]) == 24 and e["time"].endswith("Z") for e in events)


def test_several_days_across_a_dst_change_in_chunks() -> None:
    """Berlin moves its clocks on 2026-03-29: shifts, breaks and profiles follow."""
    sim = Simulator(load_scenario(scenario_path("help-desk")), 3, at("2026-03-27T00:00"))
    checker = ContractChecker(sim.reference_data)
    t = at("2026-03-27T00:00")
    for _ in range(4 * 24):
        t += 3600 * 1_000_000_000
        checker.check_all(sim.advance(t))
    checker.check_all(sim.finish(t))
    checker.assert_closed()
    # the early shift starts at 07:45 Berlin: 06:45 UTC in winter, 05:45 UTC in summer
    assert _first_logins("2026-03-27T04:00") and all(
        t.startswith("2026-03-27T06:") for t in _first_logins("2026-03-27T04:00")
    )
    assert _first_logins("2026-03-30T04:00") and all(
        t.startswith("2026-03-30T05:") for t in _first_logins("2026-03-30T04:00")
    )


def _first_logins(start: str) -> list[str]:
    scenario = load_scenario(scenario_path("help-desk"))
    sim = Simulator(scenario, 3, at(start))
    events = sim.advance(at(start) + 3 * 3600 * 1_000_000_000)[len(scenario.agents.ids) :]
    first: dict[object, str] = {}
    for e in events:
        if e["type"] == "agent.state_changed" and e["state"] == "online":
            first.setdefault(e["agent_id"], e["time"])
    return list(first.values())


def test_live_start_in_the_middle_of_a_shift() -> None:
    """A demo starting at 14:00 local: agents on shift are online in the first events."""
    scenario = load_scenario(scenario_path("help-desk"))
    sim = Simulator(scenario, 5, at("2026-03-10T13:00"))  # 14:00 in Berlin
    first = sim.advance(at("2026-03-10T13:00") + 1)
    states = {e["agent_id"]: e["state"] for e in first}
    assert set(states) == set(scenario.agents.ids)
    assert sum(s != "offline" for s in states.values()) >= 4
    checker = ContractChecker(sim.reference_data)
    checker.check_all(first)
    checker.check_all(sim.advance(at("2026-03-10T13:00") + DAY))
    checker.check_all(sim.finish(at("2026-03-10T13:00") + DAY))
    checker.assert_closed()


def test_calls_open_at_the_end_stay_open_until_finish() -> None:
    sim = Simulator(load_scenario(scenario_path("bad-day")), 1, at("2026-03-10T12:00"))
    events = sim.advance(at("2026-03-10T18:00"))  # 12:00 Chicago: the queue is full
    checker = ContractChecker(sim.reference_data)
    checker.check_all(events)
    assert any(not c.ended for c in checker.calls.values())
    checker.check_all(sim.finish(at("2026-03-10T18:00")))
    checker.assert_closed()
    with pytest.raises(RuntimeError):
        sim.advance(at("2026-03-10T19:00"))


def test_advance_cannot_go_back() -> None:
    sim = Simulator(load_scenario(scenario_path("help-desk")), 1, at("2026-03-10T00:00"))
    sim.advance(at("2026-03-10T01:00"))
    with pytest.raises(ValueError):
        sim.advance(at("2026-03-10T00:30"))


# ------------------------------------------------------- the checker is not vacuous


def _story(*events: dict[str, object]) -> None:
    sim = Simulator(load_scenario(scenario_path("help-desk")), 1, at("2026-03-10T00:00"))
    checker = ContractChecker(sim.reference_data, model=False)
    for i, e in enumerate(events):
        checker.check({"id": f"x{i}", "time": f"2026-03-10T09:00:{i:02d}.000Z", **e})


START = {"type": "call.started", "call_id": "c1", "direction": "inbound", "phone_number_id": 1}
QUEUED = {"type": "call.queued", "call_id": "c1"}


def test_checker_accepts_a_plain_call() -> None:
    _story(
        START, QUEUED,
        {"type": "call.offered", "call_id": "c1", "agent_id": 101},
        {"type": "call.answered", "call_id": "c1", "agent_id": 101},
        {"type": "call.ended", "call_id": "c1"},
        {"type": "call.wrap_up_ended", "call_id": "c1", "agent_id": 101},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("events", "why"),
    [
        ([START, START], "not new"),
        ([START, QUEUED, QUEUED], "already queued"),
        ([START, {"type": "call.offered", "call_id": "c1", "agent_id": 101}], "not waiting"),
        (
            [START, QUEUED, {"type": "call.answered", "call_id": "c1", "agent_id": 101},
             {**START, "call_id": "c2"}, {**QUEUED, "call_id": "c2"},
             {"type": "call.offered", "call_id": "c2", "agent_id": 101}],
            "busy",
        ),
        ([START, {"type": "call.hold_started", "call_id": "c1"}], "call.hold_started"),
        ([START, {"type": "call.wrap_up_ended", "call_id": "c1", "agent_id": 101}], "wrap-up"),
        ([START, {"type": "call.ended", "call_id": "c1"}, {"type": "call.ended", "call_id": "c1"}],
         "already ended"),
        ([{**START, "agent_id": 101}], "inbound with agent_id"),
        ([{**START, "colour": "red"}], "unknown fields"),
        ([START, {"type": "call.transfer_accepted", "call_id": "c1", "agent_id": 102}],
         "no transfer pending"),
    ],
)  # fmt: skip
def test_checker_rejects(events: list[dict[str, object]], why: str) -> None:
    with pytest.raises(Violation, match=why):
        _story(*events)
