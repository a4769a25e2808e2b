"""The OpenAPI document: complete, non-trivial, true to real responses; /docs offline.

The schemathesis suite (test_openapi_conformance.py) generates requests from the
document; these tests check what generation cannot reach: every route is in the
document, both plans' bodies match it, a 429 matches it, and the page needs no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from talkstats.api.app import create_app
from talkstats.domain.events import SPECS

from .conftest import OTHER_ADMIN, Env, basic

STATS = "/api/v2/channels/voice/stats"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
DOC_URI = "urn:talkstats:openapi"


def _doc(env: Env) -> dict[str, Any]:
    r = env.client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(doc: dict[str, Any], component: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{DOC_URI}#/components/schemas/{component}"}
    return Draft202012Validator(schema, registry=registry)


def _assert_valid(doc: dict[str, Any], component: str, body: Any) -> None:
    errors = [e.message for e in _validator(doc, component).iter_errors(body)]
    assert not errors, f"{component}: {errors}"


# --------------------------------------------------------------------------- completeness


def test_the_document_is_valid_openapi_3_1(env: Env) -> None:
    doc = _doc(env)
    assert doc["openapi"].startswith("3.1.")
    validate(doc)  # raises, naming the place, on any violation of the specification


def test_every_route_is_in_the_document(env: Env) -> None:
    doc = _doc(env)
    routes = {
        (method.lower(), route.path_format)
        for route in iter_route_contexts(create_app(env.service).routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    documented = {(method, path) for method, path, _ in _operations(doc)}
    assert routes == documented
    assert len(routes) >= 19


def test_every_operation_has_real_schemas(env: Env) -> None:
    doc = _doc(env)
    for method, path, op in _operations(doc):
        where = f"{method.upper()} {path}"
        success = [s for s in op["responses"] if s.startswith("2")]
        assert len(success) == 1, where
        response = _resolve(doc, op["responses"][success[0]])
        if success[0] == "204":  # revoking: no body
            assert "content" not in response and method == "delete", where
            continue
        if path == "/metrics":  # Prometheus' text format, with a token of its own
            assert list(response["content"]) == ["text/plain"], where
            assert op["security"] == [{"metricsToken": []}, {}], where
            continue
        assert list(response["content"]) == ["application/json"], where
        schema = _resolve(doc, response["content"]["application/json"]["schema"])
        assert schema["type"] == "object" and schema["properties"], where
        assert {"X-Rate-Limit", "X-Rate-Limit-Remaining"} <= set(response["headers"]), where
        for status, ref in op["responses"].items():
            body = _resolve(doc, ref)
            assert body.get("description"), (where, status)
            if not status.startswith("2"):
                error = _resolve(doc, body["content"]["application/json"]["schema"])
                assert "error" in error["required"], (where, status)
        if method in ("post", "put"):
            content = op["requestBody"]["content"]
            assert all(_resolve(doc, c["schema"]) for c in content.values()), where
    text = str(doc)
    assert "HTTPValidationError" not in text
    assert "application/json; charset=utf-8" not in text


def test_error_statuses_follow_the_operation(env: Env) -> None:
    doc = _doc(env)
    for method, path, op in _operations(doc):
        statuses = set(op["responses"])
        where = f"{method.upper()} {path}"
        if path.startswith("/api/"):
            assert {"401", "403", "404", "429", "503"} <= statuses, where
            assert op["security"] == [{"basicAuth": []}, {"bearerAuth": []}], where
        elif path == "/metrics":
            assert {"401", "403"} <= statuses and "429" not in statuses, where
        else:
            assert op["security"] == [] and not {"401", "403", "429"} & statuses, where
        if op.get("parameters") or "requestBody" in op:
            assert "400" in statuses, where
        if "requestBody" in op:
            assert "413" in statuses, where
        assert "422" not in statuses or method in ("post", "put"), where
    schemes = doc["components"]["securitySchemes"]
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    for name in ("TooManyRequests", "ServiceUnavailable"):
        assert "Retry-After" in doc["components"]["responses"][name]["headers"]


def test_stats_parameters_are_described(env: Env) -> None:
    doc = _doc(env)
    activity = doc["paths"][f"{STATS}/agents_activity"]["get"]
    names = [p["name"] for p in activity["parameters"]]
    assert names == ["group_ids", "page", "per_page", "date"]
    ids = activity["parameters"][0]
    assert ids["schema"]["type"] == "array" and ids["explode"] is False
    assert ids["schema"]["maxItems"] == 100


def test_event_union_comes_from_specs(env: Env) -> None:
    doc = _doc(env)
    schemas = doc["components"]["schemas"]
    event = schemas["Event"]
    mapping = event["discriminator"]["mapping"]
    assert event["discriminator"]["propertyName"] == "type"
    assert list(mapping) == list(SPECS)
    for kind, target in mapping.items():
        schema = _resolve(doc, {"$ref": target})
        assert schema["properties"]["type"] == {"type": "string", "const": kind}
        assert set(schema["properties"]) == {"id", "type", "time", *SPECS[kind]}
        assert schema["additionalProperties"] is False
    body = doc["paths"]["/api/v2/channels/voice/events"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-ndjson"}
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 10_000


# --------------------------------------------------------------------------- true to bodies


@pytest.mark.parametrize("plan", ["professional", "team"])
def test_stats_bodies_match_the_document_on_both_plans(env: Env, plan: str) -> None:
    doc = _doc(env)
    if plan == "professional":
        get = env.get
    else:

        def get(path: str) -> Any:
            host = {"Host": "other.talkstats.test"}
            return env.client.get(path, headers={**basic(*OTHER_ADMIN), **host})

    for name, component in (
        ("account_overview", "AccountOverviewResponse"),
        ("agents_activity", "AgentsActivityResponse"),
        ("agents_overview", "AgentsOverviewResponse"),
        ("current_queue_activity", "CurrentQueueActivityResponse"),
        ("service_level", "ServiceLevelResponse"),
    ):
        r = get(f"{STATS}/{name}")
        assert r.status_code == 200, r.text
        _assert_valid(doc, component, r.json())


@pytest.mark.parametrize(
    ("path", "component", "key"),
    [
        (f"{STATS}/account_overview", "AccountOverviewResponse", "account_overview"),
        (f"{STATS}/agents_overview", "AgentsOverviewResponse", "agents_overview"),
        (f"{STATS}/agents_activity", "AgentActivity", "agents_activity"),
    ],
)
def test_professional_fields_are_marked(env: Env, path: str, component: str, key: str) -> None:
    doc = _doc(env)
    schema = _resolve(doc, {"$ref": f"#/components/schemas/{component}"})
    if key in schema["properties"]:
        schema = schema["properties"][key]
    marked = {n for n, p in schema["properties"].items() if "x-plans" in p}
    team_headers = {**basic(*OTHER_ADMIN), "Host": "other.talkstats.test"}
    if key == "agents_activity":
        pro = env.get(path).json()[key][0]
        team_user = {"user": {"name": "Team Agent", "email": "t@other.test", "role": "agent"}}
        created = env.client.post("/api/v2/users", json=team_user, headers=team_headers)
        assert created.status_code == 201
        team = env.client.get(path, headers=team_headers).json()[key][0]
    else:
        pro = env.get(path).json()[key]
        team = env.client.get(path, headers=team_headers).json()[key]
    assert marked == set(pro) - set(team)
    assert set(team) == set(schema["required"])


def test_records_and_ingestion_match_the_document(env: Env) -> None:
    doc = _doc(env)
    for path, component in (
        ("/api/v2/users", "UsersResponse"),
        ("/api/v2/groups", "GroupsResponse"),
        ("/api/v2/channels/voice/phone_numbers", "PhoneNumbersResponse"),
        ("/api/v2/channels/voice/availabilities/2", "AvailabilityResponse"),
        ("/api/v2/ping", "PingResponse"),
        ("/healthz", "HealthResponse"),
        ("/readyz", "ReadinessResponse"),
    ):
        _assert_valid(doc, component, env.get(path).json())
    token = env.post("/api/v2/api_tokens")
    assert token.status_code == 201
    _assert_valid(doc, "ApiTokenResponse", token.json())
    event = {"id": "e1", "type": "agent.state_changed", "time": "2026-11-26T07:00:00Z"}
    batch = {"events": [{**event, "agent_id": 2, "state": "online"}, event, {"id": 5}]}
    _assert_valid(doc, "EventBatch", {"events": batch["events"][:1]})
    ingested = env.post("/api/v2/channels/voice/events", json=batch)
    assert ingested.status_code == 200
    _assert_valid(doc, "IngestionResponse", ingested.json())


def test_errors_match_the_document(make_env: Callable[..., Env]) -> None:
    env = make_env(rate_limit_talk=2, rate_limit_window_seconds=60)
    doc = _doc(env)
    assert env.get(f"{STATS}/agents_overview?date=nope").status_code == 400
    unauthorized = env.get(f"{STATS}/agents_overview", who="none")
    _assert_valid(doc, "UnauthorizedError", unauthorized.json())
    limited = env.get(f"{STATS}/agents_overview")
    assert limited.status_code == 429
    _assert_valid(doc, "TooManyRequestsError", limited.json())
    assert int(limited.headers["retry-after"]) >= 1
    other = make_env()
    invalid = other.post("/api/v2/groups", json={"group": {"name": " "}})
    assert invalid.status_code == 422
    _assert_valid(doc, "RecordInvalidError", invalid.json())
    bad = other.get(f"{STATS}/agents_activity?page=0")
    _assert_valid(doc, "BadRequestError", bad.json())


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v2/users", "GET, OPTIONS, POST"),
        ("/api/v2/channels/voice/phone_numbers", "GET, OPTIONS, POST"),
        ("/api/v2/channels/voice/availabilities/2", "GET, OPTIONS, PUT"),
        ("/api/v2/channels/voice/events", "OPTIONS, POST"),
        (f"{STATS}/account_overview.json", "GET, OPTIONS"),
    ],
)
def test_allow_lists_every_method_of_the_path(env: Env, path: str, allow: str) -> None:
    options = env.client.request("OPTIONS", path)
    assert options.status_code == 204 and options.content == b""
    assert options.headers["allow"] == allow
    wrong = env.client.request("DELETE", path, headers=env.headers["admin"])
    assert wrong.status_code == 405 and wrong.headers["allow"] == allow
    assert wrong.json()["error"] == "MethodNotAllowed"


def test_options_on_an_unknown_path_is_404(env: Env) -> None:
    assert env.client.request("OPTIONS", "/api/v2/nope").status_code == 404


# --------------------------------------------------------------------------- /docs offline


def test_docs_page_loads_only_local_assets(env: Env) -> None:
    page = env.client.get("/docs")
    assert page.status_code == 200
    assert not re.findall(r"https?://", page.text), "the page must not reach the network"
    assets = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "favicon.png",
    }
    for asset in assets:
        r = env.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000, asset
    assert "url: '/openapi.json'" in page.text
