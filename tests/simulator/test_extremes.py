"""Random and extreme parameter combinations, random chunking, random start and stop:
the contract still holds and everything closes. Seeded, so failures reproduce."""

from __future__ import annotations

import random
from typing import Any

import pytest

from talkstats.simulator import Simulator, scenario_from_dict

from .checker import ContractChecker
from .conftest import NS, at


def _random_scenario(r: random.Random) -> dict[str, Any]:
    n = r.randint(1, 12)
    zones = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles", "Australia/Lord_Howe"]
    return {
        "account": {"timezone": r.choice(zones)},
        "agents": {"count": n, "first_id": 5, "via_phone_share": r.random()},
        "shifts": [
            {
                "agents": n // 2,
                "start": r.uniform(0, 23),
                "end": r.uniform(23.5, 47.9) if n // 2 else 10.0,
                "breaks": [{"at": r.uniform(0, 30), "minutes": r.uniform(0, 120)}],
                "transfers_only_probability": r.random(),
                "transfers_only_minutes": r.uniform(0, 300),
                "break_spread_minutes": r.uniform(0, 300),
            },
            {
                "agents": n - n // 2,
                "start": 0,
                "end": 24,
                "breaks": [{"at": 12, "minutes": 60}],
                "transfers_only_probability": r.random(),
            },
        ],
        "groups": [{"id": 1, "members": [5]}, {"id": 2}],
        "phone_numbers": [
            {
                "id": 1,
                "group_id": 1,
                "calls_per_hour": r.uniform(0, 60),
                "business_hours": [r.uniform(0, 24), r.uniform(0, 24)],
                "outbound_share": r.random() * 0.5,
                "web_widget_share": r.random() * 0.5,
                "profile": r.choice(["flat", "office", "extended"]),
            },
            {
                "id": 2,
                "calls_per_hour": r.uniform(0, 120),
                "outbound_share": r.random() * 0.3,
                "web_widget_share": r.random() * 0.3,
            },
        ],
        "calls": {
            "ivr_seconds": r.choice([0, 5]),
            "handle_time_mean": r.uniform(1, 600),
            "handle_time_distribution": r.choice(["lognormal", "exponential"]),
            "ring_seconds": r.choice([0, 10]),
            "ring_timeout": r.uniform(0.001, 30),
            "miss_probability": r.random() * 0.5,
            "decline_probability": r.random() * 0.5,
            "hold_probability": r.random(),
            "hold_mean": r.uniform(0.001, 200),
            "transfer_probability": r.random(),
            "transfer_seconds": r.choice([0, 20]),
            "conference_probability": r.random(),
            "textback_probability": r.random() * 0.5,
            "textback_deflection": r.random(),
            "patience_mean": r.choice(["none", 0.5, 60, 600]),
            "max_queue_wait": r.choice(["none", 0.001, 30, 300]),
            "voicemail_request_probability": r.random(),
            "voicemail_request_after": r.uniform(0.01, 100),
            "callback_request_probability": r.random(),
            "callback_request_after": r.uniform(0.01, 100),
            "callback_max_wait": r.choice(["none", 1, 600]),
            "wrap_up_mean": r.choice([0, 0.001, 30, 300]),
            "voicemail_seconds": r.choice([0, 30]),
            "outbound_ring_seconds": r.choice([0, 20]),
        },
    }


@pytest.mark.parametrize("case", range(20))
def test_random_configurations_keep_the_contract(case: int) -> None:
    r = random.Random(case)
    scenario = scenario_from_dict(_random_scenario(r))
    start = at("2026-03-28T00:00") + r.randrange(86_400) * NS + r.randrange(NS)
    sim = Simulator(scenario, case, start)
    checker = ContractChecker(sim.reference_data)
    t = start
    for _ in range(r.randint(1, 20)):
        t += r.randrange(1, 20_000) * NS + r.randrange(NS)
        checker.check_all(sim.advance(t))
    checker.check_all(sim.finish(t + r.randrange(NS)))
    checker.assert_closed()
