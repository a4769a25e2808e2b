"""The events of docs/events.md and their shape checks.

``parse_event`` turns one decoded JSON object into an ``Event`` or raises
``EventRejected`` naming the event id, the field and what is wrong. Whether the event
is allowed *now* (the state machine) is the projection's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .timeutil import InvalidInstant, parse_instant


class EventRejected(Exception):
    """An event that the contract does not allow; nothing of it is stored or counted."""

    def __init__(self, event_id: str | None, field: str | None, reason: str) -> None:
        self.event_id = event_id
        self.field = field
        self.reason = reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"event {self.event_id!r}" if self.event_id is not None else "event"]
        if self.field:
            parts.append(f"field {self.field!r}")
        parts.append(self.reason)
        return ": ".join(parts)


AGENT_STATES = ("online", "away", "transfers_only", "offline")
VIAS = ("client", "phone")
DIRECTIONS = ("inbound", "outbound")
SOURCES = ("phone", "web_widget")
VOICEMAIL_REASONS = (
    "outside_business_hours",
    "exceeded_queue_wait_time",
    "requested",
    "no_available_agents",
)


class Event(NamedTuple):
    """One validated-in-shape event. ``time`` is nanoseconds since the Unix epoch.

    An immutable value; a NamedTuple rather than a frozen dataclass because ingestion
    builds hundreds of thousands a second and a frozen dataclass costs five times more.
    """

    id: str
    type: str
    time: int
    call_id: str | None = None
    agent_id: int | None = None
    state: str | None = None
    via: str | None = None
    forwarding_number: str | None = None
    sets_forwarding_number: bool = False
    direction: str | None = None
    phone_number_id: int | None = None
    source: str = "phone"
    outside_business_hours: bool = False
    from_number: str | None = None
    to_number: str | None = None
    group_id: int | None = None
    to_agent_id: int | None = None
    reason: str | None = None


# --- field kinds: checked inline in parse_event (this is the ingestion hot path) ----

_INT, _ID_STRING, _STRING, _NULLABLE_STRING, _BOOL, _ENUM = range(6)
_REASONS = {
    _INT: "must be a positive integer",
    _ID_STRING: "must be a string of 1 to 200 characters",
    _STRING: "must be a string of at most 200 characters",
    _NULLABLE_STRING: "must be a string of at most 200 characters, or null",
    _BOOL: "must be true or false",
}


class _Field(NamedTuple):
    attribute: str
    kind: int
    required: bool = False
    allowed: frozenset[str] = frozenset()

    def reason(self) -> str:
        if self.kind == _ENUM:
            return "must be one of " + " | ".join(sorted(self.allowed))
        return _REASONS[self.kind]


def _enum(attribute: str, values: tuple[str, ...], required: bool = False) -> _Field:
    return _Field(attribute, _ENUM, required, frozenset(values))


_Spec = dict[str, _Field]
_CALL = {"call_id": _Field("call_id", _ID_STRING, True)}
_AGENT = {"agent_id": _Field("agent_id", _INT, True)}

SPECS: dict[str, _Spec] = {
    "agent.state_changed": {
        **_AGENT,
        "state": _enum("state", AGENT_STATES, True),
        "via": _enum("via", VIAS),
        "forwarding_number": _Field("forwarding_number", _NULLABLE_STRING),
    },
    "call.started": {
        **_CALL,
        "direction": _enum("direction", DIRECTIONS, True),
        "phone_number_id": _Field("phone_number_id", _INT, True),
        "source": _enum("source", SOURCES),
        "outside_business_hours": _Field("outside_business_hours", _BOOL),
        "agent_id": _Field("agent_id", _INT),
        "from": _Field("from_number", _STRING),
        "to": _Field("to_number", _STRING),
    },
    "call.textback_sent": {**_CALL},
    "call.queued": {**_CALL, "group_id": _Field("group_id", _INT)},
    "call.callback_requested": {**_CALL},
    "call.offered": {**_CALL, **_AGENT},
    "call.declined": {**_CALL, **_AGENT},
    "call.missed": {**_CALL, **_AGENT},
    "call.answered": {**_CALL, **_AGENT},
    "call.hold_started": {**_CALL},
    "call.hold_ended": {**_CALL},
    "call.transfer_started": {**_CALL, "to_agent_id": _Field("to_agent_id", _INT)},
    "call.transfer_accepted": {**_CALL, **_AGENT},
    "call.conference_started": {**_CALL},
    "call.conference_accepted": {**_CALL, **_AGENT},
    "call.voicemail": {**_CALL, "reason": _enum("reason", VOICEMAIL_REASONS, True)},
    "call.ended": {**_CALL},
    "call.wrap_up_ended": {**_CALL, **_AGENT},
}
_REQUIRED = {
    kind: tuple((key, f.attribute) for key, f in spec.items() if f.required)
    for kind, spec in SPECS.items()
}
EVENT_TYPES = tuple(SPECS)
_ENVELOPE = frozenset(("id", "type", "time"))


def parse_event(obj: object) -> Event:
    """Check one decoded JSON object against the envelope and its type's fields."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise EventRejected(None, None, "must be a JSON object")
    raw_id = obj.get("id")
    event_id = raw_id if isinstance(raw_id, str) and 1 <= len(raw_id) <= 200 else None
    if event_id is None:
        if "id" not in obj:
            raise EventRejected(None, "id", "is required")
        raise EventRejected(None, "id", "must be a string of 1 to 200 characters")
    kind = obj.get("type")
    if "type" not in obj:
        raise EventRejected(event_id, "type", "is required")
    spec = SPECS.get(kind) if isinstance(kind, str) else None
    if spec is None or not isinstance(kind, str):
        raise EventRejected(event_id, "type", f"unknown event type {kind!r}")
    if "time" not in obj:
        raise EventRejected(event_id, "time", "is required")
    raw_time = obj["time"]
    if type(raw_time) is not str:
        raise EventRejected(event_id, "time", "must be an RFC 3339 string")
    try:
        instant = parse_instant(raw_time)
    except InvalidInstant as exc:
        raise EventRejected(event_id, "time", str(exc)) from None

    values: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _ENVELOPE:
            continue
        f = spec.get(key)
        if f is None:
            raise EventRejected(event_id, key, f"is not a field of {kind}")
        k = f.kind
        t = type(value)
        if k == _INT:
            ok = t is int and value > 0
        elif k == _ID_STRING:
            ok = t is str and 0 < len(value) <= 200
        elif k == _ENUM:
            ok = t is str and value in f.allowed
        elif k == _STRING:
            ok = t is str and len(value) <= 200
        elif k == _BOOL:
            ok = t is bool
        else:
            ok = value is None or (t is str and len(value) <= 200)
        if not ok:
            raise EventRejected(event_id, key, f.reason())
        values[f.attribute] = value
    for key, attribute in _REQUIRED[kind]:
        if attribute not in values:
            raise EventRejected(event_id, key, "is required")
    if kind == "agent.state_changed" and "forwarding_number" in obj:
        values["sets_forwarding_number"] = True
    if kind == "call.started":
        outbound = values["direction"] == "outbound"
        if outbound and "agent_id" not in values:
            raise EventRejected(event_id, "agent_id", "is required for an outbound call")
        if not outbound and "agent_id" in values:
            raise EventRejected(event_id, "agent_id", "is not allowed on an inbound call")
    return Event(id=event_id, type=kind, time=instant, **values)
