"""The state machine of docs/events.md folded into the aggregates of docs/statistics.md.

``AccountProjection.apply`` checks one event against the live state of its account
and, only if every rule holds, applies it: live state (agents, calls, queues) and the
per-day totals move together. A rejected event leaves the projection untouched.
The projection never reads the clock: the server's time is an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from .aggregates import AgentTotals, CallTotals, LiveQueue, PeakTimeline
from .directory import Directory
from .events import Event, EventRejected
from .timeline import Timeline
from .timeutil import NS_PER_SECOND, DayCalendar, format_instant

FUTURE_TOLERANCE = 300 * NS_PER_SECOND
ONLINE_STATES = frozenset(("online", "away", "transfers_only"))
ALL_NUMBERS = 0  # key of the all-phone-numbers totals (phone number ids are positive)
_FAR_PAST = -(2**62)


class WholeDays(NamedTuple):
    """A closed interval of one status that covers whole local days, ``[start, end)``.

    Only the middle of a status interval that crosses two or more midnights is kept
    this way; its first and last partial days go into the day totals as usual. Reads
    of a day inside it add the day's length (stats.py).
    """

    start: int  # a local midnight
    end: int  # a later local midnight
    status: str  # online | away | transfers_only
    available: bool  # status online with no call status: counts as available time


@dataclass(slots=True)
class AgentLive:
    """What the core knows about an agent right now."""

    status: str = "offline"
    via: str | None = None
    forwarding_number: str | None = None
    last_time: int = _FAR_PAST
    segment_start: int = _FAR_PAST  # since when status and call status are unchanged
    call_status: str | None = None  # "on_call" | "wrap_up" | None
    call_id: str | None = None
    offer_call_id: str | None = None
    # (day, status, via, forwarding_number) as of the end of each day with a change
    history: list[tuple[date, str, str | None, str | None]] = field(default_factory=list)
    # closed status intervals over whole local days, kept as one entry each however
    # many days they cover (an agent online for years costs one step): see WholeDays
    whole_days: list[WholeDays] = field(default_factory=list)


@dataclass(slots=True)
class CallLive:
    """A call that has not finished (not ended, or an agent still in wrap-up)."""

    id: str
    direction: str
    phone_number_id: int
    source: str
    started: int
    day: date
    last_time: int
    origin_agent: int | None = None
    ended: bool = False
    queue_since: int | None = None
    queue_wait: int = 0
    counted_wait: int | None = None  # the finished queue wait now counted in the totals
    callback_since: int | None = None
    callback_requested: bool = False
    agent_id: int | None = None  # agent of the open leg
    leg_start: int = 0
    leg_hold: int = 0
    hold_since: int | None = None
    answered: bool = False
    offers: set[int] = field(default_factory=set)
    transfer_pending: bool = False
    conference: bool = False
    voicemail: bool = False
    wrap_ups: dict[int, int] = field(default_factory=dict)
    held_by: set[int] = field(default_factory=set)
    # the day's totals it counts in: all phone numbers, and its own (set when it starts)
    totals: tuple[CallTotals, CallTotals] | tuple[()] = ()


class DaySealed(Exception):  # noqa: N818 (a signal to the caller, not an error)
    """The event falls on a sealed day: unseal it (sealing.unseal), then apply again.

    Raised before anything is checked or changed, so the projection is untouched.
    """

    def __init__(self, day: date) -> None:
        super().__init__(f"{day.isoformat()} is sealed")
        self.day = day


def _no_sealed_call(call_id: str) -> bool:
    return False


class AccountProjection:
    """Live state and per-day aggregates of one account, folded event by event."""

    def __init__(self, timezone: str, directory: Directory) -> None:
        self.calendar = DayCalendar(timezone)
        self.directory = directory
        self.agents: dict[int, AgentLive] = {}
        self.calls: dict[str, CallLive] = {}
        self.finished_calls: set[str] = set()
        self.latest_time = _FAR_PAST
        self.event_count = 0
        self.agents_online = 0
        self.call_days: dict[date, dict[int, CallTotals]] = {}
        self.agent_days: dict[date, dict[int, AgentTotals]] = {}
        self.peaks: dict[date, dict[int, PeakTimeline]] = {}
        self.queues: dict[int, LiveQueue] = {}
        self.subset_peaks = SubsetPeaks()
        self.timeline = Timeline(self.calendar, self.peaks)  # per-interval series
        # finished calls by the day they started on, to forget them when it is sealed
        self.finished_by_day: dict[date, list[str]] = {}
        # sealed days (domain/sealing.py): day -> version of its stored form; their
        # aggregates are absent, or present read-only while ``mounted``
        self.sealed: dict[date, str] = {}
        self.sealed_before = _FAR_PAST  # the end of the latest sealed day
        # read back (with the numbers' timelines?), least recently read first
        self.mounted: dict[date, bool] = {}
        # whether a call id belongs to a sealed day (set by whoever seals; not pickled)
        self.sealed_call: Callable[[str], bool] = _no_sealed_call
        # read-side memo (stats.py), keyed by what it depends on; never pickled
        self.read_cache: dict[object, object] = {}
        self._handlers: dict[str, Callable[[Event], None]] = self._make_handlers()

    # --- pickling (snapshots): bound methods and caches are rebuilt --------------

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_handlers"]
        del state["sealed_call"]
        state["subset_peaks"] = SubsetPeaks()
        state["read_cache"] = {}
        if self.mounted:  # sealed days read back stay out of snapshots
            sealed = self.sealed

            def live(days: dict[date, object]) -> dict[date, object]:
                return {d: v for d, v in days.items() if d not in sealed}

            peaks = live(self.peaks)  # type: ignore[arg-type]
            timeline = Timeline(self.calendar, peaks)  # type: ignore[arg-type]
            timeline.days = live(self.timeline.days)  # type: ignore[arg-type, assignment]
            state.update(
                call_days=live(self.call_days),  # type: ignore[arg-type]
                agent_days=live(self.agent_days),  # type: ignore[arg-type]
                peaks=peaks,
                timeline=timeline,
                mounted={},
            )
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.read_cache = {}
        self.sealed_call = _no_sealed_call
        self._handlers = self._make_handlers()

    # --- public ------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self.calendar.zone_name

    def effective_now(self, server_now: int) -> int:
        """The statistics' *now*: the server clock, or the latest event if later."""
        return max(server_now, self.latest_time)

    def apply(self, event: Event, server_now: int) -> None:
        """Validate ``event`` against the live state and fold it, or raise EventRejected."""
        if event.time > server_now + FUTURE_TOLERANCE:
            raise EventRejected(
                event.id, "time", "is more than 300 seconds ahead of the server clock"
            )
        if event.time < self.sealed_before:
            day = self.calendar.day_of(event.time)
            if day in self.sealed:
                raise DaySealed(day)
        self._handlers[event.type](event)
        self.event_count += 1
        if event.time > self.latest_time:
            self.latest_time = event.time

    def totals_for(self, day: date, phone_number_id: int = ALL_NUMBERS) -> CallTotals | None:
        return self.call_days.get(day, {}).get(phone_number_id)

    # --- lookups that reject ------------------------------------------------------

    def _make_handlers(self) -> dict[str, Callable[[Event], None]]:
        return {
            "agent.state_changed": self._state_changed,
            "call.started": self._started,
            "call.textback_sent": self._textback_sent,
            "call.queued": self._queued,
            "call.callback_requested": self._callback_requested,
            "call.offered": self._offered,
            "call.declined": self._offer_closed,
            "call.missed": self._offer_closed,
            "call.answered": self._answered,
            "call.hold_started": self._hold_started,
            "call.hold_ended": self._hold_ended,
            "call.transfer_started": self._transfer_started,
            "call.transfer_accepted": self._transfer_accepted,
            "call.conference_started": self._conference_started,
            "call.conference_accepted": self._conference_accepted,
            "call.voicemail": self._voicemail,
            "call.ended": self._ended,
            "call.wrap_up_ended": self._wrap_up_ended,
        }

    def _agent(self, e: Event, agent_id: int, field_name: str = "agent_id") -> AgentLive:
        """The agent named by an event (its live record or a fresh one), order-checked."""
        if agent_id not in self.directory.agents:
            raise EventRejected(e.id, field_name, f"unknown agent {agent_id}")
        agent = self.agents.get(agent_id)
        if agent is None:
            return AgentLive()
        if e.time < agent.last_time:
            raise EventRejected(
                e.id,
                "time",
                f"is older than the last accepted event of agent {agent_id} "
                f"({format_instant(agent.last_time)})",
            )
        return agent

    def _acting(self, e: Event, call: CallLive) -> AgentLive:
        """The agent connected to the call; the event acts on it, so it is order-checked."""
        assert call.agent_id is not None
        return self._agent(e, call.agent_id, "call_id")

    def _stored(self, agent_id: int, agent: AgentLive) -> AgentLive:
        return self.agents.setdefault(agent_id, agent)

    def _call(self, e: Event) -> CallLive:
        call_id = e.call_id
        assert call_id is not None
        call = self.calls.get(call_id)
        if call is None:
            if call_id in self.finished_calls or self.sealed_call(call_id):
                raise EventRejected(e.id, "call_id", f"call {call_id!r} has ended")
            raise EventRejected(e.id, "call_id", f"unknown call {call_id!r}")
        if e.time < call.last_time:
            raise EventRejected(
                e.id,
                "time",
                f"is older than the last accepted event of call {call_id!r} "
                f"({format_instant(call.last_time)})",
            )
        return call

    def _open_call(self, e: Event) -> CallLive:
        call = self._call(e)
        if call.ended:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} has ended")
        return call

    def _inbound(self, e: Event, call: CallLive) -> None:
        if call.direction != "inbound":
            raise EventRejected(e.id, "type", f"{e.type} is only allowed on an inbound call")

    def _not_busy(self, e: Event, agent_id: int, agent: AgentLive) -> None:
        if agent.call_status is not None:
            what = "on a call" if agent.call_status == "on_call" else "in wrap-up"
            raise EventRejected(
                e.id, "agent_id", f"agent {agent_id} is busy ({what} on call {agent.call_id!r})"
            )

    # --- aggregates -----------------------------------------------------------------

    def _totals(self, day: date, phone_number_id: int) -> tuple[CallTotals, CallTotals]:
        by_number = self.call_days.get(day)
        if by_number is None:
            by_number = self.call_days[day] = {ALL_NUMBERS: CallTotals()}
        number = by_number.get(phone_number_id)
        if number is None:
            number = by_number[phone_number_id] = CallTotals()
        return by_number[ALL_NUMBERS], number

    def _agent_totals(self, day: date, agent_id: int) -> AgentTotals:
        by_agent = self.agent_days.get(day)
        if by_agent is None:
            by_agent = self.agent_days[day] = {}
        totals = by_agent.get(agent_id)
        if totals is None:
            totals = by_agent[agent_id] = AgentTotals()
        return totals

    def _waiting_changed(self, call: CallLive, instant: int, delta: int) -> None:
        """A caller entered or left a queue (on-line or callback) at ``instant``."""
        _, day_end = self.calendar.bounds(call.day)
        if instant >= day_end:
            return  # only instants of the call's own day count
        by_number = self.peaks.get(call.day)
        if by_number is None:
            by_number = self.peaks[call.day] = {ALL_NUMBERS: PeakTimeline()}
        by_number[ALL_NUMBERS].add(instant, delta)
        timeline = by_number.get(call.phone_number_id)
        if timeline is None:
            timeline = by_number[call.phone_number_id] = PeakTimeline()
        timeline.add(instant, delta)
        self.subset_peaks.changed(call.day, call.phone_number_id, instant, delta)
        self.timeline.waiting_changed(call.day, call.phone_number_id, instant, delta)

    def _queue(self, phone_number_id: int) -> LiveQueue:
        queue = self.queues.get(phone_number_id)
        if queue is None:
            queue = self.queues[phone_number_id] = LiveQueue()
        return queue

    # --- agent time in state --------------------------------------------------------

    def _close_segment(self, agent_id: int, agent: AgentLive, instant: int) -> None:
        """Account the agent's time since its last status or call-status change.

        O(1) however long the interval: its first and last partial days go into the
        day totals, the whole days between them into one ``WholeDays`` entry.
        """
        start = agent.segment_start
        agent.segment_start = instant
        status = agent.status
        if status not in ONLINE_STATES or instant <= start:
            return
        available = status == "online" and agent.call_status is None
        calendar = self.calendar
        first_day = calendar.day_of(start)
        first_end = calendar.bounds(first_day)[1]
        if instant <= first_end:
            self._add_time(first_day, agent_id, status, available, instant - start)
            return
        self._add_time(first_day, agent_id, status, available, first_end - start)
        last_day = calendar.day_of(instant)
        last_start = calendar.bounds(last_day)[0]
        if last_start > first_end:
            agent.whole_days.append(WholeDays(first_end, last_start, status, available))
        if instant > last_start:
            self._add_time(last_day, agent_id, status, available, instant - last_start)

    def _add_time(self, day: date, agent_id: int, status: str, available: bool, span: int) -> None:
        totals = self._agent_totals(day, agent_id)
        totals.online += span
        if status == "away":
            totals.away += span
        elif status == "transfers_only":
            totals.transfers_only += span
        elif available:
            totals.available += span

    def _set_call_status(
        self, agent_id: int, agent: AgentLive, instant: int, status: str | None, call_id: str | None
    ) -> None:
        self._close_segment(agent_id, agent, instant)
        agent.call_status = status
        agent.call_id = call_id

    # --- legs, holds, queues -----------------------------------------------------------

    def _start_leg(self, call: CallLive, agent_id: int, agent: AgentLive, instant: int) -> None:
        self._set_call_status(agent_id, agent, instant, "on_call", call.id)
        call.agent_id = agent_id
        call.leg_start = instant
        call.leg_hold = 0
        self._agent_totals(call.day, agent_id).touched_calls = True

    def _end_leg(self, call: CallLive, instant: int) -> None:
        agent_id = call.agent_id
        assert agent_id is not None
        if call.hold_since is not None:
            self._end_hold(call, instant)
        totals = self._agent_totals(call.day, agent_id)
        totals.legs += 1
        totals.call_duration += instant - call.leg_start
        totals.hold_time += call.leg_hold
        agent = self.agents[agent_id]
        agent.last_time = instant
        self._set_call_status(agent_id, agent, instant, "wrap_up", call.id)
        call.wrap_ups[agent_id] = instant
        call.agent_id = None
        call.transfer_pending = False

    def _end_hold(self, call: CallLive, instant: int) -> None:
        assert call.hold_since is not None
        span = instant - call.hold_since
        call.hold_since = None
        call.leg_hold += span
        for totals in call.totals:
            totals.hold_time += span

    def _enter_queue(self, call: CallLive, instant: int) -> None:
        if call.counted_wait is not None:  # its queue wait is no longer finished
            for totals in call.totals:
                totals.finished_waits -= 1
                totals.queue_wait -= call.counted_wait
                del totals.open_waits[call.id]
            call.counted_wait = None
        call.queue_since = instant
        self._queue(call.phone_number_id).enter(call.id, instant)
        self._waiting_changed(call, instant, +1)

    def _leave_queue(self, call: CallLive, instant: int) -> None:
        assert call.queue_since is not None
        call.queue_wait += instant - call.queue_since
        call.queue_since = None
        call.counted_wait = call.queue_wait
        for totals in call.totals:
            totals.finished_waits += 1
            totals.queue_wait += call.queue_wait
            totals.open_waits[call.id] = call.queue_wait
        self._queue(call.phone_number_id).leave(call.id)
        self._waiting_changed(call, instant, -1)

    def _settle_wait(self, call: CallLive) -> None:
        """The call can no longer queue again (answered or ended): its wait is final."""
        if call.counted_wait is not None:
            for totals in call.totals:
                totals.open_waits.pop(call.id, None)
                totals.max_queue_wait = max(totals.max_queue_wait, call.counted_wait)

    def _leave_callback_queue(self, call: CallLive, instant: int, answered: bool) -> None:
        assert call.callback_since is not None
        if answered:
            for totals in call.totals:
                totals.callbacks_answered += 1
                totals.callback_wait += instant - call.callback_since
        call.callback_since = None
        queue = self._queue(call.phone_number_id)
        queue.callbacks -= 1
        if call.source == "web_widget":
            queue.web_callbacks -= 1
        self._waiting_changed(call, instant, -1)

    def _close_offers(self, call: CallLive) -> None:
        for agent_id in call.offers:
            self.agents[agent_id].offer_call_id = None
        call.offers.clear()

    def _finish_if_done(self, call: CallLive) -> None:
        if call.ended and not call.wrap_ups:
            del self.calls[call.id]
            self.finished_calls.add(call.id)
            finished = self.finished_by_day.get(call.day)
            if finished is None:
                finished = self.finished_by_day[call.day] = []
            finished.append(call.id)

    # --- handlers: check everything first, then mutate -----------------------------------

    def _state_changed(self, e: Event) -> None:
        agent_id = e.agent_id
        assert agent_id is not None and e.state is not None
        agent = self._stored(agent_id, self._agent(e, agent_id))
        self._close_segment(agent_id, agent, e.time)
        was_online = agent.status in ONLINE_STATES
        agent.status = e.state
        self.agents_online += (e.state in ONLINE_STATES) - was_online
        if e.via is not None:
            agent.via = e.via
        if e.sets_forwarding_number:
            agent.forwarding_number = e.forwarding_number
        agent.last_time = e.time
        day = self.calendar.day_of(e.time)
        entry = (day, agent.status, agent.via, agent.forwarding_number)
        if agent.history and agent.history[-1][0] == day:
            agent.history[-1] = entry
        else:
            agent.history.append(entry)

    def _started(self, e: Event) -> None:
        call_id = e.call_id
        assert call_id is not None and e.phone_number_id is not None and e.direction
        if call_id in self.calls or call_id in self.finished_calls or self.sealed_call(call_id):
            raise EventRejected(e.id, "call_id", f"call {call_id!r} already exists")
        if e.phone_number_id not in self.directory.phone_numbers:
            raise EventRejected(
                e.id, "phone_number_id", f"unknown phone number {e.phone_number_id}"
            )
        agent: AgentLive | None = None
        if e.direction == "outbound":
            assert e.agent_id is not None
            agent = self._agent(e, e.agent_id)
            self._not_busy(e, e.agent_id, agent)
        call = CallLive(
            id=call_id,
            direction=e.direction,
            phone_number_id=e.phone_number_id,
            source=e.source,
            started=e.time,
            day=self.calendar.day_of(e.time),
            last_time=e.time,
            origin_agent=e.agent_id,
        )
        call.totals = self._totals(call.day, e.phone_number_id)
        self.calls[call_id] = call
        for totals in call.totals:
            totals.calls += 1
            if e.direction == "inbound":
                totals.inbound += 1
            else:
                totals.outbound += 1
            if e.outside_business_hours:
                totals.outside_business_hours += 1
        self.timeline.call_started(call.day, call.phone_number_id, e.time, e.direction == "inbound")
        if agent is not None and e.agent_id is not None:
            agent = self._stored(e.agent_id, agent)
            agent.last_time = e.time
            self._start_leg(call, e.agent_id, agent, e.time)

    def _textback_sent(self, e: Event) -> None:
        call = self._open_call(e)
        call.last_time = e.time
        for totals in call.totals:
            totals.textbacks += 1

    def _queued(self, e: Event) -> None:
        call = self._open_call(e)
        self._inbound(e, call)
        if call.agent_id is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is connected to an agent")
        if call.queue_since is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is already queued")
        if call.callback_since is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is in the callback queue")
        if e.group_id is not None and e.group_id not in self.directory.groups:
            raise EventRejected(e.id, "group_id", f"unknown group {e.group_id}")
        call.last_time = e.time
        self._enter_queue(call, e.time)

    def _callback_requested(self, e: Event) -> None:
        call = self._open_call(e)
        self._inbound(e, call)
        if call.agent_id is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is connected to an agent")
        if call.callback_since is not None:
            raise EventRejected(
                e.id, "call_id", f"call {call.id!r} is already in the callback queue"
            )
        call.last_time = e.time
        if call.queue_since is not None:
            self._leave_queue(call, e.time)
        call.callback_since = e.time
        queue = self._queue(call.phone_number_id)
        queue.callbacks += 1
        if call.source == "web_widget":
            queue.web_callbacks += 1
        self._waiting_changed(call, e.time, +1)
        if not call.callback_requested:
            call.callback_requested = True
            for totals in call.totals:
                totals.callback_calls += 1
                if call.source == "web_widget":
                    totals.embeddable_callback_calls += 1

    def _offered(self, e: Event) -> None:
        call = self._open_call(e)
        assert e.agent_id is not None
        agent = self._agent(e, e.agent_id)
        if call.queue_since is None and call.callback_since is None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is not waiting for an agent")
        if agent.offer_call_id is not None:
            raise EventRejected(
                e.id,
                "agent_id",
                f"agent {e.agent_id} already has an open offer (call {agent.offer_call_id!r})",
            )
        self._not_busy(e, e.agent_id, agent)
        agent = self._stored(e.agent_id, agent)
        agent.last_time = call.last_time = e.time
        agent.offer_call_id = call.id
        call.offers.add(e.agent_id)
        self._agent_totals(call.day, e.agent_id).touched_calls = True

    def _offer_closed(self, e: Event) -> None:
        call = self._open_call(e)
        assert e.agent_id is not None
        agent = self._agent(e, e.agent_id)
        if agent.offer_call_id != call.id:
            raise EventRejected(
                e.id, "agent_id", f"agent {e.agent_id} has no open offer for call {call.id!r}"
            )
        agent.last_time = call.last_time = e.time
        agent.offer_call_id = None
        call.offers.discard(e.agent_id)
        totals = self._agent_totals(call.day, e.agent_id)
        if e.type == "call.declined":
            totals.denied += 1
        else:
            totals.missed += 1

    def _answered(self, e: Event) -> None:
        call = self._open_call(e)
        agent_id = e.agent_id
        assert agent_id is not None
        agent = self._agent(e, agent_id)
        if call.direction == "outbound":
            if agent_id != call.origin_agent:
                raise EventRejected(
                    e.id,
                    "agent_id",
                    f"outbound call {call.id!r} was started by agent "
                    f"{call.origin_agent}, not {agent_id}",
                )
            if call.answered:
                raise EventRejected(e.id, "call_id", f"call {call.id!r} was already answered")
            agent = self._stored(agent_id, agent)
            agent.last_time = call.last_time = e.time
            call.answered = True
            for totals in call.totals:
                totals.answered += 1
            return
        if call.queue_since is None and call.callback_since is None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is not waiting for an agent")
        self._not_busy(e, agent_id, agent)
        agent = self._stored(agent_id, agent)
        agent.last_time = call.last_time = e.time
        self._close_offers(call)
        if agent.offer_call_id is not None:
            # Ringing for another call, the agent answered this one: that offer is
            # over too, uncounted, like the other agents' offers of this call.
            other = self.calls.get(agent.offer_call_id)
            if other is not None:
                other.offers.discard(agent_id)
            agent.offer_call_id = None
        first_answer = not call.answered
        call.answered = True
        if call.queue_since is not None:
            self._leave_queue(call, e.time)
            wait_seconds = -(-call.queue_wait // NS_PER_SECOND)
            for totals in call.totals:
                histogram = totals.answered_wait_histogram
                histogram[wait_seconds] = histogram.get(wait_seconds, 0) + 1
                if first_answer:
                    totals.answered_from_queue += 1
                    totals.time_to_answer += e.time - call.started
        else:
            self._leave_callback_queue(call, e.time, answered=True)
        if first_answer:
            for totals in call.totals:
                totals.answered += 1
            self.timeline.call_answered(call.day, call.phone_number_id, call.started)
        self._settle_wait(call)
        self._agent_totals(call.day, agent_id).accepted += 1
        self._start_leg(call, agent_id, agent, e.time)

    def _connected(self, e: Event) -> tuple[CallLive, AgentLive]:
        call = self._open_call(e)
        if call.agent_id is None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is not connected to an agent")
        return call, self._acting(e, call)

    def _hold_started(self, e: Event) -> None:
        call, agent = self._connected(e)
        if call.hold_since is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is already on hold")
        assert call.agent_id is not None
        agent.last_time = call.last_time = e.time
        call.hold_since = e.time
        if call.agent_id not in call.held_by:
            call.held_by.add(call.agent_id)
            self._agent_totals(call.day, call.agent_id).calls_put_on_hold += 1

    def _hold_ended(self, e: Event) -> None:
        call = self._open_call(e)
        if call.hold_since is None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is not on hold")
        agent = self._acting(e, call)
        agent.last_time = call.last_time = e.time
        self._end_hold(call, e.time)

    def _transfer_started(self, e: Event) -> None:
        call, agent = self._connected(e)
        if e.to_agent_id is not None and e.to_agent_id not in self.directory.agents:
            raise EventRejected(e.id, "to_agent_id", f"unknown agent {e.to_agent_id}")
        assert call.agent_id is not None
        agent.last_time = call.last_time = e.time
        call.transfer_pending = True
        self._agent_totals(call.day, call.agent_id).started_transfers += 1

    def _transfer_accepted(self, e: Event) -> None:
        call = self._open_call(e)
        agent_id = e.agent_id
        assert agent_id is not None
        if not call.transfer_pending or call.agent_id is None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} has no pending transfer")
        if agent_id == call.agent_id:
            raise EventRejected(
                e.id, "agent_id", f"agent {agent_id} is the agent already connected to the call"
            )
        previous = self._acting(e, call)
        agent = self._agent(e, agent_id)
        self._not_busy(e, agent_id, agent)
        agent = self._stored(agent_id, agent)
        previous.last_time = agent.last_time = call.last_time = e.time
        self._end_leg(call, e.time)
        self._agent_totals(call.day, agent_id).accepted_transfers += 1
        self._start_leg(call, agent_id, agent, e.time)

    def _conference_started(self, e: Event) -> None:
        call, agent = self._connected(e)
        assert call.agent_id is not None
        agent.last_time = call.last_time = e.time
        call.conference = True
        self._agent_totals(call.day, call.agent_id).started_conferences += 1

    def _conference_accepted(self, e: Event) -> None:
        call = self._open_call(e)
        agent_id = e.agent_id
        assert agent_id is not None
        if not call.conference:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} has no conference started")
        agent = self._stored(agent_id, self._agent(e, agent_id))
        agent.last_time = call.last_time = e.time
        self._agent_totals(call.day, agent_id).accepted_conferences += 1

    def _voicemail(self, e: Event) -> None:
        call = self._open_call(e)
        self._inbound(e, call)
        if call.agent_id is not None:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} is connected to an agent")
        if call.voicemail:
            raise EventRejected(e.id, "call_id", f"call {call.id!r} already went to voicemail")
        call.last_time = e.time
        if call.queue_since is not None:
            self._leave_queue(call, e.time)
        if call.callback_since is not None:
            self._leave_callback_queue(call, e.time, answered=False)
        self._close_offers(call)
        call.voicemail = True
        for totals in call.totals:
            totals.voicemails += 1
            if e.reason == "exceeded_queue_wait_time":
                totals.exceeded_queue_wait += 1
            elif e.reason == "requested":
                totals.requested_voicemail += 1

    def _ended(self, e: Event) -> None:
        call = self._open_call(e)
        if call.agent_id is not None:
            self._acting(e, call)
        call.last_time = e.time
        if call.agent_id is not None:
            self._end_leg(call, e.time)
        abandoned = call.queue_since is not None
        if abandoned:
            self._leave_queue(call, e.time)
        if call.callback_since is not None:
            self._leave_callback_queue(call, e.time, answered=False)
        self._close_offers(call)
        self._settle_wait(call)
        call.ended = True
        call.transfer_pending = False
        for totals in call.totals:
            totals.ended += 1
            totals.duration += e.time - call.started
            if abandoned:
                totals.abandoned += 1
        if abandoned:
            self.timeline.call_abandoned(call.day, call.phone_number_id, call.started)
        self._finish_if_done(call)

    def _wrap_up_ended(self, e: Event) -> None:
        agent_id = e.agent_id
        assert agent_id is not None and e.call_id is not None
        agent = self._agent(e, agent_id)
        call = self.calls.get(e.call_id)
        if call is None or agent_id not in call.wrap_ups:
            if (
                call is None
                and e.call_id not in self.finished_calls
                and not self.sealed_call(e.call_id)
            ):
                raise EventRejected(e.id, "call_id", f"unknown call {e.call_id!r}")
            raise EventRejected(
                e.id, "agent_id", f"agent {agent_id} is not in wrap-up for call {e.call_id!r}"
            )
        call = self._call(e)
        agent.last_time = call.last_time = e.time
        span = e.time - call.wrap_ups.pop(agent_id)
        totals = self._agent_totals(call.day, agent_id)
        totals.wrap_ups += 1
        totals.wrap_up_time += span
        for call_totals in call.totals:
            call_totals.wrap_ups += 1
            call_totals.wrap_up_time += span
        self._set_call_status(agent_id, agent, e.time, None, None)
        self._finish_if_done(call)


class SubsetPeaks:
    """Peaks of calls waiting for sets of phone numbers that readers asked about.

    A set's timeline is merged once from its numbers' timelines, then kept up to date
    as events arrive, so repeated reads with the same filter cost O(1). A small LRU
    bounds the memory; the cache is not part of snapshots.
    """

    LIMIT = 32

    def __init__(self) -> None:
        self._entries: dict[tuple[date, frozenset[int]], PeakTimeline] = {}

    def forget(self, day: date) -> None:
        self._entries = {key: line for key, line in self._entries.items() if key[0] != day}

    def changed(self, day: date, phone_number_id: int, instant: int, delta: int) -> None:
        for (entry_day, numbers), timeline in self._entries.items():
            if entry_day == day and phone_number_id in numbers:
                timeline.add(instant, delta)

    def peak(self, projection: AccountProjection, day: date, numbers: frozenset[int]) -> int:
        key = (day, numbers)
        timeline = self._entries.pop(key, None)
        if timeline is None:
            by_number = projection.peaks.get(day, {})
            parts = [by_number[n] for n in numbers if n in by_number]
            timeline = parts[0] if len(parts) == 1 else PeakTimeline.merged(parts)
            if len(parts) <= 1:
                return timeline.peak if parts else 0
        self._entries[key] = timeline  # most recently used last
        while len(self._entries) > self.LIMIT:
            del self._entries[next(iter(self._entries))]
        return timeline.peak
