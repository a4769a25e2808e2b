"""The Redis backend: shared by independent limiters, the memory backend's decisions,
keys that expire, and FailOpen around a Redis that goes away and comes back.

These need a Redis (TALKSTATS_TEST_REDIS_URL, see tests/servers.py); each test keeps
to keys under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstats.access.ratelimit import (
    CURRENT_QUEUE_ACTIVITY,
    INCREMENTAL_EXPORTS,
    TALK,
    UNLIMITED,
    Decision,
    FailOpen,
    RateLimiter,
)
from talkstats.access.ratelimit_redis import RedisBackend, connect, connect_async
from tests.access.redis_keys import delete, redis_backends, test_prefix
from tests.access.tcpproxy import TcpProxy

QUEUE = [TALK, CURRENT_QUEUE_ACTIVITY]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, its keys deleted afterwards."""
    name = test_prefix()
    yield name
    client = connect(redis_url, timeout=5)
    delete(client, name)
    client.close()


@pytest.mark.parametrize("server_time", [False, True], ids=["caller-clock", "redis-clock"])
def test_two_independent_limiters_together_take_exactly_the_limit(
    redis_url: str, prefix: str, server_time: bool
) -> None:
    """As two processes would: separate clients and limiters, one Redis, racing threads."""
    limits = {TALK: 1_000, CURRENT_QUEUE_ACTIVITY: 137}
    limiters = [
        RateLimiter(
            limits,
            window=3_600,
            backend=RedisBackend(
                connect(redis_url, timeout=5), prefix=prefix, server_time=server_time
            ),
        )
        for _ in range(2)
    ]
    allowed = [0, 0]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        for _ in range(100):
            allowed[i] += limiters[i].hit(7, QUEUE, now=5_000.0).allowed

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 137
    assert min(allowed) > 0  # both took part
    # the rejected 63 counted nowhere: TALK has 1000 - 137 left
    assert limiters[0].hit(7, [TALK], now=5_000.0).remaining == 1_000 - 137 - 1


def test_two_limiters_on_one_event_loop_take_exactly_the_limit(redis_url: str, prefix: str) -> None:
    """The API's path (hit_async): 200 requests in flight at once over two clients."""
    backends = [
        RedisBackend(
            connect(redis_url, timeout=5),
            prefix=prefix,
            url=redis_url,
            timeout=5,
            server_time=False,
        )
        for _ in range(2)
    ]
    limiters = [RateLimiter({TALK: 61}, window=300, backend=b) for b in backends]

    async def run() -> list[Decision]:
        try:
            return await asyncio.gather(
                *(limiters[i % 2].hit_async(3, [TALK], now=100.0) for i in range(200))
            )
        finally:
            for b in backends:
                await b.aclose()

    decisions = asyncio.run(run())
    assert sum(d.allowed for d in decisions) == 61
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(61))
    # the window is full: 200 s to its end, then 300 * (1 - 60/61) = 4.9 s until the
    # previous window's weight leaves room for one request: 205 s, rounded up
    assert {d.retry_after for d in decisions if not d.allowed} == {205}


def test_the_async_path_decides_as_the_memory_backend(redis_url: str, prefix: str) -> None:
    limits = {TALK: 9, CURRENT_QUEUE_ACTIVITY: 4}
    shared = RateLimiter(
        limits,
        window=300,
        backend=RedisBackend(
            connect(redis_url, timeout=5),
            prefix=prefix,
            url=redis_url,
            timeout=5,
            server_time=False,
        ),
    )
    local = RateLimiter(limits, window=300)
    rng = random.Random(13)

    async def run() -> None:
        now = 10_000.0
        for _ in range(400):
            now += rng.choice([0.0, 0.0, 1.5, rng.uniform(0, 250)])
            buckets = rng.choice([[TALK], QUEUE])
            assert await shared.hit_async(1, buckets, now) == local.hit(1, buckets, now)
        await shared._backend.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())


accounts = st.integers(1, 3)
bucket_sets = st.sampled_from([[TALK], QUEUE, [TALK, INCREMENTAL_EXPORTS]])
gaps = st.one_of(st.just(0.0), st.floats(0, 2), st.floats(0, 400, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(gaps, accounts, bucket_sets), max_size=200),
    talk=st.integers(1, 15),
    queue=st.integers(1, 6),
    exports=st.integers(1, 4),
)
def test_every_decision_equals_the_memory_backends(
    redis_url: str,
    steps: list[tuple[float, int, list[str]]],
    talk: int,
    queue: int,
    exports: int,
) -> None:
    limits = {TALK: talk, CURRENT_QUEUE_ACTIVITY: queue, INCREMENTAL_EXPORTS: exports}
    windows = {INCREMENTAL_EXPORTS: 60.0}
    with redis_backends(redis_url) as make:
        shared = RateLimiter(limits, window=300, windows=windows, backend=make())
        local = RateLimiter(limits, window=300, windows=windows)
        now = 1_000_000.0
        for gap, account, buckets in steps:
            now += gap
            assert shared.hit(account, buckets, now) == local.hit(account, buckets, now)


def test_keys_carry_the_account_in_braces_and_expire_after_two_windows(
    redis_url: str, prefix: str
) -> None:
    client = connect(redis_url, timeout=5)
    rl = RateLimiter(
        {TALK: 10, INCREMENTAL_EXPORTS: 3},
        window=300,
        windows={INCREMENTAL_EXPORTS: 60.0},
        backend=RedisBackend(client, prefix=prefix, server_time=False),
    )
    rl.hit(42, [TALK, INCREMENTAL_EXPORTS], now=10.0)
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}*"))
    assert keys == [f"{prefix}{{42}}:incremental_exports", f"{prefix}{{42}}:talk"]
    assert 0 < client.pttl(f"{prefix}{{42}}:talk") <= 601_000
    assert 0 < client.pttl(f"{prefix}{{42}}:incremental_exports") <= 121_000
    client.close()


def test_one_round_trip_per_request(redis_url: str, prefix: str) -> None:
    """After the first request (which may load the script), one EVALSHA per request."""
    client = connect(redis_url, timeout=5)
    backend = RedisBackend(client, prefix=prefix, server_time=False)
    rl = RateLimiter({TALK: 10, CURRENT_QUEUE_ACTIVITY: 5}, window=300, backend=backend)
    rl.hit(1, QUEUE, now=0.0)
    sent: list[str] = []
    original = client.execute_command

    def counting(*args: object, **options: object) -> object:
        sent.append(str(args[0]))
        return original(*args, **options)

    client.execute_command = counting  # type: ignore[method-assign]
    for _ in range(3):
        rl.hit(1, QUEUE, now=0.0)
    assert sent == ["EVALSHA"] * 3
    client.close()


# ------------------------------------------------------------------------- fail open


def _proxy(redis_url: str) -> TcpProxy:
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    proxy.start()
    return proxy


@pytest.mark.parametrize("path", ["sync", "async"])
def test_redis_down_fails_open_then_limits_again_when_it_is_back(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    proxy = _proxy(redis_url)
    errors: list[int] = []
    unchecked: list[int] = []
    inner = RedisBackend(
        connect(proxy.url, timeout=5), prefix=prefix, server_time=False, url=proxy.url, timeout=5
    )
    backend = FailOpen(
        inner,
        retry_seconds=5,
        warn_seconds=60,
        on_error=lambda: errors.append(1),
        on_unchecked=lambda: unchecked.append(1),
        name="Redis",
    )
    limiter = RateLimiter({TALK: 2}, window=300, backend=backend)
    runner = asyncio.Runner()
    rl = _Calls(limiter, runner if path == "async" else None)
    caplog.set_level(logging.WARNING, logger="talkstats.ratelimit")
    try:
        assert [rl.hit(1, [TALK], now=t).allowed for t in (0, 1, 2)] == [True, True, False]

        proxy.stop()  # Redis goes away
        lifted = Decision(True, UNLIMITED, UNLIMITED, 0, None)
        assert rl.hit(1, [TALK], now=3) == lifted  # failed: served, unlimited
        assert backend.failing and (len(errors), len(unchecked)) == (1, 1)
        assert rl.hit(1, [TALK], now=4) == lifted  # not even tried: within retry_seconds
        assert (len(errors), len(unchecked)) == (1, 2)
        assert rl.hit(1, [TALK], now=8) == lifted  # tried again, still down
        assert (len(errors), len(unchecked)) == (2, 3)
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1  # once per warn_seconds, not once per failure
        assert "serving requests without rate limits" in warnings[0]

        proxy.start()  # Redis is back, with what it counted before
        assert rl.hit(1, [TALK], now=12) == lifted  # the next try is at 13
        d = rl.hit(1, [TALK], now=13)
        assert (d.allowed, d.limit, d.bucket) == (False, 2, TALK)
        assert not backend.failing and len(errors) == 2
        assert "rate limits are enforced again" in caplog.records[-1].getMessage()
    finally:
        proxy.stop()
        inner.close()
        runner.run(inner.aclose())
        runner.close()


class _Calls:
    """``hit`` through the limiter's sync path, or its async one on one event loop."""

    def __init__(self, limiter: RateLimiter, runner: asyncio.Runner | None) -> None:
        self.limiter = limiter
        self.runner = runner

    def hit(self, account_id: int, buckets: list[str], now: float) -> Decision:
        if self.runner is None:
            return self.limiter.hit(account_id, buckets, now)
        return self.runner.run(self.limiter.hit_async(account_id, buckets, now))


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_stalled_redis_times_out_and_fails_open(redis_url: str, prefix: str, path: str) -> None:
    proxy = _proxy(redis_url)
    proxy.stalled = True  # accepts connections, never answers
    errors: list[int] = []
    inner = RedisBackend(
        connect(proxy.url, timeout=0.1),
        prefix=prefix,
        server_time=False,
        url=proxy.url,
        timeout=0.1,
    )
    limiter = RateLimiter({TALK: 1}, backend=FailOpen(inner, on_error=lambda: errors.append(1)))
    runner = asyncio.Runner()
    rl = _Calls(limiter, runner if path == "async" else None)
    try:
        assert rl.hit(1, [TALK], now=0).limit == UNLIMITED
        assert rl.hit(1, [TALK], now=1).limit == UNLIMITED
        assert errors == [1]  # one timeout paid; the second request did not wait
    finally:
        proxy.stop()
        inner.close()
        runner.run(inner.aclose())
        runner.close()


def test_an_error_reply_fails_open(redis_url: str, prefix: str) -> None:
    """A key of the wrong type makes the script fail: the request is still served."""
    client = connect(redis_url, timeout=5)
    client.set(f"{prefix}{{1}}:talk", "not a hash")
    backend = FailOpen(RedisBackend(client, prefix=prefix, server_time=False))
    d = RateLimiter({TALK: 1}, backend=backend).hit(1, [TALK], now=0)
    assert (d.allowed, d.limit) == (True, UNLIMITED)
    assert backend.failing
    client.close()


def test_client_has_short_timeouts_and_no_retries() -> None:
    kwargs = connect("redis://127.0.0.1:1/0").connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25
    pool = connect_async("redis://127.0.0.1:1/0").connection_pool
    kwargs = pool.connection_kwargs
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25
    assert pool.max_connections == 16
