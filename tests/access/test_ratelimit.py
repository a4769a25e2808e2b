"""Rate limits: sliding-window approximation over 5-minute windows, several buckets.

The behaviour tests run against both backends: in memory, and in Redis (the caller's
clock, as here, instead of Redis's; skipped without a Redis, see tests/servers.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstats.access.ratelimit import (
    CURRENT_QUEUE_ACTIVITY,
    DEFAULT_LIMITS,
    TALK,
    UNLIMITED,
    BucketLimit,
    Decision,
    RateLimitBackend,
    RateLimiter,
)
from tests.access.redis_keys import redis_backends

QUEUE = [TALK, CURRENT_QUEUE_ACTIVITY]

Backends = Callable[[], RateLimitBackend | None]
Limiter = Callable[..., RateLimiter]


@pytest.fixture(scope="module", params=["memory", "redis"])
def backends(request: pytest.FixtureRequest) -> Iterator[Backends]:
    """Makes a fresh, empty backend per call (None: the limiter's default, in memory)."""
    if request.param == "memory":
        yield lambda: None
        return
    with redis_backends(request.getfixturevalue("redis_url")) as make:
        yield make


@pytest.fixture
def limiter(backends: Backends) -> Limiter:
    def make(talk: int | None = 10, queue: int | None = 4) -> RateLimiter:
        limits = {TALK: talk, CURRENT_QUEUE_ACTIVITY: queue}
        return RateLimiter(limits, window=300, backend=backends())

    return make


def test_defaults_match_the_spec(backends: Backends) -> None:
    assert DEFAULT_LIMITS == {TALK: 15_000, CURRENT_QUEUE_ACTIVITY: 2_500}
    rl = RateLimiter(backend=backends())
    assert rl.limit_of(TALK) == 15_000
    assert rl.limit_of(CURRENT_QUEUE_ACTIVITY) == 2_500
    first = rl.hit(1, QUEUE, now=0.0)
    assert first == Decision(True, 2_500, 2_499, 0, CURRENT_QUEUE_ACTIVITY)


def test_exactly_limit_requests_then_rejected_remaining_counts_down(limiter: Limiter) -> None:
    rl = limiter(talk=10)
    remaining = [rl.hit(1, [TALK], now=100.0).remaining for _ in range(10)]
    assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    d = rl.hit(1, [TALK], now=100.0)
    assert not d.allowed
    assert (d.limit, d.remaining, d.bucket) == (10, 0, TALK)
    assert d.retry_after >= 1


def test_retry_after_full_window_hand_computed(limiter: Limiter) -> None:
    # 10 hits at t=0 (start of a window). The estimate at t is 10 until t=300, then
    # 10 * (1 - (t - 300) / 300); room for one more when that is <= 9: t >= 330.
    rl = limiter(talk=10)
    for _ in range(10):
        assert rl.hit(1, [TALK], now=0.0).allowed
    assert rl.hit(1, [TALK], now=0.0).retry_after == 330
    d = rl.hit(1, [TALK], now=100.0)
    assert (d.allowed, d.retry_after) == (False, 230)
    assert not rl.hit(1, [TALK], now=329.9).allowed
    d = rl.hit(1, [TALK], now=330.0)
    assert d.allowed and d.remaining == 0


def test_retry_after_inside_the_window_hand_computed(limiter: Limiter) -> None:
    # 10 hits at t=0; at t=450 (half-way through the next window) the estimate is 5,
    # so 5 more fit.
    rl = limiter(talk=10)
    for _ in range(10):
        rl.hit(1, [TALK], now=0.0)
    got = [rl.hit(1, [TALK], now=450.0) for _ in range(6)]
    assert [d.allowed for d in got] == [True] * 5 + [False]
    assert [d.remaining for d in got[:5]] == [4, 3, 2, 1, 0]
    # estimate is now 10 * (1 - e/300) + 5; room for one when 10 * (1 - e/300) <= 4,
    # i.e. e >= 180: at t = 480, 30 s from now.
    assert got[5].retry_after == 30
    assert not rl.hit(1, [TALK], now=479.9).allowed
    assert rl.hit(1, [TALK], now=480.0).allowed


def test_retry_after_is_at_least_one_second(limiter: Limiter) -> None:
    rl = limiter(talk=10)
    for _ in range(10):
        rl.hit(1, [TALK], now=0.0)
    # at 329.9 the estimate is 10 * (1 - 29.9/300) = 9.0033: room in 0.1 s -> 1
    d = rl.hit(1, [TALK], now=329.9)
    assert (d.allowed, d.retry_after) == (False, 1)


def test_window_rolls_over_to_a_fresh_budget(limiter: Limiter) -> None:
    rl = limiter(talk=3)
    for _ in range(3):
        rl.hit(1, [TALK], now=10.0)
    assert not rl.hit(1, [TALK], now=299.0).allowed
    # two windows later nothing of the old traffic counts
    d = rl.hit(1, [TALK], now=600.0)
    assert (d.allowed, d.remaining) == (True, 2)


def test_no_boundary_double_burst(limiter: Limiter) -> None:
    # A fixed window would allow 2x the limit around the boundary; this does not.
    rl = limiter(talk=10)
    allowed = sum(rl.hit(1, [TALK], now=299.0).allowed for _ in range(20))
    allowed += sum(rl.hit(1, [TALK], now=301.0).allowed for _ in range(20))
    assert allowed == 10


@pytest.mark.parametrize("lifted", [0, None])
def test_lifted_limits(lifted: int | None, limiter: Limiter) -> None:
    rl = limiter(talk=lifted, queue=lifted)
    for _ in range(1000):
        d = rl.hit(1, QUEUE, now=0.0)
        assert d.allowed
    assert not d.limited
    assert (d.limit, d.remaining, d.retry_after, d.bucket) == (UNLIMITED, UNLIMITED, 0, None)
    assert "Retry-After" not in d.headers()
    assert rl.limit_of(TALK) is None


def test_one_bucket_lifted_the_other_still_applies(limiter: Limiter) -> None:
    rl = limiter(talk=None, queue=2)
    assert [rl.hit(1, QUEUE, now=0).allowed for _ in range(3)] == [True, True, False]
    assert rl.hit(1, [TALK], now=0).bucket is None


def test_multi_bucket_reports_the_most_constraining(limiter: Limiter) -> None:
    rl = limiter(talk=10, queue=4)
    d = rl.hit(1, QUEUE, now=0)
    assert (d.bucket, d.limit, d.remaining) == (CURRENT_QUEUE_ACTIVITY, 4, 3)
    for _ in range(7):
        rl.hit(1, [TALK], now=0)  # talk: 8 used, 2 left; queue: 3 left
    d = rl.hit(1, QUEUE, now=0)
    assert (d.bucket, d.limit, d.remaining) == (TALK, 10, 1)


def test_rejection_by_one_bucket_consumes_from_none(limiter: Limiter) -> None:
    rl = limiter(talk=10, queue=4)
    assert all(rl.hit(1, QUEUE, now=0).allowed for _ in range(4))
    for _ in range(5):
        d = rl.hit(1, QUEUE, now=0)
        assert not d.allowed and d.bucket == CURRENT_QUEUE_ACTIVITY
    # the 5 rejected queue requests did not eat into TALK: 10 - 4 = 6 left
    assert [rl.hit(1, [TALK], now=0).remaining for _ in range(6)] == [5, 4, 3, 2, 1, 0]


def test_rejection_by_the_shared_bucket_does_not_consume_the_specific_one(limiter: Limiter) -> None:
    rl = limiter(talk=4, queue=2)
    for _ in range(4):
        rl.hit(1, [TALK], now=0)
    for _ in range(5):
        d = rl.hit(1, QUEUE, now=0)
        assert (d.allowed, d.bucket) == (False, TALK)
    # at t=375 TALK's estimate is 4 * 0.75 = 3: room for one. Had the rejected requests
    # counted in the queue bucket, its estimate (5 * 0.75) would refuse this one.
    d = rl.hit(1, QUEUE, now=375)
    assert (d.allowed, d.bucket, d.remaining) == (True, TALK, 0)


def test_multi_bucket_retry_after_waits_for_every_bucket(limiter: Limiter) -> None:
    rl = limiter(talk=2, queue=1)
    assert rl.hit(1, QUEUE, now=0).allowed  # queue now full; one talk left
    assert rl.hit(1, [TALK], now=299).allowed  # talk full too
    d = rl.hit(1, QUEUE, now=299)
    # queue (limit 1, one hit in window 0): free when that hit's weight is 0, at 600.
    # talk (limit 2, two hits in window 0): free at 300 + 300 * (1 - 1/2) = 450.
    assert (d.allowed, d.bucket, d.retry_after) == (False, CURRENT_QUEUE_ACTIVITY, 301)
    assert rl.hit(1, QUEUE, now=299 + d.retry_after).allowed


def test_accounts_are_independent(limiter: Limiter) -> None:
    rl = limiter(talk=1)
    assert rl.hit(1, [TALK], now=0).allowed
    assert not rl.hit(1, [TALK], now=0).allowed
    assert rl.hit(2, [TALK], now=0).allowed


def test_duplicate_bucket_names_count_once(limiter: Limiter) -> None:
    rl = limiter(talk=10)
    assert rl.hit(1, [TALK, TALK], now=0).remaining == 9


def test_no_bucket_means_no_limit(limiter: Limiter) -> None:
    assert not limiter().hit(1, [], now=0).limited


def test_unknown_bucket_is_a_programming_error(limiter: Limiter) -> None:
    with pytest.raises(KeyError):
        limiter().hit(1, ["tlak"], now=0)


@pytest.mark.parametrize(
    ("limits", "window"), [({TALK: -1}, 300.0), ({TALK: 1}, 0.0), ({TALK: 1}, -5.0)]
)
def test_bad_configuration(limits: dict[str, int | None], window: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(limits, window=window)


def test_headers() -> None:
    ok = Decision(True, 10, 3, 0, TALK)
    assert ok.headers() == {"X-Rate-Limit": "10", "X-Rate-Limit-Remaining": "3"}
    no = Decision(False, 10, 0, 42, TALK)
    assert no.headers() == {
        "X-Rate-Limit": "10",
        "X-Rate-Limit-Remaining": "0",
        "Retry-After": "42",
    }


def test_custom_backend_receives_only_applicable_buckets() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: list[tuple[int, list[BucketLimit], float]] = []

        def hit(self, account_id: int, limits: Sequence[BucketLimit], now: float) -> Decision:
            self.seen.append((account_id, list(limits), now))
            return Decision(True, limits[0].limit, 0, 0, limits[0].name)

    backend = Recorder()
    rl = RateLimiter({TALK: None, CURRENT_QUEUE_ACTIVITY: 5}, window=60, backend=backend)
    rl.hit(7, QUEUE, now=1.5)
    assert backend.seen == [(7, [BucketLimit(CURRENT_QUEUE_ACTIVITY, 5, 60.0)], 1.5)]


# --------------------------------------------------------------------------- properties

steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=200, allow_nan=False),  # seconds since the last hit
        st.sampled_from([[TALK], QUEUE]),
    ),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, talk=st.integers(1, 12), queue=st.integers(1, 6))
def test_properties(
    backends: Backends, steps: list[tuple[float, list[str]]], talk: int, queue: int
) -> None:
    window = 300.0
    limits = {TALK: talk, CURRENT_QUEUE_ACTIVITY: queue}
    rl = RateLimiter(limits, window=window, backend=backends())
    now = 1_000.0
    per_window: Counter[tuple[str, int]] = Counter()

    def hit(buckets: list[str]) -> Decision:
        d = rl.hit(1, buckets, now=now)
        if d.allowed:
            assert d.bucket in buckets and d.limit == limits[d.bucket]
            assert 0 <= d.remaining < d.limit and d.retry_after == 0
            for b in buckets:
                per_window[(b, int(now // window))] += 1
        else:
            assert d.bucket in buckets and d.remaining == 0 and d.retry_after >= 1
        return d

    last: Decision | None = None
    buckets: list[str] = [TALK]
    for gap, buckets in steps:
        now += gap
        last = hit(buckets)
        if not last.allowed:
            now += last.retry_after  # waiting exactly retry_after always suffices
            last = hit(buckets)
            assert last.allowed
    # never more than the limit inside one aligned window
    for (bucket, _), n in per_window.items():
        assert n <= limits[bucket]
    # "remaining" is exactly how many more requests fit right now
    if last is not None:
        assert [hit(buckets).allowed for _ in range(last.remaining + 1)] == [True] * (
            last.remaining
        ) + [False]
