"""The record tables across crashes, restarts, other processes and new versions.

The records are a projection of the log: whatever happens to the process, the tables
end up holding exactly what one uninterrupted fold of the log gives.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from talkstats import exports
from talkstats.config import load_settings
from talkstats.service import Talkstats
from talkstats.simulator import load_scenario, reference_data, scenario_path
from talkstats.simulator.driver import create_reference_data
from talkstats.simulator.engine import Simulator
from talkstats.store import Account, SQLiteStore

SCENARIO = load_scenario(scenario_path("help-desk"), ["calls.transfer_probability=0.2"])
START = 1_773_129_600 * 10**9  # 2026-03-10T09:00:00+01:00 (Berlin)
END = START + 4 * 3600 * 10**9


def events() -> list[dict[str, Any]]:
    sim = Simulator(SCENARIO, 3, START, id_prefix="x")
    return sim.advance(END - 1800 * 10**9) + sim.finish(END)


EVENTS = events()


def open_service(path: Path, **settings: Any) -> Talkstats:
    return Talkstats(
        SQLiteStore(path, create=True),
        load_settings(settings, environ={}),
        clock=lambda: END + 3600 * 10**9,
        monotonic=lambda: 0.0,
    )


def setup(path: Path) -> Account:
    service = open_service(path)
    account = service.create_account(
        "desk", SCENARIO.timezone, "enterprise", admin_email="a@x.test", admin_password="pw"
    )
    create_reference_data(service, account, reference_data(SCENARIO))
    service.close()
    return account


def ingest(service: Talkstats, account: Account, objs: list[dict[str, Any]]) -> None:
    for n in range(0, len(objs), 97):
        outcome = service.ingest(account, objs[n : n + 97])
        assert outcome.rejected == 0


def table(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            kind: conn.execute(
                f"SELECT id, day, updated, data FROM {kind}_records ORDER BY id"
            ).fetchall()
            for kind in ("call", "leg")
        }


@pytest.fixture
def reference(tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The tables after one uninterrupted ingest and a graceful close."""
    path = tmp_path / "reference.db"
    account = setup(path)
    service = open_service(path)
    ingest(service, account, EVENTS)
    service.flush_records(account)
    service.close()
    tables = table(path)
    assert len(tables["call"]) > 40 and len(tables["leg"]) > 40
    return tables


def test_a_crash_before_the_records_are_written_loses_nothing(
    tmp_path: Path, reference: dict[str, list[tuple[Any, ...]]], monkeypatch: Any
) -> None:
    monkeypatch.setattr(exports, "FLUSH_AT", 25)  # some changes written, the rest not
    path = tmp_path / "crash.db"
    account = setup(path)
    first = open_service(path, snapshot_every_events=400)
    ingest(first, account, EVENTS[: len(EVENTS) // 2])
    first.store.close()  # a crash: no snapshot, no last write of the records
    second = open_service(path)
    ingest(second, account, EVENTS[len(EVENTS) // 2 :])
    second.store.close()  # and again
    third = open_service(path)
    third.flush_records(account)
    third.close()
    assert table(path) == reference


def test_a_snapshot_ahead_of_the_records_means_a_full_replay(
    tmp_path: Path, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    path = tmp_path / "ahead.db"
    account = setup(path)
    service = open_service(path)
    ingest(service, account, EVENTS)
    service.flush_records(account)
    service.close()
    with sqlite3.connect(path) as conn:  # as if the last write of the records was lost
        conn.execute("DELETE FROM leg_records WHERE id > 5")
        conn.execute("UPDATE record_marks SET seq = 3")
    again = open_service(path)
    again.flush_records(account)
    again.close()
    assert table(path) == reference


def test_records_of_another_version_are_rebuilt(
    tmp_path: Path, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    path = tmp_path / "version.db"
    account = setup(path)
    service = open_service(path)
    ingest(service, account, EVENTS)
    service.flush_records(account)
    service.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE record_marks SET version = 'an older talkstats'")
        conn.execute("UPDATE call_records SET data = '[]'")
    again = open_service(path)
    again.flush_records(account)
    again.close()
    assert table(path) == reference


def test_another_process_ingesting_and_a_reader_catching_up(
    tmp_path: Path, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    path = tmp_path / "two.db"
    account = setup(path)
    reader = open_service(path)
    reader.flush_records(account)  # loaded at the start, before anything was ingested
    writer = open_service(path)
    ingest(writer, account, EVENTS[:300])
    page = reader.export_page(account, "calls", 0)  # folds the writer's events first
    assert page.records and page.records[0]["id"] == 1
    ingest(writer, account, EVENTS[300:])
    writer.close()
    reader.flush_records(account)
    reader.close()
    assert table(path) == reference


def test_memory_holds_only_the_calls_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    account = setup(path)
    service = open_service(path)
    ingest(service, account, EVENTS)
    service.flush_records(account)
    follower = service._records_follower(account)
    records = follower._open()
    assert records.calls == {}  # the simulation finished every call
    assert records.last_call_id == sum(e["type"] == "call.started" for e in EVENTS)
    assert records.pending == 0
    service.close()


def test_ingestion_writes_no_record_and_the_tables_follow_the_log(tmp_path: Path) -> None:
    """Records cost ingestion nothing: they are folded from the log, on demand."""
    path = tmp_path / "apart.db"
    account = setup(path)
    service = open_service(path)
    ingest(service, account, EVENTS)
    assert table(path) == {"call": [], "leg": []}
    assert service.records_behind(account)
    assert service.flush_records(account) == len(EVENTS)
    assert not service.records_behind(account)
    assert service.flush_records(account) == 0
    service.close()
