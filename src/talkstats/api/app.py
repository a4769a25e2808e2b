"""The application factory: ``create_app(service)`` wires routers, middleware and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from ..service import Talkstats
from . import (
    errors,
    openapi,
    routes_admin,
    routes_displays,
    routes_events,
    routes_exports,
    routes_metrics,
    routes_ops,
    routes_stats,
    routes_voice,
)
from .context import ApiContext
from .gate import GateMiddleware
from .responses import JSONResponse
from .upkeep import Upkeep

DOCS_ASSETS = "/docs/assets"  # Swagger UI's script, stylesheet and icon


def create_app(service: Talkstats) -> FastAPI:
    """A FastAPI app serving ``service``: Zendesk Talk Stats API plus our own endpoints.

    The OpenAPI document is at /openapi.json (built by ``openapi.py``), and Swagger UI at
    /docs, its assets served from the fastapi-offline package (no CDN). The service
    stays the caller's to close. While the app runs (its lifespan), projections load and
    follow the log in the background.
    """
    ctx = ApiContext(service)
    upkeep = Upkeep(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upkeep.start()
        try:
            yield
        finally:
            await upkeep.stop()
            ctx.unbind()
            await service.aclose_event_loop_clients()

    app = FastAPIOffline(
        title="talkstats",
        summary="Zendesk Talk Stats API, self-hosted",
        version=version("talkstats"),
        docs_url="/docs",
        redoc_url=None,
        static_url=DOCS_ASSETS,
        openapi_url="/openapi.json",
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.upkeep = upkeep
    routers = [
        module.router(ctx)
        for module in (
            routes_stats,
            routes_exports,
            routes_voice,
            routes_events,
            routes_admin,
            routes_displays,
            routes_ops,
            routes_metrics,
        )
    ]
    for router in routers:
        app.include_router(router)
    openapi.install(app, max_batch_events=service.settings.max_batch_events)
    errors.install(app)
    # Every route with its template, for the latency of requests the gate answers
    # before routing (the app's own routes hold included routers, not their routes).
    routes = [*app.router.routes, *(route for router in routers for route in router.routes)]
    app.add_middleware(GateMiddleware, service=service, routes=routes)
    return app
