"""Schema migrations: created on a new database, refused when unknown, applied on request.

Every test runs on SQLite and on PostgreSQL. A migration that does not exist yet is
simulated by appending one to the list the runner reads (monkeypatch).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from talkstats.store import (
    SchemaOutdated,
    SchemaTooNew,
    StoreError,
    StoreMissing,
    migrate_store,
    open_store,
)
from talkstats.store.migrations import LATEST, MIGRATIONS, Migration, runner
from talkstats.store.urls import schema_status, sqlite_path

PROBE = Migration(
    version=LATEST + 1,
    name="probe table",
    sqlite=("CREATE TABLE probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",),
    postgres=("CREATE TABLE probe (id bigint PRIMARY KEY, note text NOT NULL)",),
)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        (tmp_path / "talkstats.db").touch()  # an empty database, as a new PostgreSQL one
        return f"sqlite:///{tmp_path / 'talkstats.db'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return postgres_url


@pytest.fixture
def sql(url: str) -> Iterator[Callable[..., list[Any]]]:
    """Run one statement on the database directly (not through a store); return rows."""
    if url.startswith("sqlite"):

        def run_sqlite(statement: str) -> list[Any]:
            conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
            try:
                return conn.execute(statement).fetchall()
            finally:
                conn.close()

        yield run_sqlite
    else:
        import psycopg

        def run_postgres(statement: str) -> list[Any]:
            with psycopg.connect(url, autocommit=True) as conn:
                cur = conn.execute(statement)
                return cur.fetchall() if cur.description else []

        yield run_postgres


def has_table(sql: Callable[..., list[Any]], url: str, table: str) -> bool:
    if url.startswith("sqlite"):
        return bool(sql(f"SELECT 1 FROM sqlite_master WHERE name = '{table}'"))
    return sql(f"SELECT to_regclass('{table}') IS NOT NULL")[0][0] is True


def has_probe(sql: Callable[..., list[Any]], url: str) -> bool:
    return has_table(sql, url, "probe")


def test_versions_are_consecutive_and_written_for_both_stores() -> None:
    runner.check_sequence(MIGRATIONS)
    with pytest.raises(AssertionError, match="expected 2"):
        runner.check_sequence((MIGRATIONS[0], replace(PROBE, version=3)))
    with pytest.raises(AssertionError, match="both SQLite and PostgreSQL"):
        runner.check_sequence((MIGRATIONS[0], replace(PROBE, version=2, postgres=())))


def test_a_new_database_gets_the_whole_schema(url: str, sql: Callable[..., list[Any]]) -> None:
    state = migrate_store(url)
    assert (state.found, state.version) == (0, LATEST)
    assert state.applied == MIGRATIONS
    assert sql("SELECT version FROM schema_version") == [(LATEST,)]
    again = migrate_store(url)
    assert (again.found, again.version, again.applied) == (LATEST, LATEST, ())


def test_a_newer_schema_is_refused(url: str, sql: Callable[..., list[Any]]) -> None:
    open_store(url).close()
    sql(f"UPDATE schema_version SET version = {LATEST + 1}")
    for attempt in (lambda: open_store(url), lambda: migrate_store(url)):
        with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}, newer"):
            attempt()
    assert sql("SELECT version FROM schema_version") == [(LATEST + 1,)]


def test_an_older_schema_is_migrated_only_when_asked(
    url: str, sql: Callable[..., list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(url)
    account = store.create_account("acme", "UTC", "team")
    store.append_events(account.id, [("e1", "{}")])
    store.close()
    monkeypatch.setattr(runner, "MIGRATIONS", (*MIGRATIONS, PROBE))

    with pytest.raises(SchemaOutdated) as refused:
        open_store(url)
    message = str(refused.value)
    assert f"schema version {LATEST}; this talkstats needs version {LATEST + 1}" in message
    assert f"talkstats migrate --database '{url}'" in message
    assert "probe table" in message
    assert sql("SELECT version FROM schema_version") == [(LATEST,)]
    assert not has_probe(sql, url)

    state = migrate_store(url)
    assert (state.found, state.version, state.applied) == (LATEST, LATEST + 1, (PROBE,))
    assert has_probe(sql, url)
    store = open_store(url)
    assert store.list_accounts() == [account]
    assert [body for _, body in store.read_events(account.id, 0, 10)] == ["{}"]
    store.close()


def test_a_failing_migration_changes_nothing(
    url: str, sql: Callable[..., list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(url).close()
    broken = replace(
        PROBE,
        sqlite=(*PROBE.sqlite, "THIS IS NOT SQL"),
        postgres=(*PROBE.postgres, "THIS IS NOT SQL"),
    )
    monkeypatch.setattr(runner, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(StoreError, match="syntax error"):
        migrate_store(url)
    assert sql("SELECT version FROM schema_version") == [(LATEST,)]
    assert not has_probe(sql, url)


def test_concurrent_migrations_apply_once(
    url: str, sql: Callable[..., list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(url).close()
    monkeypatch.setattr(runner, "MIGRATIONS", (*MIGRATIONS, PROBE))
    start = threading.Barrier(3)
    applied: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            applied.append(len(migrate_store(url).applied))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(applied) == [0, 0, 1]
    assert sql("SELECT version FROM schema_version") == [(LATEST + 1,)]


def test_schema_status_reads_and_writes_nothing(
    url: str, sql: Callable[..., list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SchemaOutdated, match="has no talkstats schema yet"):
        schema_status(url)
    assert not has_table(sql, url, "schema_version")
    open_store(url).close()
    assert schema_status(url) == LATEST
    monkeypatch.setattr(runner, "MIGRATIONS", (*MIGRATIONS, PROBE))
    with pytest.raises(SchemaOutdated, match="talkstats migrate --database"):
        schema_status(url)
    monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS)
    sql(f"UPDATE schema_version SET version = {LATEST + 1}")
    with pytest.raises(SchemaTooNew):
        schema_status(url)


def test_no_database_is_created_by_a_check_or_a_migration(
    tmp_path: Path, postgres_server: str
) -> None:
    missing_pg = urlunsplit(urlsplit(postgres_server)._replace(path="/talkstats_absent_db"))
    for missing in (f"sqlite:///{tmp_path / 'absent.db'}", missing_pg):
        for attempt in (schema_status, migrate_store, open_store):
            with pytest.raises(StoreMissing, match="does not exist"):
                attempt(missing)
    assert not (tmp_path / "absent.db").exists()
