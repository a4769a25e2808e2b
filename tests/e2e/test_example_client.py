"""docs/examples/send_events.py, the example client of docs/connecting.md, run as a
user would run it against a real server: its statistics are those of the worked
example of docs/events.md, and running it again changes nothing.

The sample morning is placed on *yesterday* in the account's time zone (08:00 to
10:00, far from any DST change) and read back with ``date=``, so the numbers do not
depend on when the test runs.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests import worked_example
from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server, environment

pytestmark = pytest.mark.e2e

SCRIPT = worked_example.ROOT / "docs" / "examples" / "send_events.py"
ZONE = ZoneInfo("America/New_York")  # the account of tests/e2e/conftest.py
STATS = "/api/v2/channels/voice/stats"


def yesterday_at_eight() -> datetime:
    yesterday = datetime.now(ZONE).date() - timedelta(days=1)
    return datetime.combine(yesterday, datetime.min.time(), ZONE).replace(hour=8)


def run_example(url: str, token: str, start: datetime) -> subprocess.CompletedProcess[str]:
    """The script, as the guide shows it, with a small batch size to use several batches."""
    command = [sys.executable, str(SCRIPT), "--url", url, "--email", ADMIN[0]]
    command += ["--start", start.isoformat(), "--batch-size", "5"]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment(), "TALKSTATS_API_TOKEN": token},
        check=False,
    )


def read(session: requests.Session, url: str, path: str) -> Any:
    response = session.get(f"{url}{STATS}/{path}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_example_client_produces_the_worked_example(server: Server) -> None:
    admin = requests.Session()
    admin.auth = ADMIN
    created = admin.post(f"{server.url}/api/v2/api_tokens", json={}, timeout=30)
    assert created.status_code == 201, created.text
    token = created.json()["api_token"]["token"]
    start = yesterday_at_eight()
    day = start.date().isoformat()
    sent = len(worked_example.events())

    first = run_example(server.url, token, start)
    assert first.returncode == 0, first.stderr
    assert "agent 7: created" in first.stdout and "phone number 1: created" in first.stdout
    assert f"accepted {sent}, duplicate 0, rejected 0" in first.stdout
    assert "rejected {" not in first.stderr

    overview = read(admin, server.url, f"account_overview?date={day}")
    assert overview == worked_example.expected("account_overview")
    assert read(admin, server.url, f"agents_overview?date={day}") == worked_example.expected(
        "agents_overview"
    )
    assert read(admin, server.url, f"service_level?date={day}") == worked_example.expected(
        "service_level"
    )
    rows = read(admin, server.url, f"agents_activity?group_ids={worked_example.GROUP}&date={day}")
    by_agent = {row["agent_id"]: row for row in rows["agents_activity"]}
    for agent_id, shown in worked_example.expected_activity().items():
        assert {field: by_agent[agent_id][field] for field in shown} == shown, agent_id
    # what the script printed is what the server answers
    assert f'"total_call_duration": {overview["account_overview"]["total_call_duration"]}' in (
        first.stdout
    )

    again = run_example(server.url, token, start)
    assert again.returncode == 0, again.stderr
    assert "agent 7: already there" in again.stdout
    assert f"accepted 0, duplicate {sent}, rejected 0" in again.stdout
    assert read(admin, server.url, f"account_overview?date={day}") == overview
