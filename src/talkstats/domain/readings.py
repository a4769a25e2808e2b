"""A monitoring reading of one account: the figures /metrics exposes, taken at *now*.

One call to ``read_account`` gathers, from the incrementally kept totals and the live
state only (never the day's calls or events), what a scrape shows of an account: the
live queues per phone number, every agent counted by Talk status and call status (for
the account and per group), today's calls per phone number by direction and outcome,
today's finished queue waits, the queue waits of answered calls as cumulative
histogram buckets, and the service level. It costs O(phone numbers + agents + group
members + distinct answered waits in seconds), whatever the traffic of the day.

Durations are in seconds (floats), as monitoring systems want them; the numbers are
the ones the Zendesk endpoints and the ``service_level`` extension give, before their
rounding to whole seconds (docs/statistics.md).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .aggregates import CallTotals
from .projection import AccountProjection, AgentLive
from .stats import service_level, window
from .timeutil import NS_PER_SECOND

AGENT_STATUSES = ("online", "away", "transfers_only", "offline")
CALL_STATUSES = ("none", "on_call", "wrap_up")  # "none": no call status (API null)
DIRECTIONS = ("inbound", "outbound")
# outcome -> what it counts; a call can have several (answered after a callback)
CALL_OUTCOMES = (
    "answered",
    "abandoned_in_queue",
    "voicemail",
    "voicemail_queue_wait_exceeded",
    "voicemail_requested",
    "callback_requested",
    "textback_requested",
    "outside_business_hours",
)
# Bucket bounds (whole seconds) of the answered-wait histogram, before the
# service-level threshold is added to them.
WAIT_BOUNDS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)

AgentState = tuple[str, str]  # (status, call status)
_OFFLINE: AgentState = ("offline", "none")


@dataclass(frozen=True, slots=True)
class QueueReading:
    """Who waits now on one phone number."""

    phone_number_id: int
    calls_waiting: int
    callbacks_waiting: int
    longest_wait: float  # seconds since the longest current wait began; 0 if nobody waits


@dataclass(frozen=True, slots=True)
class DayReading:
    """Calls of one phone number that started today (the account's local day)."""

    phone_number_id: int
    calls: dict[str, int]  # direction -> calls
    outcomes: dict[str, int]  # CALL_OUTCOMES -> calls
    finished_waits: int  # finished queue waits: the service level's "offered"
    finished_wait_time: float  # their sum, seconds
    # the answered calls' queue waits in whole seconds (rounded up, as service_level
    # counts them): (bound, count with wait <= bound) per bound, then +Inf
    answered_wait_buckets: list[tuple[float, int]]
    answered_wait_sum: int  # seconds, the sum of the rounded-up waits


@dataclass(frozen=True, slots=True)
class ServiceLevelReading:
    """Today's service level over the account, against one threshold."""

    threshold: int  # seconds
    answered_within: int
    offered: int

    @property
    def ratio(self) -> float | None:
        """answered_within / offered (0-1); None before any queue wait finished."""
        return None if self.offered == 0 else self.answered_within / self.offered


@dataclass(frozen=True, slots=True)
class AccountReading:
    """Everything a scrape shows of one account's statistics."""

    queues: list[QueueReading]
    agents: dict[AgentState, int]  # every (status, call status) pair, zeros included
    group_agents: dict[int, dict[AgentState, int]]  # group id -> the same, its members
    days: list[DayReading]
    service_level: ServiceLevelReading


def wait_bounds(threshold: int) -> list[int]:
    """The histogram's bounds: ``WAIT_BOUNDS`` with the service-level threshold in them."""
    return sorted({*WAIT_BOUNDS, threshold})


def agent_state(agent: AgentLive | None) -> AgentState:
    """An agent's (Talk status, call status) now, as agents_activity shows them."""
    if agent is None:
        return _OFFLINE
    return agent.status, agent.call_status or "none"


def count_agents(p: AccountProjection, agent_ids: Iterable[int]) -> dict[AgentState, int]:
    """How many of the agents are in each (status, call status), zeros included."""
    counts = dict.fromkeys(((s, c) for s in AGENT_STATUSES for c in CALL_STATUSES), 0)
    agents = p.agents
    for agent_id in agent_ids:
        key = agent_state(agents.get(agent_id))
        counts[key] = counts.get(key, 0) + 1
    return counts


def cumulative_buckets(histogram: dict[int, int], bounds: Sequence[int]) -> list[tuple[float, int]]:
    """(bound, count of values <= bound) for each bound, then (+Inf, count of all)."""
    per_bound = [0] * (len(bounds) + 1)
    for value, count in histogram.items():
        per_bound[bisect_left(bounds, value)] += count
    out: list[tuple[float, int]] = []
    running = 0
    for bound, count in zip([*map(float, bounds), float("inf")], per_bound, strict=True):
        running += count
        out.append((bound, running))
    return out


def _day(phone_number_id: int, t: CallTotals, bounds: Sequence[int]) -> DayReading:
    histogram = t.answered_wait_histogram
    return DayReading(
        phone_number_id=phone_number_id,
        calls={"inbound": t.inbound, "outbound": t.outbound},
        outcomes={
            "answered": t.answered,
            "abandoned_in_queue": t.abandoned,
            "voicemail": t.voicemails,
            "voicemail_queue_wait_exceeded": t.exceeded_queue_wait,
            "voicemail_requested": t.requested_voicemail,
            "callback_requested": t.callback_calls,
            "textback_requested": t.textbacks,
            "outside_business_hours": t.outside_business_hours,
        },
        finished_waits=t.finished_waits,
        finished_wait_time=t.queue_wait / NS_PER_SECOND,
        answered_wait_buckets=cumulative_buckets(histogram, bounds),
        answered_wait_sum=sum(seconds * n for seconds, n in histogram.items()),
    )


def read_account(p: AccountProjection, now: int, *, threshold: int = 20) -> AccountReading:
    """The account's reading at ``now`` (the statistics' now: ``effective_now``).

    ``threshold`` (whole seconds) is the service level's, and a bucket bound of the
    answered-wait histogram.
    """
    w = window(p, now)
    directory = p.directory
    numbers = sorted(directory.phone_numbers)
    queues = []
    for number in numbers:
        queue = p.queues.get(number)
        if queue is None:
            queues.append(QueueReading(number, 0, 0, 0.0))
            continue
        oldest = queue.oldest()
        longest = 0.0 if oldest is None else max(0, now - oldest) / NS_PER_SECOND
        queues.append(QueueReading(number, len(queue.waiting), queue.callbacks, longest))
    bounds = wait_bounds(threshold)
    by_number = p.call_days.get(w.day, {})
    empty = CallTotals()
    days = [_day(number, by_number.get(number) or empty, bounds) for number in numbers]
    level = service_level(p, now, threshold=threshold)
    return AccountReading(
        queues=queues,
        agents=count_agents(p, directory.agents),
        group_agents={
            group_id: count_agents(p, (m for m in members if m in directory.agents))
            for group_id, members in sorted(directory.groups.items())
        },
        days=days,
        service_level=ServiceLevelReading(threshold, level["answered_within"], level["offered"]),
    )
