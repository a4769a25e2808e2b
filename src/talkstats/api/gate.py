"""The per-request work before routing, as one pure ASGI middleware.

In order: drop a ``.json`` suffix from the path (Zendesk clients send both forms);
refuse a request with more than one Host header (400); for ``/api/`` paths pick the
account from the Host header (404 if none) and count the
request against its rate limits (429 when over); refuse bodies larger than
``max_request_bytes`` (413, by Content-Length up front and by counting the streamed
body); put ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining`` on whatever response goes out;
turn any exception nothing else handled into a 500 without a traceback; and count
every request's latency by route template, method and status in the service's
telemetry (two clock reads and one histogram update: /metrics).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..access.ratelimit import CURRENT_QUEUE_ACTIVITY, INCREMENTAL_EXPORTS, TALK, UNLIMITED
from ..service import Talkstats
from ..store.base import StoreError
from .auth import ACCOUNT
from .errors import (
    InvalidValue,
    PayloadTooLarge,
    RecordNotFound,
    TooManyRequests,
    internal_error_response,
    to_api_error,
)
from .params import ORIGINAL_PATH

log = logging.getLogger("talkstats.api")

API_PREFIX = "/api/"
QUEUE_ACTIVITY_PATH = "/api/v2/channels/voice/stats/current_queue_activity"
EXPORTS_PREFIX = "/api/v2/channels/voice/stats/incremental/"
_SUFFIX = ".json"
_KEEP_SUFFIX = frozenset(("/openapi.json",))
UNMATCHED = "unmatched"  # the route label of a request no route matches
# methods named in the latency metric's labels; any other is "other" (a bounded set)
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_TALK = (TALK,)
_TALK_AND_QUEUE = (TALK, CURRENT_QUEUE_ACTIVITY)
_TALK_AND_EXPORTS = (TALK, INCREMENTAL_EXPORTS)
# Paths outside /api/ (health, docs) are not rate-limited: they say so in the headers.
_UNLIMITED_HEADERS = [
    (b"x-rate-limit", str(UNLIMITED).encode()),
    (b"x-rate-limit-remaining", str(UNLIMITED).encode()),
]


class GateMiddleware:
    """Path normalisation, tenancy, rate limits, size limit, the last-resort 500, latency."""

    def __init__(self, app: ASGIApp, service: Talkstats, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.service = service
        self.max_bytes = service.settings.max_request_bytes
        self.routes = routes  # the app's, to name a request the gate answered itself
        self.monotonic = service.monotonic
        self.record = service.telemetry.request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.endswith(_SUFFIX) and path not in _KEEP_SUFFIX:
            scope = dict(scope)
            scope[ORIGINAL_PATH] = path
            scope["path"] = path = path[: -len(_SUFFIX)]
            raw = scope.get("raw_path")
            if raw is not None and raw.endswith(b".json"):
                scope["raw_path"] = raw[:-5]

        extra = _UNLIMITED_HEADERS
        started = False
        status = 0  # until a response starts; a client that left first is not counted
        began = self.monotonic()

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            hosts = _hosts(scope)
            if len(hosts) > 1:
                # A proxy reading the other one would disagree about the account.
                refusal = InvalidValue(
                    f"The request has {len(hosts)} Host headers; send exactly one."
                ).response()
                await refusal(scope, receive, send_with_headers)
                return
            if path.startswith(API_PREFIX):
                account = self.service.resolve_account(hosts[0] if hosts else _server(scope))
                if account is None:
                    await RecordNotFound().response()(scope, receive, send_with_headers)
                    return
                scope.setdefault("state", {})[ACCOUNT] = account
                buckets = _TALK_AND_QUEUE if path == QUEUE_ACTIVITY_PATH else _TALK
                if path.startswith(EXPORTS_PREFIX):
                    buckets = _TALK_AND_EXPORTS
                decision = await self.service.rate_limiter.hit_async(
                    account.id, buckets, self.service.monotonic()
                )
                extra = [
                    (b"x-rate-limit", str(decision.limit).encode()),
                    (b"x-rate-limit-remaining", str(decision.remaining).encode()),
                ]
                if not decision.allowed:
                    refusal = TooManyRequests(decision.retry_after).response()
                    await refusal(scope, receive, send_with_headers)
                    return
            length = _content_length(scope)
            if length is not None and length > self.max_bytes:
                await self._too_large().response()(scope, receive, send_with_headers)
                return
            await self.app(scope, self._limited(receive), send_with_headers)
        except StoreError as exc:  # the store is down while the account is looked up
            if not started:
                unavailable = to_api_error(exc)
                assert unavailable is not None
                await unavailable.response()(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await internal_error_response()(scope, receive, send_with_headers)
        finally:
            if status:
                route = scope.get("route")
                template = route.path if route is not None else self._template(scope)
                method = scope["method"]
                self.record(
                    template,
                    method if method in _METHODS else "other",
                    status,
                    self.monotonic() - began,
                )

    def _template(self, scope: Scope) -> str:
        """The route template of a request that did not reach routing (the gate refused it)."""
        for route in self.routes:
            path = getattr(route, "path", None)
            if isinstance(path, str) and route.matches(scope)[0] is not Match.NONE:
                return path
        return UNMATCHED

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that raises PayloadTooLarge once the body passes the limit."""
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        return limited


def _hosts(scope: Scope) -> list[str]:
    return [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"host"]


def _server(scope: Scope) -> str | None:
    """The address the request came in on, for a request without a Host header."""
    server: Any = scope.get("server")
    return str(server[0]) if server else None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
