"""Hypothesis strategies: contract-valid event streams of a tiny simulated contact center.

``streams()`` simulates four agents, two phone numbers and up to a dozen calls step by
step: at each step it draws the next action among those docs/events.md allows in the current
state, so every stream is valid by construction. Times start near a local midnight
(often the night of a DST change) and may run over it; an event may carry a time
earlier than events already sent for *other* calls and agents (out-of-order arrival
across calls), never earlier than the last event of its own call or of an agent it
names or acts on. The model shares no code with the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.projection import AccountProjection

NS = 1_000_000_000
AGENTS = (1, 2, 3, 4)
NUMBERS = (10, 20)
GROUPS = {7: (1, 2), 8: (3,)}
MAX_CALLS = 12

# (zone, first instant): mostly the night before a DST change
STARTS = (
    ("Europe/Paris", "2026-03-28T23:20:00+01:00"),  # 23-hour day follows
    ("Europe/Paris", "2026-10-24T23:40:00+02:00"),  # 25-hour day follows
    ("America/Los_Angeles", "2026-03-07T23:50:00-08:00"),
    ("America/Los_Angeles", "2026-11-01T00:30:00-07:00"),  # 01:00-02:00 happens twice
    ("Asia/Kolkata", "2026-06-10T23:45:00+05:30"),
)


def _parse_start(text: str) -> int:
    dt = datetime.fromisoformat(text)
    return int(dt.timestamp()) * NS


def rfc3339(ns: int, zone: ZoneInfo) -> str:
    """ns -> RFC 3339 in the zone's local offset, with up to nine fractional digits."""
    seconds, fraction = divmod(ns, NS)
    text = datetime.fromtimestamp(seconds, zone).isoformat()
    if fraction:
        text = f"{text[:19]}.{f'{fraction:09d}'.rstrip('0')}{text[19:]}"
    return text


def make_directory() -> Directory:
    directory = Directory()
    for agent_id in AGENTS:
        directory.add_agent(AgentInfo(agent_id, f"Agent {agent_id}"))
    for number in NUMBERS:
        directory.add_phone_number(number)
    for group_id, members in GROUPS.items():
        directory.add_group(group_id)
        for member in members:
            directory.add_member(group_id, member)
    return directory


@dataclass
class Stream:
    """Events in delivery order, with the server clock at each delivery."""

    timezone: str
    events: list[dict[str, Any]]
    server_nows: list[int]

    def projection(self) -> AccountProjection:
        return AccountProjection(self.timezone, make_directory())

    def __repr__(self) -> str:  # readable falsifying examples
        lines = [f"Stream({self.timezone!r}, {len(self.events)} events)"]
        lines += [f"  {e}" for e in self.events]
        return "\n".join(lines)


@dataclass
class _Agent:
    status: str = "offline"
    busy: str | None = None  # "on_call" | "wrap_up"
    offer: str | None = None  # call id of the open offer
    last: int = -(2**62)


@dataclass
class _Call:
    id: str
    direction: str
    origin: int | None
    last: int
    ended: bool = False
    queue: str | None = None  # "line" | "callback"
    agent: int | None = None
    hold: bool = False
    transfer: bool = False
    conference: bool = False
    voicemail: bool = False
    answered: bool = False
    offers: set[int] = field(default_factory=set)
    wrap_ups: set[int] = field(default_factory=set)


_DELTAS = st.one_of(
    st.just(0),
    st.integers(1, 90).map(lambda s: s * NS),
    st.integers(1, 3 * NS),  # fractional seconds
    st.sampled_from([300 * NS, 1200 * NS, 3600 * NS]),
)
_LAG = st.sampled_from([0, 0, 0, 1, 5 * NS, 299 * NS])  # how far the server clock lags


class _Sim:
    def __init__(self, draw: Any, start: int) -> None:
        self.draw = draw
        self.t = start
        self.agents = {a: _Agent() for a in AGENTS}
        self.calls: dict[str, _Call] = {}
        self.next_call = 0

    # --- candidates -----------------------------------------------------------------
    def free(self) -> list[int]:
        return [a for a, s in self.agents.items() if s.busy is None]

    def open_calls(self) -> list[_Call]:
        return [c for c in self.calls.values() if not c.ended]

    def options(self) -> dict[str, list[Any]]:
        calls = self.open_calls()
        inbound = [c for c in calls if c.direction == "inbound"]
        idle_in = [c for c in inbound if c.agent is None]
        waiting = [c for c in calls if c.queue is not None]
        connected = [c for c in calls if c.agent is not None]
        offerable = [a for a in self.free() if self.agents[a].offer is None]
        out: dict[str, list[Any]] = {
            "state": list(AGENTS),
            "textback": calls,
            "queued": [c for c in idle_in if c.queue is None],
            "callback": [c for c in idle_in if c.queue != "callback"],
            "offered": [(c, a) for c in waiting for a in offerable],
            "offer_closed": [(self.calls[s.offer], a) for a, s in self.agents.items() if s.offer],
            # an agent ringing for another call does not answer this one (see the report)
            "answered": [
                (c, a) for c in waiting for a in self.free() if self.agents[a].offer in (None, c.id)
            ],
            "answered_out": [
                c
                for c in calls
                if c.direction == "outbound" and not c.answered and c.agent == c.origin
            ],
            "hold_started": [c for c in connected if not c.hold],
            "hold_ended": [c for c in connected if c.hold],
            "transfer_started": connected,
            "transfer_accepted": [
                (c, a) for c in connected if c.transfer for a in self.free() if a != c.agent
            ],
            "conference_started": connected,
            "conference_accepted": [
                (c, a) for c in calls if c.conference for a in AGENTS if a != c.agent
            ],
            "voicemail": [c for c in idle_in if not c.voicemail],
            "ended": calls,
            "wrap_up_ended": [(c, a) for c in self.calls.values() for a in sorted(c.wrap_ups)],
        }
        if self.next_call < MAX_CALLS:
            out["inbound"] = [None]
            out["outbound"] = self.free()
        return {k: v for k, v in out.items() if v}

    # --- one step ---------------------------------------------------------------------
    def step(self) -> tuple[dict[str, Any], int]:
        draw = self.draw
        self.t += draw(_DELTAS)
        options = self.options()
        kind = draw(st.sampled_from(sorted(options)))
        target = draw(st.sampled_from(options[kind]))
        obj, call, agents = self.build(kind, target)
        base = max([call.last if call else -(2**62)] + [self.agents[a].last for a in agents])
        time = self.t
        if base < self.t and draw(st.integers(0, 3)) == 0:
            time = draw(st.integers(max(base, self.t - 1800 * NS), self.t))
        self.apply(kind, target, obj, time)
        if call is not None:
            call.last = time
        for a in agents:
            self.agents[a].last = time
        return obj, time

    def build(self, kind: str, target: Any) -> tuple[dict[str, Any], _Call | None, list[int]]:
        """The event (without id/time), its call and the agents it names or acts on."""
        draw = self.draw
        if kind == "state":
            obj: dict[str, Any] = {
                "type": "agent.state_changed",
                "agent_id": target,
                "state": draw(
                    st.sampled_from(["online", "online", "away", "transfers_only", "offline"])
                ),
            }
            if draw(st.booleans()):
                obj["via"] = draw(st.sampled_from(["client", "phone"]))
            if draw(st.integers(0, 3)) == 0:
                obj["forwarding_number"] = draw(st.sampled_from([None, "+33100", "+1555"]))
            return obj, None, [target]
        if kind in ("inbound", "outbound"):
            call_id = f"c{self.next_call}"
            obj = {
                "type": "call.started",
                "call_id": call_id,
                "direction": kind,
                "phone_number_id": draw(st.sampled_from(NUMBERS)),
            }
            if kind == "outbound":
                obj["agent_id"] = target
            else:
                if draw(st.integers(0, 3)) == 0:
                    obj["source"] = "web_widget"
                if draw(st.integers(0, 5)) == 0:
                    obj["outside_business_hours"] = True
            return obj, None, [target] if kind == "outbound" else []
        if isinstance(target, tuple):
            call, agent = target
        else:
            call, agent = target, None
        names = {
            "offer_closed": draw(st.sampled_from(["declined", "missed"])),
            "answered_out": "answered",
            "callback": "callback_requested",
            "textback": "textback_sent",
        }
        obj = {"type": f"call.{names.get(kind, kind)}", "call_id": call.id}
        involved: list[int] = []
        if agent is not None:
            obj["agent_id"] = agent
            involved.append(agent)
        if kind == "answered_out":
            obj["agent_id"] = call.origin
            involved.append(call.origin)
        if kind == "queued" and draw(st.booleans()):
            obj["group_id"] = draw(st.sampled_from(sorted(GROUPS)))
        if kind == "transfer_started" and draw(st.booleans()):
            obj["to_agent_id"] = draw(st.sampled_from(AGENTS))
            involved.append(obj["to_agent_id"])  # conservative: treat it as named
        if kind == "voicemail":
            obj["reason"] = draw(
                st.sampled_from(
                    [
                        "outside_business_hours",
                        "exceeded_queue_wait_time",
                        "requested",
                        "no_available_agents",
                    ]
                )
            )
        if call.agent is not None and kind in (
            "hold_started",
            "hold_ended",
            "transfer_started",
            "transfer_accepted",
            "conference_started",
            "ended",
        ):
            involved.append(call.agent)  # the event acts on the connected agent
        return obj, call, involved

    def apply(self, kind: str, target: Any, obj: dict[str, Any], time: int) -> None:
        """Move the model as the contract says."""
        agents = self.agents
        if kind == "state":
            agents[target].status = obj["state"]
            return
        if kind in ("inbound", "outbound"):
            call = _Call(obj["call_id"], kind, obj.get("agent_id"), time)
            self.calls[call.id] = call
            self.next_call += 1
            if kind == "outbound":
                call.agent = target
                agents[target].busy = "on_call"
            return
        call, agent = target if isinstance(target, tuple) else (target, None)

        def close_offers() -> None:
            for a in call.offers:
                agents[a].offer = None
            call.offers.clear()

        def end_leg() -> None:
            assert call.agent is not None
            agents[call.agent].busy = "wrap_up"
            call.wrap_ups.add(call.agent)
            call.agent = None
            call.hold = call.transfer = False

        if kind == "queued":
            call.queue = "line"
        elif kind == "callback":
            call.queue = "callback"
        elif kind == "offered":
            call.offers.add(agent)
            agents[agent].offer = call.id
        elif kind == "offer_closed":
            call.offers.discard(agent)
            agents[agent].offer = None
        elif kind == "answered":
            close_offers()
            call.queue = None
            call.answered = True
            call.agent = agent
            agents[agent].busy = "on_call"
        elif kind == "answered_out":
            call.answered = True
        elif kind == "hold_started":
            call.hold = True
        elif kind == "hold_ended":
            call.hold = False
        elif kind == "transfer_started":
            call.transfer = True
        elif kind == "transfer_accepted":
            end_leg()
            call.agent = agent
            agents[agent].busy = "on_call"
        elif kind == "conference_started":
            call.conference = True
        elif kind == "voicemail":
            call.voicemail = True
            call.queue = None
            close_offers()
        elif kind == "ended":
            if call.agent is not None:
                end_leg()
            call.queue = None
            call.ended = True
            close_offers()
        elif kind == "wrap_up_ended":
            call.wrap_ups.discard(agent)
            agents[agent].busy = None


@st.composite
def streams(draw: Any, max_steps: int = 60) -> Stream:
    """A contract-valid stream of 1..max_steps events."""
    timezone, start_text = draw(st.sampled_from(STARTS))
    zone = ZoneInfo(timezone)
    sim = _Sim(draw, _parse_start(start_text))
    events: list[dict[str, Any]] = []
    nows: list[int] = []
    for i in range(draw(st.integers(1, max_steps))):
        obj, time = sim.step()
        events.append({"id": f"e{i}", "time": rfc3339(time, zone), **obj})
        nows.append(sim.t - draw(_LAG))
    return Stream(timezone, events, nows)
