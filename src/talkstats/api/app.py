"""The application factory: ``create_app(service)`` wires routers, middleware and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..service import Talkstats
from . import (
    errors,
    routes_admin,
    routes_events,
    routes_exports,
    routes_ops,
    routes_stats,
    routes_voice,
)
from .context import ApiContext
from .gate import GateMiddleware
from .responses import JSONResponse
from .upkeep import Upkeep


def create_app(service: Talkstats) -> FastAPI:
    """A FastAPI app serving ``service``: Zendesk Talk Stats API plus our own endpoints.

    OpenAPI at /docs and /openapi.json. The service stays the caller's to close. While
    the app runs (its lifespan), projections load and follow the log in the background.
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

    app = FastAPI(
        title="talkstats",
        summary="Zendesk Talk Stats API, self-hosted",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.upkeep = upkeep
    for module in (
        routes_stats,
        routes_exports,
        routes_voice,
        routes_events,
        routes_admin,
        routes_ops,
    ):
        app.include_router(module.router(ctx))
    errors.install(app)
    app.add_middleware(GateMiddleware, service=service)
    return app
