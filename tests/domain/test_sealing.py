"""Which past days can be sealed, and that sealing changes no answer and no rule."""

from __future__ import annotations

import pickle
from datetime import date

import pytest

from talkstats.domain import sealing, stats
from talkstats.domain.events import parse_event
from talkstats.domain.projection import DaySealed

from .story import Story

DAY, NEXT = "2026-11-26", "2026-11-27"
HOUR = 3600 * 10**9


def seal_all(s: Story, now: int) -> list[date]:
    """Seal what can be sealed at now, as the service does (the store is a dict)."""
    p = s.projection
    days = sealing.sealable_days(p, now)
    for day in days:
        found, ids = sealing.take(p, day)
        s.stored[day] = (pickle.dumps(found), ids)  # type: ignore[attr-defined]
        sealing.drop(p, day, f"v{p.event_count}")
    sealed_ids = {i for _, ids in s.stored.values() for i in ids}  # type: ignore[attr-defined]
    p.sealed_call = sealed_ids.__contains__
    return days


def story() -> Story:
    s = Story()
    s.stored = {}  # type: ignore[attr-defined]
    s.at("08:00:00").agent(1, "online")
    s.at("09:00:00").inbound("c1")
    s.at("09:00:05").call("c1", "queued")
    s.at("09:00:10").call("c1", "answered", agent_id=1)
    s.at("09:05:00").call("c1", "ended")
    s.at("09:06:00").call("c1", "wrap_up_ended", agent_id=1)
    s.at("10:00:00").inbound("c2", phone_number_id=20)
    s.at("10:00:01").call("c2", "queued")
    s.at("10:02:00").call("c2", "ended")
    return s


def test_a_day_is_sealed_only_an_hour_after_its_end() -> None:
    s = story()
    s.at("17:00:00").agent(1, "offline")
    end = s.instant("00:00:00", NEXT)
    assert sealing.sealable_days(s.projection, end + HOUR - 1) == []
    assert sealing.sealable_days(s.projection, end + HOUR) == [date.fromisoformat(DAY)]


def test_an_open_call_keeps_its_day_live() -> None:
    s = story()
    s.at("17:00:00").agent(1, "offline")
    s.at("23:59:00").inbound("late")  # still open the next day
    later = s.instant("12:00:00", NEXT)
    assert sealing.sealable_days(s.projection, later) == []
    s.at("00:10:00", NEXT).call("late", "ended")
    assert sealing.sealable_days(s.projection, later) == [date.fromisoformat(DAY)]


def test_a_call_in_wrap_up_keeps_its_day_live() -> None:
    s = story()
    s.at("23:00:00").inbound("w")
    s.at("23:00:01").call("w", "queued")
    s.at("23:00:02").call("w", "answered", agent_id=1)
    s.at("23:10:00").call("w", "ended")  # agent 1 in wrap-up on it
    s.at("23:30:00").agent(1, "offline")
    later = s.instant("12:00:00", NEXT)
    assert sealing.sealable_days(s.projection, later) == []
    s.at("12:00:00", NEXT).call("w", "wrap_up_ended", agent_id=1)
    assert sealing.sealable_days(s.projection, later) == [date.fromisoformat(DAY)]


def test_an_agent_online_since_the_day_keeps_it_live() -> None:
    s = story()  # agent 1 online since 08:00 on DAY, never offline
    later = s.instant("12:00:00", NEXT)
    assert sealing.sealable_days(s.projection, later) == []
    s.at("08:00:00", NEXT).agent(1, "away")  # its open interval now starts on NEXT
    assert sealing.sealable_days(s.projection, later) == [date.fromisoformat(DAY)]
    s.at("09:00:00", NEXT).agent(2, "offline")  # an offline agent blocks nothing
    assert sealing.sealable_days(s.projection, later) == [date.fromisoformat(DAY)]


def reads(s: Story, day: str, *, several: bool = True) -> list[object]:
    p, now, d = s.projection, s._now, date.fromisoformat(day)
    out: list[object] = []
    sets = [None, [10], [20], [10, 20], [10, 99]] if several else [None, [10], [20], [99]]
    for numbers in sets:
        out.append(
            stats.account_overview(p, now, plan="enterprise", date=d, phone_number_ids=numbers)
        )
        out.append(stats.service_level(p, now, date=d, phone_number_ids=numbers))
        out.append(stats.timeline(p, now, interval=5, date=d, phone_number_ids=numbers))
    out.append(stats.agents_overview(p, now, plan="enterprise", date=d))
    out.append(stats.agents_activity(p, now, plan="enterprise", agent_ids=[1, 2, 3], date=d))
    return out


def test_a_sealed_day_reads_the_same_mounted_and_leaves_snapshots() -> None:
    s = story()
    s.at("17:00:00").agent(1, "offline")
    s.at("09:00:00", NEXT).now("09:00:00", NEXT)
    before = reads(s, DAY)
    assert seal_all(s, s._now) == [date.fromisoformat(DAY)]
    p = s.projection
    day = date.fromisoformat(DAY)
    assert day not in p.call_days and day not in p.peaks and "c1" not in p.finished_calls
    sealed = pickle.loads(s.stored[day][0])  # type: ignore[attr-defined]
    assert s.stored[day][1] == ["c1", "c2"]  # type: ignore[attr-defined]
    sealing.mount(p, sealed, timelines=True)
    assert reads(s, DAY) == before
    light = reads(s, DAY, several=False)
    sealing.mount(p, pickle.loads(s.stored[day][0]))  # type: ignore[attr-defined]
    assert p.mounted == {day: False}
    assert max(len(line.times) for line in p.peaks[day].values()) == 1  # peaks only
    assert reads(s, DAY, several=False) == light
    restored = pickle.loads(pickle.dumps(p))
    assert day in restored.sealed and day not in restored.call_days and not restored.mounted
    sealing.unmount(p, day)
    assert day not in p.call_days and day in p.sealed


def test_an_event_on_a_sealed_day_unseals_it_first() -> None:
    twin, s = story(), story()
    for x in (twin, s):
        x.at("17:00:00").agent(1, "offline")
        x.at("09:00:00", NEXT).now("09:00:00", NEXT)
    seal_all(s, s._now)
    late = {
        "id": "late",
        "type": "call.started",
        "time": s.iso("18:00:00"),
        "call_id": "c3",
        "direction": "inbound",
        "phone_number_id": 10,
    }
    before = pickle.dumps(s.projection)
    with pytest.raises(DaySealed) as raised:
        s.projection.apply(parse_event(late), s._now)
    assert pickle.dumps(s.projection) == before  # nothing changed
    day = raised.value.day
    sealing.unseal(s.projection, pickle.loads(s.stored[day][0]))  # type: ignore[attr-defined]
    for x in (twin, s):
        x.projection.apply(parse_event(late), x._now)
        x.at("18:00:01").call("c3", "queued")
        x.at("18:00:30").call("c3", "ended")
    assert reads(s, DAY) == reads(twin, DAY)
    assert s.projection.peaks[day][0].times == twin.projection.peaks[day][0].times
    assert day not in s.projection.sealed


def test_call_ids_of_sealed_days_stay_taken() -> None:
    s = story()
    s.at("17:00:00").agent(1, "offline")
    s.at("09:00:00", NEXT).now("09:00:00", NEXT)
    seal_all(s, s._now)
    reused = s.reject(
        {"type": "call.started", "call_id": "c1", "direction": "inbound", "phone_number_id": 10}
    )
    assert reused.message.endswith("call 'c1' already exists")
    ended = s.reject({"type": "call.queued", "call_id": "c2"})
    assert ended.message.endswith("call 'c2' has ended")
    wrap = s.reject({"type": "call.wrap_up_ended", "call_id": "c1", "agent_id": 1})
    assert wrap.field == "agent_id"
    unknown = s.reject({"type": "call.queued", "call_id": "c9"})
    assert unknown.message.endswith("unknown call 'c9'")
