"""Batch decoding of events: msgspec checks a whole batch in C; ``parse_event`` explains.

``parse_batch`` turns decoded JSON objects into ``Event`` values or ``EventRejected``
errors. The fast path converts the whole batch at once into msgspec structs generated
from ``events.SPECS`` (about 0.3 µs an event instead of ~5 µs in Python). It accepts a
subset of what ``parse_event`` accepts and yields the same ``Event`` for it; whenever
msgspec refuses anything in a batch, or an accepted event breaks a rule msgspec cannot
express, the batch (or that event) goes through ``parse_event``, so every rejection
carries exactly the message ``parse_event`` gives. tests/domain/test_decoding.py holds
the two paths to that.

The objects must be what a JSON decoder returns (orjson, json: exact dict, str, int,
float, bool, list, None). A batch holding anything else goes through ``parse_event``
alone; values of subclasses of str or int inside a plain dict (a StrEnum, say) are
outside that contract: msgspec accepts them where ``parse_event`` does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

import msgspec

from .events import (
    _BOOL,
    _ENUM,
    _ID_STRING,
    _INT,
    _NULLABLE_STRING,
    _STRING,
    SPECS,
    Event,
    EventRejected,
    _Field,
    parse_event,
)
from .timeutil import InvalidInstant, parse_instant

_IdString = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_String = Annotated[str, msgspec.Meta(max_length=200)]
_PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


def _annotation(f: _Field) -> Any:
    if f.kind == _INT:
        return _PositiveInt
    if f.kind == _ID_STRING:
        return _IdString
    if f.kind == _STRING:
        return _String
    if f.kind == _NULLABLE_STRING:
        return _String | None
    if f.kind == _BOOL:
        return bool
    assert f.kind == _ENUM
    return Literal[tuple(sorted(f.allowed))]


class _Envelope(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    id: _IdString
    time: str


_DEFAULTS = Event("", "", 0)  # every optional field at its default


class _Kind:
    """One event type: its struct, and a function laying a decoded struct out as an Event.

    Optional fields default to the Event's own defaults (msgspec does not check
    defaults, and a JSON null still fails the type). Only forwarding_number keeps
    UNSET: giving it, even as null, is what sets_forwarding_number records.
    """

    __slots__ = ("struct", "build")

    def __init__(self, kind: str, spec: dict[str, _Field]) -> None:
        fields: list[tuple[str, Any, Any]] = []
        for key, f in spec.items():
            annotation = _annotation(f)
            if f.required:
                fields.append((f.attribute, annotation, msgspec.field(name=key)))
            elif f.attribute == "forwarding_number":
                default = msgspec.field(default=msgspec.UNSET, name=key)
                fields.append((f.attribute, annotation | msgspec.UnsetType, default))
            else:
                default = msgspec.field(default=getattr(_DEFAULTS, f.attribute), name=key)
                fields.append((f.attribute, annotation, default))
        # required fields before optional ones, as Python's signatures want
        fields.sort(key=lambda item: item[2].default is not msgspec.NODEFAULT)
        self.struct = msgspec.defstruct(
            "Decoded_" + kind.replace(".", "_"), fields, bases=(_Envelope,), tag=kind
        )
        self.build = _builder(kind, {name for name, _, _ in fields})


def _builder(kind: str, attributes: set[str]) -> Any:
    """``build(struct, instant) -> Event`` for one kind, compiled once at import.

    Generated source (like dataclasses and namedtuple do) because it runs for every
    event: one tuple display is about five times cheaper than a Python loop.
    """
    parts = []
    for name in Event._fields:
        if name == "id":
            parts.append("s.id")
        elif name == "type":
            parts.append(repr(kind))
        elif name == "time":
            parts.append("t")
        elif name == "forwarding_number" and name in attributes:
            parts.append("None if s.forwarding_number is UNSET else s.forwarding_number")
        elif name == "sets_forwarding_number" and "forwarding_number" in attributes:
            parts.append("s.forwarding_number is not UNSET")
        elif name in attributes:
            parts.append(f"s.{name}")
        else:
            parts.append(repr(getattr(_DEFAULTS, name)))
    source = f"def build(s, t):\n    return new(Event, ({', '.join(parts)}))\n"
    namespace: dict[str, Any] = {"new": tuple.__new__, "Event": Event, "UNSET": msgspec.UNSET}
    exec(source, namespace)  # noqa: S102 - built from SPECS above, no outside input
    return namespace["build"]


_KINDS = {kind: _Kind(kind, spec) for kind, spec in SPECS.items()}
_BUILD = {k.struct: k.build for k in _KINDS.values()}
_BATCH: Any = list[Union[tuple(k.struct for k in _KINDS.values())]]  # type: ignore[misc]  # noqa: UP007


def parse_batch(objs: Sequence[object]) -> list[Event | EventRejected]:
    """Every object as an Event or the EventRejected that ``parse_event`` would raise."""
    if not all(type(obj) is dict for obj in objs):
        return [_slow(obj) for obj in objs]
    try:
        decoded = msgspec.convert(objs, _BATCH)
    except msgspec.ValidationError:
        return [_slow(obj) for obj in objs]
    out: list[Event | EventRejected] = []
    append = out.append
    build = _BUILD
    for obj, item in zip(objs, decoded, strict=True):
        try:
            event = build[type(item)](item, parse_instant(item.time))
        except InvalidInstant:
            append(_slow(obj))
            continue
        # parse_event's rule across fields: outbound calls, and only they, name an agent
        if event.direction is not None and (event.direction == "outbound") != (
            event.agent_id is not None
        ):
            append(_slow(obj))
            continue
        append(event)
    return out


def _slow(obj: object) -> Event | EventRejected:
    try:
        return parse_event(obj)
    except EventRejected as exc:
        return exc
