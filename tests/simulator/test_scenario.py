"""Scenario loading: defaults, ready files, clear errors, overrides, reference data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from talkstats.simulator import (
    ScenarioError,
    apply_overrides,
    load_scenario,
    reference_data,
    scenario_from_dict,
    scenario_path,
)
from talkstats.simulator.scenario import PROFILES, PhoneNumber

from .conftest import READY


@pytest.mark.parametrize("name", [*READY, "erlang-c", "erlang-a"])
def test_ready_files_load(name: str) -> None:
    s = load_scenario(scenario_path(name))
    assert s.name == name
    assert sum(sh.agents for sh in s.shifts) == s.agents.count


def test_defaults() -> None:
    s = scenario_from_dict({})
    assert s.timezone == "UTC"
    assert s.agents.count == 10 and s.shifts[0].always_on
    assert s.calls.handle_time_distribution == "lognormal"


def test_none_means_never() -> None:
    s = scenario_from_dict({"calls": {"patience_mean": "none", "max_queue_wait": "None"}})
    assert s.calls.patience_mean is None and s.calls.max_queue_wait is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, "unknown key: 'colour'"),
        ({"calls": {"handle_time_mean": 0}}, "calls.handle_time_mean: must be > 0"),
        ({"calls": {"handle_time_mean": "long"}}, "calls.handle_time_mean: must be a number"),
        ({"calls": {"miss_probability": 1.5}}, "calls.miss_probability: must be <= 1"),
        ({"calls": {"handle_time_distribution": "gamma"}}, "must be one of lognormal"),
        ({"calls": {"wrap_up": 3}}, "unknown key: 'calls.wrap_up'"),
        ({"calls": {"patience_mean": True}}, "must be a number"),
        ({"account": {"timezone": "Mars/Base"}}, "account.timezone: unknown IANA timezone"),
        ({"agents": {"count": 2.5}}, "agents.count: must be an integer"),
        ({"agents": {"count": 1, "names": ["A", "B"]}}, "agents.names: has 2 names for 1"),
        (
            {"agents": {"count": 3}, "shifts": [{"agents": 2, "start": 8, "end": 16}]},
            "the shifts have 2 agents in all, agents.count is 3",
        ),
        ({"shifts": [{"agents": 10, "start": 8}]}, "shifts[0].end: is required"),
        (
            {"shifts": [{"agents": 10, "start": 8, "end": 16, "breaks": [{"at": 50}]}]},
            "shifts[0].breaks[0].at: must be <= 48",
        ),
        ({"groups": [{"id": 1, "members": [1]}]}, "groups[0].members: unknown agent id 1"),
        ({"phone_numbers": [{"id": 1, "group_id": 7}]}, "phone_numbers[0].group_id: unknown"),
        ({"phone_numbers": [{"id": 1, "profile": "weekend"}]}, "unknown profile 'weekend'"),
        ({"phone_numbers": [{"id": 1, "profile": [1.0] * 23}]}, "24 non-negative"),
        ({"phone_numbers": []}, "at least one phone number"),
        ({"phone_numbers": [{"id": 1}, {"id": 1}]}, "duplicate phone number id"),
        (
            {"phone_numbers": [{"id": 1, "outbound_share": 0.7, "web_widget_share": 0.5}]},
            "outbound_share + web_widget_share must be <= 1",
        ),
        ({"phone_numbers": [{"id": 1, "outside_hours_share": 0.1}]}, "needs business_hours"),
        ({"calls": []}, "calls: must be a table"),
    ],
)
def test_bad_scenarios_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        scenario_from_dict(data)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[calls]\nhandle_time_mean = -1\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml: calls\.handle_time_mean"):
        load_scenario(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[calls\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_overrides_act_like_flags(tmp_path: Path) -> None:
    s = load_scenario(
        scenario_path("help-desk"),
        ["calls.wrap_up_mean=0", "calls.patience_mean=none", "phone_numbers.1.calls_per_hour=9",
         "account.timezone=Asia/Tokyo"],
    )  # fmt: skip
    assert s.calls.wrap_up_mean == 0
    assert s.calls.patience_mean is None
    assert s.phone_numbers[1].calls_per_hour == 9
    assert s.timezone == "Asia/Tokyo"
    with pytest.raises(ScenarioError, match="no element phone_numbers.5"):
        apply_overrides({"phone_numbers": [{}]}, ["phone_numbers.5.id=3"])
    with pytest.raises(ScenarioError, match="expected key=value"):
        apply_overrides({}, ["calls.wrap_up_mean"])
    with pytest.raises(ScenarioError, match="unknown key"):
        load_scenario(scenario_path("help-desk"), ["calls.wrapup=3"])


def test_outside_hours_share_rescales_the_night() -> None:
    p = PhoneNumber(id=1, number="+1", name="x", calls_per_hour=10.0,
                    profile=PROFILES["office"], business_hours=(8.0, 18.0),
                    outside_hours_share=0.1)  # fmt: skip
    m = p.hourly_multipliers()
    outside = sum(x for h, x in enumerate(m) if not 8 <= h < 18)
    assert outside / sum(m) == pytest.approx(0.1)
    assert m[10] == PROFILES["office"][10]


def test_reference_data() -> None:
    s = load_scenario(scenario_path("center-200"))
    ref = reference_data(s)
    assert [a.id for a in ref.agents] == list(range(2001, 2201))
    assert len({a.email for a in ref.agents}) == 200
    assert len({a.name for a in ref.agents}) == 200
    assert {g.id: len(g.members) for g in ref.groups} == {10: 120, 20: 70, 30: 50}
    assert [p.id for p in ref.phone_numbers] == [100, 110, 120, 130]
    assert ref.timezone == "America/New_York"
    hd = reference_data(load_scenario(scenario_path("help-desk")))
    assert hd.agents[0].name == "Ana Lima"
    assert hd.agents[0].email == "ana.lima.101@helpdesk.example"
