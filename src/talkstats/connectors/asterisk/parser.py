"""The queue_log as talkstats events: a state machine fed one line at a time.

`QueueLogParser.feed(line)` returns the events the line means (EVENTS.md), in an order
the event contract accepts; lines that mean nothing for the statistics are counted in
``skipped`` with the reason. docs/asterisk.md says what each line becomes and how the
contradictions of real logs are absorbed. In short:

- a call starts and queues at ENTERQUEUE; RINGNOANSWER is an offer and a miss (rings
  under ``min_ring_ms`` mean the member could not be rung: not counted); CONNECT is the
  answer; COMPLETECALLER / COMPLETEAGENT end the call, and the member's wrap-up ends
  ``wrapup_seconds`` later (or at its next line, if that comes first); ABANDON ends a
  waiting call (abandoned in queue); TRANSFER, BLINDTRANSFER and ATTENDEDTRANSFER are
  a started transfer and the end of the call.
- EXITWITHTIMEOUT, EXITEMPTY and EXITWITHKEY send the caller to voicemail (reasons
  ``exceeded_queue_wait_time``, ``no_available_agents``, ``requested``) and end the
  call, unless the caller enters another queue within ``requeue_seconds``: then it is
  one call that moved between queues, and it simply goes on waiting.
- Every event's time is its line's time, raised where needed to the last time of its
  call and of its agent, so each call's and agent's events never go back in time
  (Asterisk stamps a line before it takes the log's lock, so lines can be a second out
  of order).
- Event ids are ``PREFIX + line key + a tag``: reading a line again gives the same ids,
  and the server answers ``duplicate``.

Pure: no I/O, no clock (`expire` is given the time by the caller).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from talkstats.connectors.asterisk.lines import QueueLogLine
from talkstats.connectors.asterisk.mapping import Resolver, member_number
from talkstats.connectors.asterisk.presence import Presence
from talkstats.domain.timeutil import NS_PER_SECOND, format_instant

__all__ = ["EXIT_REASONS", "QueueLogParser"]

Event = dict[str, Any]

# how a caller left the queue -> the voicemail reason (None: no voicemail)
EXIT_REASONS: dict[str, str | None] = {
    "EXITWITHTIMEOUT": "exceeded_queue_wait_time",
    "EXITEMPTY": "no_available_agents",
    "EXITWITHKEY": "requested",
    "WITHDRAW": None,
}
_NO_STATISTICS = frozenset(("CONFIGRELOAD", "INFO", "PENALTY", "RINGINUSE", "OUTCALL"))
_MEMBERLESS = frozenset(("NONE", ""))
_FINISHED_KEEP = 100_000  # ended callids remembered (a callid that comes back is a new call)
_DIDS_KEEP = 10_000


LONGEST_WAIT_SECONDS = 86_400  # a longer reported wait is a torn or corrupt field


def _int(text: str) -> int | None:
    """A data field's whole number (ASCII digits, at most 12), or None when it is none."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


@dataclass(slots=True)
class _Call:
    callid: str  # Asterisk's
    tid: str  # the talkstats call id
    queue: str
    last: int
    agent: int | None = None  # connected member
    exit: tuple[str, int, str] | None = None  # pending exit: (event, time, line key)


@dataclass(slots=True)
class _Agent:
    last: int = -(2**62)
    status: str | None = None  # last status sent (None: never)
    presence: Presence | None = None
    callid: str | None = None  # Asterisk callid of the open leg
    wrap: tuple[str, int, str] | None = None  # pending wrap-up end: (call id, due, key)


class QueueLogParser:
    """Lines in, events out; keeps the open calls, the members and what is pending."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        wrapup_seconds: float = 0.0,
        requeue_seconds: float = 2.0,
        min_ring_ms: int = 1000,
        id_prefix: str = "ql:",
    ) -> None:
        self.resolver = resolver
        self.wrapup_ns = round(wrapup_seconds * NS_PER_SECOND)
        self.requeue_ns = round(requeue_seconds * NS_PER_SECOND)
        self.min_ring_ms = min_ring_ms
        self.prefix = id_prefix
        self.lines = 0
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self._calls: dict[str, _Call] = {}
        self._agents: dict[int, _Agent] = {}
        self._finished: dict[str, int] = {}  # callid -> talkstats calls it has had
        self._dids: dict[str, str] = {}
        self._pending: list[tuple[int, int, str, str, int]] = []  # due, seq, kind, ref, stamp
        self._seq = 0
        self._out: list[Event] = []
        self._fmt_ns = -1
        self._fmt_minute = -1
        self._fmt_prefix = ""
        self._key_second = -1
        self._key_counts: dict[str, int] = {}
        self._fmt_text = ""
        self._handlers: dict[str, Callable[[QueueLogLine], None]] = {
            "ENTERQUEUE": self._enterqueue,
            "DID": self._did,
            "RINGNOANSWER": self._ringnoanswer,
            "RINGCANCELED": self._ringcanceled,
            "CONNECT": self._connect,
            "COMPLETECALLER": self._complete,
            "COMPLETEAGENT": self._complete,
            "TRANSFER": self._transfer,
            "BLINDTRANSFER": self._transfer,
            "ATTENDEDTRANSFER": self._transfer,
            "ABANDON": self._abandon,
            "SYSCOMPAT": self._abandon,
            "EXITWITHTIMEOUT": self._exit,
            "EXITEMPTY": self._exit,
            "EXITWITHKEY": self._exit,
            "WITHDRAW": self._exit,
            "AGENTDUMP": self._agentdump,
            "ADDMEMBER": self._member_added,
            "REMOVEMEMBER": self._member_removed,
            "PAUSE": self._pause,
            "PAUSEALL": self._pause,
            "UNPAUSE": self._unpause,
            "UNPAUSEALL": self._unpause,
            "AGENTLOGIN": self._login,
            "AGENTCALLBACKLOGIN": self._login,
            "AGENTLOGOFF": self._logoff,
            "AGENTCALLBACKLOGOFF": self._logoff,
            "QUEUESTART": self._queuestart,
        }

    # --- public -------------------------------------------------------------------------

    def feed(self, line: QueueLogLine) -> list[Event]:
        """The events of one line (and of anything pending that its time settles)."""
        self.lines += 1
        if line.time < 0:
            self.skipped["time before 1970"] += 1
            return []
        if line.time != self._key_second:  # identical lines in one second: distinct ids
            self._key_second = line.time
            self._key_counts.clear()
        seen = self._key_counts.get(line.key, 0) + 1
        self._key_counts[line.key] = seen
        if seen > 1:
            line = replace(line, key=f"{line.key}~{seen}")
        if self._pending and self._pending[0][0] <= line.time:
            self._flush(line.time, 0)
        handler = self._handlers.get(line.event)
        if handler is None:
            if line.event in _NO_STATISTICS:
                self.skipped[f"no statistics ({line.event})"] += 1
            else:
                self.skipped[f"unknown event {line.event[:40]}"] += 1
        else:
            before = len(self._out)
            handler(line)
            if len(self._out) == before and not self._skipped_now:
                self.skipped[f"no statistics ({line.event})"] += 1
            self._skipped_now = False
        out, self._out = self._out, []
        return out

    _skipped_now = False

    def expire(self, now_ns: int) -> list[Event]:
        """Settle what is pending by ``now`` (a live follow calls this with the clock).

        A caller's exit waits one second more than the requeue window, since a line's
        time is cut to the second.
        """
        self._flush(now_ns, NS_PER_SECOND - 1)
        out, self._out = self._out, []
        return out

    def finish(self) -> list[Event]:
        """Settle everything pending (the end of an import): exits and wrap-ups."""
        self._flush(2**62, 0)
        out, self._out = self._out, []
        return out

    def open_calls(self) -> int:
        return len(self._calls)

    def resolver_has_new(self) -> bool:
        """The resolver invented records not handed out yet (to create)."""
        return self.resolver.has_new()

    # --- emitting -------------------------------------------------------------------------

    def _time(self, t: int) -> str:
        if t != self._fmt_ns:
            self._fmt_ns = t
            seconds, fraction = divmod(t, NS_PER_SECOND)
            minute = seconds // 60
            if fraction or minute != self._fmt_minute:
                text = format_instant(t)
                if not fraction:
                    self._fmt_minute, self._fmt_prefix = minute, text[:17]
                self._fmt_text = text
            else:  # whole seconds of the same minute: the common case of a file
                self._fmt_text = f"{self._fmt_prefix}{seconds % 60:02d}Z"
        return self._fmt_text

    def _emit(self, key: str, tag: str, etype: str, t: int, fields: dict[str, Any]) -> None:
        event: Event = {"id": f"{self.prefix}{key}.{tag}", "type": etype, "time": self._time(t)}
        event.update(fields)
        self._out.append(event)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] += 1
        self._skipped_now = True

    def _agent(self, agent_id: int) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = _Agent(presence=Presence())
        return agent

    def _member(self, line: QueueLogLine, *, in_call: bool) -> tuple[int, _Agent] | None:
        """The line's member (agent id and state); a call line makes it a queue member."""
        if line.agent in _MEMBERLESS:
            return None
        agent_id = self.resolver.agent(line.agent)
        agent = self._agent(agent_id)
        if line.queue not in _MEMBERLESS:
            self.resolver.join(agent_id, line.queue)
            if in_call:
                assert agent.presence is not None
                if agent.presence.seen_in(line.queue) or agent.status is None:
                    self._sync_status(agent_id, agent, line)
        return agent_id, agent

    def _sync_status(self, agent_id: int, agent: _Agent, line: QueueLogLine) -> None:
        assert agent.presence is not None
        status = agent.presence.status(self.resolver.mapping.pause_state)
        if status == (agent.status or "offline"):
            return
        t = max(line.time, agent.last)
        agent.last = t
        agent.status = status
        self._emit(
            line.key, "st", "agent.state_changed", t, {"agent_id": agent_id, "state": status}
        )

    # --- calls -----------------------------------------------------------------------------

    def _new_call(self, callid: str, queue: str, line: QueueLogLine, start: int) -> _Call:
        segments = self._finished.get(callid, 0)
        tid = callid if segments == 0 else f"{callid}~{segments + 1}"
        group_id = self.resolver.group(queue)
        did = self._dids.pop(callid, "")
        number_id = self.resolver.did(did) if did else self.resolver.queue_number(queue)
        start = max(start, 0)
        call = self._calls[callid] = _Call(callid, tid, queue, start)
        started: dict[str, Any] = {
            "call_id": tid,
            "direction": "inbound",
            "phone_number_id": number_id,
        }
        caller = line.field(1) if line.event == "ENTERQUEUE" else ""
        if caller:
            started["from"] = caller[:200]
        if did:
            started["to"] = did[:200]
        self._emit(line.key, "s", "call.started", start, started)
        self._emit(line.key, "q", "call.queued", start, {"call_id": tid, "group_id": group_id})
        return call

    def _reconstruct(self, line: QueueLogLine, seconds_before: int | None) -> _Call:
        """A call whose ENTERQUEUE was not read: it waited since ``seconds_before``."""
        self.notes["calls whose start was not in the log (started from the wait they report)"] += 1
        if seconds_before is None or seconds_before > LONGEST_WAIT_SECONDS:
            seconds_before = 0
        start = line.time - seconds_before * NS_PER_SECOND
        return self._new_call(line.callid, line.queue, line, start)

    def _stamp(self, t: int, call: _Call, *agents: _Agent) -> int:
        t = max(t, call.last)
        for agent in agents:
            t = max(t, agent.last)
        call.last = t
        for agent in agents:
            agent.last = t
        return t

    def _end_call(self, call: _Call, t: int, key: str, tag: str, *, wrap_up: bool = True) -> None:
        """call.ended at ``t``; a connected member goes into wrap-up (none: ``wrap_up``
        false, or ``wrapup_seconds`` 0)."""
        agent = self._agents[call.agent] if call.agent is not None else None
        t = self._stamp(t, call, *((agent,) if agent else ()))
        self._emit(key, tag, "call.ended", t, {"call_id": call.tid})
        if self._calls.get(call.callid) is call:
            del self._calls[call.callid]
            self._finished[call.callid] = self._finished.get(call.callid, 0) + 1
            if len(self._finished) > _FINISHED_KEEP:
                del self._finished[next(iter(self._finished))]
        if agent is not None and call.agent is not None:
            if agent.callid == call.callid:
                agent.callid = None
            if wrap_up:
                self._start_wrap(call.agent, agent, call.tid, t, key, tag + "w")
            else:
                self._emit(
                    key, tag + "w", "call.wrap_up_ended", t,
                    {"call_id": call.tid, "agent_id": call.agent},
                )  # fmt: skip

    def _push(self, due: int, kind: str, ref: str, stamp: int) -> None:
        self._seq += 1
        heapq.heappush(self._pending, (due, self._seq, kind, ref, stamp))

    def _flush(self, until: int, exit_slack: int) -> None:
        pending = self._pending
        later: list[tuple[int, int, str, str, int]] = []
        while pending and pending[0][0] <= until:
            item = heapq.heappop(pending)
            due, _, kind, ref, stamp = item
            if kind == "exit" and due + exit_slack > until:
                later.append(item)
            elif kind == "wrap":
                agent = self._agents.get(int(ref))
                if agent is not None and agent.wrap is not None and agent.wrap[1] == stamp:
                    self._end_wrap(int(ref), agent, due)
            else:
                call = self._calls.get(ref)
                if call is not None and call.exit is not None and call.exit[1] == stamp:
                    self._settle_exit(call)
        for item in later:
            heapq.heappush(pending, item)

    def _end_wrap(self, agent_id: int, agent: _Agent, t: int, key: str | None = None) -> None:
        assert agent.wrap is not None
        tid, due, origin = agent.wrap
        agent.wrap = None
        t = max(min(t, due), agent.last)
        agent.last = t
        if key is None:  # ended on time: the id comes from the line that ended the call
            key, tag = origin.rsplit(".", 1)[0], origin.rsplit(".", 1)[1] + "w"
        else:
            tag = "pw"
        self._emit(key, tag, "call.wrap_up_ended", t, {"call_id": tid, "agent_id": agent_id})

    def _settle_exit(self, call: _Call) -> None:
        assert call.exit is not None
        event, t, key = call.exit
        call.exit = None
        reason = EXIT_REASONS[event]
        t = self._stamp(t, call)
        if reason is not None:
            self._emit(key, "v", "call.voicemail", t, {"call_id": call.tid, "reason": reason})
        self._end_call(call, t, key, "e")

    def _free(self, agent_id: int, agent: _Agent, line: QueueLogLine, t: int) -> None:
        """Make the member free to take a call at ``t`` (the contract's "not busy")."""
        if agent.wrap is not None:
            self._end_wrap(agent_id, agent, t, line.key)
        if agent.callid is not None:
            other = self._calls.get(agent.callid)
            agent.callid = None
            if other is not None and other.agent == agent_id:
                self.notes["calls ended at the member's next call (their end was not logged)"] += 1
                self._end_call(other, t, line.key, "x", wrap_up=False)

    def _current_call(self, line: QueueLogLine) -> _Call | None:
        """The open call of the line's callid; a pending exit is settled first (its caller
        left that queue and this line is not a new queue for it)."""
        call = self._calls.get(line.callid)
        if call is not None and call.exit is not None:
            self._settle_exit(call)
            return None
        return call

    # --- call lines ---------------------------------------------------------------------------

    def _did(self, line: QueueLogLine) -> None:
        did = line.field(0).strip()
        if did and line.callid not in _MEMBERLESS:
            self._dids[line.callid] = did
            if len(self._dids) > _DIDS_KEEP:
                del self._dids[next(iter(self._dids))]
        self._skip("no statistics (DID: the call's phone number)")

    def _enterqueue(self, line: QueueLogLine) -> None:
        call = self._calls.get(line.callid)
        if (
            call is not None
            and call.exit is not None
            and line.time <= call.exit[1] + self.requeue_ns
        ):
            call.exit = None
            call.queue = line.queue
            self.notes["callers who moved to another queue (one call)"] += 1
            self._skip("no statistics (ENTERQUEUE: the caller moved to another queue)")
            return
        if call is not None and call.exit is not None:
            self._settle_exit(call)
            call = None
        if call is not None:
            if call.agent is None:
                self._skip("ENTERQUEUE for a caller already waiting")
                return
            self._end_call(call, line.time, line.key, "pe")  # its end was not logged
        self._new_call(line.callid, line.queue, line, line.time)

    def _ringnoanswer(self, line: QueueLogLine) -> None:
        member = self._member(line, in_call=True)
        call = self._current_call(line)
        if member is None or call is None or call.agent is not None:
            self._skip(
                "RINGNOANSWER without a member"
                if member is None
                else "RINGNOANSWER for a call not waiting (unknown, connected or gone)"
            )
            return
        ring = _int(line.field(0))
        if ring is None or ring < self.min_ring_ms:
            self._skip(f"member could not be rung (ring under {self.min_ring_ms} ms): not a miss")
            return
        agent_id, agent = member
        if agent.wrap is not None:
            self._end_wrap(agent_id, agent, line.time, line.key)
        if agent.callid is not None:
            self._skip("member rung while on another call (ringinuse): not a miss")
            return
        t = self._stamp(line.time, call, agent)
        fields = {"call_id": call.tid, "agent_id": agent_id}
        self._emit(line.key, "o", "call.offered", t, fields)
        self._emit(line.key, "m", "call.missed", t, fields)

    def _ringcanceled(self, line: QueueLogLine) -> None:
        self._member(line, in_call=True)
        self._skip("ring cancelled by the caller: not a miss")

    def _agentdump(self, line: QueueLogLine) -> None:
        member = self._member(line, in_call=True)
        call = self._current_call(line)
        if member is None or call is None or call.agent is not None:
            self._skip("AGENTDUMP for a call not waiting")
            return
        agent_id, agent = member
        self._free(agent_id, agent, line, line.time)
        t = self._stamp(line.time, call, agent)
        fields = {"call_id": call.tid, "agent_id": agent_id}
        self._emit(line.key, "o", "call.offered", t, fields)
        self._emit(line.key, "d", "call.declined", t, fields)

    def _answer(
        self, line: QueueLogLine, call: _Call, agent_id: int, agent: _Agent, t: int
    ) -> None:
        self._free(agent_id, agent, line, t)
        t = self._stamp(t, call, agent)
        self._emit(line.key, "a", "call.answered", t, {"call_id": call.tid, "agent_id": agent_id})
        call.agent = agent_id
        agent.callid = line.callid

    def _connect(self, line: QueueLogLine) -> None:
        member = self._member(line, in_call=True)
        if member is None:
            self._skip("CONNECT without a member")
            return
        agent_id, agent = member
        call = self._current_call(line)
        if call is None:
            if self._ended_before(line):
                return
            call = self._reconstruct(line, _int(line.field(0)))
        if call.agent == agent_id:
            self._skip("CONNECT repeated for the same member")
            return
        if call.agent is not None:  # connected to another member: the call moved to this one
            self._move(line, call, agent_id, agent)
            return
        self._answer(line, call, agent_id, agent, line.time)

    def _move(self, line: QueueLogLine, call: _Call, agent_id: int, agent: _Agent) -> None:
        assert call.agent is not None
        previous = self._agents[call.agent]
        self._free(agent_id, agent, line, line.time)
        t = self._stamp(line.time, call, previous, agent)
        self._emit(line.key, "ts", "call.transfer_started", t, {"call_id": call.tid})
        self._emit(
            line.key, "ta", "call.transfer_accepted", t, {"call_id": call.tid, "agent_id": agent_id}
        )
        self.notes["calls taken over by another member (a transfer)"] += 1
        previous.callid = None
        self._start_wrap(call.agent, previous, call.tid, t, line.key, "tw")
        call.agent = agent_id
        agent.callid = line.callid

    def _start_wrap(
        self, agent_id: int, agent: _Agent, tid: str, t: int, key: str, tag: str
    ) -> None:
        """Wrap-up of ``tid`` from ``t``; ``tag`` ends in "w" (the id of its end)."""
        if self.wrapup_ns == 0:
            self._emit(key, tag, "call.wrap_up_ended", t, {"call_id": tid, "agent_id": agent_id})
        else:
            due = t + self.wrapup_ns
            agent.wrap = (tid, due, key + "." + tag[:-1])
            self._push(due, "wrap", str(agent_id), due)

    def _connected_call(
        self, line: QueueLogLine, hold: int | None, talk: int | None
    ) -> _Call | None:
        """The call a COMPLETE / TRANSFER line ends, connected to its member."""
        member = self._member(line, in_call=False)
        call = self._current_call(line)
        if call is not None and call.agent is not None:
            return call
        if member is None:
            self._skip(f"{line.event} without a member")
            return None
        agent_id, agent = member
        talk_ns = (talk or 0) * NS_PER_SECOND
        if call is None:
            if self._ended_before(line):
                return None
            call = self._reconstruct(line, (hold or 0) + (talk or 0))
        else:
            self.notes["answers not logged (answered from COMPLETE / TRANSFER)"] += 1
        self._answer(line, call, agent_id, agent, line.time - talk_ns)
        return call

    def _complete(self, line: QueueLogLine) -> None:
        call = self._connected_call(line, _int(line.field(0)), _int(line.field(1)))
        if call is not None:
            self._end_call(call, line.time, line.key, "e")

    def _transfer(self, line: QueueLogLine) -> None:
        target = line.field(0)
        if line.event == "ATTENDEDTRANSFER":
            offset = 3 if line.field(0) == "LINK" else 2
            target = ""
        else:
            offset = 2
        call = self._connected_call(line, _int(line.field(offset)), _int(line.field(offset + 1)))
        if call is None:
            return
        assert call.agent is not None
        t = self._stamp(line.time, call, self._agents[call.agent])
        fields: dict[str, Any] = {"call_id": call.tid}
        to_agent = member_number(target) if target else None
        if to_agent is not None and to_agent != call.agent and self.resolver.is_agent(to_agent):
            fields["to_agent_id"] = to_agent
        self._emit(line.key, "ts", "call.transfer_started", t, fields)
        self._end_call(call, t, line.key, "e")

    def _waiting_call(self, line: QueueLogLine, wait: int | None) -> _Call | None:
        call = self._current_call(line)
        if call is None:
            return None if self._ended_before(line) else self._reconstruct(line, wait)
        return call

    def _ended_before(self, line: QueueLogLine) -> bool:
        """A line of a call that has ended (an Asterisk restart, a settled exit, a lost
        line): skipped, so that the call is not counted twice."""
        if line.callid in self._finished:
            self._skip(f"{line.event} of a call that had ended (restart or lost line)")
            return True
        return False

    def _abandon(self, line: QueueLogLine) -> None:
        if line.agent not in _MEMBERLESS:
            self._member(line, in_call=False)
        call = self._waiting_call(line, _int(line.field(2)))
        if call is not None:
            self._end_call(call, line.time, line.key, "e")

    def _exit(self, line: QueueLogLine) -> None:
        wait = _int(line.field(3)) if line.event == "EXITWITHKEY" else _int(line.field(2))
        call = self._waiting_call(line, wait)
        if call is None:
            return
        if call.agent is not None:
            self._skip(f"{line.event} for a call connected to a member")
            return
        t = self._stamp(line.time, call)
        call.exit = (line.event, t, line.key)
        self._push(t + self.requeue_ns + 1, "exit", line.callid, t)
        self._skipped_now = True  # its events come when the requeue window has passed

    # --- member lines ---------------------------------------------------------------------------

    def _presence_change(self, line: QueueLogLine, change: Callable[[Presence], None]) -> None:
        member = self._member(line, in_call=False)
        if member is None:
            self._skip(f"{line.event} without a member")
            return
        agent_id, agent = member
        assert agent.presence is not None
        change(agent.presence)
        self._sync_status(agent_id, agent, line)

    def _queue(self, line: QueueLogLine) -> str | None:
        return None if line.queue in _MEMBERLESS else line.queue

    def _member_added(self, line: QueueLogLine) -> None:
        paused = line.field(0).strip().upper() == "PAUSED"
        self._presence_change(line, lambda p: p.added(line.queue, paused))

    def _member_removed(self, line: QueueLogLine) -> None:
        self._presence_change(line, lambda p: p.removed(line.queue))

    def _pause(self, line: QueueLogLine) -> None:
        queue = None if line.event == "PAUSEALL" else self._queue(line)
        self._presence_change(line, lambda p: p.paused(queue, line.field(0)))

    def _unpause(self, line: QueueLogLine) -> None:
        queue = None if line.event == "UNPAUSEALL" else self._queue(line)
        self._presence_change(line, lambda p: p.unpaused(queue))

    def _login(self, line: QueueLogLine) -> None:
        self._presence_change(line, lambda p: p.login(True))

    def _logoff(self, line: QueueLogLine) -> None:
        self._presence_change(line, lambda p: p.login(False))

    def _queuestart(self, line: QueueLogLine) -> None:
        """Asterisk started: calls open before it were dropped by the restart."""
        self._flush(line.time, 0)
        for call in list(self._calls.values()):
            if call.exit is not None:
                self._settle_exit(call)
            else:
                self.notes["calls ended by an Asterisk restart"] += 1
                self._end_call(call, line.time, line.key, "r" + call.tid)
        if not self._out:
            self._skip("no statistics (QUEUESTART)")

    # --- persistence (follow's state file) ------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to go on after a restart, as JSON-ready data."""
        return {
            "calls": [
                [c.callid, c.tid, c.queue, c.last, c.agent, list(c.exit) if c.exit else None]
                for c in self._calls.values()
            ],
            "agents": [
                [
                    agent_id,
                    a.last,
                    a.status,
                    a.presence.to_json() if a.presence else None,
                    a.callid,
                    list(a.wrap) if a.wrap else None,
                ]
                for agent_id, a in self._agents.items()
            ],  # fmt: skip
            "finished": list(self._finished.items())[-2_000:],
            "dids": list(self._dids.items()),
            "pending": [list(p) for p in self._pending],
            "seq": self._seq,
            "keys": [self._key_second, self._key_counts],
            "resolver": self.resolver.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Go on from a `snapshot` (of a parser reading the same source)."""
        for callid, tid, queue, last, agent, exit_ in data["calls"]:
            self._calls[callid] = _Call(
                callid, tid, queue, int(last), agent, tuple(exit_) if exit_ else None
            )
        for agent_id, last, status, presence, callid, wrap in data["agents"]:
            self._agents[int(agent_id)] = _Agent(
                int(last),
                status,
                Presence.from_json(presence) if presence else Presence(),
                callid,
                tuple(wrap) if wrap else None,
            )
        self._finished = {str(k): int(v) for k, v in data["finished"]}
        self._dids = {str(k): str(v) for k, v in data["dids"]}
        self._pending = [tuple(p) for p in data["pending"]]
        heapq.heapify(self._pending)
        self._seq = int(data["seq"])
        self._key_second, self._key_counts = int(data["keys"][0]), dict(data["keys"][1])
        self.resolver.restore(data["resolver"])
