"""Rate limits across processes: two `talkstats serve` on one database and one Redis
share one budget; a Redis that cannot be reached lets requests through (fail open).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from talkstats.access.ratelimit import UNLIMITED
from talkstats.access.ratelimit_redis import connect
from tests.access.redis_keys import delete, test_prefix
from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

PING = "/api/v2/ping"
LIMIT = 5


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = test_prefix()
    yield name
    client = connect(redis_url, timeout=5)
    delete(client, name)
    client.close()


def _servers(
    database: str, tmp_path: Path, redis_url: str, prefix: str, count: int
) -> list[Server]:
    env = {"TALKSTATS_RATE_LIMIT_TALK": str(LIMIT), "TALKSTATS_REDIS_KEY_PREFIX": prefix}
    servers = []
    for i in range(count):
        workdir = tmp_path / f"server-{i}"
        workdir.mkdir()
        args = ["--port", "0", "--database", database, "--log-level", "warning"]
        servers.append(Server(database, workdir, args=[*args, "--redis-url", redis_url], env=env))
    return servers


def _metric(server: Server, name: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


def test_two_processes_share_one_budget_through_redis(
    database: str, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    """Requests alternating between two processes: LIMIT served in all, not 2 x LIMIT."""
    # generous timeouts (the URL's options win): a busy test machine is not a Redis failure
    patient = f"{redis_url}?socket_timeout=5&socket_connect_timeout=5&timeout=5"
    servers = _servers(database, tmp_path, patient, prefix, 2)
    try:
        for server in servers:
            server.start()
        statuses = []
        remaining = []
        for i in range(2 * LIMIT):  # alternate between the processes
            r = requests.get(f"{servers[i % 2].url}{PING}", auth=ADMIN, timeout=10)
            statuses.append(r.status_code)
            remaining.append(int(r.headers["X-Rate-Limit-Remaining"]))
            assert r.headers["X-Rate-Limit"] == str(LIMIT)
        # without Redis each would allow LIMIT: 2 * LIMIT in all
        assert statuses == [200] * LIMIT + [429] * LIMIT
        assert remaining == [4, 3, 2, 1, 0] + [0] * LIMIT
        refused = requests.get(f"{servers[0].url}{PING}", auth=ADMIN, timeout=10)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"] == "TooManyRequests"
        assert _metric(servers[0], "talkstats_rate_limit_backend_errors_total") == 0
    finally:
        for server in servers:
            server.close()


def _dead_redis_url() -> str:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_unreachable_redis_fails_open(database: str, tmp_path: Path) -> None:
    """Requests are served unlimited, counted in /metrics, with one warning in the log."""
    (server,) = _servers(database, tmp_path, _dead_redis_url(), "talkstats:test:none:", 1)
    try:
        server.start()
        for _ in range(2 * LIMIT):
            r = requests.get(f"{server.url}{PING}", auth=ADMIN, timeout=10)
            assert r.status_code == 200
            assert r.headers["X-Rate-Limit"] == str(UNLIMITED)
        assert _metric(server, "talkstats_rate_limit_unchecked_requests_total") >= 2 * LIMIT
        assert _metric(server, "talkstats_rate_limit_backend_errors_total") >= 1
        assert server.stderr().count("serving requests without rate limits") == 1
    finally:
        server.close()
