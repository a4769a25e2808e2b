"""The traffic model: a seeded discrete-event simulation that emits contract events.

`Simulator` keeps a heap of scheduled happenings (time, sequence, handler, argument)
and one `random.Random(seed)`; it never reads the clock or the global random state, so
the same scenario, seed and start give the same events, however `advance` is chunked.

Time is integer nanoseconds since the Unix epoch, always a whole number of
milliseconds, so the RFC 3339 strings in the events (millisecond precision) are exact.
Events come out in non-decreasing time; events at the same instant come out in causal
order (a call.started before its call.queued).

Every event is emitted only where docs/events.md allows it: offers, answers, outbound calls
and transfer acceptances go only to agents that are not busy and have no open offer,
and the model never leaves an agent in a state it cannot get out of.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from talkstats.simulator.reference import ReferenceData, reference_data
from talkstats.simulator.scenario import CallModel, PhoneNumber, Scenario, Shift

__all__ = ["Simulator", "generate"]

Event = dict[str, Any]

NS = 1_000_000_000
MS = 1_000_000
_SLOT = 15 * 60 * NS  # local hours change only on UTC quarter hours, in every zone

ONLINE, AWAY, TRANSFERS_ONLY, OFFLINE = "online", "away", "transfers_only", "offline"

# why a caller leaves the queue
_ABANDON, _VM_EXCEEDED, _VM_REQUESTED, _CALLBACK, _EXPIRE = range(5)


def _ms(t_ns: int) -> int:
    """Round down to a whole millisecond."""
    return t_ns - t_ns % MS


class _Agent:
    __slots__ = (
        "id", "groups", "status", "on_shift", "activity", "activity_minutes",
        "activity_token", "leg", "wrap", "offer", "reserved", "via", "forwarding",
    )  # fmt: skip

    def __init__(self, aid: int, groups: frozenset[int]) -> None:
        self.id = aid
        self.groups = groups
        self.status = OFFLINE  # last status emitted
        self.on_shift = False
        self.activity = ONLINE  # what the agent does while on shift
        self.activity_minutes = 0.0
        self.activity_token = 0
        self.leg: _Call | None = None  # open leg
        self.wrap: _Call | None = None  # open wrap-up
        self.offer: _Call | None = None  # open offer
        self.reserved: _Call | None = None  # picked as a transfer target
        self.via = "client"
        self.forwarding: str | None = None

    @property
    def desired(self) -> str:
        return self.activity if self.on_shift else OFFLINE

    @property
    def committed(self) -> bool:
        """Busy (leg or wrap-up), ringing, or reserved: no status change, no new work."""
        return (
            self.leg is not None
            or self.wrap is not None
            or self.offer is not None
            or self.reserved is not None
        )


class _Call:
    __slots__ = (
        "id", "n", "number", "group", "ended", "queue", "visit", "key", "listed",
        "ringing", "offer_token", "pending_leave", "last_rejected", "agent",
        "transfer_planned", "transferred", "transferring",
    )  # fmt: skip

    def __init__(self, cid: str, n: int, number: PhoneNumber) -> None:
        self.id = cid
        self.n = n
        self.number = number
        self.group = number.group_id
        self.ended = False
        self.queue = 0  # 0 none, 1 on-line queue, 2 callback queue
        self.visit = 0  # bumped on every queue change; stale timers compare it
        self.key = (0, 0)  # queue position: first time waiting, call number
        self.listed = False  # in the routable list (waiting, not ringing)
        self.ringing: _Agent | None = None
        self.offer_token = 0
        self.pending_leave: int | None = None
        self.last_rejected: int | None = None
        self.agent: _Agent | None = None  # connected agent
        self.transfer_planned = False
        self.transferred = False
        self.transferring: _Agent | None = None  # transfer started, not yet accepted


class Simulator:
    """A resumable simulation run.

    `Simulator(scenario, seed, start_ns)` sets up agents as they are at `start_ns`
    (the first events set every agent's status); `advance(until_ns)` returns the events
    of `[previous until, until_ns)`. Calls still open stay open and continue in the
    next `advance`. `finish(at_ns)` ends everything that is open, for a clean stop.

    Ids are `f"{id_prefix}-e{n}"` (events) and `f"{id_prefix}-c{n}"` (calls); the
    default prefix includes the seed and the start second, so two runs into one account
    do not collide unless they share both.
    """

    def __init__(
        self, scenario: Scenario, seed: int, start_ns: int, *, id_prefix: str | None = None
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.prefix = id_prefix if id_prefix is not None else f"sim{seed}-{start_ns // NS}"
        self._m: CallModel = scenario.calls
        self._tz = ZoneInfo(scenario.timezone)
        self._rng = random.Random(seed)
        self._heap: list[tuple[int, int, Callable[[Any], None], Any]] = []
        self._seq = 0
        self._t = _ms(start_ns)
        self._now = self._t
        self._out: list[Event] = []
        self._silent = True
        self._closed = False
        self._n_events = 0
        self._n_calls = 0
        self._fmt_sec = -1
        self._fmt_prefix = ""
        self._hour_cache: dict[int, int] = {}
        self._calls: dict[str, _Call] = {}  # open calls
        self._queue: list[_Call] = []  # routable calls, by key
        self._free: dict[int, None] = {}  # online, uncommitted agents, longest idle first

        group_of: dict[int, set[int]] = {}
        for g in scenario.groups:
            for aid in g.members:
                group_of.setdefault(aid, set()).add(g.id)
        self._agents: dict[int, _Agent] = {}
        for aid in scenario.agents.ids:
            a = _Agent(aid, frozenset(group_of.get(aid, ())))
            if self._rng.random() < scenario.agents.via_phone_share:
                a.via = "phone"
                a.forwarding = f"+1555{aid % 10_000_000:07d}"
            self._agents[aid] = a
        self._shift_of: dict[int, Shift] = self._assign_shifts()
        # each agent's place among its shift's agents staggers its breaks
        self._stagger: dict[int, float] = {}
        seen: dict[int, int] = {}
        for aid, shift in self._shift_of.items():
            k = seen.get(id(shift), 0)
            seen[id(shift)] = k + 1
            self._stagger[aid] = ((k + 0.5) / shift.agents - 0.5) * shift.break_spread_minutes / 60
        # agents with status online, per group id (None: all agents)
        self._online: dict[int | None, int] = {None: 0}
        for g in scenario.groups:
            self._online[g.id] = 0
        self._rates = {
            p.id: tuple(m * p.calls_per_hour / 3600.0 for m in p.hourly_multipliers())
            for p in scenario.phone_numbers
        }

        # agents' schedules: replay silently what happened before start_ns
        first_day = datetime.fromtimestamp(self._t / NS, self._tz).date()
        for aid, shift in self._shift_of.items():
            if shift.always_on:
                self._agents[aid].on_shift = True
                self._try_status(self._agents[aid])
        self._plan_day(first_day - timedelta(days=1))
        self._plan_day(first_day)
        self._at(self._local_ns(first_day, 12.0), self._plan_next_day, first_day + timedelta(1))
        self._run(self._t + 1)
        self._silent = False
        self._t = _ms(start_ns)
        for a in self._agents.values():
            self._emit_state(a)
        self._recount_online()
        for p in scenario.phone_numbers:
            self._schedule_arrival(p, self._t)

    # ------------------------------------------------------------------ public

    @property
    def now_ns(self) -> int:
        """The time up to which events have been generated."""
        return self._now

    @property
    def reference_data(self) -> ReferenceData:
        return reference_data(self.scenario)

    def advance(self, until_ns: int) -> list[Event]:
        """Run the model up to (not including) `until_ns`; return the events, in order."""
        if self._closed:
            raise RuntimeError("the simulation was finished")
        if until_ns < self._now:
            raise ValueError("advance() cannot go back in time")
        self._run(until_ns)
        self._now = max(self._now, until_ns)
        out, self._out = self._out, []
        return out

    def finish(self, at_ns: int) -> list[Event]:
        """Advance to `at_ns`, then end every open call and wrap-up and log agents off."""
        out = self.advance(at_ns)
        self._t = _ms(at_ns)
        # off shift first, so that agents released below log off instead of taking calls
        for a in self._agents.values():
            a.on_shift = False
            self._try_status(a)
        for call in list(self._calls.values()):
            self._end_call(call)
        for a in self._agents.values():
            if a.wrap is not None:
                self._wrap_done(a)
        self._closed = True
        out.extend(self._out)
        self._out = []
        return out

    # ------------------------------------------------------------- machinery

    def _at(self, t: int, fn: Callable[[Any], None], arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn, arg))

    def _after(self, seconds: float, fn: Callable[[Any], None], arg: Any = None) -> None:
        self._at(self._t + round(seconds * 1000.0) * MS, fn, arg)

    def _run(self, until: int) -> None:
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] < until:
            t, _, fn, arg = pop(heap)
            self._t = t
            fn(arg)

    def _time(self, t: int) -> str:
        sec, rem = divmod(t, NS)
        if sec != self._fmt_sec:
            self._fmt_sec = sec
            self._fmt_prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._fmt_prefix}.{rem // MS:03d}Z"

    def _emit(self, etype: str, **fields: Any) -> None:
        if self._silent:
            return
        self._n_events += 1
        ev: Event = {"id": f"{self.prefix}-e{self._n_events}", "type": etype,
                     "time": self._time(self._t)}  # fmt: skip
        ev.update(fields)
        self._out.append(ev)

    def _local_ns(self, day: date, hour: float) -> int:
        """The instant of local wall time `day` + `hour` hours (may exceed 24)."""
        wall = datetime(day.year, day.month, day.day, tzinfo=self._tz) + timedelta(hours=hour)
        # timedelta arithmetic on aware datetimes is wall-clock arithmetic; fold=0
        return _ms(int(wall.timestamp() * 1000) * MS)

    def _local_hour(self, t: int) -> float:
        d = datetime.fromtimestamp(t / NS, self._tz)
        return d.hour + d.minute / 60.0 + d.second / 3600.0

    def _slot_hour(self, slot: int) -> int:
        h = self._hour_cache.get(slot)
        if h is None:
            h = datetime.fromtimestamp(slot * _SLOT / NS, self._tz).hour
            self._hour_cache[slot] = h
        return h

    def _exp(self, mean: float) -> float:
        return self._rng.expovariate(1.0 / mean) if mean > 0 else 0.0

    def _spread(self, mean: float) -> float:
        """A duration around `mean` (uniform between half and one and a half times)."""
        return mean * (0.5 + self._rng.random()) if mean > 0 else 0.0

    def _handle_time(self) -> float:
        m = self._m
        if m.handle_time_distribution == "exponential":
            return self._rng.expovariate(1.0 / m.handle_time_mean)
        s = m.handle_time_sigma
        return self._rng.lognormvariate(math.log(m.handle_time_mean) - s * s / 2.0, s)

    # ------------------------------------------------------------- agents' day

    def _assign_shifts(self) -> dict[int, Shift]:
        """Spread shifts over the agents by smooth weighted round robin, so that a run of
        consecutive agent ids (a group) gets a mix of shifts."""
        shifts = [s for s in self.scenario.shifts if s.agents > 0]
        left = [s.agents for s in shifts]
        current = [0] * len(shifts)
        out: dict[int, Shift] = {}
        total = sum(left)
        for aid in self.scenario.agents.ids:
            best = -1
            for i, s in enumerate(shifts):
                if left[i] == 0:
                    continue
                current[i] += s.agents
                if best < 0 or current[i] > current[best]:
                    best = i
            current[best] -= total
            left[best] -= 1
            out[aid] = shifts[best]
        return out

    def _plan_next_day(self, day: date) -> None:
        self._plan_day(day)
        self._at(self._local_ns(day, 12.0), self._plan_next_day, day + timedelta(1))

    def _plan_day(self, day: date) -> None:
        """Schedule every agent's log-in, breaks, transfers-only block and log-off."""
        rng = self._rng
        for aid, shift in self._shift_of.items():
            a = self._agents[aid]
            jitter = shift.jitter_minutes / 60.0
            if not shift.always_on:
                start = shift.start + rng.gauss(0.0, jitter)
                end = shift.end + rng.gauss(0.0, jitter)
                end_h = end if shift.end > shift.start else end + 24.0
                self._at(self._local_ns(day, start), self._shift_start, a)
                self._at(self._local_ns(day, end_h), self._shift_end, a)
            for b in shift.breaks:
                at = b.at + self._stagger[aid] + rng.gauss(0.0, jitter)
                if at < shift.start and not shift.always_on:
                    at += 24.0
                self._at(self._local_ns(day, at), self._activity_start, (a, AWAY, b.minutes))
            if rng.random() < shift.transfers_only_probability:
                length = (
                    shift.end - shift.start
                    if shift.end > shift.start
                    else shift.end + 24.0 - shift.start
                )
                span = max(0.0, length - shift.transfers_only_minutes / 60.0)
                at = shift.start + rng.random() * span
                self._at(
                    self._local_ns(day, at),
                    self._activity_start,
                    (a, TRANSFERS_ONLY, shift.transfers_only_minutes),
                )

    def _shift_start(self, a: _Agent) -> None:
        a.on_shift = True
        a.activity = ONLINE
        a.activity_token += 1
        self._try_status(a)

    def _shift_end(self, a: _Agent) -> None:
        a.on_shift = False
        self._try_status(a)

    def _activity_start(self, arg: tuple[_Agent, str, float]) -> None:
        a, activity, minutes = arg
        if not a.on_shift or a.activity != ONLINE:
            return  # off shift, or already on a break
        a.activity = activity
        a.activity_minutes = minutes
        a.activity_token += 1
        self._try_status(a)

    def _activity_end(self, arg: tuple[_Agent, int]) -> None:
        a, token = arg
        if a.activity_token == token:
            a.activity = ONLINE
            self._try_status(a)

    def _try_status(self, a: _Agent) -> None:
        """Move the agent to its desired status now, or as soon as it is uncommitted."""
        want = a.desired
        if want != ONLINE:
            self._free.pop(a.id, None)  # no new work while a change is pending
        if a.committed or want == a.status:
            return
        self._set_status(a, want)
        if want == a.activity and want in (AWAY, TRANSFERS_ONLY):
            a.activity_token += 1
            self._after(a.activity_minutes * 60.0, self._activity_end, (a, a.activity_token))
        if want == ONLINE:
            self._route_agent(a)

    def _set_status(self, a: _Agent, status: str) -> None:
        old = a.status
        a.status = status
        if not self._silent:
            self._emit_state(a)
            if old == ONLINE:
                self._count_online(a, -1)
            if status == ONLINE:
                self._count_online(a, +1)
        if status != ONLINE:
            self._free.pop(a.id, None)

    def _emit_state(self, a: _Agent) -> None:
        if a.via == "phone":
            self._emit("agent.state_changed", agent_id=a.id, state=a.status, via="phone",
                       forwarding_number=a.forwarding)  # fmt: skip
        else:
            self._emit("agent.state_changed", agent_id=a.id, state=a.status, via="client")

    def _count_online(self, a: _Agent, d: int) -> None:
        online = self._online
        online[None] += d
        for g in a.groups:
            online[g] += d

    def _recount_online(self) -> None:
        for k in self._online:
            self._online[k] = 0
        for a in self._agents.values():
            if a.status == ONLINE:
                self._count_online(a, +1)
        self._free.clear()
        for a in self._agents.values():
            if a.status == ONLINE and a.desired == ONLINE and not a.committed:
                self._free[a.id] = None

    def _agent_released(self, a: _Agent) -> None:
        """The agent finished something; apply a pending status change, or route."""
        if a.committed:
            return
        if a.desired != a.status:
            self._try_status(a)
        elif a.status == ONLINE:
            self._route_agent(a)

    # ------------------------------------------------------------------ routing

    def _eligible(self, a: _Agent, call: _Call) -> bool:
        return (call.group is None or call.group in a.groups) and call.last_rejected != a.id

    def _route_agent(self, a: _Agent) -> None:
        """A free online agent: give it the oldest routable call it can take, or pool it."""
        for call in self._queue:
            if self._eligible(a, call):
                self._offer(call, a)
                return
        self._free[a.id] = None

    def _route_call(self, call: _Call) -> None:
        """A routable call: ring the longest-idle eligible agent, or list it."""
        agents = self._agents
        for aid in self._free:
            a = agents[aid]
            if self._eligible(a, call):
                self._offer(call, a)
                return
        if not call.listed:
            call.listed = True
            insort(self._queue, call, key=lambda c: c.key)

    def _unlist(self, call: _Call) -> None:
        if call.listed:
            call.listed = False
            q = self._queue
            i = bisect_left(q, call.key, key=lambda c: c.key)
            while q[i] is not call:
                i += 1
            del q[i]

    def _offer(self, call: _Call, a: _Agent) -> None:
        self._unlist(call)
        self._free.pop(a.id, None)
        call.ringing = a
        call.offer_token += 1
        a.offer = call
        self._emit("call.offered", call_id=call.id, agent_id=a.id)
        m = self._m
        r = self._rng.random()
        arg = (call, a, call.offer_token)
        if r < m.decline_probability:
            self._after(1.0 + self._rng.random() * m.ring_timeout / 2, self._declined, arg)
        elif r < m.decline_probability + m.miss_probability:
            self._after(m.ring_timeout, self._missed, arg)
        else:
            self._after(min(self._spread(m.ring_seconds), m.ring_timeout), self._answer, arg)

    def _offer_valid(self, arg: tuple[_Call, _Agent, int]) -> bool:
        call, a, token = arg
        return call.ringing is a and call.offer_token == token and not call.ended

    def _answer(self, arg: tuple[_Call, _Agent, int]) -> None:
        if not self._offer_valid(arg):
            return
        call, a, _ = arg
        call.ringing = None
        a.offer = None
        call.queue = 0
        call.visit += 1
        call.pending_leave = None
        self._emit("call.answered", call_id=call.id, agent_id=a.id)
        self._connect(call, a)

    def _declined(self, arg: tuple[_Call, _Agent, int]) -> None:
        self._rejected(arg, "call.declined")

    def _missed(self, arg: tuple[_Call, _Agent, int]) -> None:
        self._rejected(arg, "call.missed")

    def _rejected(self, arg: tuple[_Call, _Agent, int], etype: str) -> None:
        if not self._offer_valid(arg):
            return
        call, a, _ = arg
        call.ringing = None
        a.offer = None
        call.last_rejected = a.id
        self._emit(etype, call_id=call.id, agent_id=a.id)
        if call.pending_leave is not None:
            kind, call.pending_leave = call.pending_leave, None
            self._leave(call, kind)
        else:
            self._route_call(call)
        self._agent_released(a)

    # -------------------------------------------------------------- arrivals

    def _schedule_arrival(self, p: PhoneNumber, t: int) -> None:
        """Next arrival of a Poisson process whose rate is constant per quarter hour."""
        rates = self._rates[p.id]
        if not any(rates):
            return
        rng = self._rng
        for _ in range(100_000):
            slot = t // _SLOT
            rate = rates[self._slot_hour(slot)]
            end = (slot + 1) * _SLOT
            if rate > 0:
                t_next = t + round(rng.expovariate(rate) * 1000.0) * MS
                if t_next < end:
                    self._at(t_next, self._arrive, p)
                    return
            t = end
        # no arrivals for ~3 years at this rate: look again later
        self._at(t, self._rearm, p)

    def _rearm(self, p: PhoneNumber) -> None:
        self._schedule_arrival(p, self._t)

    def _new_call(self, p: PhoneNumber) -> _Call:
        self._n_calls += 1
        call = _Call(f"{self.prefix}-c{self._n_calls}", self._n_calls, p)
        self._calls[call.id] = call
        return call

    def _caller(self) -> str:
        return f"+1555{self._rng.randrange(10_000_000):07d}"

    def _arrive(self, p: PhoneNumber) -> None:
        self._schedule_arrival(p, self._t)
        u = self._rng.random()
        if u < p.outbound_share:
            self._outbound(p)
            return
        is_open = p.is_open(self._local_hour(self._t))
        if is_open and u < p.outbound_share + p.web_widget_share:
            call = self._new_call(p)
            self._emit("call.started", call_id=call.id, direction="inbound",
                       phone_number_id=p.id, source="web_widget", outside_business_hours=False,
                       **{"from": self._caller(), "to": p.number})  # fmt: skip
            self._emit("call.callback_requested", call_id=call.id)
            call.queue = 2
            call.key = (self._t, call.n)
            self._start_callback_wait(call)
            self._route_call(call)
            return
        call = self._new_call(p)
        self._emit("call.started", call_id=call.id, direction="inbound", phone_number_id=p.id,
                   source="phone", outside_business_hours=not is_open,
                   **{"from": self._caller(), "to": p.number})  # fmt: skip
        self._after(self._spread(self._m.ivr_seconds),
                    self._ivr_done if is_open else self._closed_greeting_done, call)  # fmt: skip

    def _textback(self, call: _Call) -> bool:
        """Maybe send a text-back; True if the caller then hangs up."""
        m = self._m
        if m.textback_probability > 0 and self._rng.random() < m.textback_probability:
            self._emit("call.textback_sent", call_id=call.id)
            if self._rng.random() < m.textback_deflection:
                self._end_call(call)
                return True
        return False

    def _closed_greeting_done(self, call: _Call) -> None:
        if self._textback(call):
            return
        if self._rng.random() < self._m.outside_hours_voicemail_probability:
            self._voicemail(call, "outside_business_hours")
        else:
            self._end_call(call)

    def _ivr_done(self, call: _Call) -> None:
        if self._textback(call):
            return
        if self._online[call.group] == 0:
            self._voicemail(call, "no_available_agents")
            return
        m = self._m
        rng = self._rng
        self._emit("call.queued", call_id=call.id,
                   **({"group_id": call.group} if call.group is not None else {}))  # fmt: skip
        call.queue = 1
        call.visit += 1
        call.key = (self._t, call.n)
        # the first of the caller's clocks to run out decides how the wait ends
        leave_after = math.inf
        kind = _ABANDON
        if m.patience_mean is not None:
            leave_after = rng.expovariate(1.0 / m.patience_mean)
        if m.max_queue_wait is not None and m.max_queue_wait < leave_after:
            leave_after, kind = m.max_queue_wait, _VM_EXCEEDED
        if m.callback_request_probability > 0 and rng.random() < m.callback_request_probability:
            x = rng.expovariate(1.0 / m.callback_request_after)
            if x < leave_after:
                leave_after, kind = x, _CALLBACK
        if m.voicemail_request_probability > 0 and rng.random() < m.voicemail_request_probability:
            x = rng.expovariate(1.0 / m.voicemail_request_after)
            if x < leave_after:
                leave_after, kind = x, _VM_REQUESTED
        if leave_after < math.inf:
            self._after(leave_after, self._queue_timer, (call, call.visit, kind))
        self._route_call(call)

    def _start_callback_wait(self, call: _Call) -> None:
        call.visit += 1
        if self._m.callback_max_wait is not None:
            self._after(self._m.callback_max_wait, self._queue_timer,
                        (call, call.visit, _EXPIRE))  # fmt: skip

    def _queue_timer(self, arg: tuple[_Call, int, int]) -> None:
        call, visit, kind = arg
        if call.ended or call.queue == 0 or call.visit != visit:
            return
        if call.ringing is not None and kind != _ABANDON:
            call.pending_leave = kind  # the system does not pull a ringing call
            return
        self._leave(call, kind)

    def _leave(self, call: _Call, kind: int) -> None:
        """The caller leaves the queue it waits in."""
        if kind in (_ABANDON, _EXPIRE):
            self._end_call(call)
        elif kind == _CALLBACK:
            self._emit("call.callback_requested", call_id=call.id)
            call.queue = 2
            self._start_callback_wait(call)  # keeps its place in the routing order
            self._route_call(call)
        else:
            self._voicemail(call, "exceeded_queue_wait_time" if kind == _VM_EXCEEDED
                            else "requested")  # fmt: skip

    def _voicemail(self, call: _Call, reason: str) -> None:
        self._unlist(call)
        call.queue = 0
        call.visit += 1
        self._emit("call.voicemail", call_id=call.id, reason=reason)
        self._after(self._spread(self._m.voicemail_seconds), self._end_call, call)

    def _outbound(self, p: PhoneNumber) -> None:
        agents = self._agents
        for aid in self._free:
            a = agents[aid]
            if p.group_id is None or p.group_id in a.groups:
                break
        else:
            return  # nobody free to dial out
        self._free.pop(a.id)
        call = self._new_call(p)
        call.agent = a
        a.leg = call
        self._emit("call.started", call_id=call.id, direction="outbound", phone_number_id=p.id,
                   agent_id=a.id, **{"from": p.number, "to": self._caller()})  # fmt: skip
        self._after(self._spread(self._m.outbound_ring_seconds), self._outbound_rang, call)

    def _outbound_rang(self, call: _Call) -> None:
        a = call.agent
        assert a is not None
        if self._rng.random() < self._m.outbound_answer_probability:
            self._emit("call.answered", call_id=call.id, agent_id=a.id)
            self._plan_leg(call, a, transfer_ok=True)
        else:
            self._end_call(call)

    # ------------------------------------------------------------------ legs

    def _connect(self, call: _Call, a: _Agent) -> None:
        call.agent = a
        a.leg = call
        self._plan_leg(call, a, transfer_ok=not call.transferred)

    def _plan_leg(self, call: _Call, a: _Agent, *, transfer_ok: bool) -> None:
        """Schedule the leg: optional hold and conference inside it, then its end."""
        m = self._m
        rng = self._rng
        h = self._handle_time()
        if m.hold_probability > 0 and rng.random() < m.hold_probability:
            hold = min(rng.expovariate(1.0 / m.hold_mean), 0.6 * h)
            start = (h - hold) * (0.2 + 0.6 * rng.random())
            self._after(start, self._hold, (call, "call.hold_started"))
            self._after(start + hold, self._hold, (call, "call.hold_ended"))
        if m.conference_probability > 0 and rng.random() < m.conference_probability:
            start = h * (0.2 + 0.5 * rng.random())
            delay = 3.0 + 12.0 * rng.random()
            if start + delay + 0.005 < h:  # accepted before the leg ends, after rounding
                self._after(start, self._conference, (call, delay))
        call.transfer_planned = (
            transfer_ok and m.transfer_probability > 0 and rng.random() < m.transfer_probability
        )
        self._after(h, self._leg_done, call)

    def _hold(self, arg: tuple[_Call, str]) -> None:
        call, etype = arg
        self._emit(etype, call_id=call.id)

    def _conference(self, arg: tuple[_Call, float]) -> None:
        call, delay = arg
        online = [a for a in self._agents.values() if a.status == ONLINE and a is not call.agent]
        if not online:
            return
        b = online[self._rng.randrange(len(online))]
        self._emit("call.conference_started", call_id=call.id)
        self._after(delay, self._conference_joined, (call, b))

    def _conference_joined(self, arg: tuple[_Call, _Agent]) -> None:
        call, b = arg
        self._emit("call.conference_accepted", call_id=call.id, agent_id=b.id)

    def _transfer_target(self, call: _Call) -> _Agent | None:
        """A transfers-only agent if one is free, else the longest-idle online agent."""
        for a in self._agents.values():
            if (
                a.status == TRANSFERS_ONLY
                and a.desired == TRANSFERS_ONLY
                and not a.committed
                and a is not call.agent
            ):
                return a
        for aid in self._free:
            return self._agents[aid]
        return None

    def _leg_done(self, call: _Call) -> None:
        if call.transfer_planned:
            call.transfer_planned = False
            b = self._transfer_target(call)
            if b is not None:
                self._free.pop(b.id, None)
                b.reserved = call
                call.transferring = b
                self._emit("call.transfer_started", call_id=call.id, to_agent_id=b.id)
                self._after(self._spread(self._m.transfer_seconds), self._transfer_accepted,
                            (call, b))  # fmt: skip
                return
        self._end_call(call)

    def _transfer_accepted(self, arg: tuple[_Call, _Agent]) -> None:
        call, b = arg
        a = call.agent
        assert a is not None
        b.reserved = None
        call.transferring = None
        self._emit("call.transfer_accepted", call_id=call.id, agent_id=b.id)
        a.leg = None
        call.transferred = True
        self._start_wrap(a, call)
        self._connect(call, b)

    def _end_call(self, call: _Call) -> None:
        """call.ended, whatever state the call is in."""
        if call.ended:
            return
        call.ended = True
        self._unlist(call)
        del self._calls[call.id]
        self._emit("call.ended", call_id=call.id)
        ringing = call.ringing
        call.ringing = None
        target = call.transferring
        call.transferring = None
        a = call.agent
        if a is not None:
            a.leg = None
            call.agent = None
            self._start_wrap(a, call)
        if target is not None:
            target.reserved = None
            self._agent_released(target)
        if ringing is not None:
            ringing.offer = None
            self._agent_released(ringing)

    def _start_wrap(self, a: _Agent, call: _Call) -> None:
        a.wrap = call
        w = self._exp(self._m.wrap_up_mean)
        if w > 0:
            self._after(w, self._wrap_done, a)
        else:
            self._wrap_done(a)

    def _wrap_done(self, a: _Agent) -> None:
        call = a.wrap
        if call is None:
            return
        a.wrap = None
        self._emit("call.wrap_up_ended", call_id=call.id, agent_id=a.id)
        self._agent_released(a)


def generate(scenario: Scenario, start_ns: int, end_ns: int, seed: int) -> Iterator[Event]:
    """The events of `[start_ns, end_ns)`, in time order; calls open at the end stay open."""
    sim = Simulator(scenario, seed, start_ns)
    t = sim.now_ns
    step = 3600 * NS
    while t < end_ns:
        t = min(end_ns, t + step)
        yield from sim.advance(t)
