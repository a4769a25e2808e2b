"""Wallboard display links over the admin API: create, list, revoke.

A display link opens the wallboard of one account on a screen nobody signs in on
(``/wallboard/link#TOKEN``). Admins only. The token is shown once, in the create
response; it is never accepted by any ``/api/`` endpoint.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as FastApiPath
from starlette.responses import Response

from ..access.displays import DisplayLinkRecord, DisplayLinks
from ..domain.timeutil import format_instant
from . import bodies, params
from .auth import Caller, dependencies
from .context import ApiContext
from .errors import RecordInvalid
from .openapi import Body, json_body, operation
from .responses import json_response
from .schemas import MAX_ID

PATH = "/api/v2/wallboard/display_links"
WALLBOARD_LINK = "/wallboard/link"


def representation(link: DisplayLinkRecord) -> dict[str, Any]:
    """A display link as the API shows it (never its hash)."""
    return {
        "id": link.id,
        "description": link.description,
        "created_at": format_instant(link.created_at),
        "revoked_at": None if link.revoked_at is None else format_instant(link.revoked_at),
        "active": link.revoked_at is None,
    }


def link_url(request: Request, token: str) -> str:
    """Where a screen opens the wallboard: the token rides in the fragment, which a
    browser never sends to a server, so it stays out of access logs and Referer."""
    return f"{request.url.scheme}://{request.url.netloc}{WALLBOARD_LINK}#{token}"


def router(ctx: ApiContext) -> APIRouter:
    _, admin = dependencies(ctx)
    AdminCaller = Annotated[Caller, Depends(admin)]
    service = ctx.service
    links = DisplayLinks(service.store, hasher=service.hasher)
    r = APIRouter(tags=["Wallboard"])

    @r.post(
        PATH,
        status_code=201,
        summary="Create a wallboard display link",
        **operation(
            "DisplayLinkResponse",
            status=201,
            body=Body(json_body("DisplayLinkCreate").content, required=False),
            access="admin",
            errors=(422,),
        ),
    )
    async def create_display_link(request: Request, caller: AdminCaller) -> Response:
        # The body is optional: no body, {} and {"display_link": {...}} all create a link.
        raw = await request.body()
        body = await bodies.read_json(request) if raw else {}
        fields = bodies.record(body, "display_link") if body != {} else {}
        description = bodies.text(fields, "description", required=False, default="") or ""
        try:
            link, token = await ctx.blocking(
                links.create, caller.account.id, description, service.clock()
            )
        except ValueError as exc:
            raise RecordInvalid("description", str(exc)) from None
        shown = representation(link) | {"token": token, "url": link_url(request, token)}
        return json_response({"display_link": shown}, 201)

    @r.get(
        PATH,
        summary="List wallboard display links",
        **operation("DisplayLinksResponse", query=("page", "per_page"), access="admin"),
    )
    async def list_display_links(request: Request, caller: AdminCaller) -> Response:
        pg = params.page(request)
        found = await ctx.blocking(links.list, caller.account.id)
        shown = [representation(link) for link in pg.slice(found)]
        return json_response(params.paginated(request, "display_links", shown, len(found), pg))

    @r.delete(
        f"{PATH}/{{link_id}}",
        status_code=204,
        summary="Revoke a wallboard display link",
        **operation(
            None,
            status=204,
            path={"link_id": "The display link's id."},
            access="admin",
            description="Revoked: screens using it are signed out.",
        ),
    )
    async def revoke_display_link(
        link_id: Annotated[int, FastApiPath(ge=1, le=MAX_ID)], caller: AdminCaller
    ) -> Response:
        await ctx.blocking(links.revoke, caller.account.id, link_id, service.clock())
        return Response(status_code=204)

    return r
