"""Redis backends for tests, each under a key prefix of its own, removed afterwards.

Other tests and processes share the Redis server, so a test touches only keys under
``talkstats:test:<random>:`` and deletes them at the end (they would expire anyway).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from talkstats.access.ratelimit_redis import RedisBackend, connect


def test_prefix() -> str:
    return f"talkstats:test:{uuid.uuid4().hex[:16]}:"


test_prefix.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


@contextmanager
def redis_backends(url: str, *, server_time: bool = False) -> Iterator[Callable[[], RedisBackend]]:
    """Makes RedisBackends on one client, each with a fresh prefix; cleans up after."""
    root = test_prefix()
    client = connect(url, timeout=5)
    numbers = itertools.count()

    def make() -> RedisBackend:
        return RedisBackend(client, prefix=f"{root}{next(numbers)}:", server_time=server_time)

    try:
        yield make
    finally:
        delete(client, root)
        client.close()


def delete(client: object, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))  # type: ignore[attr-defined]
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])  # type: ignore[attr-defined]
