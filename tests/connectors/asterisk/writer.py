"""A small Asterisk-like queue_log writer for the simulator's calls, and the same calls as
Asterisk can tell them (the expected events).

`queue_log(events, queues, names)` writes the lines Asterisk 16+ (FreePBX dialplan, with
DID lines, ``log_membername_as_agent = no``) would have written for the simulator's
events: members are added by interface (``PJSIP/<id>``) and act under their member
name; a transfer is a blind transfer to the target's extension.

`as_asterisk_tells_it(events, groups)` is the same day with what a queue_log cannot
carry taken out, each a deliberate difference (docs/asterisk.md):

- times are whole seconds (a file line's time);
- holds are not logged: hold time is talk time;
- a declined call is a ring nobody answered (Asterisk logs RINGNOANSWER either way);
- a transfer ends the call for the queue: the target's leg is outside the queue_log;
- a caller sent to voicemail because nobody was online (EXITEMPTY) had entered the
  queue first: a zero wait;
- how an agent is reachable (``via``, ``forwarding_number``) is not logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

NS = 1_000_000_000
MS = 1_000_000
PAUSE_REASON = {"away": "Break", "transfers_only": "Transfers only"}


def ns_of(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.replace(microsecond=0).timestamp()) * NS + dt.microsecond * 1000


def second_text(t: int) -> str:
    return datetime.fromtimestamp(t // NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def queue_log(
    events: Iterable[dict[str, Any]],
    queues: Mapping[int, tuple[str, str, int]],
    agent_queues: Mapping[int, Sequence[str]],
    names: Mapping[int, str],
) -> list[str]:
    """Lines for ``events``; ``queues``: phone number id -> (queue, DID, group id)."""
    out: list[str] = []
    status: dict[int, str] = {}
    calls: dict[str, dict[str, Any]] = {}

    def line(t: int, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        out.append("|".join([str(t // NS), callid, queue, agent, event, *map(str, data)]))

    for e in events:
        t = ns_of(e["time"])
        kind = e["type"]
        if kind == "agent.state_changed":
            aid, new = e["agent_id"], e["state"]
            old = status.get(aid, "offline")
            status[aid] = new
            iface, member = f"PJSIP/{aid}", names[aid]
            if new == old:
                continue
            if new == "offline":
                for q in agent_queues[aid]:
                    line(t, "MANAGER", q, iface, "REMOVEMEMBER", "")
                continue
            if old == "offline":
                for q in agent_queues[aid]:
                    line(t, "MANAGER", q, iface, "ADDMEMBER", "")
            if new == "online" and old != "offline":
                line(t, "NONE", "NONE", member, "UNPAUSEALL", "")
                for q in agent_queues[aid]:
                    line(t, "NONE", q, member, "UNPAUSE", "")
            elif new != "online":
                line(t, "NONE", "NONE", member, "PAUSEALL", PAUSE_REASON[new])
                for q in agent_queues[aid]:
                    line(t, "NONE", q, member, "PAUSE", PAUSE_REASON[new])
            continue
        cid = e["call_id"]
        if kind == "call.started":
            queue, did, _ = queues[e["phone_number_id"]]
            calls[cid] = {"queue": queue, "did": did, "from": e.get("from", ""), "state": "new"}
            continue
        call = calls.get(cid)
        if call is None or call["state"] == "gone":
            continue
        q = call["queue"]

        if kind == "call.queued":
            _enter(line, t, cid, call)
        elif kind == "call.offered":
            call.setdefault("offers", {})[e["agent_id"]] = t
            call["ringing"] = e["agent_id"]
        elif kind in ("call.missed", "call.declined"):
            ring_ms = (t - call["offers"].pop(e["agent_id"])) // MS
            call["ringing"] = None
            line(t, cid, q, names[e["agent_id"]], "RINGNOANSWER", ring_ms)
        elif kind == "call.answered":
            offered = call.get("offers", {}).pop(e["agent_id"], t)
            call.update(state="connected", agent=e["agent_id"], answered=t, ringing=None)
            hold = t // NS - call["queued"] // NS
            line(
                t, cid, q, names[e["agent_id"]], "CONNECT", hold, f"{cid}-peer", (t - offered) // NS
            )
        elif kind == "call.transfer_started":
            hold = call["answered"] // NS - call["queued"] // NS
            talk = t // NS - call["answered"] // NS
            target = e.get("to_agent_id", 9999)
            line(
                t,
                cid,
                q,
                names[call["agent"]],
                "BLINDTRANSFER",
                target,
                "from-internal",
                hold,
                talk,
                1,
            )
            call["state"] = "gone"
        elif kind == "call.voicemail":
            reason = e["reason"]
            if call["state"] == "new":
                _enter(line, t, cid, call)
            wait = t // NS - call["queued"] // NS
            if reason == "exceeded_queue_wait_time":
                line(t, cid, q, "NONE", "EXITWITHTIMEOUT", 1, 1, wait)
            elif reason == "requested":
                line(t, cid, q, "NONE", "EXITWITHKEY", 1, 1, 1, wait)
            else:
                line(t, cid, q, "NONE", "EXITEMPTY", 1, 1, wait)
            call["state"] = "gone"
        elif kind == "call.ended":
            if call["state"] == "connected":
                hold = call["answered"] // NS - call["queued"] // NS
                talk = t // NS - call["answered"] // NS
                line(t, cid, q, names[call["agent"]], "COMPLETECALLER", hold, talk, 1)
            elif call["state"] == "waiting":
                if call.get("ringing"):
                    start = call["offers"][call["ringing"]]
                    line(t, cid, q, names[call["ringing"]], "RINGCANCELED", (t - start) // MS)
                line(t, cid, q, "NONE", "ABANDON", 1, 1, t // NS - call["queued"] // NS)
            call["state"] = "gone"
    return out


def _enter(line: Any, at: int, cid: str, call: dict[str, Any]) -> None:
    line(at, cid, call["queue"], "NONE", "DID", call["did"])
    line(at, cid, call["queue"], "NONE", "ENTERQUEUE", "", call["from"], 1)
    call.update(state="waiting", queued=at)


def as_asterisk_tells_it(
    events: Iterable[dict[str, Any]], groups: Mapping[int, int]
) -> list[dict[str, Any]]:
    """The day's events as a queue_log can carry them (module docstring); ``groups``:
    phone number id -> group id."""
    out: list[dict[str, Any]] = []
    status: dict[int, str] = {}
    gone: set[str] = set()
    queued: set[str] = set()
    numbers: dict[str, int] = {}
    agent_of: dict[str, int] = {}
    n = 0

    def add(e: dict[str, Any], t: int, **changes: Any) -> None:
        nonlocal n
        n += 1
        out.append({**e, "id": f"x{n}", "time": second_text(t), **changes})

    for e in events:
        t = ns_of(e["time"])
        kind = e["type"]
        if kind == "agent.state_changed":
            e = {k: v for k, v in e.items() if k not in ("via", "forwarding_number")}
            if status.get(e["agent_id"], "offline") == e["state"]:
                continue
            status[e["agent_id"]] = e["state"]
            add(e, t)
            continue
        cid = e["call_id"]
        if cid in gone or kind in ("call.hold_started", "call.hold_ended"):
            continue
        if kind == "call.started":
            numbers[cid] = e["phone_number_id"]
        elif kind == "call.queued":
            queued.add(cid)
        elif kind in ("call.answered", "call.transfer_accepted"):
            agent_of[cid] = e["agent_id"]
        elif kind == "call.declined":
            e = {**e, "type": "call.missed"}
        elif kind == "call.voicemail" and cid not in queued:
            add({"type": "call.queued", "call_id": cid, "group_id": groups[numbers[cid]]}, t)
        if kind == "call.transfer_started":
            add(e, t)
            add({"type": "call.ended", "call_id": cid}, t)
            add({"type": "call.wrap_up_ended", "call_id": cid, "agent_id": agent_of[cid]}, t)
            gone.add(cid)
            continue
        add(e, t)
    return out
