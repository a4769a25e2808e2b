"""Rate-limit counters in Redis, shared by every process that names the same Redis.

The algorithm and the decisions are exactly MemoryBackend's (ratelimit.py): one Lua
script per request reads, rolls, checks and counts every bucket of the request in one
atomic step inside Redis, so two processes can never both take the last unit of a
budget, and a request costs one round trip (EVALSHA; the script is loaded once per
connection pool, and again by itself if Redis restarts and forgets it).

Each (account, bucket) is one hash of three numbers: the window index, the previous
and the current window's count, under ``<prefix>{<account id>}:<bucket>`` (the account
in braces keeps an account's buckets in one Redis Cluster slot). Every write sets a
time-to-live of two windows: a key untouched for that long holds nothing the
algorithm would still use, so Redis holds only the accounts of the last ten minutes
(default window) and never grows without bound.

The clock. Windows must be aligned on one clock shared by every process, or two
processes would disagree about which window a request falls in. By default the script
reads Redis's own clock (TIME) and ignores the caller's ``now``: one clock for every
process on every machine, nothing to keep in sync between application hosts, and no
extra round trip (Redis 5+ replicates a script's writes, not the script, so reading the
clock in it is allowed). With ``server_time=False`` the caller's ``now`` is used
instead, in seconds; the tests use that to drive time exactly as they do for
MemoryBackend, and it would suit callers that pass wall-clock seconds from synchronized
hosts. The monotonic ``now`` the API passes is still what FailOpen (ratelimit.py) times
its retries with.

The API awaits ``hit_async`` (an asyncio client): while one request waits for Redis
the event loop serves the others, so the round trip adds latency to each request but
does not cap a process's throughput at one request per round trip.

Failures (Redis unreachable, a timeout, an error reply) raise BackendUnavailable; the
service wraps this backend in FailOpen. The clients are built with short timeouts
(connect, reply, and the wait for a pooled connection) and no retries: a stalled Redis
holds a request back for well under a second, and FailOpen then leaves it alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.retry import Retry

from .ratelimit import BackendUnavailable, BucketLimit, Decision

__all__ = [
    "ASYNC_CONNECTIONS",
    "DEFAULT_PREFIX",
    "SOCKET_TIMEOUT_SECONDS",
    "RedisBackend",
    "connect",
    "connect_async",
]

DEFAULT_PREFIX = "talkstats:ratelimit:"
SOCKET_TIMEOUT_SECONDS = 0.25
"""Connect and reply timeout: a round trip on a local network takes well under 1 ms."""
ASYNC_CONNECTIONS = 16
"""Connections per process (and event loop) to Redis: at ~0.2 ms a round trip, tens of
thousands of decisions a second."""

# KEYS[i]: bucket i's hash. ARGV[1]: now in seconds, or "" for Redis's clock; then the
# limit and window of each bucket. Returns {allowed (0/1), the reported bucket (1-based),
# remaining, retry_after}. The arithmetic is MemoryBackend's, step for step, in the same
# IEEE doubles (Lua's numbers), so both backends decide alike.
_SCRIPT = """
local EPS = 1e-9
local now = tonumber(ARGV[1])
if now == nil then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local n = #KEYS
local index, previous, current = {}, {}, {}
local ok, remaining, wait = {}, {}, {}
local all_ok = true
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local size = tonumber(ARGV[2 * i + 1])
  local at = math.floor(now / size)
  local stored = redis.call('HMGET', KEYS[i], 'i', 'p', 'c')
  local w, p, c = at, 0, 0
  if stored[1] then
    w, p, c = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3])
    if at == w + 1 then
      w, p, c = at, c, 0
    elseif at > w + 1 then
      w, p, c = at, 0, 0
    end
  end
  index[i], previous[i], current[i] = w, p, c
  local elapsed = math.min(math.max(now - w * size, 0), size)
  local estimate = p * (1 - elapsed / size) + c
  if estimate + 1 <= limit + EPS then
    ok[i] = true
    remaining[i] = math.max(0, math.floor(limit - estimate - 1 + EPS))
  else
    ok[i] = false
    all_ok = false
    local budget = limit - 1 - c
    local seconds
    if budget >= 0 and p > 0 then
      seconds = size * (1 - budget / p) - elapsed
    else
      seconds = (size - elapsed) + size * (1 - (limit - 1) / c)
    end
    wait[i] = math.max(1, math.ceil(seconds - EPS))
  end
end
local pick = 0
for i = 1, n do
  if all_ok then
    if pick == 0 or remaining[i] < remaining[pick] then pick = i end
  elseif not ok[i] then
    if pick == 0 or wait[i] > wait[pick] then pick = i end
  end
end
for i = 1, n do
  local c = current[i]
  if all_ok then c = c + 1 end
  redis.call('HSET', KEYS[i], 'i', index[i], 'p', previous[i], 'c', c)
  redis.call('PEXPIRE', KEYS[i], math.ceil(2000 * tonumber(ARGV[2 * i + 1])) + 1000)
end
if all_ok then
  return {1, pick, remaining[pick], 0}
end
return {0, pick, 0, wait[pick]}
"""


def connect(url: str, *, timeout: float = SOCKET_TIMEOUT_SECONDS) -> redis.Redis:
    """A client for ``url`` with short timeouts and no retries (options in the URL win)."""
    return redis.Redis.from_url(url, **_options(timeout))


def connect_async(url: str, *, timeout: float = SOCKET_TIMEOUT_SECONDS) -> redis.asyncio.Redis:
    """The asyncio twin of ``connect``, on at most ASYNC_CONNECTIONS connections.

    Requests in flight at once share them (one waits up to ``timeout`` for a free one)
    instead of opening a connection each: a burst of requests never becomes a burst
    of connections to Redis.
    """
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=ASYNC_CONNECTIONS, timeout=timeout, **_options(timeout)
    )
    return redis.asyncio.Redis.from_pool(pool)  # closing the client closes the pool


def _options(timeout: float) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
    }


class RedisBackend:
    """Counters in Redis: one atomic script per request, one round trip, keys that expire.

    ``hit`` waits for Redis; ``hit_async`` awaits it, so that an event loop serves other
    requests meanwhile (the API uses that one). It needs ``url``: an asyncio client is
    made from it on first use in each event loop (a client belongs to one loop).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        server_time: bool = True,
        url: str | None = None,
        timeout: float = SOCKET_TIMEOUT_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.server_time = server_time
        self._script = client.register_script(_SCRIPT)
        self._url = url
        self._timeout = timeout
        self._async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis, AsyncScript] | None = (
            None
        )

    def hit(self, account_id: int, limits: Sequence[BucketLimit], now: float) -> Decision:
        keys, args = self._call(account_id, limits, now)
        try:
            answer = self._script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        return _decision(limits, answer)

    async def hit_async(
        self, account_id: int, limits: Sequence[BucketLimit], now: float
    ) -> Decision:
        if self._url is None:
            return self.hit(account_id, limits, now)
        keys, args = self._call(account_id, limits, now)
        try:
            answer = await self._async_script()(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:  # TimeoutError is an OSError
            raise _unavailable(exc) from exc
        return _decision(limits, answer)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        """Close the asyncio client of the running loop (call before the loop ends)."""
        made, self._async = self._async, None
        if made is not None and made[0] is asyncio.get_running_loop():
            await made[1].aclose()

    def _call(
        self, account_id: int, limits: Sequence[BucketLimit], now: float
    ) -> tuple[list[str], list[Any]]:
        keys = [f"{self.prefix}{{{account_id}}}:{bl.name}" for bl in limits]
        args: list[Any] = ["" if self.server_time else repr(float(now))]
        for bl in limits:
            args += [bl.limit, repr(float(bl.window))]
        return keys, args

    def _async_script(self) -> AsyncScript:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            assert self._url is not None
            client = connect_async(self._url, timeout=self._timeout)
            self._async = (loop, client, client.register_script(_SCRIPT))
        return self._async[2]


def _decision(limits: Sequence[BucketLimit], answer: Any) -> Decision:
    allowed, pick, remaining, retry_after = answer
    bucket = limits[int(pick) - 1]
    return Decision(bool(allowed), bucket.limit, int(remaining), int(retry_after), bucket.name)


def _unavailable(exc: BaseException) -> BackendUnavailable:
    return BackendUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": "))
