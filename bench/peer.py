"""The peer: account_overview and agents_activity as DuckDB SQL over the raw events.

This is what a user without talkstats would write: load the events as a table (one
row per event, ``seq`` = position in the log, ``t`` = microseconds since the epoch)
and compute each statistic from docs/statistics.md at query time. ``$ws`` / ``$we`` are the
window (local midnight and *now*). Totals come back exact (integer microseconds) and
are rounded in Python exactly as docs/statistics.md says (halves away from zero).

Reading of the rules (all from docs/statistics.md / docs/events.md):

- calls of the window C: ``call.started`` in ``[ws, we]``; call-derived numbers count
  only these; time-in-state and busy intervals use every call.
- a queue visit runs from ``call.queued`` to the next of answered / callback_requested
  / voicemail / ended of the call; a callback wait from ``call.callback_requested`` to
  the next of answered / voicemail / ended.
- a leg starts at an inbound ``call.answered``, at ``call.transfer_accepted`` or at an
  outbound ``call.started``, and ends at the call's next leg start or ``call.ended``;
  holds run to the next hold_ended / transfer_accepted / ended and belong to the leg
  in which they start; the agent "connected" at an event is the one whose leg spans it.
- a wrap-up runs from the end of the agent's leg to its ``call.wrap_up_ended``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

US = 1_000_000

COLUMNS = {
    "id": "VARCHAR", "type": "VARCHAR", "time": "VARCHAR", "call_id": "VARCHAR",
    "agent_id": "BIGINT", "direction": "VARCHAR", "phone_number_id": "BIGINT",
    "source": "VARCHAR", "outside_business_hours": "BOOLEAN", "group_id": "BIGINT",
    "reason": "VARCHAR", "state": "VARCHAR", "via": "VARCHAR", "forwarding_number": "VARCHAR",
    "to_agent_id": "BIGINT", "from": "VARCHAR", "to": "VARCHAR",
}  # fmt: skip


def load(ndjson: Path, agents: list[tuple[int, str]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with ``events`` (from the NDJSON log) and ``agents``.

    Times are parsed as UTC ``...Z`` instants (what the simulator writes); a log with
    other offsets would need ``TIMESTAMPTZ`` (the ICU extension).
    """
    con = duckdb.connect()
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    con.execute(
        f"""CREATE TABLE raw AS SELECT * FROM read_json('{ndjson}',
            format='newline_delimited', columns={{{cols}}})"""
    )
    con.execute(
        """CREATE TABLE events AS
           SELECT rowid AS seq, epoch_us(CAST(rtrim(time, 'Z') AS TIMESTAMP)) AS t, * EXCLUDE (time)
           FROM raw ORDER BY rowid"""
    )
    con.execute("DROP TABLE raw")
    con.execute("CREATE TABLE agents (agent_id BIGINT, name VARCHAR)")
    con.executemany("INSERT INTO agents VALUES (?, ?)", agents)
    return con


# Shared building blocks: every CTE the two statistics need.
_BASE = """
ev AS (SELECT * FROM events WHERE t <= $we),
allc AS (SELECT call_id, t AS started, direction AS cdir, source AS csrc,
                coalesce(outside_business_hours, false) AS obh, t >= $ws AS in_c
         FROM ev WHERE type = 'call.started'),
c AS (SELECT * FROM allc WHERE in_c),
ce AS (SELECT e.*, a.cdir, a.csrc, a.in_c FROM ev e JOIN allc a USING (call_id)),
ended AS (SELECT call_id, t AS ended_t, seq AS ended_seq FROM ce WHERE type = 'call.ended'),
qx AS (SELECT call_id, in_c, type, t, lead(type) OVER w AS nxt, lead(t) OVER w AS nt
       FROM ce WHERE type IN ('call.queued', 'call.answered', 'call.callback_requested',
                              'call.voicemail', 'call.ended')
       WINDOW w AS (PARTITION BY call_id ORDER BY seq)),
visits AS (SELECT call_id, in_c, t AS qt, nt AS xt, nxt AS xtype FROM qx WHERE type = 'call.queued'),
cbx AS (SELECT call_id, in_c, type, t, lead(type) OVER w AS nxt, lead(t) OVER w AS nt
        FROM ce WHERE type IN ('call.callback_requested', 'call.answered', 'call.voicemail',
                               'call.ended')
        WINDOW w AS (PARTITION BY call_id ORDER BY seq)),
cbs AS (SELECT call_id, in_c, t AS ct, nt AS xt, nxt AS xtype FROM cbx
        WHERE type = 'call.callback_requested'),
legs0 AS (SELECT call_id, in_c, agent_id, t AS st, seq AS sseq FROM ce
          WHERE type = 'call.transfer_accepted'
             OR (type = 'call.answered' AND cdir = 'inbound')
             OR (type = 'call.started' AND cdir = 'outbound')),
legs AS (SELECT l.call_id, l.in_c, l.agent_id, l.st, l.sseq,
                coalesce(lead(l.st) OVER w, en.ended_t) AS et,
                coalesce(lead(l.sseq) OVER w, en.ended_seq) AS eseq
         FROM legs0 l LEFT JOIN ended en USING (call_id)
         WINDOW w AS (PARTITION BY l.call_id ORDER BY l.sseq)),
hx AS (SELECT call_id, in_c, type, t, seq, lead(t) OVER w AS nt FROM ce
       WHERE type IN ('call.hold_started', 'call.hold_ended', 'call.transfer_accepted',
                      'call.ended')
       WINDOW w AS (PARTITION BY call_id ORDER BY seq)),
holds AS (SELECT call_id, in_c, t AS hs, seq AS hseq, nt AS he FROM hx
          WHERE type = 'call.hold_started'),
wraps AS (SELECT l.call_id, l.in_c, l.agent_id, l.et, w.t AS wt, w.seq AS wseq
          FROM legs l LEFT JOIN ce w ON w.type = 'call.wrap_up_ended'
               AND w.call_id = l.call_id AND w.agent_id = l.agent_id AND w.seq > l.eseq
          WHERE l.et IS NOT NULL)
"""

ACCOUNT_OVERVIEW = f"""
WITH {_BASE},
qw AS (SELECT call_id, sum(xt - qt) AS wait FROM visits WHERE in_c GROUP BY call_id
       HAVING count(*) FILTER (WHERE xt IS NULL) = 0),
deltas AS (SELECT qt AS t, 1 AS d FROM visits WHERE in_c
           UNION ALL SELECT xt, -1 FROM visits WHERE in_c AND xt IS NOT NULL
           UNION ALL SELECT ct, 1 FROM cbs WHERE in_c
           UNION ALL SELECT xt, -1 FROM cbs WHERE in_c AND xt IS NOT NULL),
level AS (SELECT sum(sum(d)) OVER (ORDER BY t) AS waiting FROM deltas GROUP BY t)
SELECT
  (SELECT count(*) FROM c) AS total_calls,
  (SELECT coalesce(sum(ended_t - started), 0) FROM c JOIN ended USING (call_id)) AS dur_total,
  (SELECT count(*) FROM c JOIN ended USING (call_id)) AS dur_count,
  (SELECT coalesce(sum(wait), 0) FROM qw) AS qwait_total,
  (SELECT count(*) FROM qw) AS qwait_count,
  (SELECT coalesce(max(wait), 0) FROM qw) AS qwait_max,
  (SELECT coalesce(max(waiting), 0) FROM level) AS max_calls_waiting,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND type = 'call.voicemail') AS total_voicemails,
  (SELECT coalesce(sum(wt - et), 0) FROM wraps WHERE in_c AND wt IS NOT NULL) AS wrap_total,
  (SELECT count(*) FROM wraps WHERE in_c AND wt IS NOT NULL) AS wrap_count,
  (SELECT coalesce(sum(xt - ct), 0) FROM cbs WHERE in_c AND xtype = 'call.answered') AS cbw_total,
  (SELECT count(*) FROM cbs WHERE in_c AND xtype = 'call.answered') AS cbw_count,
  (SELECT coalesce(sum(he - hs), 0) FROM holds WHERE in_c AND he IS NOT NULL) AS total_hold,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND type = 'call.answered') AS answered,
  (SELECT coalesce(sum(v.xt - c.started), 0) FROM visits v JOIN c USING (call_id)
     WHERE v.xtype = 'call.answered' AND c.cdir = 'inbound') AS tta_total,
  (SELECT count(*) FROM visits v JOIN c USING (call_id)
     WHERE v.xtype = 'call.answered' AND c.cdir = 'inbound') AS tta_count,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND type = 'call.callback_requested')
     AS total_callback_calls,
  (SELECT count(*) FROM visits WHERE in_c AND xtype = 'call.ended') AS total_calls_abandoned_in_queue,
  (SELECT count(*) FROM c WHERE obh) AS total_calls_outside_business_hours,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND type = 'call.voicemail'
     AND reason = 'exceeded_queue_wait_time') AS total_calls_with_exceeded_queue_wait_time,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND type = 'call.voicemail'
     AND reason = 'requested') AS total_calls_with_requested_voicemail,
  (SELECT count(*) FROM c WHERE cdir = 'inbound') AS total_inbound_calls,
  (SELECT count(*) FROM c WHERE cdir = 'outbound') AS total_outbound_calls,
  (SELECT count(*) FROM ce WHERE in_c AND type = 'call.textback_sent') AS total_textback_requests,
  (SELECT count(DISTINCT call_id) FROM ce WHERE in_c AND csrc = 'web_widget'
     AND type = 'call.callback_requested') AS total_embeddable_callback_calls
"""

AGENTS_ACTIVITY = f"""
WITH {_BASE},
conn AS (SELECT e.call_id, e.in_c, e.type, l.agent_id FROM ce e JOIN legs l
         ON e.call_id = l.call_id AND e.seq > l.sseq AND (l.eseq IS NULL OR e.seq < l.eseq)
         WHERE e.type IN ('call.transfer_started', 'call.conference_started',
                          'call.hold_started')),
leghold AS (SELECT l.call_id, l.agent_id, l.sseq, l.in_c, l.et - l.st AS dur,
                   coalesce(sum(h.he - h.hs), 0) AS hold
            FROM legs l LEFT JOIN holds h
              ON h.call_id = l.call_id AND h.hseq > l.sseq AND h.hseq < l.eseq
            WHERE l.et IS NOT NULL GROUP BY ALL),
busy AS (SELECT l.agent_id, l.st AS bs, l.sseq AS bsseq,
                CASE WHEN l.et IS NULL THEN NULL ELSE w.wt END AS be, w.wseq AS beseq
         FROM legs l LEFT JOIN wraps w USING (call_id, agent_id)),
pts AS (SELECT agent_id, t, seq, state, 0 AS d FROM ev WHERE type = 'agent.state_changed'
        UNION ALL SELECT agent_id, bs, bsseq, NULL, 1 FROM busy
        UNION ALL SELECT agent_id, be, beseq, NULL, -1 FROM busy WHERE be IS NOT NULL),
seg AS (SELECT agent_id, t,
               last_value(state IGNORE NULLS) OVER w AS cur, sum(d) OVER w AS nbusy,
               lead(t) OVER (PARTITION BY agent_id ORDER BY t, seq) AS nt
        FROM pts WINDOW w AS (PARTITION BY agent_id ORDER BY t, seq
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
clip AS (SELECT agent_id, cur, nbusy,
                least(coalesce(nt, $we), $we) - greatest(t, $ws) AS span FROM seg),
tis AS (SELECT agent_id,
          sum(span) FILTER (WHERE cur IN ('online', 'away', 'transfers_only')) AS online_time,
          sum(span) FILTER (WHERE cur = 'online' AND nbusy = 0) AS available_time,
          sum(span) FILTER (WHERE cur = 'away') AS away_time,
          sum(span) FILTER (WHERE cur = 'transfers_only') AS transfers_only_time
        FROM clip WHERE span > 0 GROUP BY agent_id),
last_state AS (SELECT agent_id, arg_max(state, seq) AS agent_state,
                      arg_max(via, seq) FILTER (WHERE via IS NOT NULL) AS via
               FROM ev WHERE type = 'agent.state_changed' GROUP BY agent_id),
status AS (SELECT agent_id,
             CASE WHEN bool_or(et IS NULL) THEN 'on_call' ELSE 'wrap_up' END AS call_status
           FROM (SELECT l.agent_id, l.et FROM legs l LEFT JOIN wraps w USING (call_id, agent_id)
                 WHERE l.et IS NULL OR w.wt IS NULL) GROUP BY agent_id),
counts AS (SELECT agent_id,
             count(*) FILTER (WHERE type = 'call.answered' AND cdir = 'inbound') AS calls_accepted,
             count(*) FILTER (WHERE type = 'call.declined') AS calls_denied,
             count(*) FILTER (WHERE type = 'call.missed') AS calls_missed,
             count(*) FILTER (WHERE type = 'call.transfer_accepted') AS accepted_transfers,
             count(*) FILTER (WHERE type = 'call.conference_accepted')
               AS accepted_third_party_conferences
           FROM ce WHERE in_c AND agent_id IS NOT NULL GROUP BY agent_id),
started AS (SELECT agent_id,
              count(*) FILTER (WHERE type = 'call.transfer_started') AS started_transfers,
              count(*) FILTER (WHERE type = 'call.conference_started')
                AS started_third_party_conferences,
              count(DISTINCT call_id) FILTER (WHERE type = 'call.hold_started') AS calls_put_on_hold
            FROM conn WHERE in_c GROUP BY agent_id),
legsum AS (SELECT agent_id, sum(dur) AS dur, sum(dur - hold) AS talk, sum(hold) AS hold,
                  count(*) AS nlegs
           FROM leghold WHERE in_c GROUP BY agent_id),
wrapsum AS (SELECT agent_id, sum(wt - et) AS wrap, count(*) AS nwraps FROM wraps
            WHERE in_c AND wt IS NOT NULL GROUP BY agent_id)
SELECT a.agent_id, a.name,
  coalesce(ls.agent_state, 'offline') AS agent_state, st.call_status, ls.via,
  coalesce(tis.online_time, 0), coalesce(tis.available_time, 0), coalesce(tis.away_time, 0),
  coalesce(tis.transfers_only_time, 0),
  coalesce(cn.calls_accepted, 0), coalesce(cn.calls_denied, 0), coalesce(cn.calls_missed, 0),
  coalesce(cn.accepted_transfers, 0), coalesce(cn.accepted_third_party_conferences, 0),
  coalesce(sd.started_transfers, 0), coalesce(sd.started_third_party_conferences, 0),
  coalesce(sd.calls_put_on_hold, 0),
  coalesce(lg.dur, 0), coalesce(lg.talk, 0), coalesce(lg.hold, 0), coalesce(lg.nlegs, 0),
  coalesce(wr.wrap, 0), coalesce(wr.nwraps, 0)
FROM agents a
  LEFT JOIN last_state ls USING (agent_id) LEFT JOIN status st USING (agent_id)
  LEFT JOIN tis USING (agent_id) LEFT JOIN counts cn USING (agent_id)
  LEFT JOIN started sd USING (agent_id) LEFT JOIN legsum lg USING (agent_id)
  LEFT JOIN wrapsum wr USING (agent_id)
ORDER BY a.agent_id
"""


def _s(us: int) -> int:
    """Microseconds to whole seconds, halves away from zero (non-negative input)."""
    return (2 * int(us) + US) // (2 * US)


def _avg(total: int, count: int) -> int:
    return 0 if not count else (2 * int(total) + int(count) * US) // (2 * int(count) * US)


def account_overview(con: duckdb.DuckDBPyConnection, ws: int, we: int) -> dict[str, int]:
    row = con.execute(ACCOUNT_OVERVIEW, {"ws": ws, "we": we}).fetchone()
    assert row is not None
    r = dict(zip([d[0] for d in con.description], row, strict=True))
    return {
        "total_calls": r["total_calls"],
        "total_call_duration": _s(r["dur_total"]),
        "average_call_duration": _avg(r["dur_total"], r["dur_count"]),
        "average_queue_wait_time": _avg(r["qwait_total"], r["qwait_count"]),
        "max_queue_wait_time": _s(r["qwait_max"]),
        "max_calls_waiting": int(r["max_calls_waiting"]),
        "total_voicemails": r["total_voicemails"],
        "total_wrap_up_time": _s(r["wrap_total"]),
        "average_wrap_up_time": _avg(r["wrap_total"], r["wrap_count"]),
        "average_callback_wait_time": _avg(r["cbw_total"], r["cbw_count"]),
        "average_hold_time": _avg(r["total_hold"], r["answered"]),
        "average_time_to_answer": _avg(r["tta_total"], r["tta_count"]),
        "total_callback_calls": r["total_callback_calls"],
        "total_calls_abandoned_in_queue": r["total_calls_abandoned_in_queue"],
        "total_calls_outside_business_hours": r["total_calls_outside_business_hours"],
        "total_calls_with_exceeded_queue_wait_time": r["total_calls_with_exceeded_queue_wait_time"],
        "total_calls_with_requested_voicemail": r["total_calls_with_requested_voicemail"],
        "total_hold_time": _s(r["total_hold"]),
        "total_inbound_calls": r["total_inbound_calls"],
        "total_outbound_calls": r["total_outbound_calls"],
        "total_textback_requests": r["total_textback_requests"],
        "total_embeddable_callback_calls": r["total_embeddable_callback_calls"],
    }


def agents_activity(con: duckdb.DuckDBPyConnection, ws: int, we: int) -> list[dict[str, Any]]:
    rows = con.execute(AGENTS_ACTIVITY, {"ws": ws, "we": we}).fetchall()
    out = []
    for (agent_id, name, state, call_status, via, online, available, away, tonly, accepted,
         denied, missed, acc_tr, acc_conf, st_tr, st_conf, on_hold, dur, talk, hold, nlegs,
         wrap, nwraps) in rows:  # fmt: skip
        out.append({
            "agent_id": agent_id, "name": name, "agent_state": state,
            "call_status": call_status, "via": via,
            "online_time": _s(online), "available_time": _s(available),
            "away_time": _s(away), "transfers_only_time": _s(tonly),
            "calls_accepted": accepted, "calls_denied": denied, "calls_missed": missed,
            "accepted_transfers": acc_tr, "accepted_third_party_conferences": acc_conf,
            "started_transfers": st_tr, "started_third_party_conferences": st_conf,
            "calls_put_on_hold": on_hold,
            "total_call_duration": _s(dur), "total_talk_time": _s(talk),
            "total_hold_time": _s(hold), "average_hold_time": _avg(hold, nlegs),
            "average_talk_time": _avg(talk, nlegs),
            "total_wrap_up_time": _s(wrap), "average_wrap_up_time": _avg(wrap, nwraps),
        })  # fmt: skip
    return out


def timed(fn: Any, *args: Any, repeat: int = 3) -> tuple[Any, float]:
    """(result, median seconds) over ``repeat`` runs."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    times.sort()
    return result, times[len(times) // 2]


def compare(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Differences between two JSON-like values on the keys ``theirs`` has."""
    diffs: list[str] = []
    if isinstance(theirs, dict):
        for key, value in theirs.items():
            if key not in ours:
                diffs.append(f"{path}.{key}: missing in talkstats")
            else:
                diffs += compare(ours[key], value, f"{path}.{key}")
    elif isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} rows vs {len(theirs)}"]
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            diffs += compare(a, b, f"{path}[{i}]")
    elif ours != theirs:
        diffs.append(f"{path}: talkstats {ours!r} vs duckdb {theirs!r}")
    return diffs
