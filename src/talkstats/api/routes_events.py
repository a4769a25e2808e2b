"""Event ingestion (docs/events.md): one event, ``{"events": [...]}``, or NDJSON.

A NDJSON line that is not JSON is a rejected result at its index, not a failed
request; blank lines are skipped and do not take an index. The batch runs in a worker
thread, which takes the account's lock only to check, fold and append it (one fsynced
transaction): api/context.py, ``changing``.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..domain.reasons import MALFORMED
from ..service import BatchOutcome, EventOutcome
from .auth import Caller, dependencies
from .bodies import read_json
from .context import ApiContext
from .errors import InvalidValue, PayloadTooLarge
from .openapi import JSON, NDJSON, Body, operation
from .responses import json_response
from .schemas import ref

NDJSON_TYPES = frozenset((NDJSON, "application/ndjson", "application/jsonl"))
NDJSON_HINT = (
    "If the body is NDJSON (one event per line), send it with Content-Type: application/x-ndjson."
)
EVENTS_BODY = Body(
    {
        JSON: {"oneOf": [ref("Event"), ref("EventBatch")]},
        NDJSON: {
            "type": "array",
            "items": ref("Event"),
            "minItems": 1,
            "description": "One event object per line; blank lines are skipped.",
        },
    }
)


class _BadLine:
    """A NDJSON line that did not decode; it becomes a rejected result."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def router(ctx: ApiContext) -> APIRouter:
    _, admin = dependencies(ctx)
    AdminCaller = Annotated[Caller, Depends(admin)]
    service = ctx.service
    most = service.settings.max_batch_events
    r = APIRouter(tags=["Events"])

    @r.post(
        "/api/v2/channels/voice/events",
        summary="Ingest events",
        description=(
            'Body: one event object, `{"events": [...]}` (1 to max_batch_events), or '
            "NDJSON with `Content-Type: application/x-ndjson` (also application/ndjson, "
            "application/jsonl). Every event gets a result: the answer is 200 whatever "
            "each event's outcome, and an event that breaks its schema is a `rejected` "
            "result naming the field, not a failed request."
        ),
        **operation(
            "IngestionResponse",
            description="One result per event, in order, and the counts.",
            body=EVENTS_BODY,
            access="admin",
        ),
    )
    async def ingest(request: Request, caller: AdminCaller) -> Response:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type in NDJSON_TYPES:
            items = _ndjson(await request.body())
        else:
            items = _json_events(await read_json(request, several_documents_hint=NDJSON_HINT))
        if not items:
            raise InvalidValue(f"The request holds no events; send 1 to {most}.")
        if len(items) > most:
            raise PayloadTooLarge(
                f"{len(items)} events in one request; at most {most} are accepted. Split the batch."
            )
        objs = [item for item in items if not isinstance(item, _BadLine)]
        account = caller.account
        if not service.ever_loaded(account):
            # 503 while the statistics load the first time; a rebuild after that (a
            # batch that found the log moved) runs inside the batch's own call
            ctx.projection(account)
        outcome = (
            await ctx.changing(account, service.ingest, account, objs)
            if objs
            else BatchOutcome([], 0, 0, 0)
        )
        if len(objs) < len(items):  # NDJSON lines that are not JSON: rejected here
            service.telemetry.rejected(account.subdomain, MALFORMED, len(items) - len(objs))
        return json_response(_merge(items, outcome))

    return r


def _json_events(body: Any) -> list[Any]:
    if isinstance(body, dict) and "events" in body:
        events = body["events"]
        if not isinstance(events, list):
            raise InvalidValue('"events" must be a JSON array of event objects.')
        return events
    if isinstance(body, dict):
        return [body]
    raise InvalidValue('The body must be one event object or {"events": [...]}.')


def _ndjson(raw: bytes) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            items.append(_BadLine(f"line {number}: not valid JSON: {exc}"))
            continue
        if isinstance(obj, dict):
            items.append(obj)
        else:
            message = f"line {number}: an event must be a JSON object, got {_kind(obj)}"
            items.append(_BadLine(message))
    return items


def _kind(obj: object) -> str:
    """A decoded JSON value's kind, in JSON's words."""
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    if isinstance(obj, int | float):
        return "a number"
    return "a string" if isinstance(obj, str) else "an array"


def _result(r: EventOutcome, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "id": r.id, "status": r.status}
    if r.status == "rejected":
        out["error"] = r.error
        out["field"] = r.field
    return out


def _merge(items: list[Any], outcome: BatchOutcome) -> dict[str, Any]:
    """The service's results for the decodable items, with bad lines in their places."""
    results = []
    service_results = iter(outcome.results)
    bad = 0
    for index, item in enumerate(items):
        if isinstance(item, _BadLine):
            bad += 1
            results.append(
                {
                    "index": index,
                    "id": None,
                    "status": "rejected",
                    "error": item.message,
                    "field": None,
                }
            )
        else:
            results.append(_result(next(service_results), index))
    return {
        "results": results,
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": outcome.rejected + bad,
    }
