"""The whole application: the API (``talkstats.api``) plus the wallboard.

``create_app(service)`` builds the API's app and adds the wallboard's routes and its
static files. The session-signing secret is read from the store (made on first use),
so sessions survive a restart and are shared by every server on one store.
``close_streams(app)`` ends every live stream: the server calls it when it starts
shutting down, so open screens do not hold the shutdown back (they reconnect to the
next server by themselves).
"""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from ..access.displays import DisplayLinks
from ..access.sessions import SECRET_NAME, SessionSigner
from ..api.app import create_app as create_api
from ..api.context import ApiContext
from ..service import Talkstats
from . import routes
from .live import Hub, Pause
from .sessions import SessionCookies

STATIC = Path(str(resources.files("talkstats.web") / "static"))


def create_app(service: Talkstats, *, pause: Pause | None = None) -> FastAPI:
    """The API and the wallboard on one app. ``pause`` replaces the live feeds' sleep
    (tests drive the feeds step by step)."""
    app = create_api(service)
    ctx: ApiContext = app.state.context
    signer = SessionSigner(service.store.server_secret(SECRET_NAME, secrets.token_bytes(32)))
    links = DisplayLinks(service.store, hasher=service.hasher)
    hub = Hub(ctx, links) if pause is None else Hub(ctx, links, pause=pause)
    app.state.wallboard = hub
    app.include_router(routes.router(ctx, SessionCookies(service, signer), links, hub))
    app.mount("/wallboard/static", StaticFiles(directory=STATIC), name="wallboard-static")
    return app


def close_streams(app: FastAPI) -> None:
    """End every open wallboard stream (server shutdown); harmless on any app."""
    hub = getattr(app.state, "wallboard", None)
    if isinstance(hub, Hub):
        hub.close()
