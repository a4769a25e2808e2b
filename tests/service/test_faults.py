"""Whatever fails during ingestion, the numbers never run ahead of the log.

A failure is injected at each point a batch passes through (decoding, validation,
folding into the projection, the append, the commit, after the commit, the snapshot);
afterwards every acknowledged event is in the log, the projection holds exactly the
log, and every endpoint equals a fresh fold of the log (conftest.assert_truth).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from typing import Any

import pytest

import talkstats.service.runtimes as runtimes_module
from talkstats.domain.projection import AccountProjection
from talkstats.service import BatchOutcome, Unavailable
from talkstats.store import StoreError

from .conftest import World, assert_truth, open_service

TARGET = 60  # the faulted event: in the middle of the batch


def accepted(outcome: BatchOutcome) -> set[str]:
    return {r.id for r in outcome.results if r.status == "accepted" and r.id is not None}


def target_id(world: World, kind: str | None = None) -> str:
    """The id of an event at or after TARGET (of the given type, if any)."""
    for event in world.events[TARGET:]:
        if kind is None or event["type"] == kind:
            return str(event["id"])
    raise AssertionError(f"no {kind} event after index {TARGET}")


def ingest_all(world: World) -> BatchOutcome:
    return world.service.ingest(world.account, world.events)


def test_without_faults_the_live_projection_is_the_fold_of_the_log(world: World) -> None:
    outcome = ingest_all(world)
    assert outcome.accepted == len(world.events) > TARGET
    assert_truth(world, accepted(outcome))


def _only_target_rejected(world: World, outcome: BatchOutcome, target: str) -> None:
    """The target is rejected for the internal error; the only other rejections are of
    its call's later events, which the state machine refuses without it."""
    rejected = [r for r in outcome.results if r.status == "rejected"]
    assert rejected[0].id == target and "internal error" in (rejected[0].error or "")
    call_id = next(e["call_id"] for e in world.events if e["id"] == target)
    for r in rejected[1:]:
        assert r.index > rejected[0].index and world.events[r.index]["call_id"] == call_id, r
    assert outcome.accepted == len(world.events) - len(rejected)


@pytest.mark.parametrize("where", ["before any change", "after the whole event", "midway"])
def test_an_unexpected_error_while_folding_rejects_that_event_only(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    target = target_id(world, "call.queued" if where == "midway" else "call.started")
    real_apply = AccountProjection.apply
    real_waiting = AccountProjection._waiting_changed
    folding: list[str] = [""]  # the id of the event being folded

    def apply(self: AccountProjection, event: Any, now: int) -> None:
        folding[0] = event.id
        if event.id == target and where == "before any change":
            raise RuntimeError("injected before any change")
        real_apply(self, event, now)
        if event.id == target and where == "after the whole event":
            raise OverflowError("injected after the event was folded")

    def waiting_changed(self: AccountProjection, call: Any, instant: int, delta: int) -> None:
        # Reached with the caller already in the live queue and its wait not yet in the
        # peak timeline: a real half-folded event.
        if where == "midway" and folding[0] == target:
            raise RuntimeError("injected in the middle of folding")
        real_waiting(self, call, instant, delta)

    monkeypatch.setattr(AccountProjection, "apply", apply)
    monkeypatch.setattr(AccountProjection, "_waiting_changed", waiting_changed)
    with caplog.at_level(logging.ERROR, logger="talkstats"):
        outcome = ingest_all(world)
    _only_target_rejected(world, outcome, target)
    assert any(r.exc_info for r in caplog.records), "the error is logged with its traceback"
    monkeypatch.undo()
    assert_truth(world, accepted(outcome))
    # Sent again once the fault is gone, the events go through the state machine only
    # (some are now older than their agent's later events, which is the sender's to fix).
    again = world.service.ingest(world.account, world.events)
    assert not any("internal error" in (r.error or "") for r in again.results)
    assert_truth(world, accepted(outcome) | accepted(again))


def test_a_store_failure_while_folding_acknowledges_nothing_of_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fold that needs the store (a sealed day read back) and finds it out: 503, not
    a rejected event; nothing of the batch acknowledged, the projection rebuilt."""
    before = world.service.ingest(world.account, world.events[:TARGET])
    assert before.rejected == 0
    target = target_id(world)
    real_apply = AccountProjection.apply

    def apply(self: AccountProjection, event: Any, now: int) -> None:
        if event.id == target:
            raise StoreError("server closed the connection unexpectedly")
        real_apply(self, event, now)

    monkeypatch.setattr(AccountProjection, "apply", apply)
    with pytest.raises(Unavailable):
        world.service.ingest(world.account, world.events[TARGET:])
    monkeypatch.undo()
    assert_truth(world, accepted(before))
    after = world.service.ingest(world.account, world.events[TARGET:])
    assert after.rejected == 0
    assert_truth(world, accepted(before) | accepted(after))


def test_a_batch_decoder_failure_falls_back_to_one_by_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(objs: Any) -> Any:
        raise MemoryError("injected in the batch decoder")

    monkeypatch.setattr(runtimes_module, "parse_batch", broken)
    outcome = ingest_all(world)
    assert outcome.accepted == len(world.events)
    assert_truth(world, accepted(outcome))


def test_a_decoding_failure_of_one_event_rejects_that_event_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = target_id(world)
    real_parse = runtimes_module.parse_event

    def broken_batch(objs: Any) -> Any:
        raise RuntimeError("injected")

    def parse(obj: Any) -> Any:
        if obj.get("id") == target:
            raise RecursionError("injected while decoding one event")
        return real_parse(obj)

    monkeypatch.setattr(runtimes_module, "parse_batch", broken_batch)
    monkeypatch.setattr(runtimes_module, "parse_event", parse)
    outcome = ingest_all(world)
    rejected = [r for r in outcome.results if r.status == "rejected"]
    assert [r.id for r in rejected] == [target]
    monkeypatch.undo()
    # Events of the same call after it are rejected by the state machine or accepted;
    # either way the numbers are the log's.
    assert_truth(world, accepted(outcome))


@pytest.mark.parametrize(
    "error", [StoreError("database or disk is full"), OverflowError("injected")]
)
def test_a_failed_append_acknowledges_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    store = world.service.store
    head = ingest_all_but_last(world)

    def append(*args: Any, **kwargs: Any) -> int:
        raise error

    monkeypatch.setattr(store, "append_events", append)
    with pytest.raises(Unavailable):
        world.service.ingest(world.account, world.events[-30:])
    monkeypatch.undo()
    assert_truth(world, head)
    again = world.service.ingest(world.account, world.events[-30:])
    assert again.rejected == 0
    assert_truth(world, head | accepted(again))


def ingest_all_but_last(world: World) -> set[str]:
    outcome = world.service.ingest(world.account, world.events[:-30])
    assert outcome.rejected == 0
    return accepted(outcome)


class FailingCommit:
    """The store's write connection, whose COMMIT fails while armed (a disk error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = True

    def execute(self, sql: str, *args: Any) -> Any:
        if self.armed and sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error (injected at commit)")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_failed_commit_stores_nothing_and_acknowledges_nothing(world: World) -> None:
    store: Any = world.service.store
    head = ingest_all_but_last(world)
    failing = FailingCommit(store._conn)
    store._conn = failing
    with pytest.raises(Unavailable):
        world.service.ingest(world.account, world.events[-30:])
    failing.armed = False
    assert_truth(world, head)  # rolled back: nothing of the batch is in the log
    again = world.service.ingest(world.account, world.events[-30:])
    assert again.accepted == 30
    assert_truth(world, head | accepted(again))


def test_a_failure_right_after_the_commit_loses_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored but not acknowledged: the client re-sends and gets duplicates."""
    store = world.service.store
    head = ingest_all_but_last(world)
    real_append = store.append_events

    def append(*args: Any, **kwargs: Any) -> int:
        real_append(*args, **kwargs)
        raise OSError("the connection dropped after the commit (injected)")

    monkeypatch.setattr(store, "append_events", append)
    with pytest.raises(Unavailable):
        world.service.ingest(world.account, world.events[-30:])
    monkeypatch.undo()
    assert_truth(world, head)
    again = world.service.ingest(world.account, world.events[-30:])
    assert again.duplicates == 30
    assert_truth(world, head | {str(e["id"]) for e in world.events[-30:]})


def test_a_failed_snapshot_never_fails_the_batch_and_is_retried(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = world.service
    service.settings = service.runtimes.settings = replace(
        service.settings, snapshot_every_events=50
    )
    store = service.store
    real_save = store.save_snapshot
    failures: list[int] = []

    def full_disk(*args: Any, **kwargs: Any) -> None:
        failures.append(1)
        raise StoreError("database or disk is full")

    monkeypatch.setattr(store, "save_snapshot", full_disk)
    with caplog.at_level(logging.WARNING, logger="talkstats"):
        first = service.ingest(world.account, world.events[:100])
        second = service.ingest(world.account, world.events[100:200])
    assert first.accepted == 100 and second.accepted == 100
    assert len(failures) == 1, "a failed snapshot waits before it is tried again"
    assert "snapshot of account acme failed" in caplog.text
    monkeypatch.setattr(store, "save_snapshot", real_save)
    world.clock.mono += 31  # past the retry pause
    third = service.ingest(world.account, world.events[200:210])
    assert third.accepted == 10
    version = runtimes_module.snapshot_version(world.account)
    assert store.load_snapshot(world.account.id, version) is not None
    assert_truth(world, accepted(first) | accepted(second) | accepted(third))


def test_close_says_whether_every_snapshot_was_saved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = world.service
    assert service.ingest(world.account, world.events[:20]).accepted == 20

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise StoreError("database or disk is full")

    monkeypatch.setattr(service.store, "save_snapshot", full_disk)
    assert service.snapshot_all() is False
    monkeypatch.undo()
    assert service.snapshot_all() is True
    assert service.snapshot_all() is True  # nothing changed: nothing to save


def test_a_phantom_never_reaches_the_snapshot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected event's traces are gone before the graceful stop snapshots."""
    target = target_id(world, "call.started")
    real_apply = AccountProjection.apply

    def apply(self: AccountProjection, event: Any, now: int) -> None:
        real_apply(self, event, now)
        if event.id == target:
            raise OverflowError("injected")

    monkeypatch.setattr(AccountProjection, "apply", apply)
    outcome = ingest_all(world)
    monkeypatch.undo()
    world.service.close()  # the graceful stop: a snapshot of the live projection
    world.service = open_service(world.path, world.clock)
    projection = world.service.projection(world.account)
    call_id = next(e["call_id"] for e in world.events if e["id"] == target)
    assert call_id not in projection.calls and call_id not in projection.finished_calls
    assert_truth(world, accepted(outcome))


def test_known_accounts_keep_resolving_while_the_store_is_down(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's account comes from the cache while the store is unreachable; an
    account the cache does not hold is a StoreError (a 503), never a 404 or a 500,
    and the store is asked at most once a second meanwhile."""
    service, store = world.service, world.service.store
    asked = 0

    def down() -> list[Any]:
        nonlocal asked
        asked += 1
        raise StoreError("the server went away")

    monkeypatch.setattr(store, "list_accounts", down)
    world.clock.mono += 5  # the cache is stale: the next lookup asks the store
    assert service.resolve_account("127.0.0.1") == world.account  # the default account
    assert service.resolve_account("acme.stats.example") == world.account
    with pytest.raises(StoreError):
        service.account("other")
    assert asked == 1
    world.clock.mono += 5
    with pytest.raises(StoreError):
        service.account("other")
    assert asked == 2
    monkeypatch.undo()
    world.clock.mono += 5
    assert service.account("other") is None  # the store answers again: no such account
