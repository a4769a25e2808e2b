"""Operations: liveness and readiness probes (no account, no auth, no rate limit)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.responses import Response

from .context import ApiContext
from .errors import ServiceUnavailable
from .responses import json_response

log = logging.getLogger("talkstats.api")


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["Operations"])

    @r.get("/healthz", summary="Liveness")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @r.get("/readyz", summary="Readiness: the store answers")
    async def readyz() -> Response:
        try:
            await ctx.blocking(ctx.service.store.list_accounts)
        except Exception as exc:  # any failure means "not ready", never a 500
            log.warning("readiness check failed: %s", exc)
            return ServiceUnavailable("The store is not reachable.").response()
        return json_response({"status": "ready"})

    return r
