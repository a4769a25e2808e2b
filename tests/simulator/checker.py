"""An independent, minimal checker of the docs/events.md rules, for the simulator's output.

It shares no code with the simulator (nor with the core): it re-reads the contract and
tracks, per call and per agent, exactly what the "allowed when" column needs. With
`model=True` it also checks promises the simulator makes beyond the contract: offers go
to agents whose status is `online`, agents never change status while busy or ringing,
and the whole stream is in non-decreasing time order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from talkstats.simulator import ReferenceData

_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")

# type -> (required fields, optional fields), besides id/type/time
_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "agent.state_changed": ({"agent_id", "state"}, {"via", "forwarding_number"}),
    "call.started": (
        {"call_id", "direction", "phone_number_id"},
        {"source", "outside_business_hours", "agent_id", "from", "to"},
    ),
    "call.textback_sent": ({"call_id"}, set()),
    "call.queued": ({"call_id"}, {"group_id"}),
    "call.callback_requested": ({"call_id"}, set()),
    "call.offered": ({"call_id", "agent_id"}, set()),
    "call.declined": ({"call_id", "agent_id"}, set()),
    "call.missed": ({"call_id", "agent_id"}, set()),
    "call.answered": ({"call_id", "agent_id"}, set()),
    "call.hold_started": ({"call_id"}, set()),
    "call.hold_ended": ({"call_id"}, set()),
    "call.transfer_started": ({"call_id"}, {"to_agent_id"}),
    "call.transfer_accepted": ({"call_id", "agent_id"}, set()),
    "call.conference_started": ({"call_id"}, set()),
    "call.conference_accepted": ({"call_id", "agent_id"}, set()),
    "call.voicemail": ({"call_id", "reason"}, set()),
    "call.ended": ({"call_id"}, set()),
    "call.wrap_up_ended": ({"call_id", "agent_id"}, set()),
}
_REASONS = {
    "outside_business_hours",
    "exceeded_queue_wait_time",
    "requested",
    "no_available_agents",
}


class Violation(AssertionError):
    pass


@dataclass
class _CallState:
    direction: str
    caller_agent: int | None
    ended: bool = False
    queue: str | None = None  # "line" | "callback"
    connected: int | None = None
    answered: bool = False
    on_hold: bool = False
    transfer_pending: bool = False
    conference: bool = False
    voicemail: bool = False
    offers: set[int] = field(default_factory=set)
    last: int = 0


@dataclass
class _AgentState:
    status: str = "offline"
    leg: str | None = None
    wraps: set[str] = field(default_factory=set)
    offer: str | None = None
    last: int = 0

    @property
    def busy(self) -> bool:
        return self.leg is not None or bool(self.wraps)


def _ns(text: str) -> int:
    if not _TIME.match(text):
        raise ValueError(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    frac = text[19:].split("Z")[0].split("+")[0].split("-")[0]
    ns = int(frac[1:].ljust(9, "0")) if frac.startswith(".") else 0
    return int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000 + ns


class ContractChecker:
    def __init__(self, ref: ReferenceData, *, model: bool = True) -> None:
        self.agent_ids = {a.id for a in ref.agents}
        self.number_ids = {p.id for p in ref.phone_numbers}
        self.group_ids = {g.id for g in ref.groups}
        self.model = model
        self.calls: dict[str, _CallState] = {}
        self.agents: dict[int, _AgentState] = {a: _AgentState() for a in self.agent_ids}
        self.ids: set[str] = set()
        self.last_time = 0
        self.count = 0

    def fail(self, ev: dict[str, Any], why: str) -> Violation:
        return Violation(f"event #{self.count} {ev.get('id')!r} {ev.get('type')}: {why}\n{ev}")

    def check_all(self, events: Iterable[dict[str, Any]]) -> None:
        for ev in events:
            self.check(ev)

    def _agent(self, ev: dict[str, Any], key: str = "agent_id") -> _AgentState:
        aid = ev[key]
        if not isinstance(aid, int) or isinstance(aid, bool) or aid not in self.agent_ids:
            raise self.fail(ev, f"unknown {key} {aid!r}")
        return self.agents[aid]

    def check(self, ev: dict[str, Any]) -> None:
        self.count += 1
        etype = ev.get("type")
        if etype not in _FIELDS:
            raise self.fail(ev, "unknown type")
        eid = ev.get("id")
        if not isinstance(eid, str) or not 1 <= len(eid) <= 200:
            raise self.fail(ev, "bad id")
        if eid in self.ids:
            raise self.fail(ev, "duplicate id")
        self.ids.add(eid)
        try:
            t = _ns(ev["time"])
        except (KeyError, ValueError, TypeError) as exc:
            raise self.fail(ev, "bad time") from exc
        required, optional = _FIELDS[etype]
        keys = set(ev) - {"id", "type", "time"}
        if required - keys:
            raise self.fail(ev, f"missing {sorted(required - keys)}")
        if keys - required - optional:
            raise self.fail(ev, f"unknown fields {sorted(keys - required - optional)}")
        if self.model and t < self.last_time:
            raise self.fail(ev, "stream goes back in time")
        self.last_time = max(self.last_time, t)

        # ordering per agent: every agent the event names
        named = []
        for key in ("agent_id", "to_agent_id"):
            if key in ev:
                if t < self._agent(ev, key).last:
                    raise self.fail(ev, f"out of order for agent {ev[key]}")
                named.append(ev[key])

        if etype == "agent.state_changed":
            a = self._agent(ev)
            if ev["state"] not in ("online", "away", "transfers_only", "offline"):
                raise self.fail(ev, "bad state")
            if "via" in ev and ev["via"] not in ("client", "phone"):
                raise self.fail(ev, "bad via")
            fwd = ev.get("forwarding_number")
            if fwd is not None and not isinstance(fwd, str):
                raise self.fail(ev, "bad forwarding_number")
            if self.model and (a.busy or a.offer is not None) and ev["state"] != a.status:
                raise self.fail(ev, "model: status changes while the agent is busy or ringing")
            a.status = ev["state"]
            a.last = t
            return

        cid = ev["call_id"]
        if not isinstance(cid, str) or not 1 <= len(cid) <= 200:
            raise self.fail(ev, "bad call_id")

        if etype == "call.started":
            if cid in self.calls:
                raise self.fail(ev, "call id is not new")
            direction = ev["direction"]
            if direction not in ("inbound", "outbound"):
                raise self.fail(ev, "bad direction")
            if ev["phone_number_id"] not in self.number_ids:
                raise self.fail(ev, "unknown phone number")
            if ev.get("source", "phone") not in ("phone", "web_widget"):
                raise self.fail(ev, "bad source")
            if not isinstance(ev.get("outside_business_hours", False), bool):
                raise self.fail(ev, "bad outside_business_hours")
            for k in ("from", "to"):
                if k in ev and not isinstance(ev[k], str):
                    raise self.fail(ev, f"bad {k}")
            if direction == "outbound":
                if "agent_id" not in ev:
                    raise self.fail(ev, "outbound without agent_id")
                a = self._agent(ev)
                if a.busy:
                    raise self.fail(ev, "outbound by a busy agent")
                if self.model and (a.offer is not None or a.status != "online"):
                    raise self.fail(ev, "model: outbound by a ringing or not-online agent")
                a.leg = cid
                a.last = t
                self.calls[cid] = _CallState(direction, ev["agent_id"], connected=ev["agent_id"])
            else:
                if "agent_id" in ev:
                    raise self.fail(ev, "inbound with agent_id")
                self.calls[cid] = _CallState(direction, None)
            self.calls[cid].last = t
            return

        c = self.calls.get(cid)
        if c is None:
            raise self.fail(ev, "unknown call")
        if t < c.last:
            raise self.fail(ev, "out of order for the call")
        c.last = t
        for aid in named:
            self.agents[aid].last = t
        inbound = c.direction == "inbound"
        waiting = c.queue is not None

        if etype == "call.textback_sent":
            self._need(ev, not c.ended, "call ended")
        elif etype == "call.queued":
            self._need(ev, inbound and not c.ended, "not inbound or ended")
            self._need(ev, c.connected is None, "connected")
            self._need(ev, c.queue is None, "already queued / in callback queue")
            if "group_id" in ev:
                self._need(ev, ev["group_id"] in self.group_ids, "unknown group")
            c.queue = "line"
        elif etype == "call.callback_requested":
            self._need(ev, inbound and not c.ended and c.connected is None, "not allowed")
            self._need(ev, c.queue != "callback", "already in the callback queue")
            c.queue = "callback"
        elif etype == "call.offered":
            a = self._agent(ev)
            self._need(ev, waiting and not c.ended, "call not waiting")
            self._need(ev, a.offer is None, "agent has an open offer")
            self._need(ev, not a.busy, "agent busy")
            if self.model:
                self._need(ev, a.status == "online", "model: offer to an agent not online")
            a.offer = cid
            c.offers.add(ev["agent_id"])
        elif etype in ("call.declined", "call.missed"):
            a = self._agent(ev)
            self._need(ev, a.offer == cid, "no open offer for this call")
            a.offer = None
            c.offers.discard(ev["agent_id"])
        elif etype == "call.answered":
            a = self._agent(ev)
            self._need(ev, not c.ended, "call ended")
            if inbound:
                self._need(ev, waiting, "call not waiting")
                self._need(ev, not a.busy, "agent busy")
                self._need(ev, a.offer in (None, cid), "agent rings for another call")
                for other in c.offers:
                    self.agents[other].offer = None
                c.offers.clear()
                c.queue = None
                c.connected = ev["agent_id"]
                a.leg = cid
            else:
                self._need(ev, ev["agent_id"] == c.caller_agent, "not the calling agent")
                self._need(ev, not c.answered, "already answered")
            c.answered = True
        elif etype == "call.hold_started":
            self._need(ev, c.connected is not None and not c.ended and not c.on_hold, "no")
            c.on_hold = True
        elif etype == "call.hold_ended":
            self._need(ev, c.on_hold and not c.ended, "not on hold")
            c.on_hold = False
        elif etype == "call.transfer_started":
            self._need(ev, c.connected is not None and not c.ended, "not connected")
            if "to_agent_id" in ev:
                self._agent(ev, "to_agent_id")
            c.transfer_pending = True
        elif etype == "call.transfer_accepted":
            a = self._agent(ev)
            self._need(ev, c.transfer_pending and not c.ended, "no transfer pending")
            self._need(ev, ev["agent_id"] != c.connected, "accepting agent is connected")
            self._need(ev, not a.busy, "agent busy")
            if self.model:
                self._need(ev, a.offer is None, "model: accepting agent rings")
                self._need(
                    ev, a.status in ("online", "transfers_only"), "model: agent not available"
                )
            assert c.connected is not None
            prev = self.agents[c.connected]
            prev.leg = None
            prev.wraps.add(cid)
            c.on_hold = False
            c.transfer_pending = False
            c.connected = ev["agent_id"]
            a.leg = cid
        elif etype == "call.conference_started":
            self._need(ev, c.connected is not None and not c.ended, "not connected")
            c.conference = True
        elif etype == "call.conference_accepted":
            self._agent(ev)
            self._need(ev, c.conference and not c.ended, "no conference started")
            self._need(ev, ev["agent_id"] != c.connected, "connected agent joins itself")
        elif etype == "call.voicemail":
            self._need(ev, inbound and not c.ended, "not inbound or ended")
            self._need(ev, c.connected is None, "connected")
            self._need(ev, not c.voicemail, "second voicemail")
            self._need(ev, ev["reason"] in _REASONS, "bad reason")
            c.voicemail = True
            c.queue = None
        elif etype == "call.ended":
            self._need(ev, not c.ended, "already ended")
            c.ended = True
            if c.connected is not None:
                a = self.agents[c.connected]
                a.leg = None
                a.wraps.add(cid)
                c.connected = None
            for other in c.offers:
                self.agents[other].offer = None
            c.offers.clear()
            c.on_hold = False
            c.queue = None
        elif etype == "call.wrap_up_ended":
            a = self._agent(ev)
            self._need(ev, cid in a.wraps, "agent not in wrap-up for this call")
            a.wraps.discard(cid)

    def _need(self, ev: dict[str, Any], ok: bool, why: str) -> None:
        if not ok:
            raise self.fail(ev, why)

    def assert_closed(self) -> None:
        """After Simulator.finish: every call ended, no wrap-up or offer open."""
        open_calls = [cid for cid, c in self.calls.items() if not c.ended]
        if open_calls:
            raise Violation(f"{len(open_calls)} calls never ended, e.g. {open_calls[0]}")
        for aid, a in self.agents.items():
            if a.busy or a.offer is not None:
                raise Violation(f"agent {aid} still busy or ringing")
            if a.status != "offline":
                raise Violation(f"agent {aid} still {a.status}")
