"""The published event schemas and ``parse_event`` accept and refuse the same objects.

Two differences are known and left out of the comparison: JSON Schema counts 7.0 as
an integer where ``parse_event`` wants 7 (no JSON decoder hands it a float for 7),
and the schemas cap integers at the signed 64-bit range where ``parse_event`` lets
the state machine refuse an id that names no record.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from talkstats.domain.events import SPECS, EventRejected, parse_event
from talkstats.domain.eventschema import MAX_ID, event_schemas

SCHEMAS = {kind: Draft202012Validator(schema) for kind, schema in event_schemas().items()}
TIME = "2026-11-26T09:15:02.250Z"

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=MAX_ID),
    st.sampled_from([MAX_ID, 2**40, 0]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.text(max_size=3),
    st.text(min_size=199, max_size=202),
    st.sampled_from(
        ["", "online", "away", "offline", "transfers_only", "client", "phone", "inbound"]
        + ["outbound", "web_widget", "requested", "no_available_agents", "nope"]
    ),
    st.lists(st.integers(), max_size=1),
)


def _accepts(obj: dict[str, Any]) -> bool:
    try:
        parse_event(obj)
    except EventRejected:
        return False
    return True


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-formed objects of one type, some fields missing, wrong or unknown."""
    kind = draw(st.sampled_from(list(SPECS)))
    obj: dict[str, Any] = {"id": draw(st.sampled_from(["e1", "", "x" * 201])), "type": kind}
    obj["time"] = TIME
    for key in SPECS[kind]:
        if draw(st.integers(0, 3)):
            obj[key] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.sampled_from(["extra", "agent_id", "group_id", "from"]))] = draw(values)
    return obj


@settings(max_examples=800, deadline=None)
@given(events())
def test_schema_and_parse_event_agree(obj: dict[str, Any]) -> None:
    assert SCHEMAS[obj["type"]].is_valid(obj) == _accepts(obj), obj


def _valid(kind: str) -> dict[str, Any]:
    """One minimal valid event of the type, built from its schema alone."""
    schema = event_schemas()[kind]
    samples = {"integer": 7, "string": "x", "boolean": True}
    obj: dict[str, Any] = {"id": "e1", "type": kind, "time": TIME}
    for key in schema["required"]:
        if key in obj:
            continue
        prop = schema["properties"][key]
        obj[key] = prop["enum"][0] if "enum" in prop else samples[prop["type"]]
    if kind == "call.started" and obj["direction"] == "outbound":
        obj["agent_id"] = 7
    return obj


def test_every_type_has_a_valid_minimal_event() -> None:
    for kind in SPECS:
        obj = _valid(kind)
        assert SCHEMAS[kind].is_valid(obj) and _accepts(obj), obj
        without_time = {k: v for k, v in obj.items() if k != "time"}
        assert not SCHEMAS[kind].is_valid(without_time) and not _accepts(without_time)


def test_call_started_agent_rule() -> None:
    base = {"id": "c", "type": "call.started", "time": TIME, "call_id": "c1", "phone_number_id": 1}
    for direction, agent, ok in [
        ("inbound", None, True),
        ("inbound", 3, False),
        ("outbound", 3, True),
        ("outbound", None, False),
    ]:
        obj = {**base, "direction": direction}
        if agent is not None:
            obj["agent_id"] = agent
        assert SCHEMAS["call.started"].is_valid(obj) is ok is _accepts(obj), obj
