"""The Prometheus exposition of one scrape (docs/operations.md, "Metrics").

A scrape first gathers plain data (routes_metrics.py): each account's reading from
the domain (domain/readings.py), its projection's health, and a copy of the service's
telemetry. This module turns that data into metric families through a collector
registered in a registry made for this scrape alone (prometheus-client's
``CollectorRegistry``, never its global one), and encodes them in the format the
scraper asked for. It computes no statistic: every number comes ready from the
domain or the telemetry; only the names, labels and help texts are made here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ..domain.readings import CALL_OUTCOMES, DIRECTIONS, AccountReading
from ..domain.reasons import REJECTION_REASONS
from ..service.telemetry import Counts, Histogram

_INF = float("inf")


@dataclass(frozen=True, slots=True)
class AccountSample:
    """One account as a scrape found it; ``reading`` is None while it loads."""

    account: str
    reading: AccountReading | None
    load_seconds: float | None = None
    snapshot_age: float | None = None
    events_since_snapshot: int | None = None
    events_behind: int | None = None


@dataclass(frozen=True, slots=True)
class Scrape:
    """Everything one scrape exposes."""

    accounts: list[AccountSample]
    counts: Counts
    service_level_threshold: int
    version: str


def render(scrape: Scrape, accept: str | None) -> tuple[bytes, str]:
    """(body, content type) in the text format, or OpenMetrics if ``accept`` asks for it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(scrape))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type


class ScrapeCollector:
    """A prometheus-client collector over one scrape's data."""

    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from _statistics(self.scrape)
        yield from _health(self.scrape)


def _buckets(cumulative: list[tuple[float, int]]) -> list[tuple[str, float]]:
    return [("+Inf" if bound == _INF else repr(bound), count) for bound, count in cumulative]


def _statistics(scrape: Scrape) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "talkstats_calls_waiting",
        "Callers waiting in the queue now (current_queue_activity calls_waiting).",
        labels=["account", "phone_number_id"],
    )
    callbacks = GaugeMetricFamily(
        "talkstats_callbacks_waiting",
        "Callers waiting in the callback queue now (callbacks_waiting).",
        labels=["account", "phone_number_id"],
    )
    longest = GaugeMetricFamily(
        "talkstats_longest_wait",
        "How long the caller waiting longest in the queue has waited; 0 if nobody waits.",
        labels=["account", "phone_number_id"],
        unit="seconds",
    )
    agents = GaugeMetricFamily(
        "talkstats_agents",
        "Agents of the account by Talk status and call status (none, on_call, wrap_up).",
        labels=["account", "status", "call_status"],
    )
    group_agents = GaugeMetricFamily(
        "talkstats_group_agents",
        "Members of each group by Talk status and call status (an agent counts in each "
        "of its groups).",
        labels=["account", "group_id", "status", "call_status"],
    )
    calls = GaugeMetricFamily(
        "talkstats_calls_today",
        "Calls started today (the account's local day) by direction; resets at midnight.",
        labels=["account", "phone_number_id", "direction"],
    )
    outcomes = GaugeMetricFamily(
        "talkstats_call_outcomes_today",
        "Calls started today with each outcome; a call can have several (do not add outcomes up).",
        labels=["account", "phone_number_id", "outcome"],
    )
    finished = GaugeMetricFamily(
        "talkstats_finished_queue_waits_today",
        "Calls started today whose queue wait is over, answered or not (the service "
        "level's offered calls).",
        labels=["account", "phone_number_id"],
    )
    finished_time = GaugeMetricFamily(
        "talkstats_finished_queue_wait_today",
        "Sum of those finished queue waits; divided by talkstats_finished_queue_waits_today "
        "it is the average queue wait.",
        labels=["account", "phone_number_id"],
        unit="seconds",
    )
    answered = HistogramMetricFamily(
        "talkstats_answered_queue_wait",
        "Queue waits of today's calls answered from the queue, in whole seconds rounded "
        "up (as the service level counts them); resets at the account's midnight.",
        labels=["account", "phone_number_id"],
        unit="seconds",
    )
    level = GaugeMetricFamily(
        "talkstats_service_level",
        "Today's calls answered within the threshold over the calls with a finished "
        "queue wait (0-1); absent before the first finished wait.",
        labels=["account"],
        unit="ratio",
    )
    for sample in scrape.accounts:
        reading = sample.reading
        if reading is None:
            continue
        account = sample.account
        for q in reading.queues:
            number = str(q.phone_number_id)
            waiting.add_metric([account, number], q.calls_waiting)
            callbacks.add_metric([account, number], q.callbacks_waiting)
            longest.add_metric([account, number], q.longest_wait)
        for (status, call_status), n in reading.agents.items():
            agents.add_metric([account, status, call_status], n)
        for group_id, counts in reading.group_agents.items():
            for (status, call_status), n in counts.items():
                group_agents.add_metric([account, str(group_id), status, call_status], n)
        for day in reading.days:
            number = str(day.phone_number_id)
            for direction in DIRECTIONS:
                calls.add_metric([account, number, direction], day.calls[direction])
            for outcome in CALL_OUTCOMES:
                outcomes.add_metric([account, number, outcome], day.outcomes[outcome])
            finished.add_metric([account, number], day.finished_waits)
            finished_time.add_metric([account, number], day.finished_wait_time)
            answered.add_metric(
                [account, number], _buckets(day.answered_wait_buckets), day.answered_wait_sum
            )
        ratio = reading.service_level.ratio
        if ratio is not None:
            level.add_metric([account], ratio)
    yield from (waiting, callbacks, longest, agents, group_agents, calls, outcomes)
    yield from (finished, finished_time, answered, level)
    yield GaugeMetricFamily(
        "talkstats_service_level_threshold",
        "The threshold of talkstats_service_level_ratio (setting metrics_service_level_seconds).",
        value=scrape.service_level_threshold,
        unit="seconds",
    )


def _health(scrape: Scrape) -> Iterator[Metric]:
    c = scrape.counts
    names = sorted(
        {s.account for s in scrape.accounts} | set(c.accepted) | {a for a, _ in c.rejected}
    )
    accepted = CounterMetricFamily(
        "talkstats_events_accepted",
        "Events accepted (appended to the log) by this process since it started.",
        labels=["account"],
    )
    duplicates = CounterMetricFamily(
        "talkstats_events_duplicate",
        "Events sent again with the same id and content (acknowledged, not stored twice).",
        labels=["account"],
    )
    rejected = CounterMetricFamily(
        "talkstats_events_rejected",
        "Events rejected, by reason class (malformed, id_conflict, unknown_reference, "
        "time, state, internal_error).",
        labels=["account", "reason"],
    )
    for account in names:
        accepted.add_metric([account], c.accepted.get(account, 0))
        duplicates.add_metric([account], c.duplicates.get(account, 0))
        for reason in REJECTION_REASONS:
            rejected.add_metric([account, reason], c.rejected.get((account, reason), 0))
    yield from (accepted, duplicates, rejected)
    yield _histogram(
        HistogramMetricFamily(
            "talkstats_ingest_batch_duration",
            "Time the service took to validate, append (one fsynced transaction) and fold "
            "a batch of events, including its waits for the account's write lock and "
            "for the reads ahead of it.",
            unit="seconds",
        ),
        [],
        c.batches,
    )
    requests = HistogramMetricFamily(
        "talkstats_http_request_duration",
        "HTTP requests by route template, method and status, from the request's arrival "
        "to the end of its response.",
        labels=["route", "method", "status"],
        unit="seconds",
    )
    for key, histogram in sorted(c.requests.items()):
        _histogram(requests, list(key), histogram)
    yield requests
    loaded = GaugeMetricFamily(
        "talkstats_projection_loaded",
        "1 when the account's statistics are loaded in memory, 0 while they load.",
        labels=["account"],
    )
    load_time = GaugeMetricFamily(
        "talkstats_projection_load_duration",
        "How long the account's statistics took to load (snapshot and log replay).",
        labels=["account"],
        unit="seconds",
    )
    snapshot_age = GaugeMetricFamily(
        "talkstats_snapshot_age",
        "Time since this process last saved a snapshot of the account's statistics (or "
        "loaded them, if it has saved none yet).",
        labels=["account"],
        unit="seconds",
    )
    behind = GaugeMetricFamily(
        "talkstats_events_behind",
        "Log entries of the account this process has not folded into its statistics yet "
        "(written by another process a moment ago; /readyz fails above a limit).",
        labels=["account"],
    )
    since_snapshot = GaugeMetricFamily(
        "talkstats_events_since_snapshot",
        "Events folded since the last snapshot this process saved (or since the load): "
        "about what a restart after a crash would replay.",
        labels=["account"],
    )
    for sample in scrape.accounts:
        labels = [sample.account]
        loaded.add_metric(labels, 0 if sample.reading is None else 1)
        if sample.load_seconds is not None:
            load_time.add_metric(labels, sample.load_seconds)
        if sample.snapshot_age is not None:
            snapshot_age.add_metric(labels, sample.snapshot_age)
        if sample.events_since_snapshot is not None:
            since_snapshot.add_metric(labels, sample.events_since_snapshot)
        if sample.events_behind is not None:
            behind.add_metric(labels, sample.events_behind)
    yield from (loaded, load_time, snapshot_age, since_snapshot, behind)
    errors = CounterMetricFamily(
        "talkstats_database_errors",
        "Failures of the store by operation (ingest, load, follow, snapshot, check).",
        labels=["operation"],
    )
    for operation, n in sorted(c.database_errors.items()):
        errors.add_metric([operation], n)
    yield errors
    yield CounterMetricFamily(
        "talkstats_rate_limit_backend_errors",
        "Calls to the shared rate-limit backend (Redis, --redis-url) that failed.",
        value=c.rate_limit_errors,
    )
    yield CounterMetricFamily(
        "talkstats_rate_limit_unchecked_requests",
        "Requests served without a rate-limit check because the shared backend (Redis) "
        "was failing (fail open).",
        value=c.rate_limit_unchecked,
    )
    info = GaugeMetricFamily(
        "talkstats_build_info", "The running talkstats version (value 1).", labels=["version"]
    )
    info.add_metric([scrape.version], 1)
    yield info


def _histogram(
    family: HistogramMetricFamily, labels: list[str], histogram: Histogram
) -> HistogramMetricFamily:
    family.add_metric(labels, _buckets(histogram.cumulative()), histogram.sum)
    return family
