"""A real server whose database disappears notices it, and says so everywhere.

Acknowledged events must never go into a file nobody will read again: after the
database file is removed under a running server, writes answer 503, /readyz answers
503 with the reason, a CRITICAL line is logged, /healthz still answers (the process
is alive), and a restart refuses to start on the missing database instead of
creating an empty one. Also over a real socket: two Host headers are refused.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from talkstats.store.urls import sqlite_path
from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server, environment

pytestmark = pytest.mark.e2e

EVENTS = "/api/v2/channels/voice/events"


def online(event_id: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "agent.state_changed",
        "time": "2020-01-01T09:00:00Z",
        "agent_id": 1,  # the admin is an agent too
        "state": "online",
    }


def test_a_removed_database_is_noticed_and_never_recreated(
    server: Server, database: str, tmp_path: Path
) -> None:
    path = Path(sqlite_path(database))
    r = requests.post(f"{server.url}{EVENTS}", json=online("before"), auth=ADMIN, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    r = requests.post(f"{server.url}{EVENTS}", json=online("after"), auth=ADMIN, timeout=10)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "ServiceUnavailable"
    assert "removed or replaced" in r.json()["description"]
    assert "retry-after" in r.headers and str(path) not in r.text
    ready = requests.get(f"{server.url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert "removed" in ready.json()["description"]
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert "CRITICAL" in server.stderr() and "was removed while in use" in server.stderr()

    server.stop()
    assert not path.exists(), "stopping must not recreate the database"
    again = subprocess.run(
        [sys.executable, "-m", "talkstats", "serve", "--port", "0", "--database", database],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(),
        check=False,
    )
    assert again.returncode == 1
    assert "does not exist; create it with `talkstats account create" in again.stderr
    assert not path.exists()


def test_two_host_headers_over_a_real_socket_are_a_400(server: Server) -> None:
    url = urlparse(server.url)
    request = (
        b"GET /api/v2/channels/voice/stats/account_overview HTTP/1.1\r\n"
        b"Host: acme.example.test\r\n"
        b"Host: other.example.test\r\n"
        b"Authorization: Basic YWRtaW5AYWNtZS50ZXN0OmFkbWluLXBhc3N3b3Jk\r\n"
        b"Connection: close\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"2 Host headers" in body
