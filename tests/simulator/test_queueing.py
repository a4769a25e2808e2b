"""The model agrees with queueing theory where theory applies.

Tolerances are derived, not tuned: counts are Poisson (4 standard deviations), the
handle-time distribution is tested with Kolmogorov-Smirnov at the 0.1% level, and the
Erlang C / Erlang A figures are compared with batch means over independent days
(4 standard errors of the mean of the batches, plus the warm-up hour discarded).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import UTC, datetime

import pytest

from talkstats.simulator import Scenario, Simulator, load_scenario, scenario_path
from talkstats.simulator.scenario import PROFILES

from .conftest import DAY, NS, at, ns_of

pytestmark = pytest.mark.announce

START = at("2026-03-10T00:00")


def _events(scenario: Scenario, seed: int, days: int = 1) -> list[dict[str, object]]:
    return Simulator(scenario, seed, START).advance(START + days * DAY)


def birth_death(lam: float, mu: float, c: int, theta: float) -> tuple[float, float, float]:
    """M/M/c+M steady state: P(wait), mean queue wait (all calls), P(abandon)."""
    p = [1.0]
    n = 1
    while p[-1] > 1e-18 or n <= c:
        p.append(p[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
        n += 1
    total = sum(p)
    p_wait = sum(p[c:]) / total
    queue = sum((k - c) * x for k, x in enumerate(p) if k > c) / total
    return p_wait, queue / lam, theta * queue / lam


def test_theory_helper_reproduces_erlang_c() -> None:
    p_wait, wait, _ = birth_death(100 / 1800, 1 / 180, 14, 0.0)
    assert round(p_wait, 4) == 0.1741
    assert round(wait, 2) == 7.84


def _waits(events: list[dict[str, object]], skip_until: int) -> list[tuple[float, bool]]:
    """(queue wait in seconds, abandoned) per call queued after skip_until."""
    queued: dict[object, int] = {}
    out = []
    for e in events:
        t = ns_of(str(e["time"]))
        if e["type"] == "call.queued" and t >= skip_until:
            queued[e["call_id"]] = t
        elif e["type"] in ("call.answered", "call.ended") and e.get("call_id") in queued:
            out.append(((t - queued.pop(e["call_id"])) / NS, e["type"] == "call.ended"))
    return out


def _batch_check(values: list[float], expected: float) -> None:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values))
    assert abs(mean - expected) <= 4 * se, (mean, expected, se)
    assert se < 0.1 * expected  # the test has power: the batches are informative


def test_erlang_c() -> None:
    scenario = load_scenario(scenario_path("erlang-c"))
    p_wait, mean_wait, _ = birth_death(100 / 1800, 1 / 180, 14, 0.0)
    pw, mw = [], []
    for seed in range(1, 9):
        waits = _waits(_events(scenario, seed), START + 3600 * NS)
        assert not any(abandoned for _, abandoned in waits)
        pw.append(sum(w > 0 for w, _ in waits) / len(waits))
        mw.append(statistics.fmean(w for w, _ in waits))
    _batch_check(pw, p_wait)
    _batch_check(mw, mean_wait)


def test_erlang_a() -> None:
    scenario = load_scenario(scenario_path("erlang-a"))
    p_wait, mean_wait, p_abandon = birth_death(100 / 1800, 1 / 180, 10, 1 / 60)
    assert (round(p_wait, 4), round(p_abandon, 4), round(mean_wait, 2)) == (0.4234, 0.1575, 9.45)
    pw, mw, pa = [], [], []
    for seed in range(1, 9):
        waits = _waits(_events(scenario, seed), START + 3600 * NS)
        pw.append(sum(w > 0 for w, _ in waits) / len(waits))
        mw.append(statistics.fmean(w for w, _ in waits))
        pa.append(sum(abandoned for _, abandoned in waits) / len(waits))
    _batch_check(pw, p_wait)
    _batch_check(mw, mean_wait)
    _batch_check(pa, p_abandon)


def test_mmc_handle_times_are_exponential_with_the_right_mean() -> None:
    events = _events(load_scenario(scenario_path("erlang-c")), 5, days=2)
    answered: dict[object, int] = {}
    handle: list[float] = []
    for e in events:
        if e["type"] == "call.answered":
            answered[e["call_id"]] = ns_of(str(e["time"]))
        elif e["type"] == "call.ended" and e["call_id"] in answered:
            handle.append((ns_of(str(e["time"])) - answered.pop(e["call_id"])) / NS)
    n = len(handle)
    assert n > 9000
    assert abs(statistics.fmean(handle) - 180.0) <= 4 * 180.0 / math.sqrt(n)
    handle.sort()
    d = max(
        max((i + 1) / n - (1 - math.exp(-x / 180)), (1 - math.exp(-x / 180)) - i / n)
        for i, x in enumerate(handle)
    )
    assert d < 1.95 / math.sqrt(n)  # KS critical value, alpha = 0.001


def test_mmc_configuration_is_pure() -> None:
    """No IVR delay, no ringing, no extras: offered, answered and queued coincide."""
    events = _events(load_scenario(scenario_path("erlang-c")), 2)
    types = Counter(e["type"] for e in events)
    assert set(types) == {
        "agent.state_changed", "call.started", "call.queued", "call.offered",
        "call.answered", "call.ended", "call.wrap_up_ended",
    }  # fmt: skip
    assert types["agent.state_changed"] == 14
    last_end: dict[object, str] = {}
    for e in events:
        if e["type"] == "call.ended":
            last_end[e["call_id"]] = str(e["time"])
        if e["type"] == "call.wrap_up_ended":
            assert e["time"] == last_end[e["call_id"]]


def test_arrivals_are_poisson_with_the_configured_rate() -> None:
    counts = [
        sum(
            e["type"] == "call.started"
            for e in _events(load_scenario(scenario_path("erlang-c")), s)
        )
        for s in range(1, 4)
    ]
    expected = 200 * 24
    for c in counts:
        assert abs(c - expected) <= 4 * math.sqrt(expected), counts


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_arrivals_follow_the_time_of_day_profile(tz: str) -> None:
    scenario = load_scenario(
        scenario_path("erlang-c"),
        [f"account.timezone={tz}", "phone_numbers.0.calls_per_hour=400",
         'phone_numbers.0.profile="office"', "agents.count=60"],
    )  # fmt: skip
    events = _events(scenario, 8, days=3)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    per_hour: Counter[int] = Counter()
    for e in events:
        if e["type"] == "call.started":
            t = ns_of(str(e["time"])) / NS
            per_hour[datetime.fromtimestamp(t, UTC).astimezone(zone).hour] += 1
    # Kolkata is UTC+5:30: the 3 UTC days cover each local hour 3 times as well
    for hour, mult in enumerate(PROFILES["office"]):
        expected = 3 * 400 * mult
        assert abs(per_hour[hour] - expected) <= 4 * math.sqrt(expected) + 1, (hour, per_hour)
