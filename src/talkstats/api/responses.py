"""JSON responses: orjson-rendered, ``application/json; charset=utf-8`` as Zendesk sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

MEDIA_TYPE = "application/json; charset=utf-8"


class JSONResponse(Response):
    """A JSON response rendered by orjson (non-str dict keys allowed, no NaN)."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        try:  # the fast path: every key a str (OPT_NON_STR_KEYS costs a third more)
            return orjson.dumps(content)
        except TypeError:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one way routes and error handlers build a JSON response."""
    return JSONResponse(body, status_code=status_code, headers=headers)
