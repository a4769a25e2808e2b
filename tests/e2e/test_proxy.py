"""Behind a reverse proxy: `forwarded_allow_ips` decides whose X-Forwarded-Proto counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

HTTPS = {"X-Forwarded-Proto": "https", "Host": "acme.stats.example.com"}


def user_url(server: Server) -> str:
    r = requests.get(f"{server.url}/api/v2/users.json", auth=ADMIN, headers=HTTPS, timeout=10)
    assert r.status_code == 200, r.text
    url: str = r.json()["users"][0]["url"]
    return url


@pytest.mark.parametrize(
    ("allowed", "scheme"),
    [(None, "https"), ("127.0.0.0/8", "https"), ("10.9.9.9", "http")],
)
def test_the_proxies_whose_scheme_counts_are_a_setting(
    database: str, tmp_path: Path, allowed: str | None, scheme: str
) -> None:
    env = {} if allowed is None else {"TALKSTATS_FORWARDED_ALLOW_IPS": allowed}
    server = Server(database, tmp_path, env=env)
    server.start()
    try:
        assert user_url(server).startswith(f"{scheme}://acme.stats.example.com/api/v2/users/")
    finally:
        server.close()
