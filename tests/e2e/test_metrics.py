"""GET /metrics on a real server process: who may read it, and what promtool says.

The access rules depend on the client address uvicorn reports and on the proxy
headers it honours, so they are checked here against the real thing as well as
in-process (tests/api/test_metrics.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

TOKEN = "e2e-metrics-token"


def _outside_address() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def started() -> Iterator[list[Server]]:
    """Servers a test starts itself, killed at teardown if still running."""
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.close()


def test_a_local_scrape_parses_and_counts_what_was_ingested(server: Server) -> None:
    event = {"id": "m1", "type": "agent.state_changed", "time": "2026-11-26T12:00:00Z",
             "agent_id": 1, "state": "online"}  # fmt: skip
    r = requests.post(
        f"{server.url}/api/v2/channels/voice/events", json=event, auth=ADMIN, timeout=10
    )
    assert r.json()["accepted"] == 1
    scrape = requests.get(f"{server.url}/metrics", timeout=10)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(scrape.text)
        for s in f.samples
    }
    assert samples[("talkstats_events_accepted_total", (("account", "acme"),))] == 1
    assert samples[("talkstats_agents", (("account", "acme"), ("call_status", "none"),
                                         ("status", "online")))] == 1  # fmt: skip
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=scrape.text, capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_a_request_relayed_by_a_local_proxy_gets_403(server: Server) -> None:
    # What nginx on the same machine sends: uvicorn trusts it from 127.0.0.1 and takes
    # the client address from it; either way talkstats refuses.
    for headers in ({"X-Forwarded-For": "203.0.113.9"}, {"X-Real-IP": "127.0.0.1"}):
        r = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
        assert r.status_code == 403, headers


def test_without_a_token_another_address_gets_403(
    database: str, tmp_path: Path, started: list[Server]
) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    args = ["--port", "0", "--database", database, "--log-level", "warning", "--host", address]
    server = Server(database, tmp_path, args=args)
    started.append(server)
    url = server.start()
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    r = requests.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 403
    assert "metrics_token" in r.json()["description"]


def test_with_a_token_only_the_bearer_token_opens_it(
    database: str, tmp_path: Path, started: list[Server]
) -> None:
    server = Server(database, tmp_path, env={"TALKSTATS_METRICS_TOKEN": TOKEN})
    started.append(server)
    url = server.start()
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
    wrong = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer x"}, timeout=10)
    assert wrong.status_code == 401
    right = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert right.status_code == 200 and "talkstats_build_info" in right.text
