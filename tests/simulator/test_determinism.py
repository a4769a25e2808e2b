"""Same scenario, seed and start: the same events, however the run is chunked."""

from __future__ import annotations

import random

from talkstats.simulator import Simulator, generate, load_scenario, scenario_path

from .conftest import DAY, at

START = at("2026-03-10T00:00")


def _run(seed: int, name: str = "help-desk") -> list[dict[str, object]]:
    return Simulator(load_scenario(scenario_path(name)), seed, START).advance(START + DAY)


def test_same_seed_same_events() -> None:
    assert _run(42) == _run(42)


def test_different_seed_different_events() -> None:
    a, b = _run(1), _run(2)
    assert a != b
    assert [e["id"] for e in a][:5] != [e["id"] for e in b][:5]  # ids carry the seed


def test_chunking_does_not_change_the_events() -> None:
    scenario = load_scenario(scenario_path("bad-day"))
    whole = Simulator(scenario, 9, START).advance(START + 2 * DAY)
    sim = Simulator(scenario, 9, START)
    chunks: list[dict[str, object]] = []
    rng = random.Random(0)
    t = START
    while t < START + 2 * DAY:
        t = min(START + 2 * DAY, t + rng.randrange(1, 7200) * 1_000_000_000 + rng.randrange(999))
        chunks += sim.advance(t)
    assert chunks == whole


def test_generate_is_the_simulator() -> None:
    scenario = load_scenario(scenario_path("help-desk"))
    assert list(generate(scenario, START, START + DAY, 42)) == _run(42)


def test_ids_are_unique_and_prefixed() -> None:
    scenario = load_scenario(scenario_path("help-desk"))
    events = Simulator(scenario, 3, START, id_prefix="demo7").advance(START + DAY)
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, str) and i.startswith("demo7-e") for i in ids)
    calls = {e["call_id"] for e in events if e["type"] == "call.started"}
    assert all(isinstance(c, str) and c.startswith("demo7-c") for c in calls)
