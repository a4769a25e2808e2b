"""Who calls: the account (chosen by the gate middleware) and the authenticated user.

``AgentCaller`` / ``AdminCaller`` are the route dependencies. A credential found in the
authenticator's verified cache is resolved on the event loop with no hashing and no
store access; any other goes to a worker thread (argon2 is deliberately slow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from ..access.credentials import parse_authorization
from ..store.base import Account, User
from .context import ApiContext
from .errors import Forbidden, Unauthorized

AGENT_ROLES = frozenset(("agent", "admin"))
ACCOUNT = "account"  # request.state key set by the gate middleware


@dataclass(frozen=True, slots=True)
class Caller:
    """The account a request is for and the user it authenticated as."""

    account: Account
    user: User

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


async def authenticate(ctx: ApiContext, request: Request) -> Caller:
    """401 unless the Authorization header proves a user of the request's account."""
    account: Account = request.state.account
    header = request.headers.get("authorization")
    credential = parse_authorization(header)
    if credential is None:
        raise Unauthorized()
    service = ctx.service
    user_id = service.authenticator.cache.get(account.id, credential, service.monotonic())
    if user_id is not None:
        user = ctx.users.get((account.id, user_id))
        if user is not None:
            return Caller(account, user)
    found = await ctx.blocking(service.authenticate, account, header)
    if found is None:
        raise Unauthorized()
    ctx.users[(account.id, found.id)] = found
    return Caller(account, found)


def dependencies(
    ctx: ApiContext,
) -> tuple[Callable[[Request], Awaitable[Caller]], Callable[[Request], Awaitable[Caller]]]:
    """(agent, admin): dependencies admitting agents and admins / admins only (else 403)."""

    async def agent(request: Request) -> Caller:
        caller = await authenticate(ctx, request)
        if caller.user.role not in AGENT_ROLES:
            raise Forbidden()
        return caller

    async def admin(request: Request) -> Caller:
        caller = await authenticate(ctx, request)
        if caller.user.role != "admin":
            raise Forbidden()
        return caller

    return agent, admin
