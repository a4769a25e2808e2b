"""Which methods a path answers: the ``Allow`` header of a 405, and the OPTIONS answer.

The router stops at the first route whose path matches, so its own 405 lists only that
route's methods (``/api/v2/users`` said ``Allow: GET`` though POST exists). This looks
at every route instead. It runs only when routing already failed on the method, so
requests that reach a handler pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def allowed(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route answers on the scope's path, with OPTIONS; sorted."""
    methods: set[str] = set()
    for route in iter_route_contexts(routes):  # the routes of included routers too
        if route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    if methods:
        methods.add("OPTIONS")
    return sorted(methods)


def allow_header(request: Request) -> str:
    return ", ".join(allowed(request.app.router.routes, request.scope))


def options(allow: str) -> Response:
    """204 with ``Allow``: an OPTIONS request needs no credentials and reads nothing."""
    return Response(status_code=204, headers={"Allow": allow})
