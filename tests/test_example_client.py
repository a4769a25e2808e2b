"""The retry policy of docs/examples/send_events.py, against scripted answers.

tests/e2e/test_example_client.py runs the script against a real server; a real server
does not answer 429 or 503, or drop a connection, on demand without making the test
wait. Here the script's ``Client`` gets a scripted opener and a sleep that only
records what it was asked to wait.
"""

from __future__ import annotations

import importlib.util
import io
import json
import urllib.error
import urllib.request
from datetime import datetime
from email.message import Message
from types import ModuleType
from typing import Any

import pytest

from tests import worked_example

ROOT = worked_example.ROOT

SCRIPT = ROOT / "docs" / "examples" / "send_events.py"
OK = {"results": [], "accepted": 0, "duplicates": 0, "rejected": 0}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("send_events", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Answer:
    """A urlopen response: a context manager with a status and a JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self._body = io.BytesIO(json.dumps(body).encode())

    def read(self, *args: Any) -> bytes:
        return self._body.read(*args)

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def http_error(status: int, body: Any, retry_after: str | None = None) -> urllib.error.HTTPError:
    headers = Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    payload = io.BytesIO(json.dumps(body).encode())
    return urllib.error.HTTPError("http://talkstats.test", status, "", headers, payload)


class Script:
    """Plays the given outcomes in order, one per request, and keeps the requests."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[urllib.request.Request] = []
        self.waits: list[float] = []

    def open(self, request: urllib.request.Request, timeout: float) -> Answer:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, Answer)
        return outcome

    def client(self, module: ModuleType) -> Any:
        return module.Client(
            "http://talkstats.test", "Basic x", opener=self.open, sleep=self.waits.append
        )


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def test_429_and_503_wait_the_retry_after_then_resend_the_same_batch(script: ModuleType) -> None:
    played = Script(
        http_error(429, {"error": "TooManyRequests"}, retry_after="7"),
        http_error(503, {"error": "ServiceUnavailable"}, retry_after="5"),
        Answer(200, OK),
    )
    events = [{"id": "e1"}]
    assert played.client(script).send_events(events) == OK
    assert played.waits == [7.0, 5.0]
    assert len({r.data for r in played.requests}) == 1  # the same body each time


def test_a_lost_connection_is_resent_after_a_growing_pause(script: ModuleType) -> None:
    refused = urllib.error.URLError(ConnectionRefusedError(111, "refused"))
    played = Script(refused, TimeoutError("timed out"), refused, Answer(200, OK))
    assert played.client(script).send_events([{"id": "e1"}]) == OK
    assert played.waits == [1.0, 2.0, 4.0]


def test_an_error_retrying_cannot_fix_is_not_retried(script: ModuleType) -> None:
    played = Script(http_error(400, {"error": "InvalidValue", "description": "bad"}))
    with pytest.raises(script.RequestFailed, match="400"):
        played.client(script).send_events([{"id": "e1"}])
    assert played.waits == []


def test_it_gives_up_after_a_bounded_number_of_attempts(script: ModuleType) -> None:
    played = Script(*[http_error(503, {"error": "ServiceUnavailable"}, "5")] * script.MAX_ATTEMPTS)
    with pytest.raises(script.RequestFailed, match="gave up"):
        played.client(script).send_events([{"id": "e1"}])
    assert len(played.waits) == script.MAX_ATTEMPTS - 1


def test_a_duplicate_record_counts_as_already_there(script: ModuleType) -> None:
    duplicate = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"id": [{"description": "user id 7 already exists", "error": "DuplicateValue"}]},
    }
    played = Script(Answer(201, {"user": {"id": 7}}), http_error(422, duplicate))
    client = played.client(script)
    assert client.create("/api/v2/users", "user", {"id": 7}) == "created"
    assert client.create("/api/v2/users", "user", {"id": 7}) == "exists"


def test_every_moment_of_the_sample_log_becomes_the_worked_example(script: ModuleType) -> None:
    start = datetime.fromisoformat("2026-11-26T08:00:00+01:00")
    events = [script.to_event(n, record, start) for n, record in enumerate(script.SAMPLE_LOG, 1)]
    shown = worked_example.events()

    def without_ids(event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k not in ("id", "call_id")}

    assert [without_ids(e) for e in events] == [without_ids(e) for e in shown]
    assert len({e["id"] for e in events}) == len(events)
