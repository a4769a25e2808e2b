"""Call and leg records (domain/records.py), as small event stories.

Each test folds a story and reads the records the fold handed out, keyed by id, in
their latest stored form (``Book``): what the store's record tables would hold.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

from talkstats.domain.records import (
    CALL_COLUMNS,
    CALL_FIELDS,
    LEG_COLUMNS,
    LEG_FIELDS,
    STAMP_STEP,
    CallRecords,
    iso_seconds,
    render_call,
    render_leg,
)
from talkstats.domain.timeutil import NS_PER_SECOND

from .story import Story


class Book:
    """A records fold fed the story's accepted events in order (as the exports' follower
    feeds it the log), and the latest stored form of every record it handed out."""

    def __init__(self, story: Story, records: CallRecords | None = None) -> None:
        self.story = story
        self.records = records if records is not None else CallRecords(story.projection.calendar)
        self.folded = 0  # the story's events folded so far
        self.calls: dict[int, dict[str, Any]] = {}
        self.legs: dict[int, dict[str, Any]] = {}
        self.stamps: list[int] = []

    def fold(self) -> Book:
        latest = self.records.now
        for event in self.story.events[self.folded :]:
            latest = max(latest, event.time)
            self.records.fold(event, latest)
        self.folded = len(self.story.events)
        return self

    def take(self) -> Book:
        changes = self.fold().records.take_changes()
        for record_id, _day, updated, values in changes.calls:
            self.calls[record_id] = dict(zip(CALL_COLUMNS, values, strict=True))
            self.stamps.append(updated)
        for record_id, _day, updated, values in changes.legs:
            self.legs[record_id] = dict(zip(LEG_COLUMNS, values, strict=True))
            self.stamps.append(updated)
        return self

    def call(self, record_id: int = 1) -> dict[str, Any]:
        return self.take().calls[record_id]

    def legs_of(self, call_id: int = 1) -> list[dict[str, Any]]:
        self.take()
        return [leg for _, leg in sorted(self.legs.items()) if leg["call_id"] == call_id]


def answered_story() -> Story:
    s = Story(agents=[1, 2, 3], groups={7: [1, 2]})
    s.at("08:59:00").agent(1, "online", via="phone", forwarding_number="+3312").agent(2, "online")
    s.at("09:00:00").inbound("c1")
    s.at("09:00:10").call("c1", "queued", group_id=7)
    s.at("09:00:12").call("c1", "offered", agent_id=2)
    s.at("09:00:20").call("c1", "declined", agent_id=2)
    s.at("09:00:21").call("c1", "offered", agent_id=1)
    s.at("09:00:30").call("c1", "answered", agent_id=1)
    s.at("09:01:00").call("c1", "hold_started")
    s.at("09:01:40").call("c1", "hold_ended")
    s.at("09:02:00").call("c1", "transfer_started", to_agent_id=3)
    s.at("09:02:30").call("c1", "transfer_accepted", agent_id=3)
    s.at("09:03:00").call("c1", "conference_started")
    s.at("09:03:05").call("c1", "conference_accepted", agent_id=2)
    s.at("09:04:00").call("c1", "hold_started")
    s.at("09:05:00").call("c1", "ended")  # on hold: the hold closes here
    s.at("09:05:20").call("c1", "wrap_up_ended", agent_id=3)
    s.at("09:06:00").call("c1", "wrap_up_ended", agent_id=1)
    return s


def test_a_transferred_call_and_its_legs() -> None:
    s = answered_story()
    book = Book(s)
    call = book.call()
    assert call == {
        "external_id": "c1",
        "created_at": s.instant("09:00:00") // NS_PER_SECOND,
        "updated_at": s.instant("09:06:00") // NS_PER_SECOND,
        "agent_id": 1,  # the first agent who answered
        "phone_number_id": 10,
        "direction": "inbound",
        "duration": 300,
        "wait_time": 20,
        "talk_time": 80 + 90,  # legs: 120 s with 40 s on hold, 150 s with 60
        "hold_time": 100,
        "wrap_up_time": 210 + 20,
        "time_to_answer": 30,
        "completion_status": "abandoned_on_hold",
        "voicemail": False,
        "callback": False,
        "callback_source": None,
        "outside_business_hours": False,
        "exceeded_queue_wait_time": False,
        "customer_requested_voicemail": False,
        "call_group_id": 7,
    }
    declined, first, second = book.legs_of()
    assert declined["completion_status"] == "agent_declined"
    assert (declined["agent_id"], declined["duration"], declined["talk_time"]) == (2, 8, 0)
    assert first["completion_status"] == "completed"
    assert (first["duration"], first["hold_time"], first["talk_time"]) == (120, 40, 80)
    assert (first["transferred_to"], first["transferred_from"]) == (3, None)
    assert (first["available_via"], first["forwarded_to"]) == ("phone", "+3312")
    assert first["wrap_up_time"] == 210
    assert (second["duration"], second["hold_time"], second["talk_time"]) == (150, 60, 90)
    assert (second["transferred_from"], second["conference_to"]) == (1, 2)
    assert second["wrap_up_time"] == 20
    assert sum(leg["talk_time"] for leg in book.legs.values()) == call["talk_time"]


def test_records_change_while_the_call_goes_on() -> None:
    s = Story()
    book = Book(s)
    s.at("09:00:00").agent(1, "online").inbound("c1")
    assert book.call()["completion_status"] is None
    assert book.call()["duration"] == 0
    s.at("09:00:05").call("c1", "queued")
    assert not book.fold().records.pending  # an open queue visit changes no field yet
    s.at("09:00:15").call("c1", "answered", agent_id=1)
    assert book.call()["wait_time"] == 10
    assert book.legs_of()[0]["completion_status"] is None
    s.at("09:02:15").call("c1", "ended")
    assert book.call()["completion_status"] == "completed"
    assert book.legs_of()[0]["duration"] == 120
    assert "c1" in book.fold().records.calls  # still in wrap-up
    s.at("09:02:45").call("c1", "wrap_up_ended", agent_id=1)
    assert book.call()["wrap_up_time"] == 30
    assert book.fold().records.calls == {}  # finished: nothing kept in memory


def test_completion_statuses() -> None:
    s = Story()
    s.at("09:00:00").agent(1, "online")
    s.inbound("ivr").call("ivr", "ended")
    s.inbound("queue").call("queue", "queued").at("09:00:30").call("queue", "ended")
    s.inbound("vm").call("vm", "queued").call("vm", "voicemail", reason="requested")
    s.call("vm", "ended")
    s.inbound("cb").call("cb", "queued").call("cb", "callback_requested").call("cb", "ended")
    s.outbound("out", 1).at("09:01:00").call("out", "ended").call(
        "out", "wrap_up_ended", agent_id=1
    )
    s.outbound("talk", 1).call("talk", "answered", agent_id=1).at("09:02:00")
    s.call("talk", "ended").call("talk", "wrap_up_ended", agent_id=1)
    book = Book(s).take()
    status = {c["external_id"]: c["completion_status"] for c in book.calls.values()}
    assert status == {
        "ivr": "abandoned_in_ivr",
        "queue": "abandoned_in_queue",
        "vm": "completed",
        "cb": "not_answered",
        "out": "not_answered",
        "talk": "completed",
    }
    by_key = {c["external_id"]: c for c in book.calls.values()}
    assert by_key["vm"]["voicemail"] and by_key["vm"]["customer_requested_voicemail"]
    assert by_key["cb"]["callback"] and by_key["cb"]["callback_source"] == "queue"
    assert by_key["queue"]["wait_time"] == 30
    assert by_key["talk"]["agent_id"] == 1 and by_key["talk"]["time_to_answer"] is None
    # the outbound legs start when the agent dials
    assert [leg["duration"] for leg in book.legs.values()] == [30, 60]


def test_web_widget_callbacks_and_exceeded_waits() -> None:
    s = Story()
    s.at("09:00:00").agent(1, "online")
    s.inbound("w", source="web_widget").call("w", "callback_requested")
    s.at("09:05:00").call("w", "answered", agent_id=1).at("09:06:00").call("w", "ended")
    s.inbound("x", outside_business_hours=True).call("x", "queued")
    s.call("x", "voicemail", reason="exceeded_queue_wait_time").call("x", "ended")
    book = Book(s).take()
    w, x = book.calls[1], book.calls[2]
    assert (w["callback"], w["callback_source"], w["time_to_answer"]) == (True, "web_widget", 300)
    assert w["wait_time"] == 0  # a callback wait is not a queue wait
    assert x["exceeded_queue_wait_time"] and x["outside_business_hours"]


def test_ids_are_the_order_of_the_log() -> None:
    s = Story()
    s.at("09:00:00").agent(1, "online").agent(2, "online")
    for n in range(3):
        s.inbound(f"call-{n}").call(f"call-{n}", "queued")
    s.call("call-2", "answered", agent_id=1).call("call-0", "answered", agent_id=2)
    book = Book(s).take()
    assert [book.calls[i]["external_id"] for i in (1, 2, 3)] == ["call-0", "call-1", "call-2"]
    assert [book.legs[i]["call_id"] for i in (1, 2)] == [3, 1]


def test_stamps_never_go_back_even_for_late_events() -> None:
    s = Story()
    s.at("09:00:00").agent(1, "online").agent(2, "online")
    s.inbound("a").call("a", "queued")
    s.at("10:00:00").inbound("b")
    book = Book(s).take()
    before = max(book.stamps)
    s.at("09:00:30").call("a", "answered", agent_id=1)  # arrives late, with an old time
    book.take()
    assert min(book.stamps[-2:]) > before
    assert book.calls[1]["updated_at"] >= s.instant("10:00:00") // NS_PER_SECOND
    assert len(set(book.stamps)) == len(book.stamps)


def test_a_burst_of_changes_spreads_over_milliseconds() -> None:
    s = Story()
    s.at("09:00:00")
    for n in range(5):
        s.inbound(f"c{n}")
    book = Book(s).take()
    start = s.instant("09:00:00")
    assert book.stamps == [start + n * STAMP_STEP for n in range(5)]


def test_a_fold_resumed_from_its_pickled_state_gives_the_same_records() -> None:
    """The follower stores its state and goes on from it after a restart."""
    live = answered_story()
    whole = Book(live).take()
    events, half = list(live.events), len(live.events) // 2
    live.events[:] = events[:half]  # the log as far as the first run read it
    first = Book(live).take()
    resumed = Book(live, pickle.loads(pickle.dumps(first.records)))
    assert resumed.records.pending == 0  # changes already taken are not in the state
    live.events[:] = events
    resumed.folded = half
    resumed.take()
    assert {**first.calls, **resumed.calls} == whole.calls
    assert {**first.legs, **resumed.legs} == whole.legs


def test_a_rejected_event_changes_no_record() -> None:
    s = Story()
    s.at("09:00:00").inbound("c1")
    book = Book(s).take()
    s.reject({"type": "call.answered", "call_id": "c1", "agent_id": 1})  # not waiting
    assert book.fold().records.pending == 0


def test_rendered_records_have_every_zendesk_field() -> None:
    s = answered_story()
    book = Book(s).take()
    call = render_call(1, list(book.calls[1].values()), "+331000")
    assert tuple(call) == CALL_FIELDS and tuple(call) == tuple(sorted(call))
    assert call["phone_number"] == "+331000" and call["updated_at"].endswith("Z")
    leg = render_leg(2, list(book.legs[2].values()))
    assert tuple(leg) == LEG_FIELDS and tuple(leg) == tuple(sorted(leg))
    assert leg["user_id"] == leg["agent_id"] == 1 and leg["type"] == "agent"


def test_timestamps_are_utc_seconds() -> None:
    for t in (0, 951_782_399, 951_782_400, 1_795_673_399, 4_102_444_800):
        assert iso_seconds(t) == datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
