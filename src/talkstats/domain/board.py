"""What a wallboard shows, read from a projection at *now* in one pass.

Every number is one of the API's (current_queue_activity, account_overview,
service_level, timeline, agents_activity) or a count of agents_activity rows by
status, so a screen and a client of the API agree. What ticks on a screen between
updates (the longest wait, an agent's time in its status) comes with the instant it
started, so the browser can count on from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import stats
from .projection import ONLINE_STATES, AccountProjection

AGENT_COUNTS = ("online", "available", "on_call", "wrap_up", "away", "transfers_only")
_MS = 1_000_000


def oldest_wait(p: AccountProjection, phone_number_ids: Iterable[int] | None) -> int | None:
    """Start (ns) of the longest current wait on the line, or None if nobody waits."""
    numbers = p.queues.keys() if phone_number_ids is None else set(phone_number_ids)
    starts = [q.oldest() for n in numbers if (q := p.queues.get(n)) is not None]
    found = [s for s in starts if s is not None]
    return min(found) if found else None


def agents(p: AccountProjection, now: int, agent_ids: list[int]) -> dict[str, Any]:
    """Counts by status and one row per agent: status, call status and since when, calls
    accepted and missed today, talk time (agents_activity's numbers). O(agents)."""
    rows = stats.agents_activity(p, now, plan="team", agent_ids=agent_ids)
    counts = dict.fromkeys(AGENT_COUNTS, 0)
    table = []
    for row in rows:
        status, call_status = row["agent_state"], row["call_status"]
        if status in ONLINE_STATES:
            counts["online"] += 1
        if status == "online" and call_status is None:
            counts["available"] += 1
        if status in ("away", "transfers_only"):
            counts[status] += 1
        if call_status is not None:
            counts[call_status] += 1
        live = p.agents.get(row["agent_id"])
        since = live.segment_start if live is not None and live.segment_start > 0 else None
        table.append(
            {
                "agent_id": row["agent_id"],
                "name": row["name"],
                "agent_state": status,
                "call_status": call_status,
                "since": None if since is None else since // _MS,
                "calls_accepted": row["calls_accepted"],
                "calls_missed": row["calls_missed"],
                "total_talk_time": row["total_talk_time"],
            }
        )
    return {"counts": counts, "table": table}


def board(
    p: AccountProjection,
    now: int,
    *,
    phone_number_ids: list[int] | None,
    agent_ids: list[int],
    threshold: int,
) -> dict[str, Any]:
    """Everything a wallboard shows; instants in milliseconds since the epoch."""
    queue = stats.current_queue_activity(p, now, phone_number_ids=phone_number_ids)
    overview = stats.account_overview(p, now, plan="team", phone_number_ids=phone_number_ids)
    level = stats.service_level(p, now, threshold=threshold, phone_number_ids=phone_number_ids)
    timeline = stats.timeline(p, now, interval=15, phone_number_ids=phone_number_ids)
    oldest = oldest_wait(p, phone_number_ids)
    totals = timeline["totals"]
    return {
        "now": now // _MS,
        "queue": {
            "calls_waiting": queue["calls_waiting"],
            "callbacks_waiting": queue["callbacks_waiting"],
            "longest_wait_time": queue["longest_wait_time"],
            "waiting_since": None if oldest is None else oldest // _MS,
        },
        "today": {
            "date": timeline["date"],
            "calls": overview["total_calls"],
            "answered": totals["answered"],
            "abandoned": totals["abandoned"],
            "average_queue_wait_time": overview["average_queue_wait_time"],
            "service_level": level,
        },
        "agents": agents(p, now, agent_ids),
        "timeline": timeline,
    }
