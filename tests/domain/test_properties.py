"""Hypothesis properties over generated contract-valid event streams.

(a) the live fold equals a replay; (b) snapshots (pickle) mid-stream change nothing;
(c) time in states adds up, checked against an independent computation from the events;
(d) totals equal the sum of their parts; (e) max_calls_waiting equals a brute-force
sweep; (f) a rejected event, whatever it is, leaves the projection unchanged.
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from dataclasses import fields
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from talkstats.domain import stats
from talkstats.domain.aggregates import CallTotals
from talkstats.domain.events import SPECS, EventRejected, parse_event
from talkstats.domain.projection import AccountProjection
from talkstats.domain.timeutil import average_seconds, round_seconds

from .reference import Reference
from .strategies import AGENTS, NS, NUMBERS, Stream, streams

pytestmark = pytest.mark.announce

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(FAST, max_examples=400)
PLAN = "enterprise"
FILTERS: tuple[list[int] | None, ...] = (None, [10], [20], [10, 20])


# --- reading everything ----------------------------------------------------------------


def days_of(p: AccountProjection, stream: Stream, now: int) -> list[date | None]:
    """``None`` (today) and every past local day an event of the stream falls on."""
    today = p.calendar.day_of(now)
    days = {p.calendar.day_of(parse_event(e).time) for e in stream.events}
    days.add(today - timedelta(days=1))
    return [None] + sorted(d for d in days if d < today)


def read_all(p: AccountProjection, stream: Stream, now: int) -> dict[str, Any]:
    """Every endpoint's output, for every day of the stream and every filter."""
    out: dict[str, Any] = {}
    for day in days_of(p, stream, now):
        for numbers in FILTERS:
            out[f"overview {day} {numbers}"] = stats.account_overview(
                p, now, plan=PLAN, date=day, phone_number_ids=numbers
            )
            out[f"sl {day} {numbers}"] = stats.service_level(
                p, now, threshold=20, date=day, phone_number_ids=numbers
            )
        out[f"sl0 {day}"] = stats.service_level(p, now, threshold=0, date=day)
        out[f"activity {day}"] = stats.agents_activity(
            p, now, plan=PLAN, agent_ids=list(AGENTS), date=day
        )
        out[f"agents {day}"] = stats.agents_overview(p, now, plan=PLAN, date=day)
    for numbers in FILTERS:
        out[f"queue {numbers}"] = stats.current_queue_activity(p, now, phone_number_ids=numbers)
    out["availability"] = [stats.availability(p, a) for a in AGENTS]
    return out


def nows_after(p: AccountProjection, server_now: int) -> list[int]:
    end = p.effective_now(server_now)
    return [end, end + 1, end + 3600 * NS, end + 30 * 3600 * NS]


# --- (a) and (b) ---------------------------------------------------------------------------


def fold(
    stream: Stream, *, read_every: int, snapshot_at: set[int]
) -> tuple[AccountProjection, dict[int, dict[str, Any]]]:
    """Apply the stream; read subset stats every few events (warming caches), pickle and
    reload the projection after the events in ``snapshot_at``; return the final
    projection and full reads at every 10th event."""
    p = stream.projection()
    reads: dict[int, dict[str, Any]] = {}
    for i, (raw, server_now) in enumerate(zip(stream.events, stream.server_nows, strict=True)):
        p.apply(parse_event(raw), server_now)
        now = p.effective_now(server_now)
        if read_every and i % read_every == 0:
            stats.account_overview(p, now, plan=PLAN, phone_number_ids=[10, 20])
            stats.account_overview(p, now, plan=PLAN, phone_number_ids=[20, 10, 30])
            stats.agents_overview(p, now, plan=PLAN)
        if i % 10 == 9:
            for earlier in (now, now + 3 * NS):  # warm read caches at other *now*s first
                for day in days_of(p, stream, now):
                    stats.agents_overview(p, earlier, plan=PLAN, date=day)
                    stats.agents_activity(p, earlier, plan=PLAN, agent_ids=list(AGENTS), date=day)
            reads[i] = read_all(p, stream, now + 7 * NS)
        if i in snapshot_at:
            p = pickle.loads(pickle.dumps(p))
    return p, reads


def replay_and_compare(
    stream: Stream, live: AccountProjection, reads: dict[int, dict[str, Any]]
) -> None:
    q = stream.projection()
    for i, (raw, server_now) in enumerate(zip(stream.events, stream.server_nows, strict=True)):
        q.apply(parse_event(raw), server_now)
        if i in reads:
            now = q.effective_now(server_now) + 7 * NS
            assert read_all(q, stream, now) == reads[i], f"after e{i}"
    fresh = stream.projection()  # never read before: no cache can help it
    for raw, server_now in zip(stream.events, stream.server_nows, strict=True):
        fresh.apply(parse_event(raw), server_now)
    nows = nows_after(live, stream.server_nows[-1])
    expected = {now: read_all(fresh, stream, now) for now in nows}
    for now in reversed(nows):  # the live projection reads in the other order
        assert read_all(live, stream, now) == expected[now]


@FAST
@given(streams())
def test_live_fold_equals_replay(stream: Stream) -> None:
    live, reads = fold(stream, read_every=1, snapshot_at=set())
    replay_and_compare(stream, live, reads)


@FAST
@given(streams(), st.data())
def test_snapshot_mid_stream_changes_nothing(stream: Stream, data: st.DataObject) -> None:
    n = len(stream.events)
    at = set(data.draw(st.lists(st.integers(0, n - 1), max_size=3)))
    live, reads = fold(stream, read_every=2, snapshot_at=at)
    replay_and_compare(stream, live, reads)


# --- the naive reference ----------------------------------------------------------------


def reference(stream: Stream, p: AccountProjection) -> Reference:
    return Reference([parse_event(e) for e in stream.events], p.calendar.day_of)


def folded(stream: Stream) -> AccountProjection:
    p = stream.projection()
    for raw, server_now in zip(stream.events, stream.server_nows, strict=True):
        p.apply(parse_event(raw), server_now)
    return p


def windows(p: AccountProjection, stream: Stream, now: int) -> list[tuple[date | None, int, int]]:
    out = []
    for day in days_of(p, stream, now):
        w = stats.window(p, now, day)
        out.append((day, w.start, w.end))
    return out


# --- (c) time in states ----------------------------------------------------------------------


def check_time_in_states(stream: Stream) -> None:
    p = folded(stream)
    ref = reference(stream, p)
    for now in nows_after(p, stream.server_nows[-1])[:3]:
        for day, start, end in windows(p, stream, now):
            rows = {
                r["agent_id"]: r
                for r in stats.agents_activity(p, now, plan=PLAN, agent_ids=list(AGENTS), date=day)
            }
            for agent in AGENTS:
                mine = ref.time_in_states(agent, start, end)
                # the reference adds up exactly: online = away + transfers_only + status online
                assert (
                    mine["online"] == mine["away"] + mine["transfers_only"] + mine["status_online"]
                )
                assert mine["available"] <= mine["status_online"]
                row = rows[agent]
                for key in ("online", "away", "transfers_only", "available"):
                    name = "online_time" if key == "online" else f"{key}_time"
                    assert row[name] == round_seconds(mine[key]), (agent, day, name)
                # so do the outputs, up to rounding each term once
                status_online = round_seconds(mine["status_online"])
                parts = row["away_time"] + row["transfers_only_time"] + status_online
                assert abs(row["online_time"] - parts) <= 1
                assert row["available_time"] <= status_online
            if day is not None:  # a whole past day: at most its length
                assert all(r["online_time"] * NS <= end - start + NS // 2 for r in rows.values())


@FAST
@given(streams())
def test_time_in_states_adds_up(stream: Stream) -> None:
    check_time_in_states(stream)


# --- (d) totals are sums of their parts --------------------------------------------------------

ADDITIVE = (
    "total_calls",
    "total_voicemails",
    "total_callback_calls",
    "total_calls_abandoned_in_queue",
    "total_calls_outside_business_hours",
    "total_calls_with_exceeded_queue_wait_time",
    "total_calls_with_requested_voicemail",
    "total_inbound_calls",
    "total_outbound_calls",
    "total_textback_requests",
    "total_embeddable_callback_calls",
)


def check_totals(stream: Stream) -> None:
    p = folded(stream)
    ref = reference(stream, p)
    now = p.effective_now(stream.server_nows[-1])
    for day, start, end in windows(p, stream, now):
        w = stats.window(p, now, day)
        _, day_end = p.calendar.bounds(w.day)  # calls of the window: started before it ends
        # account: all numbers == the sum of each number, exactly
        whole = p.totals_for(w.day) or CallTotals()
        parts = [p.totals_for(w.day, n) or CallTotals() for n in NUMBERS]
        for f in fields(CallTotals):
            values = [getattr(t, f.name) for t in parts]
            if f.name == "max_queue_wait":
                assert whole.max_queue_wait == max(values)
            elif f.name == "open_waits":
                assert whole.open_waits == {k: v for t in parts for k, v in t.open_waits.items()}
            elif f.name == "answered_wait_histogram":
                merged: dict[int, int] = defaultdict(int)
                for histogram in values:
                    for k, v in histogram.items():
                        merged[k] += v
                assert whole.answered_wait_histogram == dict(merged)
            else:
                assert getattr(whole, f.name) == sum(values), f.name
        unfiltered = stats.account_overview(p, now, plan=PLAN, date=day)
        assert (
            stats.account_overview(p, now, plan=PLAN, date=day, phone_number_ids=list(NUMBERS))
            == unfiltered
        )
        by_number = [
            stats.account_overview(p, now, plan=PLAN, date=day, phone_number_ids=[n])
            for n in NUMBERS
        ]
        for key in ADDITIVE:
            assert unfiltered[key] == sum(o[key] for o in by_number), key
        assert unfiltered["total_calls"] == len(ref.calls_in(start, day_end, None))
        assert unfiltered["max_queue_wait_time"] == max(o["max_queue_wait_time"] for o in by_number)

        # agents: overview totals == sums of the rows' exact values, rounded once
        rows = {
            r["agent_id"]: r
            for r in stats.agents_activity(p, now, plan=PLAN, agent_ids=list(AGENTS), date=day)
        }
        overview = stats.agents_overview(p, now, plan=PLAN, date=day)
        tis = {a: ref.time_in_states(a, start, end) for a in AGENTS}
        active = [
            a
            for a in AGENTS
            if tis[a]["online"] > 0
            or (w.day, a) in ref.agent_days
            and ref.agent_days[(w.day, a)].touched
        ]
        totals = {a: p.agent_days.get(w.day, {}).get(a) for a in AGENTS}
        exact: dict[str, int] = defaultdict(int)
        for a in AGENTS:
            t = totals[a]
            if t is None:
                assert rows[a]["calls_accepted"] == rows[a]["total_talk_time"] == 0
                continue
            assert rows[a]["total_talk_time"] == round_seconds(t.call_duration - t.hold_time)
            assert rows[a]["total_hold_time"] == round_seconds(t.hold_time)
            assert rows[a]["total_wrap_up_time"] == round_seconds(t.wrap_up_time)
            assert rows[a]["average_talk_time"] == average_seconds(
                t.call_duration - t.hold_time, t.legs
            )
            if a not in active:  # nothing of an inactive agent can be counted
                assert t.legs == t.accepted == t.denied == t.missed == t.wrap_ups == 0
            exact["talk"] += t.call_duration - t.hold_time
            exact["hold"] += t.hold_time
            exact["wrap"] += t.wrap_up_time
            exact["legs"] += t.legs
            exact["wraps"] += t.wrap_ups
        for key, name in (
            ("calls_accepted", "total_calls_accepted"),
            ("calls_denied", "total_calls_denied"),
            ("calls_missed", "total_calls_missed"),
            ("calls_put_on_hold", "total_calls_put_on_hold"),
            ("accepted_transfers", "total_accepted_transfers"),
            ("started_transfers", "total_started_transfers"),
        ):
            assert overview[name] == sum(r[key] for r in rows.values()), name
        assert overview["total_talk_time"] == round_seconds(exact["talk"])
        assert overview["total_hold_time"] == round_seconds(exact["hold"])
        assert overview["total_wrap_up_time"] == round_seconds(exact["wrap"])
        assert overview["average_talk_time"] == average_seconds(exact["talk"], exact["legs"])
        assert overview["average_hold_time"] == average_seconds(exact["hold"], exact["legs"])
        assert overview["average_wrap_up_time"] == average_seconds(exact["wrap"], exact["wraps"])
        n = len(active)
        for key in ("online", "away", "transfers_only", "available"):
            assert overview[f"average_{key}_time"] == average_seconds(
                sum(tis[a][key] for a in active), n
            ), key
        accepted = overview["total_calls_accepted"]
        assert overview["average_calls_accepted"] == (
            0 if n == 0 else (2 * accepted + n) // (2 * n)
        )


@FAST
@given(streams())
def test_totals_equal_the_sum_of_their_parts(stream: Stream) -> None:
    check_totals(stream)


# --- (e) peaks by brute force --------------------------------------------------------------------


def check_peaks(stream: Stream, read_between: bool) -> None:
    p = stream.projection()
    for i, (raw, server_now) in enumerate(zip(stream.events, stream.server_nows, strict=True)):
        p.apply(parse_event(raw), server_now)
        if read_between and i % 3 == 0:  # keep subset timelines cached while events arrive
            now = p.effective_now(server_now)
            for numbers in FILTERS:
                stats.account_overview(p, now, plan="team", phone_number_ids=numbers)
    ref = reference(stream, p)
    now = p.effective_now(stream.server_nows[-1])
    for day, start, _end in windows(p, stream, now):
        _, day_end = p.calendar.bounds(stats.window(p, now, day).day)
        for numbers in FILTERS:
            got = stats.account_overview(p, now, plan="team", date=day, phone_number_ids=numbers)[
                "max_calls_waiting"
            ]
            assert got == ref.peak(start, day_end, numbers), (day, numbers)


@FAST
@given(streams(), st.booleans())
def test_max_calls_waiting_matches_a_brute_force_sweep(stream: Stream, read_between: bool) -> None:
    check_peaks(stream, read_between)


# --- (g) every endpoint equals the naive reference --------------------------------------------


def check_against_reference(stream: Stream) -> None:
    p = folded(stream)
    ref = reference(stream, p)
    for now in nows_after(p, stream.server_nows[-1])[:3]:
        for numbers in FILTERS:
            assert stats.current_queue_activity(p, now, phone_number_ids=numbers) == ref.queue(
                now, numbers
            ), numbers
        for day, start, end in windows(p, stream, now):
            w = stats.window(p, now, day)
            _, day_end = p.calendar.bounds(w.day)
            for numbers in FILTERS:
                got = stats.account_overview(p, now, plan=PLAN, date=day, phone_number_ids=numbers)
                assert got == ref.account_overview(start, day_end, numbers), (day, numbers)
                for threshold in (0, 5, 20):
                    assert stats.service_level(
                        p, now, threshold=threshold, date=day, phone_number_ids=numbers
                    ) == ref.service_level(start, day_end, numbers, threshold)
            rows = stats.agents_activity(p, now, plan=PLAN, agent_ids=list(AGENTS), date=day)
            for row in rows:
                expected = ref.agent_row(row["agent_id"], w.day, start, end)
                assert {k: row[k] for k in expected} == expected, (day, row["agent_id"])


@FAST
@given(streams())
def test_every_statistic_equals_the_naive_reference(stream: Stream) -> None:
    check_against_reference(stream)


# --- (f) a rejected event changes nothing -----------------------------------------------------


@st.composite
def arbitrary_events(draw: Any, stream: Stream) -> dict[str, Any]:
    """Near-valid events of any type: mostly rejected, sometimes accepted."""
    known_calls = sorted({e["call_id"] for e in stream.events if "call_id" in e}) or ["c0"]
    kind = draw(st.sampled_from(sorted(SPECS)))
    obj: dict[str, Any] = {
        "id": "x",
        "type": kind,
        "time": draw(st.sampled_from([e["time"] for e in stream.events])),
    }
    spec = SPECS[kind]
    values = {
        "call_id": st.sampled_from([*known_calls, "c99"]),
        "agent_id": st.sampled_from([*AGENTS, 9]),
        "to_agent_id": st.sampled_from([*AGENTS, 9]),
        "phone_number_id": st.sampled_from([*NUMBERS, 30]),
        "group_id": st.sampled_from([7, 8, 9]),
        "state": st.sampled_from(["online", "away", "offline"]),
        "direction": st.sampled_from(["inbound", "outbound"]),
        "source": st.sampled_from(["phone", "web_widget"]),
        "reason": st.sampled_from(["requested", "no_available_agents"]),
    }
    for key, spec_field in spec.items():
        if key in values and (spec_field.required or draw(st.booleans())):
            obj[key] = draw(values[key])
    if kind == "call.started":
        obj["call_id"] = draw(st.sampled_from([*known_calls, "fresh"]))
    return obj


@FAST
@given(st.data())
def test_a_rejected_event_changes_nothing(data: st.DataObject) -> None:
    stream = data.draw(streams())
    p = stream.projection()
    cut = data.draw(st.integers(1, len(stream.events)))
    for raw, server_now in zip(stream.events[:cut], stream.server_nows[:cut], strict=True):
        p.apply(parse_event(raw), server_now)
    server_now = stream.server_nows[cut - 1]
    for _ in range(5):
        obj = data.draw(arbitrary_events(stream))
        try:
            event = parse_event(obj)
        except EventRejected:
            continue
        before = pickle.dumps(p)
        try:
            p.apply(event, server_now)
        except EventRejected as exc:
            assert exc.event_id == "x" and exc.field
            assert pickle.dumps(p) == before, f"{obj} was rejected ({exc}) but changed state"


# --- larger runs --------------------------------------------------------------------------------


@pytest.mark.slow
@SLOW
@given(streams(max_steps=150), st.data())
def test_all_properties_on_longer_streams(stream: Stream, data: st.DataObject) -> None:
    at = set(data.draw(st.lists(st.integers(0, len(stream.events) - 1), max_size=3)))
    live, reads = fold(stream, read_every=1, snapshot_at=at)
    replay_and_compare(stream, live, reads)
    check_time_in_states(stream)
    check_totals(stream)
    check_peaks(stream, read_between=True)
    check_against_reference(stream)
