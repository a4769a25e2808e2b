"""The OpenAPI document: how an operation declares itself, and how the document is built.

A route declares what FastAPI cannot see (most handlers read their own parameters and
return ready-made responses, for speed) by spreading ``operation(...)`` into its
decorator::

    @r.get(path, summary="Show Account Overview",
           **operation("AccountOverviewResponse", query=("phone_number_ids", "date")))

``operation`` names the success body (a schema of ``schemas.py``), the query
parameters, the request body and who may call, and derives the error responses the
operation can give from that: 401/403 when it needs credentials, 400 when it reads
parameters or a body, 413 with a body, 404/429/503 for every ``/api/`` path. ``install``
replaces FastAPI's document builder with one that adds the components (schemas,
responses, headers, security schemes) and drops what FastAPI guesses wrongly here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from .errors import UNAVAILABLE_RETRY_AFTER
from .params import MAX_IDS, MAX_PER_PAGE, MAX_THRESHOLD
from .responses import MEDIA_TYPE
from .schemas import MAX_ID, MAX_QUERY_INT, Schema, components, ref
from .text import SPACE_CLASS

JSON = "application/json"
NDJSON = "application/x-ndjson"
Access = Literal["public", "agent", "admin"]

SECURITY_SCHEMES: dict[str, Schema] = {
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": (
            "`email:password`, or `email/token:API_TOKEN` with an API token of the account "
            "(POST /api/v2/api_tokens)."
        ),
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer API_TOKEN`: an API token of the account.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "GET /metrics only: `Authorization: Bearer METRICS_TOKEN`, the `metrics_token` "
            "setting. Without that setting, /metrics answers local requests only."
        ),
    },
}
_SECURITY: list[dict[str, list[str]]] = [{"basicAuth": []}, {"bearerAuth": []}]

_INTEGER = {"type": "integer", "format": "int64"}
HEADERS: dict[str, Schema] = {
    "X-Rate-Limit": {
        "description": "Requests allowed per window to this endpoint's bucket (2147483647: no limit).",
        "required": True,
        "schema": {**_INTEGER, "minimum": 0},
    },
    "X-Rate-Limit-Remaining": {
        "description": "Requests left in the current window.",
        "required": True,
        "schema": {**_INTEGER, "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": 'The Basic challenge, `Basic realm="Web Password"`.',
        "required": True,
        "schema": {"type": "string"},
    },
}


def _headers(*extra: str) -> dict[str, Schema]:
    names = ("X-Rate-Limit", "X-Rate-Limit-Remaining", *extra)
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _error_response(description: str, schema: str, *headers: str) -> Schema:
    return {
        "description": description,
        "headers": _headers(*headers),
        "content": {JSON: {"schema": ref(schema)}},
    }


# Responses an operation names for itself (``operation(errors={503: "NotReady"})``).
OWN_RESPONSES: dict[str, Schema] = {
    "MetricsUnauthorized": _error_response(
        "metrics_token is set and the request does not carry it as a Bearer token.",
        "MetricsUnauthorizedError",
        "WWW-Authenticate",
    ),
    "MetricsForbidden": _error_response(
        "No metrics_token is set, and the request is not a local one (or a proxy forwarded it).",
        "ForbiddenError",
    ),
    "NotReady": _error_response(
        "Not ready: the store cannot be reached (`status: unavailable`), or accounts are "
        "still loading their statistics (`status: loading`, with their progress).",
        "NotReadyError",
        "Retry-After",
    ),
}

# Status -> (component name, response). Operations refer to these by name.
ERROR_RESPONSES: dict[int, tuple[str, Schema]] = {
    400: (
        "BadRequest",
        _error_response(
            "A parameter or the body is not acceptable: InvalidValue (the description names it), "
            "or TooManyValues (more than 100 ids).",
            "BadRequestError",
        ),
    ),
    401: (
        "Unauthorized",
        _error_response(
            "No credentials, or credentials that do not prove a user of this account.",
            "UnauthorizedError",
            "WWW-Authenticate",
        ),
    ),
    403: (
        "Forbidden",
        _error_response(
            "The user's role may not do this (end users never; agents read, admins also write).",
            "ForbiddenError",
        ),
    ),
    404: (
        "NotFound",
        _error_response("No such record, or the Host header names no account.", "NotFoundError"),
    ),
    413: (
        "PayloadTooLarge",
        _error_response(
            "The body is larger than max_request_bytes, or holds more than max_batch_events events.",
            "PayloadTooLargeError",
        ),
    ),
    422: (
        "RecordInvalid",
        _error_response(
            "A field of the record is missing, malformed or collides with an existing record; "
            "`details` names each field.",
            "RecordInvalidError",
        ),
    ),
    429: (
        "TooManyRequests",
        _error_response(
            "The account's rate limit is used up; retry after Retry-After seconds.",
            "TooManyRequestsError",
            "Retry-After",
        ),
    ),
    503: (
        "ServiceUnavailable",
        _error_response(
            f"The store or the event log cannot be reached right now; retry after Retry-After "
            f"seconds (usually {UNAVAILABLE_RETRY_AFTER}).",
            "ServiceUnavailableError",
            "Retry-After",
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter that a handler reads itself (``params.py``)."""

    name: str
    schema: Schema
    description: str
    explode: bool | None = None  # False for comma-separated lists
    required: bool = False

    def parameter(self) -> Schema:
        out: Schema = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "schema": self.schema,
            "description": self.description,
        }
        if self.explode is not None:
            out["style"], out["explode"] = "form", self.explode
        return out


def _ids(what: str) -> Query:
    return Query(
        f"{what}_ids",
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_QUERY_INT},
            "maxItems": MAX_IDS,
        },
        f"Only these {what.replace('_', ' ')}s: comma-separated ids (1,2,3), also accepted as a "
        f"bracketed list ([1,2,3]); at most {MAX_IDS}; empty means all.",
        explode=False,
    )


# A blank value (empty or spaces) is the same as leaving a parameter out, as Zendesk's
# own code samples send `phone_number_ids=`; id lists say so as an empty array.
_BLANK: Schema = {
    "type": "string",
    "pattern": f"^[{SPACE_CLASS}]*$",
    "description": "Blank: the default.",
}


def _or_blank(schema: Schema) -> Schema:
    return {"anyOf": [schema, _BLANK]}


def _path_parameter(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "description": description,
    }


def _positive(default: int) -> Schema:
    return _or_blank(
        {"type": "integer", "minimum": 1, "maximum": MAX_QUERY_INT, "default": default}
    )


QUERY: dict[str, Query] = {
    q.name: q
    for q in (
        _ids("phone_number"),
        _ids("group"),
        Query("page", _positive(1), "1-based page number; past the last page, the list is empty."),
        Query(
            "per_page",
            _positive(MAX_PER_PAGE),
            f"Rows per page; more than {MAX_PER_PAGE} is served as {MAX_PER_PAGE}.",
        ),
        Query(
            "date",
            # 1970 or later: no earlier day can hold an event (1969-12-31 can, west of UTC).
            _or_blank(
                {"type": "string", "format": "date", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-"}
            ),
            "Extension: the statistics of a whole past local day of the account, YYYY-MM-DD "
            "(default today). A day after today, or before 1970-01-01 (1969-12-31 is "
            "accepted for an account west of UTC), is a 400.",
        ),
        Query(
            "start_time",
            {"type": "integer", "minimum": 0, "maximum": 2**62 // 1_000_000_000},
            "Incremental exports: Unix epoch seconds; records updated at or after it.",
            required=True,
        ),
        Query(
            "after",
            _or_blank({"type": "integer", "minimum": 0, "maximum": 2**62 - 1}),
            "Extension, set in next_page: skip records up to this exact stamp.",
        ),
        Query(
            "interval",
            _or_blank(
                {"type": "string", "enum": ["5m", "15m", "30m", "60m", "1h"], "default": "15m"}
            ),
            "Extension (timeline): the length of each interval.",
        ),
        Query(
            "threshold",
            _or_blank({"type": "integer", "minimum": 0, "maximum": MAX_THRESHOLD, "default": 20}),
            "Seconds within which an answer counts as in service level.",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: its content by media type, and whether it may be left out."""

    content: Mapping[str, Schema]
    required: bool = True
    description: str | None = None

    def request_body(self) -> Schema:
        out: Schema = {
            "required": self.required,
            "content": {media: {"schema": schema} for media, schema in self.content.items()},
        }
        if self.description:
            out["description"] = self.description
        return out


def json_body(schema: str, *, required: bool = True) -> Body:
    """A JSON body holding the component schema ``schema``."""
    return Body({JSON: ref(schema)}, required=required)


def operation(
    response: str | None,
    *,
    status: int = 200,
    description: str = "",
    query: Iterable[str] = (),
    path: Mapping[str, str] | None = None,
    body: Body | None = None,
    access: Access = "agent",
    errors: Iterable[int] | Mapping[int, str] = (),
    tenant: bool = True,
) -> dict[str, Any]:
    """Decorator keywords (``responses``, ``openapi_extra``) that describe one operation.

    ``response`` is the success body's component schema (None: no body); ``errors`` adds statuses the
    rules below do not imply (422, a 404 for an unknown record), or maps a status to a
    response component of its own (``{503: "NotReady"}``). ``tenant`` is true for
    every ``/api/`` path: those can answer 404 (no account for the Host), 429 and 503.
    ``path`` describes the path's parameters, all record ids (name -> description).
    """
    own = dict(errors) if isinstance(errors, Mapping) else {}
    statuses = set(errors)
    params = [QUERY[name].parameter() for name in query]
    if path:
        params += [_path_parameter(name, text) for name, text in path.items()]
    if params or body is not None:
        statuses.add(400)
    if body is not None:
        statuses.add(413)
    if access != "public":
        statuses |= {401, 403}
    if tenant:
        statuses |= {404, 429, 503}
    success: dict[str, Any] = {"description": description or "Success.", "headers": _headers()}
    if response is not None:  # None: no body (a 204)
        success["content"] = {JSON: {"schema": ref(response)}}
    responses: dict[int | str, Any] = {status: success}
    for code in sorted(statuses):
        name = own.get(code) or ERROR_RESPONSES[code][0]
        responses[code] = {"$ref": f"#/components/responses/{name}"}
    extra: dict[str, Any] = {}
    if params:
        extra["parameters"] = params
    if body is not None:
        extra["requestBody"] = body.request_body()
    extra["security"] = _SECURITY if access != "public" else []
    if access != "public":  # Zendesk's "Allowed for": the roles the 403 leaves in
        extra["x-allowed-for"] = ["agent", "admin"] if access == "agent" else ["admin"]
    return {"responses": responses, "openapi_extra": extra}


def metrics_operation(description: str) -> dict[str, Any]:
    """Decorator keywords of GET /metrics: Prometheus text, its own token, no tenant."""
    return {
        "response_class": Response,
        "responses": {
            200: {
                "description": description,
                "content": {
                    "text/plain": {
                        "schema": {
                            "type": "string",
                            "description": "The Prometheus text format 0.0.4 (OpenMetrics 1.0 "
                            "when the Accept header asks for application/openmetrics-text).",
                        }
                    }
                },
            },
            401: {"$ref": "#/components/responses/MetricsUnauthorized"},
            403: {"$ref": "#/components/responses/MetricsForbidden"},
        },
        "openapi_extra": {"security": [{"metricsToken": []}, {}]},
    }


# --- the document ----------------------------------------------------------------------

_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_PLACEHOLDER = {"schema": {"type": "string"}}


def build(app: FastAPI, *, max_batch_events: int) -> dict[str, Any]:
    """FastAPI's document of ``app``, completed with our components and cleaned."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path_item in doc.get("paths", {}).values():
        for op in path_item.values():
            _clean(op.get("responses", {}))
            if "parameters" in op:  # FastAPI's own entry for a path parameter, then ours
                op["parameters"] = list(
                    {(p["in"], p["name"]): p for p in op["parameters"]}.values()
                )
    parts = doc.setdefault("components", {})
    found = parts.setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        found.pop(name, None)
    found.update(components(max_batch_events=max_batch_events))
    parts["responses"] = {name: response for name, response in ERROR_RESPONSES.values()}
    parts["responses"].update(OWN_RESPONSES)
    parts["headers"] = HEADERS
    parts["securitySchemes"] = SECURITY_SCHEMES
    return doc


def _clean(responses: dict[str, Any]) -> None:
    """Drop what FastAPI adds on its own guesses.

    FastAPI puts the status text beside each referenced response, describes each
    handler's response as a string of the response class's media type (it cannot see
    what a handler returns), and adds a 422 of its own validation
    error shape wherever it parses a parameter; we answer such errors with 400 instead.
    """
    for status, response in list(responses.items()):
        if "$ref" in response:  # FastAPI's status text would hide the component's own
            response.pop("description", None)
        content = response.get("content", {})
        if content.get(MEDIA_TYPE) == _FASTAPI_PLACEHOLDER and len(content) > 1:
            del content[MEDIA_TYPE]
        schema = content.get(JSON, {}).get("schema", {})
        if status == "422" and schema.get("$ref", "").endswith("/HTTPValidationError"):
            del responses[status]


def install(app: FastAPI, *, max_batch_events: int) -> None:
    """Serve ``build``'s document at ``app.openapi_url`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, max_batch_events=max_batch_events)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
