"""Every rejection reason of docs/events.md: the message names the event id and the field,
and the projection is exactly as it was (its pickled state is unchanged)."""

from __future__ import annotations

from typing import Any

import pytest

from talkstats.domain.events import EventRejected, parse_event

from .story import Story


def busy_story() -> Story:
    """One account with calls in every phase at 09:10.

    agents 1-8 (all online); groups 50; numbers 10, 20
    wait:  inbound, on the line, agent 3 has an open offer
    conn:  inbound, answered by agent 1
    held:  inbound, answered by agent 2, on hold, transfer started
    cb:    web widget callback waiting
    out:   outbound by agent 4, not answered
    wrap:  ended; agent 5 in wrap-up
    done:  ended, wrap-up finished (the call is over)
    conf:  answered by agent 6, conference started
    vm:    inbound, went to voicemail, not ended
    """
    s = Story(agents=[1, 2, 3, 4, 5, 6, 7, 8], groups={50: [1, 2]})
    s.at("09:00:00")
    for agent_id in range(1, 9):
        s.agent(agent_id, "online")
    s.inbound("wait").call("wait", "queued", group_id=50).call("wait", "offered", agent_id=3)
    s.inbound("conn").call("conn", "queued").call("conn", "answered", agent_id=1)
    s.inbound("held").call("held", "queued").call("held", "answered", agent_id=2)
    s.call("held", "hold_started").call("held", "transfer_started")
    s.inbound("cb", 20, source="web_widget").call("cb", "callback_requested")
    s.outbound("out", 4)
    s.inbound("wrap").call("wrap", "queued").call("wrap", "answered", agent_id=5)
    s.call("wrap", "ended")
    s.inbound("done").call("done", "queued").call("done", "answered", agent_id=7)
    s.call("done", "ended").call("done", "wrap_up_ended", agent_id=7)
    s.inbound("conf").call("conf", "queued").call("conf", "answered", agent_id=6)
    s.call("conf", "conference_started")
    s.inbound("vm").call("vm", "voicemail", reason="requested")
    s.at("09:10:00")
    return s


def check(s: Story, event: dict[str, Any], field: str, *fragments: str) -> EventRejected:
    event = {"id": "bad-1", **event}
    exc = s.reject(event)
    assert exc.event_id == "bad-1"
    assert exc.field == field
    text = str(exc)
    assert "'bad-1'" in text and f"field '{field}'" in text, text
    for fragment in fragments:
        assert fragment in text, text
    return exc


# --- shape: parse_event -----------------------------------------------------------------

SHAPE = [
    ({"type": "call.exploded", "call_id": "c"}, "type", "unknown event type"),
    ({"type": 7, "call_id": "c"}, "type", "unknown event type"),
    (
        {"type": "agent.state_changed", "agent_id": 1, "state": "online", "mood": "x"},
        "mood",
        "is not a field",
    ),
    ({"type": "call.ended", "call_id": "conn", "agent_id": 1}, "agent_id", "is not a field"),
    (
        {"type": "agent.state_changed", "agent_id": "1", "state": "online"},
        "agent_id",
        "positive integer",
    ),
    (
        {"type": "agent.state_changed", "agent_id": True, "state": "online"},
        "agent_id",
        "positive integer",
    ),
    (
        {"type": "agent.state_changed", "agent_id": 0, "state": "online"},
        "agent_id",
        "positive integer",
    ),
    (
        {"type": "agent.state_changed", "agent_id": 1.0, "state": "online"},
        "agent_id",
        "positive integer",
    ),
    ({"type": "agent.state_changed", "agent_id": 1, "state": "busy"}, "state", "one of"),
    (
        {"type": "agent.state_changed", "agent_id": 1, "state": "online", "via": "pigeon"},
        "via",
        "one of",
    ),
    (
        {"type": "agent.state_changed", "agent_id": 1, "state": "online", "forwarding_number": 5},
        "forwarding_number",
        "string",
    ),
    (
        {"type": "call.started", "call_id": "n", "direction": "sideways", "phone_number_id": 10},
        "direction",
        "one of",
    ),
    (
        {"type": "call.started", "call_id": "n", "direction": "inbound", "phone_number_id": -1},
        "phone_number_id",
        "positive integer",
    ),
    (
        {
            "type": "call.started",
            "call_id": "n",
            "direction": "inbound",
            "phone_number_id": 10,
            "source": "fax",
        },
        "source",
        "one of",
    ),
    (
        {
            "type": "call.started",
            "call_id": "n",
            "direction": "inbound",
            "phone_number_id": 10,
            "outside_business_hours": "yes",
        },
        "outside_business_hours",
        "true or false",
    ),
    (
        {
            "type": "call.started",
            "call_id": "n",
            "direction": "inbound",
            "phone_number_id": 10,
            "from": 33,
        },
        "from",
        "string",
    ),
    (
        {"type": "call.started", "call_id": "", "direction": "inbound", "phone_number_id": 10},
        "call_id",
        "1 to 200",
    ),
    (
        {"type": "call.started", "call_id": 5, "direction": "inbound", "phone_number_id": 10},
        "call_id",
        "1 to 200",
    ),
    (
        {
            "type": "call.started",
            "call_id": "x" * 201,
            "direction": "inbound",
            "phone_number_id": 10,
        },
        "call_id",
        "1 to 200",
    ),
    ({"type": "call.queued", "call_id": "wait", "group_id": 1.5}, "group_id", "positive integer"),
    (
        {"type": "call.transfer_started", "call_id": "conn", "to_agent_id": "2"},
        "to_agent_id",
        "positive integer",
    ),
    ({"type": "call.voicemail", "call_id": "vm", "reason": "bored"}, "reason", "one of"),
    ({"type": "call.ended", "call_id": "conn", "time": "2026-11-26 09:10:00"}, "time", "RFC 3339"),
    ({"type": "call.ended", "call_id": "conn", "time": "2026-11-26T09:10:00"}, "time", "offset"),
    (
        {"type": "call.ended", "call_id": "conn", "time": "2026-02-30T09:10:00Z"},
        "time",
        "valid date",
    ),
    ({"type": "call.ended", "call_id": "conn", "time": 1764144600}, "time", "RFC 3339"),
    # missing required fields
    ({"type": "agent.state_changed", "agent_id": 1}, "state", "is required"),
    ({"type": "agent.state_changed", "state": "online"}, "agent_id", "is required"),
    ({"type": "call.started", "call_id": "n", "phone_number_id": 10}, "direction", "is required"),
    (
        {"type": "call.started", "call_id": "n", "direction": "inbound"},
        "phone_number_id",
        "is required",
    ),
    ({"type": "call.offered", "call_id": "wait"}, "agent_id", "is required"),
    ({"type": "call.voicemail", "call_id": "wait"}, "reason", "is required"),
    ({"type": "call.ended"}, "call_id", "is required"),
    ({"call_id": "conn"}, "type", "is required"),
    # direction and agent_id
    (
        {
            "type": "call.started",
            "call_id": "n",
            "direction": "inbound",
            "phone_number_id": 10,
            "agent_id": 1,
        },
        "agent_id",
        "not allowed on an inbound call",
    ),
    (
        {"type": "call.started", "call_id": "n", "direction": "outbound", "phone_number_id": 10},
        "agent_id",
        "required for an outbound call",
    ),
]


@pytest.mark.parametrize(("event", "field", "fragment"), SHAPE)
def test_shape_rejections(event: dict[str, Any], field: str, fragment: str) -> None:
    check(busy_story(), event, field, fragment)


def test_missing_time_is_rejected() -> None:
    with pytest.raises(EventRejected) as info:
        parse_event({"id": "bad-1", "type": "call.ended", "call_id": "c"})
    assert (info.value.event_id, info.value.field) == ("bad-1", "time")
    assert str(info.value) == "event 'bad-1': field 'time': is required"


@pytest.mark.parametrize("raw_id", [None, "", "x" * 201, 7])
def test_bad_event_id_is_rejected_naming_the_field(raw_id: object) -> None:
    obj: dict[str, Any] = {"type": "call.ended", "call_id": "c", "time": "2026-11-26T09:00:00Z"}
    if raw_id is not None:
        obj["id"] = raw_id
    with pytest.raises(EventRejected) as info:
        parse_event(obj)
    assert info.value.field == "id" and "field 'id'" in str(info.value)


def test_non_object_is_rejected() -> None:
    with pytest.raises(EventRejected):
        parse_event(["not", "an", "object"])


# --- reference data and call ids ----------------------------------------------------------

REFERENCE = [
    (
        {"type": "agent.state_changed", "agent_id": 99, "state": "online"},
        "agent_id",
        "unknown agent 99",
    ),
    ({"type": "call.offered", "call_id": "wait", "agent_id": 99}, "agent_id", "unknown agent"),
    (
        {"type": "call.transfer_started", "call_id": "conn", "to_agent_id": 99},
        "to_agent_id",
        "unknown agent 99",
    ),
    (
        {"type": "call.transfer_accepted", "call_id": "held", "agent_id": 99},
        "agent_id",
        "unknown agent",
    ),
    (
        {
            "type": "call.started",
            "call_id": "n",
            "direction": "outbound",
            "phone_number_id": 10,
            "agent_id": 99,
        },
        "agent_id",
        "unknown agent",
    ),
    (
        {"type": "call.started", "call_id": "n", "direction": "inbound", "phone_number_id": 30},
        "phone_number_id",
        "unknown phone number 30",
    ),
    ({"type": "call.queued", "call_id": "vm", "group_id": 51}, "group_id", "unknown group 51"),
    ({"type": "call.textback_sent", "call_id": "nope"}, "call_id", "unknown call"),
    ({"type": "call.ended", "call_id": "nope"}, "call_id", "unknown call"),
    ({"type": "call.wrap_up_ended", "call_id": "nope", "agent_id": 5}, "call_id", "unknown call"),
    (
        {"type": "call.started", "call_id": "conn", "direction": "inbound", "phone_number_id": 10},
        "call_id",
        "already exists",
    ),
    (
        {"type": "call.started", "call_id": "done", "direction": "inbound", "phone_number_id": 10},
        "call_id",
        "already exists",
    ),  # reused after the call is over
]


@pytest.mark.parametrize(("event", "field", "fragment"), REFERENCE)
def test_reference_rejections(event: dict[str, Any], field: str, fragment: str) -> None:
    check(busy_story(), event, field, fragment)


# --- the "allowed when" column --------------------------------------------------------------


def ev(kind: str, call_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"call.{kind}", "call_id": call_id, **fields}


def outbound(call_id: str, agent_id: int) -> dict[str, Any]:
    return ev("started", call_id, direction="outbound", phone_number_id=10, agent_id=agent_id)


ALLOWED_WHEN = [
    # call.started outbound: the agent is not busy
    (outbound("n", 1), "agent_id", "busy (on a call"),
    (outbound("n", 5), "agent_id", "busy (in wrap-up"),
    # ended calls
    (ev("textback_sent", "wrap"), "call_id", "has ended"),
    (ev("textback_sent", "done"), "call_id", "has ended"),
    (ev("queued", "wrap"), "call_id", "has ended"),
    (ev("callback_requested", "wrap"), "call_id", "has ended"),
    (ev("answered", "wrap", agent_id=8), "call_id", "has ended"),
    (ev("hold_started", "wrap"), "call_id", "has ended"),
    (ev("voicemail", "done", reason="requested"), "call_id", "has ended"),
    (ev("ended", "wrap"), "call_id", "has ended"),
    (ev("ended", "done"), "call_id", "has ended"),
    # call.queued
    (ev("queued", "out"), "type", "inbound"),
    (ev("queued", "conn"), "call_id", "connected"),
    (ev("queued", "wait"), "call_id", "already queued"),
    (ev("queued", "cb"), "call_id", "callback queue"),
    # call.callback_requested
    (ev("callback_requested", "out"), "type", "inbound"),
    (ev("callback_requested", "conn"), "call_id", "connected"),
    (ev("callback_requested", "cb"), "call_id", "already in the callback queue"),
    # call.offered
    (ev("offered", "vm", agent_id=8), "call_id", "not waiting"),
    (ev("offered", "conn", agent_id=8), "call_id", "not waiting"),
    (ev("offered", "cb", agent_id=3), "agent_id", "open offer"),
    (ev("offered", "cb", agent_id=1), "agent_id", "busy"),
    (ev("offered", "cb", agent_id=5), "agent_id", "busy"),
    # call.declined / call.missed
    (ev("declined", "wait", agent_id=8), "agent_id", "no open offer"),
    (ev("missed", "cb", agent_id=3), "agent_id", "no open offer"),  # its offer is on "wait"
    # call.answered
    (ev("answered", "vm", agent_id=8), "call_id", "not waiting"),
    (ev("answered", "wait", agent_id=1), "agent_id", "busy"),
    (ev("answered", "cb", agent_id=5), "agent_id", "busy"),
    (ev("answered", "out", agent_id=8), "agent_id", "started by agent 4"),
    # call.hold_started / hold_ended
    (ev("hold_started", "wait"), "call_id", "not connected"),
    (ev("hold_started", "held"), "call_id", "already on hold"),
    (ev("hold_ended", "conn"), "call_id", "not on hold"),
    # transfers and conferences
    (ev("transfer_started", "cb"), "call_id", "not connected"),
    (ev("transfer_accepted", "conn", agent_id=8), "call_id", "no pending transfer"),
    (ev("transfer_accepted", "held", agent_id=2), "agent_id", "already connected"),
    (ev("transfer_accepted", "held", agent_id=1), "agent_id", "busy"),
    (ev("transfer_accepted", "held", agent_id=5), "agent_id", "busy"),
    (ev("conference_started", "vm"), "call_id", "not connected"),
    (ev("conference_accepted", "conn", agent_id=8), "call_id", "no conference"),
    # call.voicemail
    (ev("voicemail", "out", reason="requested"), "type", "inbound"),
    (ev("voicemail", "conn", reason="requested"), "call_id", "connected"),
    (ev("voicemail", "vm", reason="requested"), "call_id", "already went to voicemail"),
    # call.wrap_up_ended
    (ev("wrap_up_ended", "conn", agent_id=1), "agent_id", "not in wrap-up"),
    (ev("wrap_up_ended", "wrap", agent_id=8), "agent_id", "not in wrap-up"),
    (ev("wrap_up_ended", "conn", agent_id=5), "agent_id", "not in wrap-up"),  # another call
    (ev("wrap_up_ended", "done", agent_id=7), "agent_id", "not in wrap-up"),  # already ended
]


@pytest.mark.parametrize(("event", "field", "fragment"), ALLOWED_WHEN)
def test_allowed_when_rejections(event: dict[str, Any], field: str, fragment: str) -> None:
    check(busy_story(), event, field, fragment)


def test_outbound_answered_twice_is_rejected() -> None:
    s = busy_story()
    s.call("out", "answered", agent_id=4)
    check(s, ev("answered", "out", agent_id=4), "call_id", "already answered")


def test_rejected_events_leave_every_call_usable() -> None:
    """After all those rejections the story still runs as if none had been sent."""
    s = busy_story()
    for event, _, _ in ALLOWED_WHEN + REFERENCE:
        with pytest.raises(EventRejected):
            s.send(event)
    s.at("09:11:00").call("wait", "answered", agent_id=3)
    s.call("held", "transfer_accepted", agent_id=8)
    s.call("wrap", "wrap_up_ended", agent_id=5)
    a = s.activity()
    assert a[2]["total_hold_time"] == 660  # 09:00 -> 09:11, closed by the transfer
    assert a[5]["total_wrap_up_time"] == 660
    assert s.overview()["total_calls"] == 9


# --- ordering -------------------------------------------------------------------------------


def test_out_of_order_per_call() -> None:
    s = busy_story()
    s.at("08:59:59.999999999")
    check(s, ev("hold_started", "conn"), "time", "older than the last accepted event of call")
    check(s, ev("textback_sent", "vm"), "time", "of call 'vm'")
    check(s, ev("wrap_up_ended", "wrap", agent_id=5), "time", "08:00:00Z")


def test_out_of_order_per_agent() -> None:
    s = busy_story()
    s.at("08:59:59")
    check(
        s,
        {"type": "agent.state_changed", "agent_id": 8, "state": "away"},
        "time",
        "older than the last accepted event of agent 8",
    )


def test_call_event_older_than_the_named_agent_is_out_of_order() -> None:
    s = Story()
    s.at("08:00:00").inbound("c1").call("c1", "queued")
    s.at("09:00:00").agent(1, "online")
    s.at("08:30:00")  # in order for the call, not for agent 1
    check(s, ev("offered", "c1", agent_id=1), "time", "agent 1")
    check(s, ev("answered", "c1", agent_id=1), "time", "agent 1")
    s.call("c1", "offered", agent_id=2)  # agent 2 has no later event: fine


def test_call_end_older_than_the_connected_agent_is_out_of_order() -> None:
    # Pinned reading: hold, transfer and conference starts and call.ended act on the
    # connected agent, so they are ordered with that agent's events too.
    s = Story()
    s.at("09:00:00").inbound("c1").call("c1", "queued").call("c1", "answered", agent_id=1)
    s.at("09:10:00").agent(1, "away")
    s.at("09:05:00")
    check(s, ev("ended", "c1"), "time", "agent 1")
    check(s, ev("hold_started", "c1"), "time", "agent 1")


def test_equal_times_are_in_order() -> None:
    s = Story()
    s.at("09:00:00").inbound("c1").call("c1", "callback_requested").call("c1", "ended")
    s.agent(1, "online").agent(1, "away").agent(1, "online")
    assert s.overview()["total_callback_calls"] == 1


def test_event_too_far_in_the_future() -> None:
    s = busy_story()
    s.at("09:15:00.000000001").now("09:10:00")
    check(s, {"type": "agent.state_changed", "agent_id": 8, "state": "away"}, "time", "300 seconds")
    check(s, ev("ended", "conn"), "time", "300 seconds")
