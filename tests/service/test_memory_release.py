"""Sealing a day, and reading one back, give the freed heap back to the system
(gctune.release_free_memory)."""

from __future__ import annotations

import pytest

from talkstats.domain.timeutil import format_instant
from talkstats.service import sealer as sealer_module
from talkstats.simulator import Simulator, load_scenario, scenario_path

from .conftest import NS, START, World


def test_sealing_and_reading_back_a_day_release_the_freed_heap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases: list[None] = []
    monkeypatch.setattr(sealer_module, "release_free_memory", lambda: releases.append(None))
    service, account, clock = world.service, world.account, world.clock
    sim = Simulator(load_scenario(scenario_path("help-desk")), 3, START)
    day = sim.finish(START + 2 * 3600 * NS)  # two hours, then every call ended, agents off
    assert service.ingest(account, day).rejected == 0
    assert releases == []  # today cannot be sealed
    clock.ns += 2 * 86_400 * NS  # two days on: the traffic's day ended long ago
    agent = next(int(e["agent_id"]) for e in day if "agent_id" in e)
    event = {"id": "later-1", "type": "agent.state_changed", "agent_id": agent}
    assert service.ingest(
        account, [{**event, "time": format_instant(clock.ns), "state": "online"}]
    ).accepted
    assert service.projection(account).sealed, "the traffic's day was not sealed"
    assert len(releases) == 1
    clock.ns += NS
    later = {**event, "id": "later-2", "time": format_instant(clock.ns), "state": "away"}
    assert service.ingest(account, [later]).accepted
    assert len(releases) == 1  # nothing more to seal, nothing more to release
    (sealed,) = service.projection(account).sealed
    service.readable_day(account, sealed)  # loaded back from the store, whole
    assert len(releases) == 2
    service.readable_day(account, sealed)  # already in memory: nothing loaded
    assert len(releases) == 2
