"""The service builds its rate limiter on Redis when the settings name one."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkstats.access.ratelimit import TALK, UNLIMITED
from talkstats.access.ratelimit_redis import connect
from tests.access.redis_keys import delete, test_prefix
from tests.service.conftest import START, Clock, open_service


def test_a_redis_url_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^redis_url: .*redis://"):
        open_service(tmp_path / "t.db", Clock(START), redis_url="http://x")


def test_an_unreachable_redis_is_counted_in_telemetry(tmp_path: Path) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    service = open_service(tmp_path / "t.db", Clock(START), redis_url="redis://127.0.0.1:1/0")
    try:
        for _ in range(3):
            assert service.rate_limiter.hit(1, [TALK], now=1000.0).limit == UNLIMITED
        counts = service.telemetry.copy()
        assert (counts.rate_limit_errors, counts.rate_limit_unchecked) == (1, 3)
    finally:
        service.close()


def test_with_redis_two_services_share_the_budget(tmp_path: Path, redis_url: str) -> None:
    prefix = test_prefix()
    patient = f"{redis_url}?socket_timeout=5&socket_connect_timeout=5"
    settings = {"redis_url": patient, "redis_key_prefix": prefix, "rate_limit_talk": 3}
    a = open_service(tmp_path / "t.db", Clock(START), **settings)
    b = open_service(tmp_path / "t.db", Clock(START), **settings)
    try:
        got = [s.rate_limiter.hit(1, [TALK], now=0.0).allowed for s in (a, b, a, b, a)]
        assert got == [True, True, True, False, False]
    finally:
        a.close()
        b.close()
        client = connect(redis_url, timeout=5)
        delete(client, prefix)
        client.close()
