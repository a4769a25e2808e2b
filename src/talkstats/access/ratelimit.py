"""Per-account request limits (docs/api.md "Conventions"): 5-minute windows, several buckets.

Algorithm: the sliding-window approximation (as in Cloudflare's and nginx-style
limiters). Windows are aligned to multiples of ``window`` seconds on the injected
monotonic clock; each (account, bucket) keeps three numbers: the current window's
index, the previous window's count and the current window's count. A request at
``e`` seconds into the current window sees the estimate

    previous * (1 - e / window) + current

and is allowed while that estimate plus this request stays within the limit. It never
admits more than ``limit`` requests in one aligned window, avoids the fixed window's
double burst at the boundary, and costs O(1) memory per account and bucket.
Rejected requests are not counted, in any bucket.

Time is an argument (``now``, monotonic seconds); nothing here reads a clock.

The counters live in a backend: ``MemoryBackend`` (this process), or ``RedisBackend``
(ratelimit_redis.py: shared by every process on one Redis, the same decisions). A
shared backend is wrapped in ``FailOpen``: when it cannot answer, requests are served
unlimited rather than refused, and the backend is asked again a few seconds later.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CURRENT_QUEUE_ACTIVITY",
    "DEFAULT_LIMITS",
    "INCREMENTAL_EXPORTS",
    "INCREMENTAL_EXPORTS_WINDOW",
    "DEFAULT_WINDOW",
    "TALK",
    "UNLIMITED",
    "AsyncRateLimitBackend",
    "BackendUnavailable",
    "BucketLimit",
    "Decision",
    "FailOpen",
    "MemoryBackend",
    "RateLimitBackend",
    "RateLimiter",
]

TALK = "talk"
"""Every Zendesk-compatible Talk endpoint counts here."""
CURRENT_QUEUE_ACTIVITY = "current_queue_activity"
"""current_queue_activity counts here as well as in TALK."""
INCREMENTAL_EXPORTS = "incremental_exports"
"""The incremental exports (calls, legs) count here as well as in TALK."""
INCREMENTAL_EXPORTS_WINDOW = 60.0
"""Zendesk limits the incremental exports per minute, not per five minutes."""

DEFAULT_LIMITS: Mapping[str, int | None] = {TALK: 15_000, CURRENT_QUEUE_ACTIVITY: 2_500}
DEFAULT_WINDOW = 300.0

UNLIMITED = 2**31 - 1
"""Reported as limit and remaining when no limit applies (fits any int32 parser)."""

_EPS = 1e-9  # float slack so that waiting exactly retry_after always suffices

log = logging.getLogger("talkstats.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against its buckets.

    ``limit``/``remaining`` are those of the most constraining bucket (``bucket``),
    ``remaining`` counted after this request. ``retry_after`` is whole seconds >= 1
    when not allowed, 0 when allowed. ``bucket`` is None when no limit applies.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    bucket: str | None = None

    @property
    def limited(self) -> bool:
        return self.bucket is not None

    def headers(self) -> dict[str, str]:
        """Response headers: the two X-Rate-Limit ones always, Retry-After only on 429."""
        out = {"X-Rate-Limit": str(self.limit), "X-Rate-Limit-Remaining": str(self.remaining)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


_LIFTED = Decision(allowed=True, limit=UNLIMITED, remaining=UNLIMITED, retry_after=0)


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """One bucket that applies to a request: its name, limit (>= 1) and window (s)."""

    name: str
    limit: int
    window: float


class RateLimitBackend(Protocol):
    """Counters behind a RateLimiter; a shared (e.g. Redis) one serves several replicas.

    ``hit`` must be atomic over all ``limits``: either the request is counted in every
    bucket, or (rejected) in none. ``limits`` is non-empty and has distinct names.
    """

    def hit(self, account_id: int, limits: Sequence[BucketLimit], now: float) -> Decision: ...


class AsyncRateLimitBackend(RateLimitBackend, Protocol):
    """A backend that can also decide without blocking an event loop (a network one)."""

    async def hit_async(
        self, account_id: int, limits: Sequence[BucketLimit], now: float
    ) -> Decision: ...


async def _hit_async(
    backend: RateLimitBackend, account_id: int, limits: Sequence[BucketLimit], now: float
) -> Decision:
    """``backend``'s decision, awaited if it can decide asynchronously (no thread hop)."""
    hit_async = getattr(backend, "hit_async", None)
    if hit_async is not None:
        decision: Decision = await hit_async(account_id, limits, now)
        return decision
    return backend.hit(account_id, limits, now)


class BackendUnavailable(Exception):
    """A shared backend could not decide (unreachable, timed out, refused the command)."""


@dataclass(slots=True)
class _Window:
    index: int
    previous: int = 0
    current: int = 0


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    limit: int
    allowed: bool
    remaining: int  # after counting this request
    retry_after: int  # 0 when allowed
    window: _Window


class MemoryBackend:
    """In-process counters (one replica). Thread-safe."""

    def __init__(self) -> None:
        self._windows: dict[tuple[int, str], _Window] = {}
        self._lock = threading.Lock()

    def hit(self, account_id: int, limits: Sequence[BucketLimit], now: float) -> Decision:
        with self._lock:
            checks = [self._check(account_id, bl, now) for bl in limits]
            rejected = [c for c in checks if not c.allowed]
            if rejected:
                worst = max(rejected, key=lambda c: c.retry_after)
                return Decision(False, worst.limit, 0, worst.retry_after, worst.name)
            for c in checks:
                c.window.current += 1
            tightest = min(checks, key=lambda c: c.remaining)
            return Decision(True, tightest.limit, tightest.remaining, 0, tightest.name)

    def _check(self, account_id: int, bl: BucketLimit, now: float) -> _Check:
        size = bl.window
        index = math.floor(now / size)
        w = self._windows.get((account_id, bl.name))
        if w is None:
            w = self._windows[(account_id, bl.name)] = _Window(index)
        elif index == w.index + 1:
            w.index, w.previous, w.current = index, w.current, 0
        elif index > w.index + 1:
            w.index, w.previous, w.current = index, 0, 0
        # index < w.index (a clock that stepped back): count it in the current window.
        elapsed = min(max(now - w.index * size, 0.0), size)
        estimate = w.previous * (1.0 - elapsed / size) + w.current
        if estimate + 1 <= bl.limit + _EPS:
            remaining = max(0, math.floor(bl.limit - estimate - 1 + _EPS))
            return _Check(bl.name, bl.limit, True, remaining, 0, w)
        wait = _wait(w.previous, w.current, elapsed, bl.limit, size)
        retry_after = max(1, math.ceil(wait - _EPS))
        return _Check(bl.name, bl.limit, False, 0, retry_after, w)


def _wait(previous: int, current: int, elapsed: float, limit: int, size: float) -> float:
    """Seconds until the estimate leaves room for one request, if nothing else arrives."""
    budget = limit - 1 - current  # what the previous window's weighted share may use
    if budget >= 0 and previous > 0:
        # previous * (1 - (elapsed + t) / size) <= budget
        return size * (1.0 - budget / previous) - elapsed
    # This window alone is full: roll into the next, then let this window's share fade:
    # current * (1 - s / size) <= limit - 1
    return (size - elapsed) + size * (1.0 - (limit - 1) / current)


class FailOpen:
    """A shared backend whose failures let requests through instead of refusing them.

    When ``backend.hit`` raises BackendUnavailable the request is allowed and reported as
    unlimited (the headers say 2147483647: no limit is being enforced), and the backend
    is left alone for ``retry_seconds`` (of ``now``), every request in between allowed
    the same way without waiting for it; then one request tries it again. So a
    stalled backend costs at most one timeout per ``retry_seconds``, and limits hold
    again within ``retry_seconds`` of it coming back. A warning is logged at the first
    failure and at most once per ``warn_seconds`` while it lasts, and a line when it
    answers again. ``on_unchecked`` is called once per request let through unchecked,
    ``on_error`` once per failed call (telemetry).
    """

    def __init__(
        self,
        backend: RateLimitBackend,
        *,
        retry_seconds: float = 5.0,
        warn_seconds: float = 60.0,
        on_unchecked: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
        name: str = "the rate-limit backend",
    ) -> None:
        self.backend = backend
        self.retry_seconds = retry_seconds
        self.warn_seconds = warn_seconds
        self._on_unchecked = on_unchecked
        self._on_error = on_error
        self._name = name
        self._retry_at = float("-inf")
        self._warned_at = float("-inf")
        self._failing = False
        self._lock = threading.Lock()  # the state below, never held around the backend

    @property
    def failing(self) -> bool:
        """True from a failure until the backend answers again."""
        return self._failing

    def hit(self, account_id: int, limits: Sequence[BucketLimit], now: float) -> Decision:
        if self._skip(now):
            return self._unchecked()
        try:
            decision = self.backend.hit(account_id, limits, now)
        except BackendUnavailable as exc:
            return self._failed(now, exc)
        return self._answered(decision)

    async def hit_async(
        self, account_id: int, limits: Sequence[BucketLimit], now: float
    ) -> Decision:
        if self._skip(now):
            return self._unchecked()
        try:
            decision = await _hit_async(self.backend, account_id, limits, now)
        except BackendUnavailable as exc:
            return self._failed(now, exc)
        return self._answered(decision)

    def _skip(self, now: float) -> bool:
        """True while the backend is left alone; else this request may ask it."""
        with self._lock:
            if now < self._retry_at:
                return True
            if self._failing:  # this request probes; the others skip until it is done
                self._retry_at = now + self.retry_seconds
            return False

    def _failed(self, now: float, exc: BackendUnavailable) -> Decision:
        with self._lock:
            self._failing = True
            self._retry_at = now + self.retry_seconds
            warn = now - self._warned_at >= self.warn_seconds
            if warn:
                self._warned_at = now
        if self._on_error is not None:
            self._on_error()
        if warn:
            log.warning(
                "%s failed (%s): serving requests without rate limits, trying again every %g s",
                self._name,
                exc,
                self.retry_seconds,
            )
        return self._unchecked()

    def _answered(self, decision: Decision) -> Decision:
        with self._lock:
            recovered, self._failing = self._failing, False
            self._retry_at = float("-inf")
            if recovered:
                self._warned_at = float("-inf")
        if recovered:
            log.warning("%s answers again: rate limits are enforced again", self._name)
        return decision

    def _unchecked(self) -> Decision:
        if self._on_unchecked is not None:
            self._on_unchecked()
        return _LIFTED


class RateLimiter:
    """Per-account limits by bucket name; a limit of 0 or None lifts that bucket.

    ``hit(account, [TALK, CURRENT_QUEUE_ACTIVITY], now)`` counts one request in both
    buckets, or in neither if either is exhausted, and reports the most constraining.
    """

    def __init__(
        self,
        limits: Mapping[str, int | None] = DEFAULT_LIMITS,
        *,
        window: float = DEFAULT_WINDOW,
        backend: RateLimitBackend | None = None,
        windows: Mapping[str, float] | None = None,
    ) -> None:
        """``windows`` gives buckets a window of their own (seconds); others get ``window``."""
        if not window > 0 or any(not w > 0 for w in (windows or {}).values()):
            raise ValueError("window must be > 0 seconds")
        for name, limit in limits.items():
            if limit is not None and limit < 0:
                raise ValueError(f"rate limit for {name!r} must be >= 0 or None")
        self._limits = dict(limits)
        self._window = float(window)
        self._windows = {name: float(w) for name, w in (windows or {}).items()}
        self._backend: RateLimitBackend = backend if backend is not None else MemoryBackend()

    def limit_of(self, bucket: str) -> int | None:
        """The bucket's limit, None when lifted; KeyError for an unknown bucket."""
        if bucket not in self._limits:
            raise KeyError(f"unknown rate-limit bucket {bucket!r}")
        return self._limits[bucket] or None

    def hit(self, account_id: int, buckets: Sequence[str], now: float) -> Decision:
        """Count one request of ``account_id`` in ``buckets`` and say if it may proceed."""
        applicable = self._applicable(buckets)
        if not applicable:
            return _LIFTED
        return self._backend.hit(account_id, applicable, now)

    async def hit_async(self, account_id: int, buckets: Sequence[str], now: float) -> Decision:
        """``hit`` for an event loop: a network backend is awaited, not waited for."""
        applicable = self._applicable(buckets)
        if not applicable:
            return _LIFTED
        return await _hit_async(self._backend, account_id, applicable, now)

    def _applicable(self, buckets: Sequence[str]) -> list[BucketLimit]:
        applicable: list[BucketLimit] = []
        for name in dict.fromkeys(buckets):  # de-duplicate, keep order
            limit = self.limit_of(name)
            if limit is not None:
                applicable.append(BucketLimit(name, limit, self._windows.get(name, self._window)))
        return applicable
