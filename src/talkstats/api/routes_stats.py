"""The Zendesk Talk Stats endpoints (and the service-level and timeline extensions).

Each handler parses its parameters before taking the projection lock, then reads the
projection synchronously: the domain's read functions combine running totals with the
intervals open at *now*, so a read is cheap and never awaits.

The handlers take only the Request and call the auth check and the parsers in
``params`` themselves: FastAPI's dependency and parameter resolution cost about a third
of a stats request (bench/profiles/reads.txt), more than the statistics. The OpenAPI
document learns the parameters from ``openapi.operation`` instead.
"""

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain import stats
from . import params
from .auth import dependencies
from .context import ApiContext
from .openapi import operation
from .responses import json_response

BASE = "/api/v2/channels/voice/stats"


def router(ctx: ApiContext) -> APIRouter:
    agent, _ = dependencies(ctx)
    service = ctx.service
    r = APIRouter(tags=["Talk stats"])

    @r.get(
        f"{BASE}/account_overview",
        summary="Show Account Overview",
        **operation("AccountOverviewResponse", query=("phone_number_ids", "date")),
    )
    async def account_overview(request: Request) -> Response:
        caller = await agent(request)
        q = request.query_params
        ids = params.id_list("phone_number_ids", q.get("phone_number_ids"))
        day = params.day(q.get("date"))
        account = caller.account
        async with ctx.reading(account, day, ids) as p:
            body = stats.account_overview(
                p,
                p.effective_now(service.clock()),
                plan=account.plan,
                date=day,
                phone_number_ids=ids,
            )
        return json_response({"account_overview": body})

    @r.get(
        f"{BASE}/agents_activity",
        summary="List Agents Activity",
        **operation("AgentsActivityResponse", query=("group_ids", "page", "per_page", "date")),
    )
    async def agents_activity(request: Request) -> Response:
        caller = await agent(request)
        q = request.query_params
        groups = params.id_list("group_ids", q.get("group_ids"))
        pg = params.page(request)
        day = params.day(q.get("date"))
        account = caller.account
        async with ctx.reading(account, day) as p:
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

    @r.get(
        f"{BASE}/agents_overview",
        summary="Show Agents Overview",
        **operation("AgentsOverviewResponse", query=("date",)),
    )
    async def agents_overview(request: Request) -> Response:
        caller = await agent(request)
        day = params.day(request.query_params.get("date"))
        account = caller.account
        async with ctx.reading(account, day) as p:
            body = stats.agents_overview(
                p, p.effective_now(service.clock()), plan=account.plan, date=day
            )
        return json_response({"agents_overview": body})

    @r.get(
        f"{BASE}/current_queue_activity",
        summary="Show Current Queue Activity",
        **operation("CurrentQueueActivityResponse", query=("phone_number_ids",)),
    )
    async def current_queue_activity(request: Request) -> Response:
        caller = await agent(request)
        ids = params.id_list("phone_number_ids", request.query_params.get("phone_number_ids"))
        account = caller.account
        async with ctx.reading(account) as p:
            body = stats.current_queue_activity(
                p, p.effective_now(service.clock()), phone_number_ids=ids
            )
        return json_response({"current_queue_activity": body})

    @r.get(
        f"{BASE}/service_level",
        summary="Service level (extension)",
        **operation("ServiceLevelResponse", query=("threshold", "phone_number_ids", "date")),
    )
    async def service_level(request: Request) -> Response:
        caller = await agent(request)
        q = request.query_params
        t = params.threshold(q.get("threshold"))
        ids = params.id_list("phone_number_ids", q.get("phone_number_ids"))
        day = params.day(q.get("date"))
        account = caller.account
        async with ctx.reading(account, day, ids) as p:
            body = stats.service_level(
                p,
                p.effective_now(service.clock()),
                threshold=t,
                date=day,
                phone_number_ids=ids,
            )
        return json_response({"service_level": body})

    @r.get(
        f"{BASE}/timeline",
        summary="Timeline (extension)",
        **operation("TimelineResponse", query=("interval", "phone_number_ids", "date")),
    )
    async def timeline(request: Request) -> Response:
        caller = await agent(request)
        q = request.query_params
        minutes = params.interval(q.get("interval"))
        ids = params.id_list("phone_number_ids", q.get("phone_number_ids"))
        day = params.day(q.get("date"))
        account = caller.account
        async with ctx.reading(account, day, ids) as p:
            body = stats.timeline(
                p,
                p.effective_now(service.clock()),
                interval=minutes,
                date=day,
                phone_number_ids=ids,
            )
        return json_response({"timeline": body})

    @r.get("/api/v2/ping", summary="Ping (benchmark baseline)", **operation("PingResponse"))
    async def ping(request: Request) -> Response:
        await agent(request)  # authenticated like the stats, so the comparison is fair
        return json_response({"ping": "pong"})

    return r
