#!/usr/bin/env python3
"""A small, complete sender that feeds talkstats from a phone system's log.

It creates the reference data its events name (agents, a group, a phone number),
turns the phone system's moments into talkstats events with stable ids, sends them in
batches with safe retries, reports every rejection, and reads the day's
account_overview back. Python 3.11+, standard library only. docs/connecting.md
explains each step.

    TALKSTATS_API_TOKEN=... python3 send_events.py --url http://127.0.0.1:8080 \\
        --email admin@acme.example --start 2026-11-26T08:00:00+01:00

The secret comes from TALKSTATS_API_TOKEN (an admin's API token) or, failing that,
TALKSTATS_PASSWORD (the admin's password). --start is when the sample morning begins,
in the account's local time (default: two hours ago). Running it again with the same
--start sends the same events: they come back as duplicates and nothing changes.
Exit code: 0 when every event was accepted or a duplicate, 2 when some were
rejected, 1 when a request failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

EVENTS_PATH = "/api/v2/channels/voice/events"
RETRY_STATUSES = frozenset((429, 502, 503, 504))  # the request may simply be resent
MAX_ATTEMPTS = 8

# The phone system's log of one morning: (seconds after --start, moment, call, agent,
# details). A real connector reads these from the phone system (a queue log, webhooks).
SAMPLE_LOG: list[tuple[int, str, str | None, int | None, dict[str, Any]]] = [
    (0, "agent_logged_in", None, 7, {"via": "client"}),
    (0, "agent_logged_in", None, 8, {"via": "client"}),
    (0, "agent_logged_in", None, 9, {"via": "phone"}),
    (3600, "call_arrived", "call1", None, {"line": 1, "caller": "+33611111111"}),
    (3612, "caller_queued", "call1", None, {"queue_group": 10}),
    (3613, "agent_ringing", "call1", 7, {}),
    (3633, "ring_timeout", "call1", 7, {}),
    (3634, "agent_ringing", "call1", 8, {}),
    (3640, "agent_connected", "call1", 8, {}),
    (3720, "hold", "call1", None, {}),
    (3765, "unhold", "call1", None, {}),
    (3780, "transfer_requested", "call1", None, {"target": 9}),
    (3800, "transfer_connected", "call1", 9, {}),
    (3840, "after_call_work_done", "call1", 8, {}),
    (4040, "hangup", "call1", None, {}),
    (4100, "after_call_work_done", "call1", 9, {}),
    (7200, "agent_logged_out", None, 7, {}),
    (7200, "agent_logged_out", None, 8, {}),
    (7200, "agent_logged_out", None, 9, {}),
]

# What the events name, created first (explicit ids: the phone system's own).
AGENTS = {7: "Ada", 8: "Ben", 9: "Cleo"}
GROUP = (10, "Support")
PHONE_NUMBER = (1, "+33100000001", "Main line")


def to_event(
    line: int, record: tuple[int, str, str | None, int | None, dict[str, Any]], start: datetime
) -> dict[str, Any]:
    """One log record as a talkstats event.

    Ids are derived from the log itself (when it starts, which line), never drawn at
    random, so sending the same record twice is recognised as a duplicate.
    """
    offset, moment, call, agent, details = record
    prefix = f"pbx{int(start.timestamp())}"
    event: dict[str, Any] = {
        "id": f"{prefix}-{line}",
        "time": (start + timedelta(seconds=offset)).isoformat(),
    }
    if call is not None:
        event["call_id"] = f"{prefix}-{call}"
    if moment == "agent_logged_in":
        event.update(type="agent.state_changed", agent_id=agent, state="online", via=details["via"])
    elif moment == "agent_logged_out":
        event.update(type="agent.state_changed", agent_id=agent, state="offline")
    elif moment == "call_arrived":
        event.update(type="call.started", direction="inbound", phone_number_id=details["line"])
        event.update({"from": details["caller"], "to": PHONE_NUMBER[1]})
    elif moment == "caller_queued":
        event.update(type="call.queued", group_id=details["queue_group"])
    elif moment == "agent_ringing":
        event.update(type="call.offered", agent_id=agent)
    elif moment == "ring_timeout":
        event.update(type="call.missed", agent_id=agent)
    elif moment == "agent_connected":
        event.update(type="call.answered", agent_id=agent)
    elif moment == "hold":
        event.update(type="call.hold_started")
    elif moment == "unhold":
        event.update(type="call.hold_ended")
    elif moment == "transfer_requested":
        event.update(type="call.transfer_started", to_agent_id=details["target"])
    elif moment == "transfer_connected":
        event.update(type="call.transfer_accepted", agent_id=agent)
    elif moment == "after_call_work_done":
        event.update(type="call.wrap_up_ended", agent_id=agent)
    elif moment == "hangup":
        event.update(type="call.ended")
    else:
        raise ValueError(f"no event for the moment {moment!r}")
    return event


class RequestFailed(Exception):
    """A request that retrying cannot fix (bad credentials, a malformed body...)."""


class Client:
    """HTTP to one talkstats server, with the retry policy of docs/connecting.md.

    ``opener`` and ``sleep`` are parameters so that the policy can be tested without a
    network or a real wait.
    """

    def __init__(
        self,
        url: str,
        authorization: str,
        *,
        opener: Callable[..., Any] = urllib.request.urlopen,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.authorization = authorization
        self.opener = opener
        self.sleep = sleep

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON) of a 2xx or 4xx answer; transient failures are retried."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = urllib.request.Request(self.url + path, data=data, method=method)
            request.add_header("Authorization", self.authorization)
            request.add_header("Content-Type", "application/json")
            try:
                with self.opener(request, timeout=60) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as error:
                status, answer = error.code, error.read()
                if status not in RETRY_STATUSES:
                    return status, json.loads(answer) if answer else None
                wait = _retry_after(error.headers.get("Retry-After"), attempt)
                problem = f"{status} {answer.decode(errors='replace')}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                # No answer: the request may or may not have been stored. Resending
                # is safe, since events that were stored come back as duplicates.
                wait = _retry_after(None, attempt)
                problem = str(error)
            if attempt == MAX_ATTEMPTS:
                raise RequestFailed(f"{method} {path}: gave up after {attempt} attempts: {problem}")
            print(f"{method} {path}: {problem}; retrying in {wait:g} s", file=sys.stderr)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def send_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """POST one batch; the per-event results. Only a failed request raises."""
        status, answer = self.request("POST", EVENTS_PATH, {"events": events})
        if status != 200:
            raise RequestFailed(f"POST {EVENTS_PATH}: {status} {answer}")
        result: dict[str, Any] = answer
        return result

    def create(self, path: str, key: str, record: dict[str, Any]) -> str:
        """Create one record: "created", or "exists" when its id or name is already taken."""
        status, answer = self.request("POST", path, {key: record})
        if status == 201:
            return "created"
        details = (answer or {}).get("details", {}) if status == 422 else {}
        if any(e.get("error") == "DuplicateValue" for errors in details.values() for e in errors):
            return "exists"
        raise RequestFailed(f"POST {path}: {status} {answer}")


def _retry_after(header: str | None, attempt: int) -> float:
    """The server's Retry-After when it gives one, else 1, 2, 4 ... up to 30 seconds."""
    if header is not None and header.strip().isdigit():
        return float(header.strip())
    return float(min(2 ** (attempt - 1), 30))


def ensure_reference_data(client: Client) -> None:
    """Create the agents, group, memberships and phone number the events name."""
    outcomes = []
    for agent_id, name in AGENTS.items():
        email = f"{name.lower()}@pbx.example"
        user = {"id": agent_id, "name": name, "email": email, "role": "agent"}
        outcomes.append((f"agent {agent_id}", client.create("/api/v2/users", "user", user)))
    group = {"id": GROUP[0], "name": GROUP[1]}
    outcomes.append((f"group {GROUP[0]}", client.create("/api/v2/groups", "group", group)))
    for agent_id in AGENTS:
        member = {"user_id": agent_id, "group_id": GROUP[0]}
        outcome = client.create("/api/v2/group_memberships", "group_membership", member)
        outcomes.append((f"agent {agent_id} in group {GROUP[0]}", outcome))
    number = {"id": PHONE_NUMBER[0], "number": PHONE_NUMBER[1], "name": PHONE_NUMBER[2]}
    path = "/api/v2/channels/voice/phone_numbers"
    outcomes.append(
        (f"phone number {PHONE_NUMBER[0]}", client.create(path, "phone_number", number))
    )
    for what, outcome in outcomes:
        print(f"{what}: {'created' if outcome == 'created' else 'already there'}")


def batches(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(events), size):
        yield events[first : first + size]


def send(client: Client, events: list[dict[str, Any]], batch_size: int) -> int:
    """Send every event, one batch at a time, in order; the number rejected.

    A batch is resent until it gets an answer before the next one goes: the events of
    a call or an agent must arrive in time order, across batches too.
    """
    accepted = duplicates = rejected = 0
    for batch in batches(events, batch_size):
        answer = client.send_events(batch)
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
        rejected += answer["rejected"]
        for result in answer["results"]:
            if result["status"] == "rejected":
                # Not stored. Log it with the event so that someone can act on it;
                # see "What to do with rejections" in docs/connecting.md.
                event = batch[result["index"]]
                print(f"rejected {json.dumps(event)}: {result['error']}", file=sys.stderr)
    print(f"accepted {accepted}, duplicate {duplicates}, rejected {rejected}")
    return rejected


def authorization(email: str) -> str:
    """Basic credentials: email/token:TOKEN for an API token, else email:password."""
    token = os.environ.get("TALKSTATS_API_TOKEN")
    if token:
        pair = f"{email}/token:{token}"
    elif os.environ.get("TALKSTATS_PASSWORD"):
        pair = f"{email}:{os.environ['TALKSTATS_PASSWORD']}"
    else:
        raise SystemExit("set TALKSTATS_API_TOKEN (or TALKSTATS_PASSWORD)")
    return "Basic " + base64.b64encode(pair.encode()).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="talkstats, e.g. http://127.0.0.1:8080")
    parser.add_argument("--email", required=True, help="an admin's email")
    parser.add_argument("--start", help="ISO time with offset; default: two hours ago")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    if args.start:
        start = datetime.fromisoformat(args.start)
        if start.tzinfo is None:
            parser.error("--start needs an offset, like 2026-11-26T08:00:00+01:00")
    else:
        start = datetime.now().astimezone().replace(microsecond=0) - timedelta(hours=2)

    client = Client(args.url, authorization(args.email))
    try:
        ensure_reference_data(client)
        events = [to_event(line, record, start) for line, record in enumerate(SAMPLE_LOG, 1)]
        rejected = send(client, events, args.batch_size)
        day = start.date().isoformat()
        path = f"/api/v2/channels/voice/stats/account_overview?date={day}"
        status, overview = client.request("GET", path)
        if status != 200:
            raise RequestFailed(f"GET {path}: {status} {overview}")
    except RequestFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    print(json.dumps(overview, indent=2, sort_keys=True))
    return 2 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
