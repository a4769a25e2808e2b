"""``GET /metrics``: Prometheus metrics of every account and of the service itself.

Who may read it: with the ``metrics_token`` setting, any request carrying
``Authorization: Bearer <token>`` (else 401); without one, only a request from the
loopback address that no proxy forwarded (no ``Forwarded``, ``X-Forwarded-For`` or
``X-Real-IP`` header; else 403), so that a reverse proxy on the same machine never
opens the metrics to the outside by relaying requests from 127.0.0.1.

A scrape reads each loaded account's projection under its lock, on the event loop,
through the domain's ``read_account`` (O(phone numbers + agents + group members)),
then builds and encodes the metric families in a worker thread (exposition.py).
Nothing is counted per event: the statistics are read from the projections when
scraped, and the service's health from its telemetry.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.readings import read_account
from ..store.base import Account, StoreError
from .context import ApiContext
from .errors import ApiError
from .exposition import AccountSample, Scrape, render
from .openapi import metrics_operation

_FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
_DESCRIPTION = (
    "The Prometheus exposition format (text 0.0.4, or OpenMetrics when the Accept header "
    "asks for it): queues, agents, today's calls and service level per account, and the "
    "service's own health. Needs `Authorization: Bearer <metrics_token>` when that "
    "setting is set; otherwise answers only unforwarded requests from the loopback "
    "address. The metrics are listed in docs/operations.md."
)


class MetricsUnauthorized(ApiError):
    """401: /metrics wants the metrics token."""

    status_code, error = 401, "Couldn't authenticate you"
    description = "GET /metrics needs the header Authorization: Bearer <metrics_token>."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="talkstats metrics"'})


class MetricsForbidden(ApiError):
    """403: no metrics token is set, and the request is not a local one."""

    status_code, error = 403, "Forbidden"
    description = (
        "Without a metrics_token setting, /metrics answers only requests from the loopback "
        "address that no proxy forwarded. Set metrics_token to scrape from elsewhere."
    )


def router(ctx: ApiContext) -> APIRouter:
    service = ctx.service
    token = service.settings.metrics_token
    threshold = service.settings.metrics_service_level_seconds
    running = _version()
    r = APIRouter(tags=["Operations"])

    @r.get(
        "/metrics",
        summary="Prometheus metrics",
        description=_DESCRIPTION,
        **metrics_operation("Metrics in the Prometheus text format."),
    )
    async def metrics(request: Request) -> Response:
        if token is not None:
            if not _bearer_matches(request, token):
                raise MetricsUnauthorized()
        elif not _local(request):
            raise MetricsForbidden()
        # Accounts another process created since the last look; if the store fails,
        # the accounts known already are still shown (with the failure's counters).
        with contextlib.suppress(StoreError):
            await ctx.blocking(service.refresh_accounts)
        lag: dict[str, int] | None = None
        with contextlib.suppress(StoreError):
            lag = await ctx.blocking(service.lag)
        samples = [
            await _sample(ctx, account, threshold, lag) for account in service.known_accounts()
        ]
        scrape = Scrape(samples, service.telemetry.copy(), threshold, running)
        body, content_type = await ctx.blocking(render, scrape, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return r


async def _sample(
    ctx: ApiContext, account: Account, threshold: int, lag: dict[str, int] | None
) -> AccountSample:
    service = ctx.service
    runtime = service.runtimes.get(account.id)
    if runtime is None:
        ctx.request_load(account)
        return AccountSample(account.subdomain, None)
    async with ctx.lock(account.id):
        runtime = service.runtimes.get(account.id)
        if runtime is None:  # dropped while we waited for the lock
            return AccountSample(account.subdomain, None)
        p = runtime.projection
        reading = read_account(p, p.effective_now(service.clock()), threshold=threshold)
        return AccountSample(
            account.subdomain,
            reading,
            load_seconds=runtime.load_seconds,
            snapshot_age=max(0.0, service.monotonic() - runtime.snapshot_at),
            events_since_snapshot=runtime.folded - runtime.snapshot_folded,
            events_behind=None if lag is None else lag.get(account.subdomain, 0),
        )


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _local(request: Request) -> bool:
    """A request from a loopback address that no proxy relayed."""
    client = request.scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return False
    return not any(name in _FORWARDING_HEADERS for name, _ in request.scope["headers"])


def _version() -> str:
    try:
        return version("talkstats")
    except PackageNotFoundError:
        return "unknown"
