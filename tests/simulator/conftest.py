"""Shared helpers for the simulator tests: fixed instants and cached full-day runs."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from talkstats.simulator import Simulator, load_scenario, scenario_path

NS = 1_000_000_000
DAY = 86_400 * NS


def at(text: str) -> int:
    """'2026-03-10T00:00' (UTC) -> ns since the epoch."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS


def ns_of(time_text: str) -> int:
    dt = datetime.fromisoformat(time_text.replace("Z", "+00:00"))
    return int(dt.replace(microsecond=0).timestamp()) * NS + dt.microsecond * 1000


READY = ("help-desk", "center-200", "bad-day", "round-the-clock")


@cache
def full_day(name: str, seed: int = 11) -> tuple[tuple[dict[str, Any], ...], Simulator]:
    """A ready scenario from local-ish morning to the next morning, then finished."""
    sim = Simulator(load_scenario(scenario_path(name)), seed, at("2026-03-10T04:00"))
    events = sim.advance(at("2026-03-11T04:00"))
    events += sim.finish(at("2026-03-11T04:00"))
    return tuple(events), sim
