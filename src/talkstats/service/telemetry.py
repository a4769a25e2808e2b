"""The service's own health, counted cheaply where it happens, read by /metrics.

One ``Telemetry`` per ``Talkstats`` (injectable, never global: a test passes or reads
its own). It is plain counters and fixed-bucket histograms, touched once per batch,
per request or per failure, never per event: ingestion hands over the batch's totals,
the gate middleware one latency per request. The exposition format is the API's
business (api/exposition.py); nothing here knows about Prometheus.

Ingestion and failures are recorded from worker threads, requests from the event
loop; a lock keeps each record whole, and ``copy`` gives a scrape a consistent view.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

# Bucket bounds in seconds. A stats read takes about 0.1-2 ms, a 10,000-event batch
# (with its fsync) a few hundred ms.
REQUEST_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Where the store failed (label ``operation`` of talkstats_database_errors_total).
DATABASE_OPERATIONS = ("ingest", "load", "follow", "snapshot", "check", "records")


class Histogram:
    """Observations counted into fixed buckets (``le`` semantics), with their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(bound, observations <= bound) per bound, then (+Inf, all observations)."""
        out = []
        running = 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out

    def copy(self) -> Histogram:
        twin = Histogram(self.bounds)
        twin.counts = list(self.counts)
        twin.sum = self.sum
        return twin


@dataclass(slots=True)
class Counts:
    """What a scrape reads: every counter and histogram, copied at one moment."""

    accepted: dict[str, int] = field(default_factory=dict)  # account -> events
    duplicates: dict[str, int] = field(default_factory=dict)
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, reason)
    batches: Histogram = field(default_factory=lambda: Histogram(BATCH_BOUNDS))
    requests: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)
    database_errors: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(DATABASE_OPERATIONS, 0)
    )
    rate_limit_errors: int = 0  # calls to the shared (Redis) rate-limit backend that failed
    rate_limit_unchecked: int = 0  # requests served unlimited because it had failed


class Telemetry:
    """Counters of ingestion, requests and store failures since the process started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = Counts()

    def batch(
        self,
        account: str,
        accepted: int,
        duplicates: int,
        rejected_by_reason: dict[str, int],
        seconds: float,
    ) -> None:
        """One ingested batch: its outcome counts and how long the service took."""
        c = self._counts
        with self._lock:
            c.accepted[account] = c.accepted.get(account, 0) + accepted
            c.duplicates[account] = c.duplicates.get(account, 0) + duplicates
            for reason, n in rejected_by_reason.items():
                key = (account, reason)
                c.rejected[key] = c.rejected.get(key, 0) + n
            c.batches.observe(seconds)

    def rejected(self, account: str, reason: str, n: int) -> None:
        """Events rejected before they reached the service (NDJSON lines that are not JSON)."""
        c = self._counts
        with self._lock:
            c.rejected[(account, reason)] = c.rejected.get((account, reason), 0) + n

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request (from the event loop: the gate middleware)."""
        key = (route, method, str(status))
        histogram = self._counts.requests.get(key)
        with self._lock:
            if histogram is None:
                histogram = self._counts.requests.setdefault(key, Histogram(REQUEST_BOUNDS))
            histogram.observe(seconds)

    def database_error(self, operation: str) -> None:
        """The store failed during ``operation`` (one of DATABASE_OPERATIONS)."""
        errors = self._counts.database_errors
        with self._lock:
            errors[operation] = errors.get(operation, 0) + 1

    def rate_limit_error(self) -> None:
        """A call to the shared rate-limit backend (Redis) failed."""
        with self._lock:
            self._counts.rate_limit_errors += 1

    def rate_limit_unchecked(self) -> None:
        """A request was served without a rate-limit check (the shared backend is failing)."""
        with self._lock:
            self._counts.rate_limit_unchecked += 1

    def copy(self) -> Counts:
        """Every count, consistent with each other, for one scrape."""
        c = self._counts
        with self._lock:
            return Counts(
                dict(c.accepted),
                dict(c.duplicates),
                dict(c.rejected),
                c.batches.copy(),
                {key: h.copy() for key, h in c.requests.items()},
                dict(c.database_errors),
                c.rate_limit_errors,
                c.rate_limit_unchecked,
            )
