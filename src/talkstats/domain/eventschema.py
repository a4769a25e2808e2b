"""The events of ``events.SPECS`` as JSON Schema (2020-12, as OpenAPI 3.1 uses).

Generated from the same table ``parse_event`` checks against (as ``decoding.py``
generates its msgspec structs from it), so the published schema of each event type
cannot drift from what ingestion accepts: the same fields, kinds, enums, required
fields, and no others. Integer fields get a maximum the table does not state: they
name records, and no record has an id past the signed 64-bit range. One rule lives in ``parse_event``'s code rather than in the
table (``agent_id`` on ``call.started``: required outbound, refused inbound); it is
stated here as a conditional, and tests/domain/test_eventschema.py holds the two to
agreement.
"""

from __future__ import annotations

from typing import Any

from .events import (
    _BOOL,
    _ENUM,
    _ID_STRING,
    _INT,
    _NULLABLE_STRING,
    _STRING,
    SPECS,
    _Field,
)

MAX_TEXT = 200  # every string field of an event, the id included
MAX_ID = 2**63 - 1  # integer fields name records, whose ids are signed 64-bit integers

_KIND_SCHEMAS: dict[int, dict[str, Any]] = {
    _INT: {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_ID,
        "description": "Written as a whole number (7, not 7.0 or 7e0).",
    },
    _ID_STRING: {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
    _STRING: {"type": "string", "maxLength": MAX_TEXT},
    _NULLABLE_STRING: {"type": ["string", "null"], "maxLength": MAX_TEXT},
    _BOOL: {"type": "boolean"},
}

_ENVELOPE_DESCRIPTIONS = {
    "id": "Unique within the account: the idempotency key. Resending an id is a duplicate.",
    "time": (
        "When it happened: an RFC 3339 instant with an offset (Z or +hh:mm), fractional "
        "seconds up to nanoseconds, seconds 00-59, not before 1970-01-01T00:00:00Z."
    ),
}


def field_schema(f: _Field) -> dict[str, Any]:
    """The JSON Schema of one event field, from its kind in ``SPECS``."""
    if f.kind == _ENUM:
        return {"type": "string", "enum": sorted(f.allowed)}
    return dict(_KIND_SCHEMAS[f.kind])


def event_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one event type: the envelope plus exactly its fields."""
    spec = SPECS[kind]
    properties: dict[str, Any] = {
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT,
            "description": _ENVELOPE_DESCRIPTIONS["id"],
        },
        "type": {"type": "string", "const": kind},
        "time": {
            "type": "string",
            "format": "date-time",
            "description": _ENVELOPE_DESCRIPTIONS["time"],
        },
    }
    required = ["id", "type", "time"]
    for key, f in spec.items():
        properties[key] = field_schema(f)
        if f.required:
            required.append(key)
    schema: dict[str, Any] = {
        "type": "object",
        "title": kind,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if kind == "call.started":
        schema["description"] = (
            "agent_id is required for an outbound call and refused on an inbound one."
        )
        schema["if"] = {
            "properties": {"direction": {"const": "outbound"}},
            "required": ["direction"],
        }
        schema["then"] = {"required": ["agent_id"]}
        schema["else"] = {"not": {"required": ["agent_id"]}}
    return schema


def event_schemas() -> dict[str, dict[str, Any]]:
    """``{event type: its JSON Schema}`` for every type of ``SPECS``, in table order."""
    return {kind: event_schema(kind) for kind in SPECS}
