"""Operations: liveness and readiness probes (no account, no auth, no rate limit).

``/healthz`` never touches the store or a projection: it answers in milliseconds even
while accounts load or the store is down, so a liveness probe never kills a server
that is recovering. ``/readyz`` answers 200 only when the store is usable (the
database file is the one the server opened) and every account's projection is
loaded and the process trails the log by at most ``readyz_max_events_behind`` events;
otherwise 503 with ``Retry-After``, a Zendesk error body, and what is missing
(``status`` "loading" with the accounts still loading and the events they have left,
"behind", or "unavailable"). Both answers carry the process id and how many log
entries it has not folded yet (in total and per account), so that with several
processes a load balancer takes one that lags out of rotation.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ..store.base import StoreError, StoreLost
from .context import ApiContext
from .errors import LOADING_RETRY_AFTER, UNAVAILABLE_RETRY_AFTER
from .openapi import operation
from .responses import json_response

log = logging.getLogger("talkstats.api")


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(tags=["Operations"])
    service = ctx.service
    limit = service.settings.readyz_max_events_behind

    @r.get(
        "/healthz",
        summary="Liveness",
        **operation("HealthResponse", access="public", tenant=False),
    )
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @r.get(
        "/readyz",
        summary="Readiness: the store answers and every account is loaded",
        **operation("ReadinessResponse", access="public", tenant=False, errors={503: "NotReady"}),
    )
    async def readyz() -> Response:
        try:
            await ctx.blocking(service.check_store)
            accounts = await ctx.blocking(service.refresh_accounts)
        except StoreLost as exc:
            return _not_ready("unavailable", f"The store was lost: {_reason(exc)}.")
        except StoreError as exc:
            log.warning("readiness check failed: %s", exc)
            return _not_ready("unavailable", "The store cannot be reached.")
        except Exception:  # any failure means "not ready", never a 500
            log.exception("readiness check failed")
            return _not_ready("unavailable", "The store cannot be reached.")
        progress = {p.subdomain: p.events_left for p in service.loading()}
        waiting = [a for a in accounts if service.loaded(a) is None]
        if not waiting:
            return await _lag_or_ready()
        for account in waiting:
            ctx.request_load(account)
        loading = [
            {
                "account": a.subdomain,
                "state": "loading" if a.subdomain in progress else "queued",
                "events_left": progress.get(a.subdomain),
            }
            for a in waiting
        ]
        known = [n for n in progress.values() if n is not None]
        return _not_ready(
            "loading",
            f"{len(waiting)} of {len(accounts)} accounts are loading their statistics.",
            accounts_loading=loading,
            events_left=sum(known) if known else None,
            retry_after=LOADING_RETRY_AFTER,
        )

    async def _lag_or_ready() -> Response:
        """Ready, unless this process trails the log by more than the setting allows."""
        try:
            lag = await ctx.blocking(service.lag)
        except StoreError as exc:
            log.warning("readiness check failed: %s", exc)
            return _not_ready("unavailable", "The store cannot be reached.")
        behind = sum(lag.values())
        body = {"pid": os.getpid(), "events_behind": behind, "accounts_behind": lag}
        if 0 < limit < behind:
            return _not_ready(
                "behind",
                f"This process is {behind:,} events behind the log (more than {limit:,}); "
                "it is catching up.",
                retry_after=LOADING_RETRY_AFTER,
                **body,
            )
        return json_response({"status": "ready", **body})

    return r


def _reason(exc: StoreError) -> str:
    # "the database file '/x/ts.db' was removed while in use" -> without the path
    text = str(exc)
    for word in ("removed", "replaced"):
        if word in text:
            return f"its database file was {word} while the server ran; restart talkstats"
    return "see the server log"


def _not_ready(
    status: str, description: str, *, retry_after: int = UNAVAILABLE_RETRY_AFTER, **extra: Any
) -> Response:
    body = {"error": "ServiceUnavailable", "description": description, "status": status, **extra}
    return json_response(body, 503, {"Retry-After": str(retry_after)})
