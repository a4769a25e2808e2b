"""Zendesk Talk's incremental exports: every call and every leg, changed since a time.

``GET /api/v2/channels/voice/stats/incremental/calls?start_time=UNIX_SECONDS`` (and
``/legs``) answers ``{"calls": [...], "count", "end_time", "next_page"}``: the records
updated at or after ``start_time``, oldest change first, a page of 1,000 (completed to
the end of its last second). ``next_page`` is never null: it is where the next page,
or the next poll, starts. It carries ``start_time=end_time`` and our extension
``after`` (the exact stamp of the last record served), so following it never returns
a record twice for the same change, and the page after the last is empty; a client
that keeps only ``end_time`` gets the records of that last second again (Zendesk's
rule: ``start_time`` is inclusive). The pages come from the store's record tables,
caught up with the log first (docs/api.md).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .auth import dependencies
from .context import ApiContext
from .errors import InvalidValue
from .openapi import operation
from .params import ORIGINAL_PATH
from .responses import json_response
from .text import is_blank, strip

BASE = "/api/v2/channels/voice/stats/incremental"
_UNSIGNED = re.compile(r"[0-9]{1,19}")
_MAX_START = 2**62 // 1_000_000_000  # seconds that fit our nanosecond stamps


def _whole(name: str, raw: str | None, *, required: bool, what: str) -> int | None:
    if raw is None or is_blank(raw):
        if required:
            raise InvalidValue(f"{name}: is required (Unix epoch seconds, e.g. 1547635159)")
        return None
    text = strip(raw)
    if not _UNSIGNED.fullmatch(text):
        raise InvalidValue(f"{name}: {raw!r} is not {what}")
    return int(text)


def start_time(raw: str | None) -> int:
    """The required ``start_time``: Unix seconds, 0 or more."""
    value = _whole("start_time", raw, required=True, what="a whole number of seconds since 1970")
    assert value is not None
    if value > _MAX_START:
        raise InvalidValue(f"start_time: {raw!r} is too far in the future")
    return value


def after(raw: str | None) -> int | None:
    """Our ``after`` extension, as ``next_page`` carries it (a record's exact stamp)."""
    value = _whole("after", raw, required=False, what="a stamp from a next_page URL")
    if value is not None and value >= 2**62:
        raise InvalidValue(f"after: {raw!r} is not a stamp from a next_page URL")
    return value


def next_page_url(request: Request, end_time: int, stamp: int | None) -> str:
    pairs = [("start_time", str(end_time))]
    if stamp is not None:
        pairs.append(("after", str(stamp)))
    path = request.scope.get(ORIGINAL_PATH, request.url.path)
    return str(request.url.replace(path=path, query=urlencode(pairs)))


def router(ctx: ApiContext) -> APIRouter:
    _, admin = dependencies(ctx)
    service = ctx.service
    r = APIRouter(tags=["Talk incremental exports"])

    async def export(request: Request, kind: str) -> Response:
        caller = await admin(request)
        q = request.query_params
        since = start_time(q.get("start_time"))
        stamp = after(q.get("after"))
        # The record tables follow the log apart from the projection: no account lock.
        page = await run_in_threadpool(service.export_page, caller.account, kind, since, stamp)
        return json_response(
            {
                kind: page.records,
                "count": len(page.records),
                "end_time": page.end_time,
                "next_page": next_page_url(request, page.end_time, page.after),
            }
        )

    @r.get(
        f"{BASE}/calls",
        summary="Incremental Calls Export",
        **operation("IncrementalCallsResponse", query=("start_time", "after"), access="admin"),
    )
    async def calls(request: Request) -> Response:
        return await export(request, "calls")

    @r.get(
        f"{BASE}/legs",
        summary="Incremental Call Legs Export",
        **operation("IncrementalLegsResponse", query=("start_time", "after"), access="admin"),
    )
    async def legs(request: Request) -> Response:
        return await export(request, "legs")

    return r
