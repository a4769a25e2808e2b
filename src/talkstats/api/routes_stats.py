"""The Zendesk Talk Stats endpoints (and the service-level extension).

Each handler parses its parameters before taking the projection lock, then reads the
projection synchronously: the domain's read functions combine running totals with the
intervals open at *now*, so a read is cheap and never awaits.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..domain import stats
from . import params
from .auth import Caller, dependencies
from .context import ApiContext
from .responses import json_response

BASE = "/api/v2/channels/voice/stats"
_IDS_HELP = "Comma-separated ids (1,2,3) or a bracketed list ([1,2,3]); at most 100; empty = all."
_DATE_HELP = "Extension: a past local day YYYY-MM-DD of the account (default: today)."


def router(ctx: ApiContext) -> APIRouter:
    agent, _ = dependencies(ctx)
    AgentCaller = Annotated[Caller, Depends(agent)]
    service = ctx.service
    r = APIRouter(tags=["Talk stats"])

    @r.get(f"{BASE}/account_overview", summary="Show Account Overview")
    async def account_overview(
        caller: AgentCaller,
        phone_number_ids: Annotated[str | None, Query(description=_IDS_HELP)] = None,
        date: Annotated[str | None, Query(description=_DATE_HELP)] = None,
    ) -> Response:
        ids = params.id_list("phone_number_ids", phone_number_ids)
        day = params.day(date)
        account = caller.account
        async with ctx.lock:
            p = service.projection(account)
            body = stats.account_overview(
                p,
                p.effective_now(service.clock()),
                plan=account.plan,
                date=day,
                phone_number_ids=ids,
            )
        return json_response({"account_overview": body})

    @r.get(f"{BASE}/agents_activity", summary="List Agents Activity")
    async def agents_activity(
        request: Request,
        caller: AgentCaller,
        group_ids: Annotated[str | None, Query(description=_IDS_HELP)] = None,
        page: Annotated[str | None, Query(description="1-based page number.")] = None,
        per_page: Annotated[str | None, Query(description="Rows per page, 1-100.")] = None,
        date: Annotated[str | None, Query(description=_DATE_HELP)] = None,
    ) -> Response:
        groups = params.id_list("group_ids", group_ids)
        pg = params.page(request)
        day = params.day(date)
        account = caller.account
        async with ctx.lock:
            p = service.projection(account)
            ordered = (
                p.directory.agent_ids()
                if groups is None
                else p.directory.agent_ids_in_groups(groups)
            )
            rows = stats.agents_activity(
                p,
                p.effective_now(service.clock()),
                plan=account.plan,
                agent_ids=pg.slice(ordered),
                date=day,
            )
        return json_response(params.paginated(request, "agents_activity", rows, len(ordered), pg))

    @r.get(f"{BASE}/agents_overview", summary="Show Agents Overview")
    async def agents_overview(
        caller: AgentCaller,
        date: Annotated[str | None, Query(description=_DATE_HELP)] = None,
    ) -> Response:
        day = params.day(date)
        account = caller.account
        async with ctx.lock:
            p = service.projection(account)
            body = stats.agents_overview(
                p, p.effective_now(service.clock()), plan=account.plan, date=day
            )
        return json_response({"agents_overview": body})

    @r.get(f"{BASE}/current_queue_activity", summary="Show Current Queue Activity")
    async def current_queue_activity(
        caller: AgentCaller,
        phone_number_ids: Annotated[str | None, Query(description=_IDS_HELP)] = None,
    ) -> Response:
        ids = params.id_list("phone_number_ids", phone_number_ids)
        async with ctx.lock:
            p = service.projection(caller.account)
            body = stats.current_queue_activity(
                p, p.effective_now(service.clock()), phone_number_ids=ids
            )
        return json_response({"current_queue_activity": body})

    @r.get(f"{BASE}/service_level", summary="Service level (extension)")
    async def service_level(
        caller: AgentCaller,
        threshold: Annotated[
            str | None, Query(description="Seconds, 0-86400 (default 20).")
        ] = None,
        phone_number_ids: Annotated[str | None, Query(description=_IDS_HELP)] = None,
        date: Annotated[str | None, Query(description=_DATE_HELP)] = None,
    ) -> Response:
        t = params.threshold(threshold)
        ids = params.id_list("phone_number_ids", phone_number_ids)
        day = params.day(date)
        async with ctx.lock:
            p = service.projection(caller.account)
            body = stats.service_level(
                p,
                p.effective_now(service.clock()),
                threshold=t,
                date=day,
                phone_number_ids=ids,
            )
        return json_response({"service_level": body})

    @r.get("/api/v2/ping", summary="Ping (benchmark baseline)")
    async def ping(caller: AgentCaller) -> Response:
        return json_response({"ping": "pong"})

    return r
