"""The batch decoder (msgspec) and parse_event agree on every object, valid or not.

parse_batch must give, for each object, exactly what parse_event gives: an equal
Event, or an EventRejected with the same event id, field and message. Hypothesis
builds objects that are mostly near-valid events with one thing wrong, and mixes
them into batches, since one bad object sends its whole batch down the slow path.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from talkstats.domain.decoding import parse_batch
from talkstats.domain.events import SPECS, Event, EventRejected, parse_event
from talkstats.domain.timeutil import parse_instant

from .strategies import streams


def expected(obj: object) -> tuple[str, Any]:
    try:
        return ("event", parse_event(obj))
    except EventRejected as exc:
        return ("rejected", (exc.event_id, exc.field, exc.message))


def got(item: Event | EventRejected) -> tuple[str, Any]:
    if isinstance(item, EventRejected):
        return ("rejected", (item.event_id, item.field, item.message))
    return ("event", item)


def assert_agree(objs: list[Any]) -> None:
    assert [got(item) for item in parse_batch(objs)] == [expected(obj) for obj in objs]


ODD_VALUES = [
    None, True, False, 0, -1, 1, 2**63, 2**70, 1.0, 1.5, "", "x", "x" * 200, "x" * 201,
    "online", "inbound", "outbound", "web_widget", "phone", "requested", [], {}, [1], {"a": 1},
    "2026-03-10T09:00:00Z", "2026-03-10T09:00:60Z", "2026-02-30T09:00:00Z",
    "2026-03-10T09:00:00.1234567891Z", "2026-03-10 09:00:00+25:00", "2026-03-10T09:00:00",
    "٢٠٢٦-03-10T09:00:00Z", "2026-03-10t09:00:00.5z", "2026-03-10T09:00:00.000000001-05:30",
]  # fmt: skip
FIELD_NAMES = sorted({key for spec in SPECS.values() for key in spec} | {"id", "type", "time"})


@st.composite
def mutated(draw: Any, event: dict[str, Any]) -> Any:
    """A valid event with one field changed, removed or added (or not an object at all)."""
    obj = dict(event)
    action = draw(st.sampled_from(["keep", "set", "drop", "add", "type", "not-an-object"]))
    if action == "set":
        obj[draw(st.sampled_from(sorted(obj)))] = draw(st.sampled_from(ODD_VALUES))
    elif action == "drop":
        del obj[draw(st.sampled_from(sorted(obj)))]
    elif action == "add":
        obj[draw(st.sampled_from(FIELD_NAMES))] = draw(st.sampled_from(ODD_VALUES))
    elif action == "type":
        obj["type"] = draw(st.sampled_from([*SPECS, "call.unknown", 7, None]))
    elif action == "not-an-object":
        return draw(st.sampled_from(ODD_VALUES[:-10]))
    return obj


@given(st.data())
def test_batches_of_valid_and_broken_events_decode_as_parse_event_says(data: st.DataObject) -> None:
    stream = data.draw(streams())
    events = stream.events
    batch = [data.draw(mutated(event)) for event in events[: data.draw(st.integers(1, 12))]]
    assert_agree(batch)
    assert_agree(events)  # the fast path, whole


def test_a_valid_batch_takes_every_optional_field_and_default() -> None:
    t = "2026-03-10T09:00:00.250+01:00"
    objs = [
        {"id": "a", "type": "agent.state_changed", "time": t, "agent_id": 1, "state": "online"},
        {"id": "b", "type": "agent.state_changed", "time": t, "agent_id": 1, "state": "away",
         "via": "phone", "forwarding_number": None},
        {"id": "c", "type": "call.started", "time": t, "call_id": "c1", "direction": "inbound",
         "phone_number_id": 3, "source": "web_widget", "outside_business_hours": True,
         "from": "+1555", "to": "+1666"},
        {"id": "d", "type": "call.started", "time": t, "call_id": "c2", "direction": "outbound",
         "phone_number_id": 3, "agent_id": 4},
        {"id": "e", "type": "call.queued", "time": t, "call_id": "c1", "group_id": 9},
        {"id": "f", "type": "call.transfer_started", "time": t, "call_id": "c1", "to_agent_id": 2},
        {"id": "g", "type": "call.voicemail", "time": t, "call_id": "c1", "reason": "requested"},
    ]  # fmt: skip
    events = parse_batch(objs)
    assert events == [parse_event(obj) for obj in objs]
    assert all(isinstance(e, Event) for e in events)
    first, second = events[0], events[1]
    assert isinstance(first, Event) and isinstance(second, Event)
    assert not first.sets_forwarding_number and second.sets_forwarding_number
    assert first.time == parse_instant("2026-03-10T08:00:00.25Z")


def test_one_bad_event_is_rejected_alone_with_parse_events_message() -> None:
    t = "2026-03-10T09:00:00Z"
    good = {"id": "a", "type": "call.ended", "time": t, "call_id": "c1"}
    bad = {"id": "b", "type": "call.ended", "time": t, "call_id": "c1", "agent_id": 3}
    out = parse_batch([good, bad, good])
    assert out[0] == out[2] == parse_event(good)
    assert isinstance(out[1], EventRejected)
    assert out[1].message == "event 'b': field 'agent_id': is not a field of call.ended"


def test_an_inbound_call_naming_an_agent_is_explained() -> None:
    obj = {"id": "a", "type": "call.started", "time": "2026-03-10T09:00:00Z", "call_id": "c",
           "direction": "inbound", "phone_number_id": 1, "agent_id": 2}  # fmt: skip
    [out] = parse_batch([obj])
    assert isinstance(out, EventRejected)
    assert (out.field, out.reason) == ("agent_id", "is not allowed on an inbound call")


def test_objects_that_are_not_plain_dicts_take_parse_events_path() -> None:
    class Hiding(dict):  # type: ignore[type-arg]
        def items(self):  # type: ignore[no-untyped-def]
            return [(k, v) for k, v in super().items() if k != "agent_id"]

    obj = Hiding(id="a", type="call.answered", time="2026-03-10T09:00:00Z", call_id="c",
                 agent_id=1)  # fmt: skip
    assert_agree([obj, {"id": "b", "type": "call.ended", "time": obj["time"], "call_id": "c"}])
