"""Call and leg records: the per-call view that Zendesk's incremental exports serve.

``CallRecords`` is a second fold over the log's events, beside the projection (the
exports' ``RecordsFollower`` feeds it the log in order, apart from ingestion), so the
records are a pure function of the log: however the log is read, in one go or in
pieces across restarts, the records, ids and ``updated_at`` stamps are the same. It keeps drafts only for calls that are not finished (not ended,
or an agent still in wrap-up) and remembers which records changed since the caller
last took them (``take_changes``); the caller stores those, so memory stays bounded
by the calls in progress, whatever the number of days.

Ids: the n-th ``call.started`` of the account's log is call ``n``; legs are numbered
the same way, in the order they begin. ``updated_at`` is the account's *record clock*:
at each change, the later of the newest event time folded so far and the previous
stamp plus ``STAMP_STEP``. It never goes backwards, so a reader that saves the last
``updated_at`` it saw and asks for changes at or after it never misses one, even
for an event that arrives late with an old ``time``; and at most 1,000 changes fall
in one second, which bounds an export page (see docs/api.md).

docs/statistics.md maps every field to the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .events import Event
from .timeutil import NS_PER_SECOND, DayCalendar

STAMP_STEP = 1_000_000  # 1 ms: at most 1,000 record changes share one second
_HALF = NS_PER_SECOND // 2

# completion_status values
COMPLETED = "completed"
ABANDONED_IN_QUEUE = "abandoned_in_queue"
ABANDONED_IN_IVR = "abandoned_in_ivr"
ABANDONED_ON_HOLD = "abandoned_on_hold"
NOT_ANSWERED = "not_answered"
AGENT_MISSED = "agent_missed"
AGENT_DECLINED = "agent_declined"


def seconds(ns: int) -> int:
    """Whole seconds, halves away from zero (durations are never negative)."""
    return (ns + _HALF) // NS_PER_SECOND


class LegDraft:
    """One agent's stretch on a call, or an offer the agent missed or declined."""

    ended: int | None = None
    hold: int = 0
    wrap_up: int = 0
    status: str | None = None
    transferred_from: int | None = None
    transferred_to: int | None = None
    conference_to: int | None = None

    def __init__(
        self,
        id: int,
        call: CallDraft,
        agent_id: int,
        created: int,
        available_via: str | None,
        forwarded_to: str | None,
    ) -> None:
        self.id = id
        self.call = call
        self.agent_id = agent_id
        self.created = self.updated = created
        self.available_via = available_via
        self.forwarded_to = forwarded_to

    def __repr__(self) -> str:
        return f"LegDraft({self.id}, call {self.call.id}, agent {self.agent_id})"

    def values(self) -> tuple[Any, ...]:
        """The stored form, in ``LEG_COLUMNS`` order (durations in whole seconds)."""
        duration = 0 if self.ended is None else seconds(self.ended - self.created)
        hold = seconds(self.hold)
        talk = 0 if self.ended is None or self.status != COMPLETED else duration - hold
        return (
            self.call.id,
            self.agent_id,
            self.created // NS_PER_SECOND,
            self.updated // NS_PER_SECOND,
            self.available_via,
            self.forwarded_to,
            duration,
            hold,
            talk,
            seconds(self.wrap_up),
            self.status,
            self.transferred_from,
            self.transferred_to,
            self.conference_to,
        )


class CallDraft:
    """A call's record while the call goes on.

    A plain class: the fields still at their class-level default cost nothing when a
    call starts (a slotted dataclass of 30 fields cost four times more to build, at
    one call a few events).
    """

    agent_id: int | None = None
    group_id: int | None = None
    ended: int | None = None
    status: str | None = None
    queue_since: int | None = None
    queued: bool = False
    wait: int = 0
    in_callback: bool = False
    callback: bool = False
    voicemail_reason: str | None = None
    answered: bool = False
    time_to_answer: int | None = None
    hold: int = 0
    hold_since: int | None = None
    talk: int = 0
    wrap_up: int = 0
    leg: LegDraft | None = None  # the open leg

    def __init__(
        self,
        id: int,
        key: str,
        day: date,
        day_text: str,
        direction: str,
        phone_number_id: int,
        source: str,
        outside_business_hours: bool,
        created: int,
    ) -> None:
        self.id = id
        self.key = key  # the events' call_id
        self.day = day
        self.day_text = day_text  # day as YYYY-MM-DD (the stored form)
        self.direction = direction
        self.phone_number_id = phone_number_id
        self.source = source
        self.outside_business_hours = outside_business_hours
        self.created = self.updated = created
        self.offers: dict[int, int] = {}  # agent -> ringing since
        self.wrapping: dict[int, LegDraft] = {}  # agent -> its ended leg, in wrap-up

    def __repr__(self) -> str:
        return f"CallDraft({self.id}, {self.key!r})"

    def values(self) -> tuple[Any, ...]:
        """The stored form, in ``CALL_COLUMNS`` order (durations in whole seconds)."""
        reason = self.voicemail_reason
        return (
            self.key,
            self.created // NS_PER_SECOND,
            self.updated // NS_PER_SECOND,
            self.agent_id,
            self.phone_number_id,
            self.direction,
            0 if self.ended is None else seconds(self.ended - self.created),
            seconds(self.wait),
            seconds(self.talk),
            seconds(self.hold),
            seconds(self.wrap_up),
            None if self.time_to_answer is None else seconds(self.time_to_answer),
            self.status,
            reason is not None,
            self.callback,
            (("web_widget" if self.source == "web_widget" else "queue") if self.callback else None),
            self.outside_business_hours,
            reason == "exceeded_queue_wait_time",
            reason == "requested",
            self.group_id,
        )


CALL_COLUMNS = (
    "external_id",
    "created_at",
    "updated_at",
    "agent_id",
    "phone_number_id",
    "direction",
    "duration",
    "wait_time",
    "talk_time",
    "hold_time",
    "wrap_up_time",
    "time_to_answer",
    "completion_status",
    "voicemail",
    "callback",
    "callback_source",
    "outside_business_hours",
    "exceeded_queue_wait_time",
    "customer_requested_voicemail",
    "call_group_id",
)
LEG_COLUMNS = (
    "call_id",
    "agent_id",
    "created_at",
    "updated_at",
    "available_via",
    "forwarded_to",
    "duration",
    "hold_time",
    "talk_time",
    "wrap_up_time",
    "completion_status",
    "transferred_from",
    "transferred_to",
    "conference_to",
)


def _as_is(values: tuple[Any, ...]) -> Any:
    return values


@dataclass(frozen=True, slots=True)
class Changes:
    """Records changed since the last ``take_changes``:
    (id, day YYYY-MM-DD, updated ns, encode(values))."""

    calls: list[tuple[int, str, int, Any]]
    legs: list[tuple[int, str, int, Any]]

    def __len__(self) -> int:
        return len(self.calls) + len(self.legs)


class CallRecords:
    """The fold from accepted events to call and leg records (see the module doc)."""

    def __init__(self, calendar: DayCalendar) -> None:
        self.calendar = calendar
        self.calls: dict[str, CallDraft] = {}  # unfinished calls by call_id
        self.agents: dict[int, tuple[str | None, str | None]] = {}  # via, forwarding
        self.last_call_id = 0
        self.last_leg_id = 0
        self.clock = 0  # the last stamp handed out
        self.now = 0
        # changed since take_changes(); not part of snapshots (flushed before one)
        self.changed_calls: dict[int, CallDraft] = {}
        self.changed_legs: dict[int, LegDraft] = {}
        self._day_texts: dict[date, str] = {}
        self._handlers = self._make_handlers()

    def __getstate__(self) -> dict[str, object]:
        state = {k: getattr(self, k) for k in _STATE}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self.changed_calls = {}
        self.changed_legs = {}
        self._day_texts = {}
        self._handlers = self._make_handlers()

    # --- public ------------------------------------------------------------------------

    def fold(self, event: Event, now: int) -> None:
        """Fold the log's next event; ``now`` is the latest event time of the log so far."""
        self.now = now
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event)

    @property
    def pending(self) -> int:
        """How many changed records wait to be taken."""
        return len(self.changed_calls) + len(self.changed_legs)

    def take_changes(self, encode: Callable[[tuple[Any, ...]], Any] = _as_is) -> Changes:
        """The records changed since the last call, their values passed through
        ``encode`` (the store's JSON, say); forgets them."""
        calls = [
            (c.id, c.day_text, c.updated, encode(c.values())) for c in self.changed_calls.values()
        ]
        legs = [
            (g.id, g.call.day_text, g.updated, encode(g.values()))
            for g in self.changed_legs.values()
        ]
        self.changed_calls = {}
        self.changed_legs = {}
        return Changes(calls, legs)

    def discard_changes(self) -> None:
        """Forget the changes (they are already stored)."""
        self.changed_calls = {}
        self.changed_legs = {}

    # --- stamps ---------------------------------------------------------------------------

    # (the stamp is inlined in both: this runs a few times per ingested event)
    def _touch(self, call: CallDraft) -> None:
        stamp = self.clock + STAMP_STEP
        if stamp < self.now:
            stamp = self.now
        self.clock = call.updated = stamp
        self.changed_calls[call.id] = call

    def _touch_leg(self, leg: LegDraft) -> None:
        stamp = self.clock + STAMP_STEP
        if stamp < self.now:
            stamp = self.now
        self.clock = leg.updated = stamp
        self.changed_legs[leg.id] = leg

    # --- helpers ---------------------------------------------------------------------------

    def _new_leg(self, call: CallDraft, agent_id: int, created: int) -> LegDraft:
        self.last_leg_id += 1
        via, forwarding = self.agents.get(agent_id, (None, None))
        return LegDraft(
            self.last_leg_id, call, agent_id, created, via, forwarding if via == "phone" else None
        )

    def _open_leg(self, call: CallDraft, agent_id: int, at: int) -> LegDraft:
        leg = call.leg = self._new_leg(call, agent_id, at)
        return leg

    def _close_leg(self, call: CallDraft, at: int) -> LegDraft:
        leg = call.leg
        assert leg is not None
        if call.hold_since is not None:
            span = at - call.hold_since
            call.hold_since = None
            leg.hold += span
            call.hold += span
        leg.ended = at
        leg.status = COMPLETED
        call.talk += at - leg.created - leg.hold
        call.wrapping[leg.agent_id] = leg
        call.leg = None
        return leg

    def _leave_queue(self, call: CallDraft, at: int) -> bool:
        since = call.queue_since
        if since is None:
            return False
        call.wait += at - since
        call.queue_since = None
        return True

    def _finish_if_done(self, call: CallDraft) -> None:
        if call.ended is not None and not call.wrapping:
            del self.calls[call.key]

    # --- handlers ---------------------------------------------------------------------------

    def _make_handlers(self) -> dict[str, Callable[[Event], None]]:
        return {
            "agent.state_changed": self._state_changed,
            "call.started": self._started,
            "call.queued": self._queued,
            "call.callback_requested": self._callback_requested,
            "call.offered": self._offered,
            "call.declined": self._offer_closed,
            "call.missed": self._offer_closed,
            "call.answered": self._answered,
            "call.hold_started": self._hold_started,
            "call.hold_ended": self._hold_ended,
            "call.transfer_accepted": self._transfer_accepted,
            "call.conference_accepted": self._conference_accepted,
            "call.voicemail": self._voicemail,
            "call.ended": self._ended,
            "call.wrap_up_ended": self._wrap_up_ended,
        }

    def _state_changed(self, e: Event) -> None:
        assert e.agent_id is not None
        via, forwarding = self.agents.get(e.agent_id, (None, None))
        if e.via is not None:
            via = e.via
        if e.sets_forwarding_number:
            forwarding = e.forwarding_number
        self.agents[e.agent_id] = (via, forwarding)

    def _started(self, e: Event) -> None:
        assert e.call_id is not None and e.direction and e.phone_number_id is not None
        self.last_call_id += 1
        day = self.calendar.day_of(e.time)
        text = self._day_texts.get(day)
        if text is None:
            if len(self._day_texts) > 64:
                self._day_texts.clear()
            text = self._day_texts[day] = day.isoformat()
        call = CallDraft(
            self.last_call_id,
            e.call_id,
            day,
            text,
            e.direction,
            e.phone_number_id,
            e.source,
            e.outside_business_hours,
            e.time,
        )
        self.calls[e.call_id] = call
        if e.agent_id is not None:  # outbound: the calling agent is on the call
            call.agent_id = e.agent_id
            self._touch_leg(self._open_leg(call, e.agent_id, e.time))
        self._touch(call)

    def _queued(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        call.queue_since = e.time
        call.queued = True
        if e.group_id is not None and e.group_id != call.group_id:
            call.group_id = e.group_id
            self._touch(call)

    def _callback_requested(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        self._leave_queue(call, e.time)
        call.in_callback = True
        call.callback = True
        self._touch(call)

    def _offered(self, e: Event) -> None:
        assert e.agent_id is not None
        self.calls[e.call_id].offers[e.agent_id] = e.time  # type: ignore[index]

    def _offer_closed(self, e: Event) -> None:
        assert e.agent_id is not None
        call = self.calls[e.call_id]  # type: ignore[index]
        leg = self._new_leg(call, e.agent_id, call.offers.pop(e.agent_id))
        leg.ended = e.time
        leg.status = AGENT_DECLINED if e.type == "call.declined" else AGENT_MISSED
        self._touch_leg(leg)

    def _answered(self, e: Event) -> None:
        assert e.agent_id is not None
        call = self.calls[e.call_id]  # type: ignore[index]
        if call.direction == "outbound":
            call.answered = True  # the callee picked up: shows in completion_status
            return
        call.offers.clear()
        if not self._leave_queue(call, e.time):
            call.in_callback = False
        if not call.answered:
            call.answered = True
            call.agent_id = e.agent_id
            call.time_to_answer = e.time - call.created
        self._touch_leg(self._open_leg(call, e.agent_id, e.time))
        self._touch(call)

    def _hold_started(self, e: Event) -> None:
        self.calls[e.call_id].hold_since = e.time  # type: ignore[index]

    def _hold_ended(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        assert call.hold_since is not None and call.leg is not None
        span = e.time - call.hold_since
        call.hold_since = None
        call.hold += span
        call.leg.hold += span
        self._touch_leg(call.leg)
        self._touch(call)

    def _transfer_accepted(self, e: Event) -> None:
        assert e.agent_id is not None
        call = self.calls[e.call_id]  # type: ignore[index]
        previous = self._close_leg(call, e.time)
        previous.transferred_to = e.agent_id
        self._touch_leg(previous)
        leg = self._open_leg(call, e.agent_id, e.time)
        leg.transferred_from = previous.agent_id
        self._touch_leg(leg)
        self._touch(call)

    def _conference_accepted(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        leg = call.leg
        if leg is not None:
            leg.conference_to = e.agent_id
            self._touch_leg(leg)

    def _voicemail(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        self._leave_queue(call, e.time)
        call.in_callback = False
        call.offers.clear()
        call.voicemail_reason = e.reason
        self._touch(call)

    def _ended(self, e: Event) -> None:
        call = self.calls[e.call_id]  # type: ignore[index]
        on_hold = call.hold_since is not None
        if call.leg is not None:
            self._touch_leg(self._close_leg(call, e.time))
        in_queue = self._leave_queue(call, e.time)
        call.offers.clear()
        call.ended = e.time
        if on_hold:
            call.status = ABANDONED_ON_HOLD
        elif call.answered or (call.voicemail_reason is not None and not in_queue):
            call.status = COMPLETED
        elif in_queue:
            call.status = ABANDONED_IN_QUEUE
        elif call.callback or call.direction == "outbound" or call.queued:
            call.status = NOT_ANSWERED
        else:
            call.status = ABANDONED_IN_IVR
        self._touch(call)
        self._finish_if_done(call)

    def _wrap_up_ended(self, e: Event) -> None:
        assert e.agent_id is not None
        call = self.calls[e.call_id]  # type: ignore[index]
        leg = call.wrapping.pop(e.agent_id)
        assert leg.ended is not None
        span = e.time - leg.ended
        leg.wrap_up += span
        call.wrap_up += span
        self._touch_leg(leg)
        self._touch(call)
        self._finish_if_done(call)


_STATE = ("calendar", "calls", "agents", "last_call_id", "last_leg_id", "clock", "now")


# --- the Zendesk shapes ---------------------------------------------------------------------


_DATES: dict[int, str] = {}  # days since the epoch -> "YYYY-MM-DD" (a page renders 2,000)


def iso_seconds(seconds_since_epoch: int) -> str:
    """``2026-11-26T09:15:02Z``: the timestamps of Zendesk's records."""
    days, rest = divmod(seconds_since_epoch, 86_400)
    prefix = _DATES.get(days)
    if prefix is None:
        if len(_DATES) > 4096:
            _DATES.clear()
        prefix = _DATES[days] = datetime.fromtimestamp(days * 86_400, UTC).strftime("%Y-%m-%d")
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{prefix}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


_UNKNOWN_CALL_FIELDS: dict[str, Any] = {
    name: None
    for name in (
        "call_channel", "call_charge", "call_recording_consent", "call_recording_consent_action",
        "call_recording_consent_keypress", "consultation_time", "customer_id", "ivr_action",
        "ivr_destination_group_name", "ivr_hops", "ivr_routed_to", "ivr_time_spent",
        "minutes_billed", "not_recording_time", "overflowed_to", "recording_control_interactions",
        "recording_time", "ticket_id",
    )
} | {
    "default_group": False,
    "overflowed": False,
    "post_call_summary_created": False,
    "post_call_transcription_created": False,
    "line_type": "phone",
}  # fmt: skip
_KNOWN_CALL_FIELDS = (
    "agent_id", "call_group_id", "callback", "callback_source", "completion_status",
    "created_at", "customer_requested_voicemail", "direction", "duration",
    "exceeded_queue_time", "exceeded_queue_wait_time", "external_id", "hold_time", "id",
    "line", "line_id", "outside_business_hours", "phone_number", "phone_number_id",
    "quality_issues", "talk_time", "time_to_answer", "updated_at", "voicemail", "wait_time",
    "wrap_up_time",
)  # fmt: skip
# every field, in name order, with the empty values; a record is a copy, then filled in
_CALL_TEMPLATE: dict[str, Any] = {
    name: _UNKNOWN_CALL_FIELDS.get(name)
    for name in sorted((*_UNKNOWN_CALL_FIELDS, *_KNOWN_CALL_FIELDS))
}


def render_call(record_id: int, values: list[Any], phone_number: str | None) -> dict[str, Any]:
    """A stored call record as Zendesk's Call object, every field present.

    Fields talkstats cannot know (billing, recording, IVR, ticket, quality) carry the
    empty value: null, or false for flags, or an empty list (docs/statistics.md lists
    them). Built from a template copy: a page renders 1,000 of these.
    """
    (
        external_id,
        created,
        updated,
        agent_id,
        phone_number_id,
        direction,
        duration,
        wait_time,
        talk_time,
        hold_time,
        wrap_up_time,
        time_to_answer,
        status,
        voicemail,
        callback,
        callback_source,
        outside_business_hours,
        exceeded,
        requested,
        group_id,
    ) = values
    out = _CALL_TEMPLATE.copy()
    out["agent_id"] = agent_id
    out["call_group_id"] = group_id
    out["callback"] = callback
    out["callback_source"] = callback_source
    out["completion_status"] = status
    out["created_at"] = iso_seconds(created)
    out["customer_requested_voicemail"] = requested
    out["direction"] = direction
    out["duration"] = duration
    out["exceeded_queue_time"] = out["exceeded_queue_wait_time"] = exceeded
    out["external_id"] = external_id
    out["hold_time"] = hold_time
    out["id"] = record_id
    out["line"] = out["phone_number"] = phone_number
    out["line_id"] = out["phone_number_id"] = phone_number_id
    out["outside_business_hours"] = outside_business_hours
    out["quality_issues"] = []
    out["talk_time"] = talk_time
    out["time_to_answer"] = time_to_answer
    out["updated_at"] = iso_seconds(updated)
    out["voicemail"] = voicemail
    out["wait_time"] = wait_time
    out["wrap_up_time"] = wrap_up_time
    return out


_LEG_TEMPLATE: dict[str, Any] = {
    name: ("agent" if name == "type" else None)
    for name in sorted(
        (
            "agent_id", "available_via", "call_charge", "call_id", "completion_status",
            "conference_from", "conference_time", "conference_to", "consultation_from",
            "consultation_time", "consultation_to", "created_at", "duration", "forwarded_to",
            "hold_time", "id", "minutes_billed", "quality_issues", "talk_time",
            "transferred_from", "transferred_to", "type", "updated_at", "user_id",
            "wrap_up_time",
        )
    )
}  # fmt: skip


def render_leg(record_id: int, values: list[Any]) -> dict[str, Any]:
    """A stored leg record as Zendesk's Leg object, every field present."""
    (
        call_id,
        agent_id,
        created,
        updated,
        available_via,
        forwarded_to,
        duration,
        hold_time,
        talk_time,
        wrap_up_time,
        status,
        transferred_from,
        transferred_to,
        conference_to,
    ) = values
    out = _LEG_TEMPLATE.copy()
    out["agent_id"] = out["user_id"] = agent_id
    out["available_via"] = available_via
    out["call_id"] = call_id
    out["completion_status"] = status
    out["conference_to"] = conference_to
    out["created_at"] = iso_seconds(created)
    out["duration"] = duration
    out["forwarded_to"] = forwarded_to
    out["hold_time"] = hold_time
    out["id"] = record_id
    out["quality_issues"] = []
    out["talk_time"] = talk_time
    out["transferred_from"] = transferred_from
    out["transferred_to"] = transferred_to
    out["updated_at"] = iso_seconds(updated)
    out["wrap_up_time"] = wrap_up_time
    return out


CALL_FIELDS = tuple(render_call(0, [None, 0, 0] + [None] * 17, None))
LEG_FIELDS = tuple(render_leg(0, [None, None, 0, 0] + [None] * 10))
