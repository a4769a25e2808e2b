"""`talkstats simulate --url` against a real server: reference data, refusals, progress lines."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import Server, environment

pytestmark = pytest.mark.e2e


def simulate(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "talkstats", "simulate", "--url", server.url,
         "--email", ADMIN[0], "--password", ADMIN[1], *args],
        capture_output=True, text=True, timeout=120, env=environment(), check=False,
    )  # fmt: skip


def test_reference_data_completes_an_existing_group(server: Server) -> None:
    """A group made by hand with one member gets the scenario's other members."""
    auth = ADMIN
    api = f"{server.url}/api/v2"
    made = [
        requests.post(f"{api}/users", auth=auth, timeout=10, json={"user": {
            "id": 101, "name": "Ana", "email": "ana@helpdesk.example", "role": "agent"}}),
        requests.post(f"{api}/groups", auth=auth, timeout=10,
                      json={"group": {"id": 1, "name": "Support"}}),
        requests.post(f"{api}/group_memberships", auth=auth, timeout=10,
                      json={"group_membership": {"group_id": 1, "user_id": 101}}),
    ]  # fmt: skip
    assert [r.status_code for r in made] == [201, 201, 201]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    done = simulate(server, "--scenario", "help-desk", "--from", f"{yesterday}T09:00",
                    "--hours", "1", "--create-reference-data")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "reference data: created 5 agents, 1 group, 8 memberships, 2 phone numbers; "
        "already there: 1 agent, 1 group, 1 membership"
    ) in done.stdout
    rows = requests.get(
        f"{api}/channels/voice/stats/agents_activity.json?group_ids=1", auth=auth, timeout=10
    ).json()
    assert rows["count"] == 6
    again = simulate(server, "--scenario", "help-desk", "--from", f"{yesterday}T09:00",
                     "--hours", "1", "--create-reference-data")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "reference data: created nothing; already there: 6 agents, 2 groups, 9 memberships" in (
        again.stdout
    )
    assert " 0 accepted," in again.stdout and " 0 rejected" in again.stdout  # all duplicates


def test_a_run_older_than_the_account_is_refused_before_calls_are_sent(server: Server) -> None:
    today = date.today()
    first = (today - timedelta(days=1)).isoformat()
    done = simulate(server, "--scenario", "help-desk", "--from", f"{first}T09:00", "--hours", "2",
                    "--create-reference-data")  # fmt: skip
    assert done.returncode == 0, done.stderr
    overview = f"{server.url}/api/v2/channels/voice/stats/account_overview.json"
    before = requests.get(f"{overview}?date={first}", auth=ADMIN, timeout=10).json()
    earlier = (today - timedelta(days=2)).isoformat()
    refused = simulate(server, "--scenario", "help-desk", "--day", earlier, "--seed", "2")
    assert refused.returncode == 1
    assert f"before the latest events of the scenario's agents on {server.url}" in refused.stderr
    assert "simulate into another account" in refused.stderr
    assert "REJECTED" not in refused.stderr and "Traceback" not in refused.stderr
    after = requests.get(f"{overview}?date={earlier}", auth=ADMIN, timeout=10).json()
    assert after["account_overview"]["total_calls"] == 0  # no call of the refused day
    same = requests.get(f"{overview}?date={first}", auth=ADMIN, timeout=10).json()
    assert same == before
