"""The events of EVENTS.md and their shape checks.

``parse_event`` turns one decoded JSON object into an ``Event`` or raises
``EventRejected`` naming the event id, the field and what is wrong. Whether the event
is allowed *now* (the state machine) is the projection's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Event:
    """One validated-in-shape event. ``time`` is nanoseconds since the Unix epoch."""

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


# --- field checkers: each returns the converted value or raises ValueError(reason) ---

Checker = Callable[[Any], Any]


def _positive_int(value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _short_string(value: Any) -> str:
    if type(value) is not str or not 1 <= len(value) <= 200:
        raise ValueError("must be a string of 1 to 200 characters")
    return value


def _any_string(value: Any) -> str:
    if type(value) is not str or len(value) > 200:
        raise ValueError("must be a string of at most 200 characters")
    return value


def _nullable_string(value: Any) -> str | None:
    if value is None:
        return None
    return _any_string(value)


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError("must be true or false")
    return value


def _one_of(*allowed: str) -> Checker:
    choices = " | ".join(allowed)

    def check(value: Any) -> str:
        if value not in allowed or type(value) is not str:
            raise ValueError(f"must be one of {choices}")
        return str(value)

    return check


# type -> {field: (attribute, checker, required)}
_Spec = dict[str, tuple[str, Checker, bool]]
_CALL = {"call_id": ("call_id", _short_string, True)}
_AGENT = {"agent_id": ("agent_id", _positive_int, True)}

SPECS: dict[str, _Spec] = {
    "agent.state_changed": {
        **_AGENT,
        "state": ("state", _one_of(*AGENT_STATES), True),
        "via": ("via", _one_of(*VIAS), False),
        "forwarding_number": ("forwarding_number", _nullable_string, False),
    },
    "call.started": {
        **_CALL,
        "direction": ("direction", _one_of(*DIRECTIONS), True),
        "phone_number_id": ("phone_number_id", _positive_int, True),
        "source": ("source", _one_of(*SOURCES), False),
        "outside_business_hours": ("outside_business_hours", _boolean, False),
        "agent_id": ("agent_id", _positive_int, False),
        "from": ("from_number", _any_string, False),
        "to": ("to_number", _any_string, False),
    },
    "call.textback_sent": {**_CALL},
    "call.queued": {**_CALL, "group_id": ("group_id", _positive_int, False)},
    "call.callback_requested": {**_CALL},
    "call.offered": {**_CALL, **_AGENT},
    "call.declined": {**_CALL, **_AGENT},
    "call.missed": {**_CALL, **_AGENT},
    "call.answered": {**_CALL, **_AGENT},
    "call.hold_started": {**_CALL},
    "call.hold_ended": {**_CALL},
    "call.transfer_started": {**_CALL, "to_agent_id": ("to_agent_id", _positive_int, False)},
    "call.transfer_accepted": {**_CALL, **_AGENT},
    "call.conference_started": {**_CALL},
    "call.conference_accepted": {**_CALL, **_AGENT},
    "call.voicemail": {**_CALL, "reason": ("reason", _one_of(*VOICEMAIL_REASONS), True)},
    "call.ended": {**_CALL},
    "call.wrap_up_ended": {**_CALL, **_AGENT},
}
EVENT_TYPES = tuple(SPECS)
_ENVELOPE = frozenset(("id", "type", "time"))


def parse_event(obj: object) -> Event:
    """Check one decoded JSON object against the envelope and its type's fields."""
    if not isinstance(obj, Mapping):
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
    if spec is None:
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
        entry = spec.get(key)
        if entry is None:
            raise EventRejected(event_id, key, f"is not a field of {kind}")
        attribute, check, _ = entry
        try:
            values[attribute] = check(value)
        except ValueError as exc:
            raise EventRejected(event_id, key, str(exc)) from None
    for key, (attribute, _, required) in spec.items():
        if required and attribute not in values:
            raise EventRejected(event_id, key, "is required")
    if kind == "agent.state_changed" and "forwarding_number" in obj:
        values["sets_forwarding_number"] = True
    if kind == "call.started":
        outbound = values["direction"] == "outbound"
        if outbound and "agent_id" not in values:
            raise EventRejected(event_id, "agent_id", "is required for an outbound call")
        if not outbound and "agent_id" in values:
            raise EventRejected(event_id, "agent_id", "is not allowed on an inbound call")
    assert isinstance(kind, str)
    return Event(id=event_id, type=kind, time=instant, **values)
