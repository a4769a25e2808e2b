"""SQLiteStore: the contract suite on a real file, plus what is specific to SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkstats.store import (
    Conflict,
    NotFound,
    SQLiteStore,
    StoreError,
    StoreLost,
    StoreMissing,
    open_store,
)
from talkstats.store.sqlite import SCHEMA_VERSION, WRITER_CACHE_KIB
from talkstats.store.urls import sqlite_path

from .contract import StoreContract, events


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'talkstats.db'}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "talkstats.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(db_path, create=True)
    yield opened
    opened.close()


def test_durability_settings(store: SQLiteStore) -> None:
    assert store.pragmas() == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL: the WAL is fsynced on every commit
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "fullfsync": 1,
    }
    store.close()


def test_schema_is_created_once(db_path: Path) -> None:
    first = SQLiteStore(db_path, create=True)
    assert first.schema_version() == SCHEMA_VERSION
    account = first.create_account("acme", "UTC", "team")
    first.close()
    second = SQLiteStore(db_path, create=True)
    assert second.schema_version() == SCHEMA_VERSION
    assert second.list_accounts() == [account]
    second.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
    conn.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    SQLiteStore(db_path, create=True).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(db_path, create=True)


def test_open_errors_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory .*missing-dir' does not exist"):
        SQLiteStore(tmp_path / "missing-dir" / "x.db", create=True)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(junk, create=True)


def test_usable_from_another_thread(store: SQLiteStore) -> None:
    account = store.create_account("acme", "UTC", "team")
    heads: list[int] = []
    worker = threading.Thread(
        target=lambda: heads.append(store.append_events(account.id, events("e1")))
    )
    worker.start()
    worker.join()
    assert heads == [store.log_head(account.id)]
    store.close()


def test_foreign_keys_hold_in_the_schema(store: SQLiteStore, db_path: Path) -> None:
    """The schema itself refuses orphans, not only the store's explicit checks."""
    with pytest.raises(NotFound):
        store.append_events(1, events("e1"))
    store.close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO events (account_id, event_id, body) VALUES (9, 'e', '')")
    conn.close()


# Run in a child process: commit one batch, then die by SIGKILL in the middle of a
# second one, after its rows (larger than the page cache) have spilled into the WAL.
KILLED_MID_APPEND = """
import os, signal, sys
from talkstats.store import SQLiteStore

store = SQLiteStore(sys.argv[1], create=True)
account_id, rows, body = int(sys.argv[2]), int(sys.argv[3]), "x" * 32768
store.append_events(account_id, [("committed", '"kept"')])

class KillMidway(list):
    def __iter__(self):
        for i in range(rows):
            yield (f"lost{i}", body)
        os.kill(os.getpid(), signal.SIGKILL)

store.append_events(account_id, KillMidway([("lost0", body)]))
print("append returned", flush=True)
"""


def test_kill_mid_append_leaves_nothing_of_the_batch(db_path: Path) -> None:
    setup = SQLiteStore(db_path, create=True)
    account = setup.create_account("acme", "UTC", "team")
    setup.close()
    rows = 2 * WRITER_CACHE_KIB // 32  # twice the page cache, so the batch reaches the WAL
    argv = [sys.executable, "-c", KILLED_MID_APPEND, str(db_path), str(account.id), str(rows)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == ""
    wal = Path(f"{db_path}-wal")
    assert os.path.getsize(wal) > WRITER_CACHE_KIB * 1024  # uncommitted frames were on disk

    store = SQLiteStore(db_path, create=True)
    assert [body for _, body in store.read_events(account.id, 0, 10)] == ['"kept"']
    assert store.find_events(account.id, ["lost0", f"lost{rows - 1}"]) == {}
    store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def test_in_memory_store() -> None:
    store = open_store("sqlite://:memory:")
    assert isinstance(store, SQLiteStore)
    account = store.create_account("acme", "UTC", "team")
    head = store.append_events(account.id, events("e1", "e2"))
    assert [seq for seq, _ in store.read_events(account.id, 0, 10)][-1] == head
    store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///./talkstats.db", "./talkstats.db"),
        ("sqlite:///talkstats.db", "talkstats.db"),
        ("sqlite:////var/lib/talkstats/t.db", "/var/lib/talkstats/t.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/talkstats", "unknown scheme 'mysql'"),
        ("./talkstats.db", "no scheme"),
        ("sqlite://talkstats.db", "bad SQLite URL"),
        ("sqlite:///", "bad SQLite URL"),
        ("sqlite:///t.db?mode=ro", "no query"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_open_store_file_url(db_path: Path) -> None:
    store = open_store(f"sqlite:///{db_path}", create=True)
    assert isinstance(store, SQLiteStore)
    assert store.path == str(db_path)
    store.close()


def test_a_malformed_event_is_a_store_error_not_a_conflict(store: SQLiteStore) -> None:
    account = store.create_account("acme", "UTC", "team")
    with pytest.raises(StoreError) as raised:
        store.append_events(account.id, [("e1", None)])  # type: ignore[list-item]
    assert not isinstance(raised.value, Conflict)
    assert store.log_head(account.id) == 0


def test_a_missing_database_is_created_only_when_asked(db_path: Path) -> None:
    with pytest.raises(StoreMissing, match="does not exist"):
        SQLiteStore(db_path)
    with pytest.raises(StoreMissing):
        open_store(f"sqlite:///{db_path}")
    assert not db_path.exists()
    SQLiteStore(db_path, create=True).close()
    SQLiteStore(db_path).close()  # it exists now


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_database_removed_or_replaced_under_the_store_is_noticed(db_path: Path, how: str) -> None:
    store = SQLiteStore(db_path, create=True)
    account = store.create_account("acme", "UTC", "team")
    store.append_events(account.id, events("e1"))
    store.check()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":
        SQLiteStore(db_path, create=True).close()
    with pytest.raises(StoreLost, match=how):
        store.append_events(account.id, events("e2"))
    with pytest.raises(StoreLost, match=how):
        store.check()
    with pytest.raises(StoreLost):  # sticky, whatever happens to the path afterwards
        store.create_account("other", "UTC", "team")
    store.close()


def test_reads_do_not_wait_for_a_write_transaction(store: SQLiteStore, db_path: Path) -> None:
    """The reader connection answers while another connection holds the write lock."""
    account = store.create_account("acme", "UTC", "team")
    store.append_events(account.id, events("e1"))
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the single SQLite write lock, held
    try:
        assert store.log_head(account.id) > 0
        assert store.count_events(account.id, 0) == 1
        store.check()
    finally:
        other.execute("ROLLBACK")
        other.close()
