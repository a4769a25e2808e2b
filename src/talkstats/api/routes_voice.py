"""Talk reference endpoints: agent availabilities, phone numbers, groups, users, memberships.

Every record has a listing (paginated) and a page of its own at the ``url`` its JSON
carries (``GET /api/v2/users/7`` -> ``{"user": {...}}``; 404 RecordNotFound when the
account has no such record). Agents and admins may read them, as the statistics.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from ..domain import stats
from ..domain.projection import ONLINE_STATES
from ..service import BatchOutcome
from . import bodies, params
from . import representations as rep
from .auth import Caller, dependencies
from .context import ApiContext
from .errors import Forbidden, RecordInvalid, RecordNotFound
from .openapi import json_body, operation
from .responses import json_response
from .schemas import MAX_ID

AGENT_STATES = (*sorted(ONLINE_STATES), "offline")
VIA = ("client", "phone")
AGENT_ID = "The agent's user id (an agent or admin of the account)."
AgentId = Annotated[int, Path(ge=1, le=MAX_ID, description=AGENT_ID)]


def router(ctx: ApiContext) -> APIRouter:
    agent, _ = dependencies(ctx)
    AgentCaller = Annotated[Caller, Depends(agent)]
    service = ctx.service
    store = service.store
    r = APIRouter(tags=["Talk"])

    availability_path = "/api/v2/channels/voice/availabilities/{agent_id}"

    @r.get(
        availability_path,
        summary="Show Availability",
        **operation("AvailabilityResponse", path={"agent_id": AGENT_ID}),
    )
    async def get_availability(agent_id: AgentId, caller: AgentCaller) -> Response:
        async with ctx.lock(caller.account.id):
            p = ctx.projection(caller.account)
            if agent_id not in p.directory.agents:
                raise RecordNotFound()
            body = stats.availability(p, agent_id)
        return json_response({"availability": body})

    @r.put(
        availability_path,
        summary="Update Availability",
        description="An agent may set its own availability; an admin anyone's.",
        **operation(
            "AvailabilityResponse",
            description="The availability after the change.",
            path={"agent_id": AGENT_ID},
            body=json_body("AvailabilityUpdate"),
            errors=(422,),
        ),
    )
    async def put_availability(
        agent_id: AgentId, request: Request, caller: AgentCaller
    ) -> Response:
        if not caller.is_admin and caller.user.id != agent_id:
            raise Forbidden()  # an agent sets its own status; an admin anyone's
        wanted = bodies.record(await bodies.read_json(request), "availability")
        state = bodies.one_of(wanted, "agent_state", AGENT_STATES, default=None)
        via = bodies.one_of(wanted, "via", VIA, default="") or None
        account = caller.account
        async with ctx.lock(account.id):
            p = ctx.projection(account)
            if agent_id not in p.directory.agents:
                raise RecordNotFound()
            current = stats.availability(p, agent_id)
        if current["agent_state"] != state or (via is not None and current["via"] != via):
            assert state is not None
            outcome = await ctx.changing(
                account, service.set_availability, account, agent_id, agent_state=state, via=via
            )
            _raise_if_rejected(outcome)
        async with ctx.lock(account.id):
            body = stats.availability(ctx.projection(account), agent_id)
        return json_response({"availability": body})

    def listing(
        path: str,
        key: str,
        load: Callable[[int], Sequence[Any]],
        show: Callable[[str, Any], Any],
        summary: str,
        schema: str,
    ) -> None:
        @r.get(path, summary=summary, name=key, **operation(schema, query=("page", "per_page")))
        async def list_records(request: Request, caller: AgentCaller) -> Response:
            pg = params.page(request)
            records = await ctx.blocking(load, caller.account.id)
            base = rep.base_url(request)
            rows = [show(base, x) for x in pg.slice(list(records))]
            return json_response(params.paginated(request, key, rows, len(records), pg))

    def showing(
        path: str,
        key: str,
        load: Callable[[int], Sequence[Any]],
        show: Callable[[str, Any], Any],
        summary: str,
        schema: str,
    ) -> None:
        @r.get(
            path + "/{record_id}",
            summary=summary,
            name=key,
            **operation(schema, path={"record_id": "The record's id."}),
        )
        async def show_record(record_id: str, request: Request, caller: AgentCaller) -> Response:
            wanted = _record_id(record_id)
            records = await ctx.blocking(load, caller.account.id)
            found = next((x for x in records if x.id == wanted), None)
            if found is None:
                raise RecordNotFound()
            return json_response({key: show(rep.base_url(request), found)})

    kinds = (
        ("/api/v2/channels/voice/phone_numbers", "phone_number", "phone_numbers",
         store.list_phone_numbers, rep.phone_number, "Phone Numbers", "Phone Number", "PhoneNumber"),
        ("/api/v2/groups", "group", "groups", store.list_groups, rep.group, "Groups", "Group",
         "Group"),
        ("/api/v2/users", "user", "users", store.list_users, rep.user, "Users", "User", "User"),
        ("/api/v2/group_memberships", "group_membership", "group_memberships",
         store.list_memberships, rep.membership, "Memberships", "Membership", "GroupMembership"),
    )  # fmt: skip
    for path, one, many, load, show, plural, singular, schema in kinds:
        listing(path, many, load, show, f"List {plural}", f"{schema}sResponse")
        showing(path, one, load, show, f"Show {singular}", f"{schema}Response")
    return r


def _record_id(raw: str) -> int:
    """A record id from the path; anything that is not one names no record (404)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise RecordNotFound()
    return int(raw)


def _raise_if_rejected(outcome: BatchOutcome) -> None:
    for result in outcome.results:
        if result.status == "rejected":
            field = {"state": "agent_state"}.get(result.field or "", result.field or "base")
            raise RecordInvalid(field, result.error or "rejected")
