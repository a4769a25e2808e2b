"""Administration: create users, groups, memberships, phone numbers and API tokens.

Admins only. Zendesk-shaped bodies in and out (``{"user": {...}}`` -> 201
``{"user": {...}}``). Field problems and duplicates are 422 RecordInvalid naming the
field (the mapping of the store's Conflict / NotFound lives in errors.py).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..store.base import ROLES, User
from . import bodies
from . import representations as rep
from .auth import AGENT_ROLES, Caller, dependencies
from .context import ApiContext
from .errors import RecordInvalid
from .openapi import Body, json_body, operation
from .responses import json_response

MAX_PASSWORD = 1024


def router(ctx: ApiContext) -> APIRouter:
    _, admin = dependencies(ctx)
    AdminCaller = Annotated[Caller, Depends(admin)]
    service = ctx.service
    r = APIRouter(tags=["Administration"])

    @r.post(
        "/api/v2/users",
        status_code=201,
        summary="Create User",
        **_create("UserResponse", "UserCreate"),
    )
    async def create_user(request: Request, caller: AdminCaller) -> Response:
        u = bodies.record(await bodies.read_json(request), "user")
        name = bodies.required_text(u, "name")
        email = bodies.email(u)
        role = bodies.one_of(u, "role", ROLES, default="end-user")
        user_id = bodies.positive_id(u, "id", required=False)
        password = u.get("password")
        if password is not None and (
            not isinstance(password, str) or not 0 < len(password) <= MAX_PASSWORD
        ):
            raise RecordInvalid(
                "password", f"password must be a string of 1-{MAX_PASSWORD} characters"
            )
        avatar_url = u.get("avatar_url")
        if avatar_url is not None and (not isinstance(avatar_url, str) or "\x00" in avatar_url):
            raise RecordInvalid("avatar_url", "avatar_url must be a string or null")
        assert role is not None
        user = await ctx.write(
            caller.account,
            service.create_user,
            caller.account,
            name=name,
            email=email,
            role=role,
            id=user_id,
            password=password,
            avatar_url=avatar_url,
        )
        return json_response({"user": rep.user(rep.base_url(request), user)}, 201)

    @r.post(
        "/api/v2/groups",
        status_code=201,
        summary="Create Group",
        **_create("GroupResponse", "GroupCreate"),
    )
    async def create_group(request: Request, caller: AdminCaller) -> Response:
        g = bodies.record(await bodies.read_json(request), "group")
        name = bodies.required_text(g, "name")
        group_id = bodies.positive_id(g, "id", required=False)
        group = await ctx.write(
            caller.account, service.create_group, caller.account, name=name, id=group_id
        )
        return json_response({"group": rep.group(rep.base_url(request), group)}, 201)

    @r.post(
        "/api/v2/group_memberships",
        status_code=201,
        summary="Create Membership",
        **_create("GroupMembershipResponse", "GroupMembershipCreate"),
    )
    async def create_membership(request: Request, caller: AdminCaller) -> Response:
        m = bodies.record(await bodies.read_json(request), "group_membership")
        user_id = bodies.required_id(m, "user_id")
        group_id = bodies.required_id(m, "group_id")
        user: User | None = await ctx.blocking(service.store.get_user, caller.account.id, user_id)
        if user is not None and user.role not in AGENT_ROLES:
            raise RecordInvalid(
                "user_id", f"user {user_id} is not an agent; only agents join groups"
            )
        membership = await ctx.write(
            caller.account,
            service.add_membership,
            caller.account,
            group_id=group_id,
            user_id=user_id,
        )
        return json_response(
            {"group_membership": rep.membership(rep.base_url(request), membership)}, 201
        )

    @r.post(
        "/api/v2/channels/voice/phone_numbers",
        status_code=201,
        summary="Create Phone Number",
        **_create("PhoneNumberResponse", "PhoneNumberCreate"),
    )
    async def create_phone_number(request: Request, caller: AdminCaller) -> Response:
        n = bodies.record(await bodies.read_json(request), "phone_number")
        number = bodies.required_text(n, "number")
        name = bodies.text(n, "name", required=False, default="") or ""
        number_id = bodies.positive_id(n, "id", required=False)
        phone_number = await ctx.write(
            caller.account,
            service.create_phone_number,
            caller.account,
            number=number,
            name=name,
            id=number_id,
        )
        return json_response(
            {"phone_number": rep.phone_number(rep.base_url(request), phone_number)}, 201
        )

    @r.post(
        "/api/v2/api_tokens",
        status_code=201,
        summary="Create API Token",
        description="A token for the calling admin; the plain token is shown only in this response.",
        **operation(
            "ApiTokenResponse",
            status=201,
            body=Body(json_body("ApiTokenCreate").content, required=False),
            access="admin",
            errors=(422,),
        ),
    )
    async def create_api_token(request: Request, caller: AdminCaller) -> Response:
        # The body is optional: no body, {} and {"api_token": {...}} all create a token.
        raw = await request.body()
        body = await bodies.read_json(request) if raw else {}
        t = bodies.record(body, "api_token") if body != {} else {}
        description = bodies.text(t, "description", required=False, default="") or ""
        token, plain = await ctx.blocking(
            service.create_api_token,
            caller.account,
            user_id=caller.user.id,
            description=description,
        )
        return json_response({"api_token": rep.api_token(token, plain)}, 201)

    return r


def _create(response: str, body: str) -> dict[str, Any]:
    """A create: admins only, 201 with the record, 422 naming a field at fault."""
    return operation(response, status=201, body=json_body(body), access="admin", errors=(422,))
