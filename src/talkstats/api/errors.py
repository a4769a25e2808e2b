"""The one place that turns failures into Zendesk error bodies (docs/api.md "Error bodies").

Routes and middleware raise :class:`ApiError` subclasses, or let our core exceptions
(store ``Conflict``/``NotFound``, ``InvalidDate``, the service's ``Unavailable``) and
framework errors (unknown path, wrong method, request validation) propagate; the
handlers installed by :func:`install` map each to its status and body. Nothing here
ever puts a traceback in a body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..domain.stats import InvalidDate
from ..service import Loading, Unavailable
from ..store.base import Conflict, NotFound, StoreError
from . import methods
from .responses import json_response

log = logging.getLogger("talkstats.api")

AUTH_REALM = "Web Password"
FORBIDDEN_DESCRIPTION = (
    "You do not have access to this page. "
    "Please contact the account owner of this help desk for further help."
)
UNAVAILABLE_RETRY_AFTER = 5  # seconds; the log is usually back within a few seconds
LOADING_RETRY_AFTER = 2  # seconds; a projection loads at tens of thousands of events a second


class ApiError(Exception):
    """An error with a Zendesk body: ``{"error": ..., "description": ..., "details"?}``."""

    status_code = 500
    error = "InternalError"
    description: str | None = "Something went wrong on our side; it has been logged."

    def __init__(
        self,
        description: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if description is not None:
            self.description = description
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(self.description or self.error)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            out["description"] = self.description
        if self.details is not None:
            out["details"] = self.details
        return out

    def response(self) -> Response:
        return json_response(self.body(), self.status_code, self.headers)


class InvalidValue(ApiError):
    status_code, error = 400, "InvalidValue"


class TooManyValues(ApiError):
    status_code, error = 400, "TooManyValues"


class Unauthorized(ApiError):
    """401 with Zendesk's bare body and a Basic challenge."""

    status_code, error, description = 401, "Couldn't authenticate you", None

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": f'Basic realm="{AUTH_REALM}"'})


class Forbidden(ApiError):
    status_code, error, description = 403, "Forbidden", FORBIDDEN_DESCRIPTION


class RecordNotFound(ApiError):
    status_code, error, description = 404, "RecordNotFound", "Not found"


class MethodNotAllowed(ApiError):
    status_code, error = 405, "MethodNotAllowed"


class PayloadTooLarge(ApiError):
    status_code, error = 413, "PayloadTooLarge"


class RecordInvalid(ApiError):
    """422 ``{"error": "RecordInvalid", "description": "Record validation errors", "details"}``."""

    status_code, error, description = 422, "RecordInvalid", "Record validation errors"

    def __init__(self, field: str, description: str, code: str = "InvalidValue") -> None:
        super().__init__(details={field: [{"description": description, "error": code}]})


class TooManyRequests(ApiError):
    status_code, error = 429, "TooManyRequests"

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        merged = dict(headers or {})
        merged["Retry-After"] = str(max(1, retry_after))
        super().__init__(
            f"Rate limit exceeded for this account; retry in {max(1, retry_after)} s.",
            headers=merged,
        )


class ServiceUnavailable(ApiError):
    status_code, error = 503, "ServiceUnavailable"

    def __init__(self, description: str, retry_after: int = UNAVAILABLE_RETRY_AFTER) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


def internal_error_response() -> Response:
    """The 500 body (never a traceback)."""
    return ApiError().response()


# --------------------------------------------------------------------------- mapping


def _conflict(exc: Conflict) -> ApiError:
    """A duplicate on create: 422 naming the field that collided (store messages name it)."""
    message = str(exc)
    if message.startswith("email"):
        field = "email"
    elif "already a member" in message:
        field = "user_id"
    elif re.match(r"^[a-z ]+ id \d+ already exists", message):
        field = "id"
    else:
        field = "base"
    return RecordInvalid(field, _strip_account(message), "DuplicateValue")


def _not_found(exc: NotFound) -> ApiError:
    """A create naming an unknown group or user is invalid input; anything else is a 404."""
    message = str(exc)
    for prefix, field in (("group ", "group_id"), ("user ", "user_id")):
        if message.startswith(prefix):
            return RecordInvalid(field, _strip_account(message))
    return RecordNotFound()


def _sentence(message: str) -> str:
    message = message.strip() or "the service is unavailable"
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _strip_account(message: str) -> str:
    # The caller knows its account (the service names it by subdomain for the CLI).
    return re.sub(r" in account [a-z0-9-]+$", "", message)


def _validation(exc: RequestValidationError) -> ApiError:
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()) if part not in ("query", "path"))
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return InvalidValue("; ".join(problems) or "invalid request")


def _http(exc: HTTPException) -> ApiError:
    if exc.status_code == 404:
        return RecordNotFound()
    if exc.status_code == 405:
        return MethodNotAllowed(
            "This method is not allowed on this path.", headers=exc.headers or None
        )
    err = ApiError(str(exc.detail), headers=exc.headers or None)
    err.status_code, err.error = exc.status_code, "HTTPError"
    return err


def to_api_error(exc: Exception) -> ApiError | None:
    """The ApiError for a known exception; None for an unexpected one (-> 500)."""
    match exc:
        case ApiError():
            return exc
        case InvalidDate():
            return InvalidValue(f"date: {exc}")
        case Conflict():
            return _conflict(exc)
        case NotFound():
            return _not_found(exc)
        case Unavailable():
            log.warning("service unavailable: %s", exc)
            return ServiceUnavailable(_sentence(str(exc)))
        case Loading():
            return ServiceUnavailable(_sentence(str(exc)), retry_after=LOADING_RETRY_AFTER)
        case StoreError():  # not Conflict/NotFound (matched above): the store is down
            log.error("store error: %s", exc)
            return ServiceUnavailable("The store cannot be reached right now; retry later.")
        case RequestValidationError():
            return _validation(exc)
        case HTTPException():
            return _http(exc)
    return None


async def _handle(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        # The router's Allow names one route's methods; a path may have several routes.
        # (No route at all: a mounted app's own 405, mapped below with its own Allow.)
        allow = methods.allow_header(request)
        if allow and request.method == "OPTIONS":
            return methods.options(allow)
        if allow:
            message = "This method is not allowed on this path."
            return MethodNotAllowed(message, headers={"Allow": allow}).response()
    mapped = to_api_error(exc)
    if mapped is None:  # not reachable for the registered types; kept for safety
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return internal_error_response()
    return mapped.response()


def install(app: FastAPI) -> None:
    """Register the handlers. Unexpected exceptions are caught by the gate middleware."""
    for exc_type in (
        ApiError,
        InvalidDate,
        Conflict,
        NotFound,
        Unavailable,
        Loading,
        StoreError,
        RequestValidationError,
        HTTPException,
    ):
        app.add_exception_handler(exc_type, _handle)
