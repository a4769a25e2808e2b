"""The service's own health: what ingestion, loads, snapshots and failures count.

Counted once per batch (or per failure), from the batch's totals; checked here against
the outcomes the service returned, with faults injected into a real SQLite store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import talkstats.service.ingest as ingest_module
from talkstats.domain.reasons import (
    ID_CONFLICT,
    INTERNAL_ERROR,
    MALFORMED,
    STATE,
    TIME,
    UNKNOWN_REFERENCE,
)
from talkstats.service import Talkstats, Telemetry, Unavailable
from talkstats.service.telemetry import Histogram
from talkstats.store import StaleLog, StoreError

from .conftest import World, open_service


def test_a_histogram_counts_each_value_in_the_first_bucket_that_holds_it() -> None:
    h = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(value)
    assert h.cumulative() == [(0.1, 2), (1.0, 4), (float("inf"), 5)]
    assert (h.count, h.sum) == (5, pytest.approx(8.65))
    twin = h.copy()
    h.observe(0.01)
    assert twin.count == 5, "a copy does not move with the original"


def test_the_service_owns_its_telemetry_and_takes_an_injected_one(world: World) -> None:
    assert isinstance(world.service.telemetry, Telemetry)
    mine = Telemetry()
    other = Talkstats(
        world.service.store,
        world.service.settings,
        clock=world.clock.wall,
        monotonic=world.clock.monotonic,
        telemetry=mine,
    )
    assert other.telemetry is mine


def test_each_batch_adds_its_outcome_counts(world: World) -> None:
    service, account = world.service, world.account
    first = service.ingest(account, world.events[:80])
    again = service.ingest(account, world.events[60:100])  # 20 duplicates, 20 new
    counts = service.telemetry.copy()
    assert counts.accepted == {"acme": first.accepted + again.accepted} == {"acme": 100}
    assert counts.duplicates == {"acme": 20}
    assert counts.rejected == {}
    assert counts.batches.count == 2


def test_rejections_are_counted_by_class(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    service, account = world.service, world.account
    service.ingest(account, world.events[:50])
    started = next(e for e in world.events[:50] if e["type"] == "call.started")
    later = world.events[49]["time"]
    agent = next(e["agent_id"] for e in world.events[:50] if e["type"] == "agent.state_changed")
    batch: list[Any] = [
        {"id": "m1", "type": "call.started"},  # fields missing
        "not an object",
        {**started, "phone_number_id": 999_999},  # its id again, other content
        {**started, "id": "u1", "call_id": "fresh", "phone_number_id": 999_999},
        {"id": "t1", "type": "agent.state_changed", "agent_id": agent, "state": "away",
         "time": "2026-03-10T07:00:00Z"},  # older than the agent's last event
        {"id": "s1", "type": "call.started", "call_id": started["call_id"], "time": later,
         "direction": "inbound", "phone_number_id": started["phone_number_id"]},
    ]  # fmt: skip
    outcome = service.ingest(account, batch)
    assert outcome.rejected == 6
    assert outcome.rejected_by_reason == {
        MALFORMED: 2,
        ID_CONFLICT: 1,
        UNKNOWN_REFERENCE: 1,
        TIME: 1,
        STATE: 1,
    }

    def broken(self: Any, event: Any, now: int) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(ingest_module.AccountProjection, "apply", broken)
    failed = service.ingest(account, world.events[50:51])
    assert failed.rejected_by_reason == {INTERNAL_ERROR: 1}
    counts = service.telemetry.copy()
    assert counts.rejected == {
        ("acme", MALFORMED): 2,
        ("acme", ID_CONFLICT): 1,
        ("acme", UNKNOWN_REFERENCE): 1,
        ("acme", TIME): 1,
        ("acme", STATE): 1,
        ("acme", INTERNAL_ERROR): 1,
    }


def test_batch_latency_is_read_from_the_injected_monotonic_clock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = world.service.store
    real_append = store.append_events

    def slow_append(*args: Any, **kwargs: Any) -> int:
        world.clock.mono += 0.2  # the append "takes" 200 ms of the fake clock
        return real_append(*args, **kwargs)

    monkeypatch.setattr(store, "append_events", slow_append)
    world.service.ingest(world.account, world.events[:10])
    batches = world.service.telemetry.copy().batches
    assert batches.sum == pytest.approx(0.2)
    assert dict(batches.cumulative())[0.1] == 0 and dict(batches.cumulative())[0.25] == 1


def test_store_failures_are_counted_by_operation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, account, store = world.service, world.account, world.service.store
    service.settings = service.runtimes.settings = replace(
        service.settings, snapshot_every_events=10
    )
    service.ingest(account, world.events[:5])

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("database or disk is full")

    monkeypatch.setattr(store, "append_events", failing)
    with pytest.raises(Unavailable):
        service.ingest(account, world.events[5:20])
    monkeypatch.undo()
    monkeypatch.setattr(store, "save_snapshot", failing)
    assert service.ingest(account, world.events[5:20]).accepted == 15  # snapshot due, fails
    monkeypatch.setattr(store, "log_head", failing)
    with pytest.raises(StoreError):
        service.follow(account)
    monkeypatch.setattr(store, "check", failing)
    with pytest.raises(StoreError):
        service.check_store()
    monkeypatch.setattr(store, "load_snapshot", failing)
    service.runtimes.drop(account.id)
    with pytest.raises(StoreError):
        service.load(account)
    monkeypatch.setattr(store, "records_mark", failing)
    with pytest.raises(StoreError):
        service.flush_records(account)
    errors = service.telemetry.copy().database_errors
    assert errors == {
        "ingest": 1, "load": 1, "follow": 1, "snapshot": 1, "check": 1, "records": 1
    }  # fmt: skip


def test_a_log_that_keeps_moving_is_not_a_database_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = world.service.store

    def stale(*args: Any, **kwargs: Any) -> int:
        raise StaleLog("another process appended")

    monkeypatch.setattr(store, "append_events", stale)
    with pytest.raises(Unavailable):
        world.service.ingest(world.account, world.events[:5])
    assert world.service.telemetry.copy().database_errors["ingest"] == 0


def test_load_time_and_snapshot_time_come_from_the_monotonic_clock(world: World) -> None:
    service, account, clock = world.service, world.account, world.clock
    service.ingest(account, world.events[:100])
    runtime = service.runtimes.get(account.id)
    assert runtime is not None and runtime.snapshot_at == 1000.0  # created: loaded at once
    clock.mono += 60
    assert service.snapshot(account)
    assert runtime.snapshot_at == 1060.0
    assert runtime.folded - runtime.snapshot_folded == 0
    service.close()
    clock.mono += 5
    reopened = open_service(world.path, clock)
    try:
        reopened.load(account)
        loaded = reopened.runtimes.get(account.id)
        assert loaded is not None
        assert (loaded.snapshot_at, loaded.load_seconds) == (1065.0, 0.0)
    finally:
        reopened.close()
