"""Request bodies: JSON decoding (400 naming the problem) and Zendesk-style field checks.

Field checks raise RecordInvalid (422) with ``details`` naming the field, as Zendesk's
create endpoints do. Unknown fields in a record are ignored, as Zendesk ignores them.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ..store.base import MAX_RECORD_ID
from .errors import InvalidValue, RecordInvalid
from .text import SPACE, is_blank, strip

MAX_TEXT = 255


async def read_json(request: Request, *, several_documents_hint: str = "") -> Any:
    """The decoded JSON body; 400 InvalidValue when it is empty or not JSON.

    ``several_documents_hint`` is added to the message when the body is one JSON
    document followed by more (NDJSON sent as JSON, for instance).
    """
    raw = await request.body()
    if not raw.strip():
        raise InvalidValue("The request body is empty; a JSON body is required.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = f"The request body is not valid JSON: {exc}"
        if several_documents_hint and "unexpected content after document" in str(exc):
            message = f"{message}. {several_documents_hint}"
        raise InvalidValue(message) from None


def record(body: Any, key: str) -> dict[str, Any]:
    """The ``{key: {...}}`` wrapper's inner object (Zendesk's create bodies)."""
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise InvalidValue(f'The request body must be a JSON object {{"{key}": {{...}}}}.')
    inner: dict[str, Any] = body[key]
    return inner


def text(
    obj: dict[str, Any], name: str, *, required: bool, default: str | None = None
) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise RecordInvalid(name, f"{name} is required")
        return default
    if not isinstance(value, str) or is_blank(value):
        raise RecordInvalid(name, f"{name} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise RecordInvalid(name, f"{name} must be at most {MAX_TEXT} characters")
    if "\x00" in value:  # PostgreSQL's text cannot store it; refused on every store
        raise RecordInvalid(name, f"{name} must not contain the character U+0000")
    return strip(value)


def required_text(obj: dict[str, Any], name: str) -> str:
    value = text(obj, name, required=True)
    assert value is not None
    return value


def positive_id(obj: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise RecordInvalid(name, f"{name} is required")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's integer: 5.0 is the number 5
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RECORD_ID:
        raise RecordInvalid(name, f"{name} must be an integer from 1 to {MAX_RECORD_ID}")
    return value


def required_id(obj: dict[str, Any], name: str) -> int:
    value = positive_id(obj, name, required=True)
    assert value is not None
    return value


def one_of(
    obj: dict[str, Any], name: str, allowed: tuple[str, ...], *, default: str | None
) -> str | None:
    value = obj.get(name)
    if value is None:
        if default is None:
            raise RecordInvalid(name, f"{name} is required: one of {', '.join(allowed)}")
        return default
    if value not in allowed:
        raise RecordInvalid(name, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def email(obj: dict[str, Any]) -> str:
    value = required_text(obj, "email")
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c in SPACE for c in value):
        raise RecordInvalid("email", f"email {value!r} is not a valid email address")
    return value
