"""The wallboard's HTTP routes: the page, sign-in and out, display links, the live stream.

- ``GET /wallboard``: the board (filters in the query string, so a screen can be
  bookmarked); without a session, a redirect to the sign-in form.
- ``GET|POST /wallboard/signin``, ``POST /wallboard/signout``: the form takes the API
  credentials (email and password, or email and API token) in the request body, never
  in a URL, and sets the session cookie (``sessions.py``).
- ``GET /wallboard/link#TOKEN``: a display link; its script posts the token (from the
  fragment, which the browser never sends) to ``POST /wallboard/link``, which sets a
  display session.
- ``GET /wallboard/session``: who this screen is (and a renewed display cookie).
- ``GET /wallboard/stream``: Server-Sent Events from the account's feed (``live.py``).

Sign-in and link posts count against the account's ``talk`` rate limit and must come
from this server's own pages (their Origin is checked).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ..access.displays import DisplayLinks
from ..access.ratelimit import TALK
from ..access.sessions import DISPLAY, Session
from ..api import params
from ..api.context import ApiContext
from ..api.errors import ApiError, InvalidValue
from ..api.responses import json_response
from ..service import AGENT_ROLES
from ..store.base import Account
from . import pages
from .live import Filters, Hub
from .sessions import SessionCookies
from .text import choose, fill, words

MAX_FORM_BYTES = 16 * 1024
DEFAULT_TARGET = 80
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,200}")
_UNAUTHORIZED = {"error": "Couldn't authenticate you"}


def _lang(request: Request) -> str:
    return choose(request.query_params.get("lang"), request.headers.get("accept-language"))


def _safe_next(raw: str | None) -> str:
    """Where to go after signing in: only a path of the wallboard itself."""
    if not raw or not raw.startswith("/wallboard") or raw.startswith("/wallboard/signin"):
        return "/wallboard"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or "\\" in raw:
        return "/wallboard"
    return raw


def _same_origin(request: Request) -> bool:
    """A POST from this server's own page (what a cross-site form cannot forge)."""
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else None
    return origin == expected


def _form(body: bytes) -> dict[str, str]:
    """An url-encoded form's first value of each field ({} for one too big or too odd)."""
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items()}


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def parse_filters(request: Request) -> tuple[Filters, int]:
    """The screen's filters and service-level target from the query (400 naming a bad one)."""
    q = request.query_params
    numbers = params.id_list("phone_number_ids", q.get("phone_number_ids"))
    groups = params.id_list("group_ids", q.get("group_ids"))
    threshold = params.threshold(q.get("sl_threshold"), name="sl_threshold")
    target = params.positive_int("sl_target", q.get("sl_target"), DEFAULT_TARGET)
    if target > 100:
        raise InvalidValue(f"sl_target: {target} is not a percentage (1-100)")
    return (
        Filters(
            None if numbers is None else tuple(sorted(set(numbers))),
            None if groups is None else tuple(sorted(set(groups))),
            threshold,
        ),
        target,
    )


def router(ctx: ApiContext, cookies: SessionCookies, links: DisplayLinks, hub: Hub) -> APIRouter:
    service = ctx.service
    r = APIRouter(include_in_schema=False)

    def account_of(request: Request) -> Account | None:
        return service.resolve_account(request.headers.get("host"))

    async def valid(request: Request, account: Account) -> Session | None:
        """The request's session, if it is still good (a display link not revoked)."""
        session = cookies.read(request, account)
        if session is not None and session.kind == DISPLAY:
            active = await ctx.blocking(links.active_ids, account.id)
            if session.subject not in active:
                return None
        return session

    def limited(account: Account) -> int | None:
        """Seconds to wait if the account's talk budget is spent, else None."""
        decision = service.rate_limiter.hit(account.id, (TALK,), service.monotonic())
        return None if decision.allowed else decision.retry_after

    # --- the board -----------------------------------------------------------------------

    @r.get("/wallboard")
    async def wallboard(request: Request) -> Response:
        lang = _lang(request)
        account = account_of(request)
        if account is None:
            return pages.error(lang, words(lang)["error.no_account"], 404)
        session = await valid(request, account)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/wallboard/signin?{urlencode({'next': target})}", 303)
        try:
            filters, target_percent = parse_filters(request)
        except ApiError as exc:
            message = fill(words(lang)["error.bad_filter"], problem=exc.description)
            return pages.error(lang, message, 400)
        numbers = await ctx.blocking(service.store.list_phone_numbers, account.id)
        groups = await ctx.blocking(service.store.list_groups, account.id)
        stream = "/wallboard/stream"
        if request.url.query:
            stream += f"?{request.url.query}"
        config: dict[str, Any] = {
            "lang": lang,
            "text": words(lang),
            "account": account.subdomain,
            "timezone": account.timezone,
            "session": session.kind,
            "filters": {
                "phone_number_ids": filters.phone_number_ids,
                "group_ids": filters.group_ids,
                "sl_threshold": filters.threshold,
                "sl_target": target_percent,
            },
            "phone_numbers": [{"id": n.id, "name": n.name or n.number} for n in numbers],
            "groups": [{"id": g.id, "name": g.name} for g in groups],
            "stream": stream,
            "theme": request.query_params.get("theme", "auto"),
        }
        response = pages.board(lang, subdomain=account.subdomain, config=config)
        renewed = cookies.renewed(session)
        if renewed is not None:
            cookies.attach(response, request, renewed)
        return response

    # --- sign in and out -----------------------------------------------------------------

    @r.get("/wallboard/signin")
    async def signin_form(request: Request) -> Response:
        lang = _lang(request)
        reason = request.query_params.get("reason")
        message = words(lang).get(f"signin.{reason}") if reason in ("expired", "revoked") else None
        return pages.signin(
            lang, next_path=_safe_next(request.query_params.get("next")), message=message
        )

    @r.post("/wallboard/signin")
    async def signin(request: Request) -> Response:
        lang = _lang(request)
        w = words(lang)
        account = account_of(request)
        if account is None:
            return pages.error(lang, w["error.no_account"], 404)
        form = _form(await request.body())
        next_path = _safe_next(form.get("next"))
        if not _same_origin(request):
            return pages.signin(
                lang, next_path=next_path, message=w["signin.forbidden_origin"], status=403
            )
        if limited(account) is not None:
            return pages.signin(lang, next_path=next_path, message=w["signin.too_many"], status=429)
        email = form.get("email", "").strip()
        secret = form.get("password", "")
        user = None
        if email and secret and "/" not in email:
            user = await ctx.blocking(service.authenticate, account, _basic(email, secret))
            if user is None and _TOKEN_SHAPE.fullmatch(secret):
                header = _basic(f"{email}/token", secret)
                user = await ctx.blocking(service.authenticate, account, header)
        if user is None:
            return pages.signin(lang, next_path=next_path, message=w["signin.failed"], status=401)
        if user.role not in AGENT_ROLES:
            return pages.signin(
                lang, next_path=next_path, message=w["signin.not_agent"], status=403
            )
        response = RedirectResponse(next_path, 303)
        cookies.attach(response, request, cookies.for_user(account, user.id))
        return response

    @r.post("/wallboard/signout")
    async def signout(request: Request) -> Response:
        if not _same_origin(request):
            return pages.error(
                _lang(request), words(_lang(request))["signin.forbidden_origin"], 403
            )
        response = RedirectResponse("/wallboard/signin", 303)
        cookies.clear(response, request)
        return response

    # --- display links -------------------------------------------------------------------

    @r.get("/wallboard/link")
    async def link_page(request: Request) -> Response:
        return pages.link(_lang(request))

    @r.post("/wallboard/link")
    async def link_exchange(request: Request) -> Response:
        account = account_of(request)
        if account is None:
            return json_response({"error": "RecordNotFound", "description": "Not found"}, 404)
        if not _same_origin(request):
            return json_response(
                {"error": "Forbidden", "description": "Send this from the link page."}, 403
            )
        wait = limited(account)
        if wait is not None:
            return json_response(
                {"error": "TooManyRequests", "description": "Too many attempts."},
                429,
                {"Retry-After": str(wait)},
            )
        try:
            token = orjson.loads((await request.body())[:MAX_FORM_BYTES]).get("token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return json_response(_UNAUTHORIZED, 401)
        record = await ctx.blocking(links.verify, account.id, token)
        if record is None:
            return json_response(_UNAUTHORIZED, 401)
        response = Response(status_code=204)
        cookies.attach(response, request, cookies.for_display(account, record.id))
        return response

    # --- the session and the stream --------------------------------------------------------

    @r.get("/wallboard/session")
    async def session_info(request: Request) -> Response:
        account = account_of(request)
        session = None if account is None else await valid(request, account)
        if account is None or session is None:
            response = json_response(_UNAUTHORIZED, 401)
            cookies.clear(response, request)
            return response
        response = json_response(
            {"account": account.subdomain, "kind": session.kind, "expires_at": session.expires_at}
        )
        renewed = cookies.renewed(session)
        if renewed is not None:
            cookies.attach(response, request, renewed)
        return response

    @r.get("/wallboard/stream")
    async def stream(request: Request) -> Response:
        account = account_of(request)
        session = None if account is None else await valid(request, account)
        if account is None or session is None:
            return json_response(_UNAUTHORIZED, 401)
        filters, _ = parse_filters(request)
        subscriber = hub.subscribe(account, filters, session)

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                async for data in subscriber.frames():
                    yield data
            finally:
                hub.unsubscribe(subscriber)

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return r
