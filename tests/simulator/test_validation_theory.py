"""talkstats' own statistics agree with queueing theory.

The simulator's validation scenarios (erlang-c.toml, erlang-a.toml) run in accelerated
time into an in-process `Talkstats` over a real SQLite file, through the same
`Driver`/`run_simulation` path that `talkstats simulate` uses; a fake server clock is
moved to the end of each simulated hour before its events are sent (no sleeping). The
numbers are then read from `talkstats.domain.stats` for each simulated day, as the
API serves them with `date=`, not from the simulator.

How the tolerance is derived (the same for every comparison). The run is one
continuous simulation of ``DAYS`` whole UTC days, started at 23:00 the evening before
so that the first day begins in steady state (one hour of warm-up is about 50 mean
queue-relaxation times) and continued an hour past the last midnight so that every
call of the last day has finished waiting. Each day is a batch of about 4,800 calls.
A queue forgets its state within minutes, so the daily batch values are independent
and nearly normal (each is a mean over thousands of calls); the estimate is the
mean of the ``DAYS`` batch values and its standard error is estimated from them,
``se = stdev / sqrt(DAYS)``. The tolerance is ``K = 4`` standard errors: with
``DAYS - 1 = 7`` degrees of freedom a correct implementation fails one comparison with
probability about 0.5 % (Student t). Every comparison also asserts ``se`` is below
15 % of the expected value, so the test has the power to see a gross error (a wrong
definition of "waited", waits in the wrong unit or over the wrong population, a lost
abandon). Measured with these seeds: share waited se 0.010 (Erlang C) and 0.004
(Erlang A); share abandoned se 0.002; mean wait se 0.86 s (Erlang C: a day's mean wait
varies by about 30 % because waits come in busy-period bursts) and 0.15 s (Erlang A).
The seeds are fixed, so the outcome is deterministic.

Rounding: ``average_queue_wait_time`` is served in whole seconds (7.84 s comes out as
8), so a day's public value is within 0.5 s of its exact value and the mean of the
public values is compared with 0.5 s added to the tolerance. The exact comparison uses
the unrounded totals the statistic is computed from
(``projection.call_days[day][ALL_NUMBERS]``: integer-nanosecond ``queue_wait`` over
``finished_waits``). Shares use public integer counts only, which are exact:
share waited = 1 - ``service_level(threshold=0).answered_within / offered`` (answered
with a queue wait of 0 s, over calls with a finished queue wait); share abandoned =
``total_calls_abandoned_in_queue / total_calls``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import argon2
import pytest

from talkstats.cli.simulate import run_simulation
from talkstats.config import Settings
from talkstats.domain.projection import ALL_NUMBERS
from talkstats.domain.stats import account_overview, service_level
from talkstats.service import Talkstats
from talkstats.simulator import Simulator, load_scenario, scenario_path
from talkstats.simulator.driver import Driver, ServiceSink, create_reference_data
from talkstats.simulator.reference import reference_data
from talkstats.store import SQLiteStore

from .conftest import NS, at

pytestmark = pytest.mark.announce

DAYS = 8
K = 4.0  # standard errors
ROUNDING = 0.5  # seconds: whole-second output
POWER = 0.15  # the batches must pin the mean down to this share of the expected value
FIRST_DAY = date(2026, 3, 10)
LAMBDA = 100 / 1800  # calls per second
MU = 1 / 180  # per second


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """M/M/c: (P(wait), mean queue wait over all calls in seconds), Erlang's C formula."""
    a = lam / mu
    term, below = 1.0, 1.0  # a^k / k!, summed for k < c
    for k in range(1, c):
        term *= a / k
        below += term
    top = term * a / c * c / (c - a)  # a^c / c! * c / (c - a)
    p_wait = top / (below + top)
    return p_wait, p_wait / (c * mu - lam)


def erlang_a(lam: float, mu: float, c: int, theta: float) -> tuple[float, float, float]:
    """M/M/c+M birth-death chain: (P(wait), mean queue wait over all calls, P(abandon)).

    State n = calls in the system; births at lam, deaths at min(n, c) mu + max(n - c, 0)
    theta. By PASTA an arrival waits with P(n >= c); abandonments happen at rate theta
    times the mean queue length, so P(abandon) = theta E[queue] / lam, and by Little's
    law the mean wait is E[queue] / lam.
    """
    p = [1.0]
    n = 1
    while n <= c or p[-1] > 1e-16 * sum(p):
        p.append(p[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
        n += 1
    total = sum(p)
    queue = sum((k - c) * x for k, x in enumerate(p) if k > c) / total
    return sum(p[c:]) / total, queue / lam, theta * queue / lam


def test_theory_figures_of_the_issue() -> None:
    p_wait, wait = erlang_c(LAMBDA, MU, 14)
    assert (round(p_wait, 4), round(wait, 2)) == (0.1741, 7.84)
    p_wait_a, wait_a, abandon = erlang_a(LAMBDA, MU, 10, 1 / 60)
    assert (round(p_wait_a, 4), round(wait_a, 2), round(abandon, 4)) == (0.4234, 9.45, 0.1575)
    # the birth-death chain without abandonment is Erlang C
    assert erlang_a(LAMBDA, MU, 14, 0.0)[:2] == pytest.approx((p_wait, wait), rel=1e-9)


@dataclass(frozen=True)
class Day:
    calls: int
    waited_share: float  # public: 1 - service_level(0).answered_within / offered
    abandoned_share: float  # public: total_calls_abandoned_in_queue / total_calls
    public_mean_wait: int  # average_queue_wait_time, whole seconds
    exact_mean_wait: float  # queue_wait / finished_waits, unrounded


def _simulate_days(name: str, seed: int, tmp_path: Path) -> list[Day]:
    scenario = load_scenario(scenario_path(name))
    start = at(f"{FIRST_DAY - timedelta(days=1)}T23:00")
    end = at(f"{FIRST_DAY + timedelta(days=DAYS)}T01:00")
    clock = [start]
    service = Talkstats(
        SQLiteStore(str(tmp_path / f"{name}.db"), create=True),
        Settings(),
        clock=lambda: clock[0],
        monotonic=lambda: clock[0] / NS,
        hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    try:
        account = service.create_account(
            "validation", scenario.timezone, "professional",
            admin_email="admin@validation.example", admin_password="not-used",
        )  # fmt: skip
        # the admin is user 1, which is also the scenario's agent 1: admins are agents
        create_reference_data(service, account, reference_data(scenario))
        driver = Driver(ServiceSink(service, account), batch_size=10_000)

        def move_clock(t: int) -> None:
            clock[0] = t

        run_simulation(Simulator(scenario, seed, start), driver, end, finish=False,
                       before_send=move_clock)  # fmt: skip
        assert driver.report.rejected == 0, driver.report.rejections[:5]
        projection = service.projection(account)
        now = service.now(account)
        days = []
        for i in range(DAYS):
            d = FIRST_DAY + timedelta(days=i)
            service.readable_day(account, d)  # a sealed past day is read back first
            overview = account_overview(projection, now, plan="professional", date=d)
            level = service_level(projection, now, threshold=0, date=d)
            exact = projection.call_days[d][ALL_NUMBERS]
            assert level["offered"] == exact.finished_waits
            days.append(
                Day(
                    calls=overview["total_calls"],
                    waited_share=1 - level["answered_within"] / level["offered"],
                    abandoned_share=overview["total_calls_abandoned_in_queue"]
                    / overview["total_calls"],
                    public_mean_wait=overview["average_queue_wait_time"],
                    exact_mean_wait=exact.queue_wait / NS / exact.finished_waits,
                )
            )
        return days
    finally:
        service.close()


def _agrees(values: list[float], expected: float, what: str, *, allowance: float = 0.0) -> None:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values))
    assert se < POWER * expected, f"{what}: batches too noisy to test (se {se:.4g})"
    assert abs(mean - expected) <= K * se + allowance, (
        f"{what}: measured {mean:.4f}, theory {expected:.4f}, "
        f"tolerance {K} x se {se:.4f} + {allowance} = {K * se + allowance:.4f}"
    )


def test_erlang_c_from_talkstats_statistics(tmp_path: Path) -> None:
    """M/M/14, 100 calls / 30 min, AHT 180 s: P(wait) 0.1741, mean queue wait 7.84 s.

    Eight days of about 4,800 calls; tolerance 4 batch-mean standard errors (see the
    module docstring), plus 0.5 s for the whole-second public average.
    """
    p_wait, mean_wait = erlang_c(LAMBDA, MU, 14)
    days = _simulate_days("erlang-c", 3, tmp_path)
    assert all(abs(d.calls - 4800) <= 4 * math.sqrt(4800) for d in days)
    assert all(d.abandoned_share == 0 for d in days)
    _agrees([d.waited_share for d in days], p_wait, "share of calls that waited")
    _agrees([d.exact_mean_wait for d in days], mean_wait, "mean queue wait (exact)")
    _agrees([float(d.public_mean_wait) for d in days], mean_wait,
            "average_queue_wait_time (whole seconds)", allowance=ROUNDING)  # fmt: skip


def test_erlang_a_from_talkstats_statistics(tmp_path: Path) -> None:
    """M/M/10+M, same traffic, exponential patience 60 s: P(abandon) 0.1575.

    Also P(wait) 0.4234 and mean queue wait 9.45 s (abandoned calls count their wait
    until they hang up). Same days, same tolerance as the Erlang C test.
    """
    p_wait, mean_wait, p_abandon = erlang_a(LAMBDA, MU, 10, 1 / 60)
    days = _simulate_days("erlang-a", 5, tmp_path)
    _agrees([d.abandoned_share for d in days], p_abandon, "share abandoned in queue")
    _agrees([d.waited_share for d in days], p_wait, "share of calls that waited")
    _agrees([d.exact_mean_wait for d in days], mean_wait, "mean queue wait (exact)")
    _agrees([float(d.public_mean_wait) for d in days], mean_wait,
            "average_queue_wait_time (whole seconds)", allowance=ROUNDING)  # fmt: skip
