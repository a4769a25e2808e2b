"""Schemathesis against the in-process app: every operation, authenticated, all checks.

The examples, coverage, fuzzing and stateful phases run for every operation of
/openapi.json, in positive and negative modes (30 examples an operation by default; the
slow variant runs 150 with other seeds), as the acme admin (Basic, or Bearer with an API token:
schemathesis picks among the operation's security alternatives). Rate limits are
lifted (the checks send thousands of requests; 429 is covered in test_openapi.py).
Three expectations are told to schemathesis rather than left to its defaults, each
because the API answers that way on purpose (docs/api.md):

- ingestion answers 200 to a batch whatever its events are: an event that breaks
  its schema is a ``rejected`` result naming the field, so a negative body is a 200;
- a create whose record is well formed can still be refused with 422 when it
  collides with a stored record (Zendesk's DuplicateValue) or names a group or user
  that does not exist; ``state_conflicts_only`` below checks that such a 422 names
  nothing but those, so a shape the document allows is never refused;
- a ``date`` after the account's today is refused (400): JSON Schema cannot say
  "not after today", so a generated future date is replaced by today.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import ChecksConfig, SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.python import asgi

from talkstats.api.app import create_app
from talkstats.service import Talkstats

from .conftest import ADMIN, DAY, build

TODAY = date.fromisoformat(DAY)
# The 422 descriptions that depend on stored records rather than on the request.
STATE = re.compile(r"already|not found|is not an agent")
CREATES = (
    "/api/v2/users",
    "/api/v2/groups",
    "/api/v2/group_memberships",
    "/api/v2/channels/voice/phone_numbers",
)
_DEFAULTS = ChecksConfig()
METRICS_TOKEN = "metrics-secret-for-schemathesis"


@schemathesis.check
def state_conflicts_only(ctx: Any, response: Any, case: Any) -> bool | None:
    """A well-formed record is refused with 422 only for what the store already holds."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    for name, problems in response.json().get("details", {}).items():
        for problem in problems:
            if problem["error"] != "DuplicateValue" and not STATE.search(problem["description"]):
                raise AssertionError(f"a well-formed {name} was refused: {problem['description']}")
    return None


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """One JSON document per line, as the document says the NDJSON body is."""
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in items).encode()


def _config(token: str, *, seed: int, max_examples: int) -> SchemathesisConfig:
    negative = _DEFAULTS.negative_data_rejection.expected_statuses
    positive = _DEFAULTS.positive_data_acceptance.expected_statuses
    return SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "auth": {
                "openapi": {
                    "basicAuth": {"username": ADMIN[0], "password": ADMIN[1]},
                    "bearerAuth": {"bearer": token},
                    "metricsToken": {"bearer": METRICS_TOKEN},
                }
            },
            "generation": {"max-examples": max_examples, "mode": "all"},
            "checks": {"enabled": True},
            "operations": [
                {
                    "include-path": "/api/v2/channels/voice/events",
                    "checks": {
                        "negative_data_rejection": {"expected-statuses": ["200", "413", *negative]}
                    },
                },
                {
                    "include-path": list(CREATES),
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["422", *positive]}
                    },
                },
            ],
        }
    )


def _no_future_dates(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    if query and isinstance(query.get("date"), str):
        try:
            day = date.fromisoformat(query["date"])
        except ValueError:
            return query
        if day > TODAY:
            query["date"] = TODAY.isoformat()
    return query


Schema = Callable[[int, int], Any]


@pytest.fixture
def openapi_schema(tmp_path: Path) -> Iterator[Schema]:
    """``make(seed, max_examples)``: the document of a fresh app, set up for schemathesis."""
    services: list[Talkstats] = []

    def make(seed: int, max_examples: int) -> Any:
        settings = {
            "default_account": "acme",
            "rate_limit_talk": 0,
            "rate_limit_queue_activity": 0,
            "rate_limit_incremental_exports": 0,
            "metrics_token": METRICS_TOKEN,
        }
        service, _, acme, _ = build(tmp_path, settings)
        services.append(service)
        _, token = service.create_api_token(acme, user_id=1, description="schemathesis")
        config = _config(token, seed=seed, max_examples=max_examples)
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service), config=config)
        schema.hook("map_query")(_no_future_dates)
        return schema

    yield make
    asgi.shutdown_lifespans()  # schemathesis started the apps' lifespans (background upkeep)
    for service in services:
        service.close()


@pytest.mark.announce
def test_every_operation_conforms(openapi_schema: Schema) -> None:
    """schemathesis: every operation, every phase and check, 30 examples each (a minute or two)"""
    _run(openapi_schema(1, 30))


@pytest.mark.slow
@pytest.mark.announce
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_every_operation_conforms_longer(openapi_schema: Schema, seed: int) -> None:
    """schemathesis: every operation, every phase and check, 150 examples each (minutes)"""
    _run(openapi_schema(seed, 150))


def _run(schema: Any) -> None:
    """Run every phase on every operation; fail with every problem found, each with a curl."""
    problems: list[str] = []
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            problems.append(f"{event.label} [{event.phase}]: {event.info.format()}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for interaction in event.recorder.interactions.values():
            if interaction.response is not None:
                request = interaction.request
                path = "/" + request.uri.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
                statuses[f"{request.method} {path}"][interaction.response.status_code] += 1
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    problems.append(
                        f"{event.label} [{event.phase}] {check.name}: {failure.title}\n"
                        f"{failure.message}\n{check.failure_info.code_sample}"
                    )
    assert not problems, f"{len(problems)} problems:\n\n" + "\n\n".join(sorted(set(problems)))
    # Every operation was called and succeeded at least once: the credentials work and
    # generated data reaches the handlers.
    for result in schema.get_all_operations():
        operation = result.ok()
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(operation.path))
        method = operation.method.upper()
        seen = [
            counts
            for label, counts in statuses.items()
            if label.startswith(f"{method} ") and re.fullmatch(pattern, label.split(" ", 1)[1])
        ]
        assert seen, f"{operation.label} was never called"
        assert any(status < 300 for counts in seen for status in counts), (operation.label, seen)
