"""Schemathesis against the in-process app: every operation, authenticated, all checks.

The examples, coverage and fuzzing phases run for every operation of /openapi.json,
in positive and negative modes, as the acme admin (Basic, or Bearer with an API token:
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
  "not after today", so generated future dates are moved back into the past.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
)
from schemathesis.engine import Status, events

from talkstats.api.app import create_app

from .conftest import ADMIN, DAY, build

MAX_EXAMPLES = int(os.environ.get("OA_MAX", "30"))
TODAY = date.fromisoformat(DAY)
# The 422 descriptions that depend on stored records rather than on the request.
STATE = re.compile(r"already|not found|is not an agent")
CREATES = (
    "/api/v2/users",
    "/api/v2/groups",
    "/api/v2/group_memberships",
    "/api/v2/channels/voice/phone_numbers",
)


@schemathesis.check
def state_conflicts_only(ctx: Any, response: Any, case: Any) -> bool | None:
    """A well-formed record refused with 422 only for what the store holds."""
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


def _config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": int(os.environ.get("OA_SEED", "1")),
            "auth": {
                "openapi": {
                    "basicAuth": {"username": ADMIN[0], "password": ADMIN[1]},
                    "bearerAuth": {"bearer": token},
                }
            },
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
            "checks": {"enabled": True},
            "operations": [
                {
                    "include-path": "/api/v2/channels/voice/events",
                    "checks": {
                        "negative_data_rejection": {
                            "expected-statuses": [
                                "200",
                                "413",
                                *NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
                            ]
                        }
                    },
                },
                {
                    "include-path": list(CREATES),
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [
                                "422",
                                *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
                            ]
                        }
                    },
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def openapi_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("conformance")
    service, clock, acme, _ = build(
        tmp, {"default_account": "acme", "rate_limit_talk": 0, "rate_limit_queue_activity": 0}
    )
    _, token = service.create_api_token(acme, user_id=1, description="schemathesis")
    app = create_app(service)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(token))

    @schema.hook
    def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
        if query and isinstance(query.get("date"), str):
            try:
                day = date.fromisoformat(query["date"])
            except ValueError:
                return query
            if day > TODAY:
                query["date"] = day.replace(year=TODAY.year - 1).isoformat()
        return query

    yield schema
    service.close()


def test_every_operation_conforms(openapi_schema: Any) -> None:
    problems: list[str] = []
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for event in schemathesis.engine.from_schema(openapi_schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            problems.append(f"{event.label} [{event.phase}]: {event.info.format()}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for interaction in event.recorder.interactions.values():
            if interaction.response is not None:
                request = interaction.request
                path = request.uri.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
                statuses[f"{request.method} /{path}"][interaction.response.status_code] += 1
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    problems.append(
                        f"{event.label} [{event.phase}] {check.name}: {failure.title}\n"
                        f"{failure.message}\n{check.failure_info.code_sample}"
                    )
    import os

    if os.environ.get("OA_STATS"):
        Path("/tmp/oa_stats.txt").write_text(
            "\n".join(f"{k}: {dict(v)}" for k, v in sorted(statuses.items()))
        )
    assert not problems, f"{len(problems)} problems:\n\n" + "\n\n".join(sorted(set(problems)))
    # Every operation was called, and answered with success at least once: the
    # credentials work and the generated data reaches the handlers.
    for op in openapi_schema.get_all_operations():
        operation = op.ok()
        concrete = [
            counts
            for label, counts in statuses.items()
            if _matches(operation.method.upper(), operation.path, label)
        ]
        assert concrete, f"{operation.label} was never called"
        assert any(status < 300 for counts in concrete for status in counts), (
            f"{operation.label} never succeeded: {concrete}"
        )


def _matches(method: str, template: str, label: str) -> bool:
    sent_method, _, path = label.partition(" ")
    pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
    return sent_method == method and re.fullmatch(pattern, path) is not None
