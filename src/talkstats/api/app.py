"""The application factory: ``create_app(service)`` wires routers, middleware and errors."""

from __future__ import annotations

from fastapi import FastAPI

from ..service import Talkstats
from . import errors, routes_admin, routes_events, routes_ops, routes_stats, routes_voice
from .context import ApiContext
from .gate import GateMiddleware
from .responses import JSONResponse


def create_app(service: Talkstats) -> FastAPI:
    """A FastAPI app serving ``service``: Zendesk Talk Stats API plus our own endpoints.

    OpenAPI at /docs and /openapi.json. The service stays the caller's to close.
    """
    app = FastAPI(
        title="talkstats",
        summary="Zendesk Talk Stats API, self-hosted",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        default_response_class=JSONResponse,
    )
    ctx = ApiContext(service)
    app.state.context = ctx
    for module in (routes_stats, routes_voice, routes_events, routes_admin, routes_ops):
        app.include_router(module.router(ctx))
    errors.install(app)
    app.add_middleware(GateMiddleware, service=service)
    return app
