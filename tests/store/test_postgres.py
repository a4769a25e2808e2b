"""PostgresStore: the contract suite on a real PostgreSQL, plus what is specific to it.

Each test gets its own database (tests/servers.py); the suite skips with a message
naming TALKSTATS_TEST_POSTGRES_URL when no server answers, and CI always sets it.
"""

from __future__ import annotations

import itertools
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from talkstats.store import SchemaError, StoreError, StoreLost, StoreMissing, open_store
from talkstats.store.migrations import LATEST
from tests import servers

from .contract import StoreContract, events, new_user

psycopg = pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[test]'")

from talkstats.store.postgres import POOL_MAX, PostgresStore  # noqa: E402


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres_url)
    yield opened
    opened.close()


def test_text_postgresql_cannot_hold_is_refused_as_invalid(store: PostgresStore) -> None:
    with pytest.raises(ValueError, match="U\\+0000"):
        store.create_account("acme", "UTC\x00", "team")
    acme = store.create_account("acme", "UTC", "team")
    with pytest.raises(ValueError, match="name must not contain"):
        store.create_user(acme.id, new_user(None, "a@x.test", name="A\x00nn"))
    with pytest.raises(ValueError, match="U\\+0000"):
        store.append_events(acme.id, [("e1", '{"raw nul": "\x00"}')])
    assert store.list_users(acme.id) == []
    assert store.log_head(acme.id) == 0
    assert store.get_account("ac\x00me") is None
    assert store.find_user_by_email(acme.id, "a\x00@x.test") is None
    assert store.find_token_by_prefix("ts_\x00") == []


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open PostgreSQL database") as failed:
        PostgresStore("postgresql://talkstats:hunter2@127.0.0.1:1/talkstats")
    assert "hunter2" not in str(failed.value)
    assert "talkstats:***@127.0.0.1:1" in str(failed.value)


def test_a_malformed_url_is_reported() -> None:
    with pytest.raises(ValueError, match="bad PostgreSQL URL"):
        open_store("postgresql://127.0.0.1/x?no_such_option=1")
    with pytest.raises(StoreError, match='invalid integer value "notaport"'):
        open_store("postgresql://127.0.0.1:notaport/x")


def test_commits_are_durable_whatever_the_session_default(postgres_url: str) -> None:
    # The URL asks for sessions with synchronous_commit off (as a server or role
    # default would); the store's connections turn it back on.
    parts = urlsplit(postgres_url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query.get('options', '')} -csynchronous_commit=off".strip()
    url = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
    with psycopg.connect(url) as plain:
        assert plain.execute("SHOW synchronous_commit").fetchone() == ("off",)
    store = PostgresStore(url)
    try:
        with store._connection(write=False) as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
            schema = conn.execute("SELECT current_schema()").fetchone()
            assert schema is not None and schema[0].startswith(servers.DATABASE_PREFIX)
    finally:
        store.close()


def test_the_store_recovers_when_the_server_drops_its_connections(
    postgres_url: str, postgres_server: str
) -> None:
    """As after a PostgreSQL restart: calls fail with StoreError, then work again."""
    tag = f"talkstats-test-{uuid.uuid4().hex[:12]}"
    store = PostgresStore(f"{postgres_url}&application_name={tag}")
    acme = store.create_account("acme", "UTC", "team")
    store.append_events(acme.id, events("e1"))
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (tag,),
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    failures = 0
    for attempt in range(POOL_MAX + 2):
        try:
            head = store.append_events(acme.id, events(f"after{attempt}"))
            break
        except StoreError:
            failures += 1
    else:
        pytest.fail("the store did not recover after its connections were dropped")
    assert failures <= POOL_MAX
    assert store.log_head(acme.id) == head
    assert store.find_events(acme.id, ["e1"]) != {}
    store.close()


def _hear(writer: PostgresStore, account_id: int, woken: queue.Queue[int], tag: str) -> None:
    """Append until the watcher hears the account (bounded), then drain what is left."""
    deadline = time.monotonic() + 20
    for n in itertools.count():
        assert time.monotonic() < deadline, "no notification within 20 s"
        writer.append_events(account_id, events(f"{tag}{n}"))
        try:
            if woken.get(timeout=0.2) == account_id:
                break
        except queue.Empty:
            pass
    while not woken.empty():
        woken.get_nowait()


def test_the_listener_reconnects_when_its_connection_is_dropped(
    postgres_url: str, postgres_server: str
) -> None:
    tag = f"talkstats-test-{uuid.uuid4().hex[:12]}"
    store = PostgresStore(f"{postgres_url}&application_name={tag}")
    writer = PostgresStore(postgres_url)
    acme = writer.create_account("acme", "UTC", "team")
    woken: queue.Queue[int] = queue.Queue()
    stop = store.watch(woken.put)
    try:
        _hear(writer, acme.id, woken, "before")
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s AND query ILIKE 'LISTEN%%'",
                (tag,),
            ).fetchone()
        assert killed is not None and killed[0] == 1  # the listener's own connection
        _hear(writer, acme.id, woken, "after")  # heard again: it reconnected
    finally:
        stop()
        store.close()
        writer.close()


def test_one_store_is_shared_by_threads(store: PostgresStore) -> None:
    acme = store.create_account("acme", "UTC", "team")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for b in range(20):
                store.append_events(acme.id, events(f"t{n}-{b}a", f"t{n}-{b}b"))
                store.read_events(acme.id, 0, 10)
                store.create_group(acme.id, None, f"g{n}-{b}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.read_events(acme.id, 0, 1000)) == 8 * 20 * 2
    assert [g.id for g in store.list_groups(acme.id)] == list(range(1, 8 * 20 + 1))


def test_the_store_package_needs_no_postgresql_driver(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["psycopg"] = None  # as if it were not installed
sys.modules["psycopg_pool"] = None
from talkstats.store import StoreError, open_store
store = open_store(create=True, url="sqlite:///{tmp_path / "x.db"}")
store.create_account("acme", "UTC", "team")
store.close()
try:
    open_store("postgresql://127.0.0.1/talkstats")
except StoreError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'talkstats[postgres]'" in done.stdout


def test_check_needs_the_server_and_the_known_schema(
    store: PostgresStore, postgres_url: str
) -> None:
    store.check()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(SchemaError, match="now has schema version"):
        store.check()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = version - 1")
    store.check()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.check()


def test_tables_replaced_under_the_store_lose_it_for_good(
    store: PostgresStore, postgres_url: str
) -> None:
    """As after a restore over the running database: nothing more is acknowledged."""
    acme = store.create_account("acme", "UTC", "team")
    store.append_events(acme.id, events("e1"))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE schema_version")
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (%s)", (LATEST,))
    with pytest.raises(StoreLost, match="replaced while in use"):
        store.append_events(acme.id, events("e2"))
    assert store.find_events(acme.id, ["e2"]) == {}
    for attempt in (store.check, lambda: store.create_group(acme.id, None, "g")):
        with pytest.raises(StoreLost):
            attempt()
    assert store.list_accounts() == [acme]  # reads still answer, as on SQLite


def test_a_database_created_anew_under_the_store_loses_it(postgres_server: str) -> None:
    with servers.fresh_database(postgres_server) as url:
        store = PostgresStore(url)
        acme = store.create_account("acme", "UTC", "team")
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        PostgresStore(url).close()  # someone sets the new one up
        outcomes = []
        for _ in range(POOL_MAX + 2):  # connections of the old database fail first
            try:
                store.append_events(acme.id, events("e1"))
                outcomes.append("stored")
            except StoreLost:
                outcomes.append("lost")
                break
            except StoreError:
                outcomes.append("error")
        assert outcomes[-1] == "lost" and "stored" not in outcomes
        with pytest.raises(StoreLost):
            store.check()
        store.close()


def test_a_missing_database_is_created_only_when_asked(postgres_server: str) -> None:
    name = f"{servers.DATABASE_PREFIX}{uuid.uuid4().hex[:20]}"
    url = urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))
    with pytest.raises(StoreMissing, match=f"database '{name}' does not exist"):
        PostgresStore(url)
    try:
        store = PostgresStore(url, create=True)
        assert store.schema.found == 0 and store.schema.version == LATEST
        store.create_account("acme", "UTC", "team")
        store.close()
        again = PostgresStore(url)  # exists now
        assert [a.subdomain for a in again.list_accounts()] == ["acme"]
        again.close()
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_stopped_server_fails_fast_and_is_found_again_when_back() -> None:
    """PostgreSQL stopped (a private cluster, tests/pgcluster.py): calls raise StoreError,
    and once a connection has failed they wait the short pool timeout, not the full one;
    when the server is back the pool reconnects on its own."""
    from talkstats.store import postgres
    from tests.pgcluster import Cluster

    cluster = Cluster()
    try:
        cluster.start()
        store = PostgresStore(cluster.url, create=True)
        acme = store.create_account("acme", "UTC", "team")
        store.append_events(acme.id, events("before"))
        waits: list[float | None] = []
        connection = store._pool.connection

        def spy(timeout: float | None = None) -> Any:
            waits.append(timeout)
            return connection(timeout=timeout)

        store._pool.connection = spy  # type: ignore[method-assign]
        cluster.stop()
        for _ in range(3):
            with pytest.raises(StoreError):
                store.append_events(acme.id, events("during"))
        assert waits[0] == postgres.POOL_TIMEOUT_S  # the outage is not known yet
        assert waits[-1] == postgres.UNREACHABLE_TIMEOUT_S
        cluster.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                head = store.append_events(acme.id, events("after"))
                break
            except StoreError:
                assert time.monotonic() < deadline, "the store never found the server again"
                time.sleep(0.05)
        assert store.log_head(acme.id) == head
        assert set(store.find_events(acme.id, ["before", "after"])) == {"before", "after"}
        store.append_events(acme.id, events("later"))
        assert waits[-1] == postgres.POOL_TIMEOUT_S  # reachable again: the full wait
        store.close()
    finally:
        cluster.remove()


def test_processes_writing_the_same_records_in_other_orders_never_deadlock(
    postgres_url: str,
) -> None:
    """Two stores (as two processes) upsert the same records, one forwards, one backwards."""
    first = open_store(postgres_url)
    account = first.create_account("acme", "UTC", "team")
    second = open_store(postgres_url)
    rows = [(i, "2026-03-10", 100 + i, f"[{i}]") for i in range(1, 400)]
    failures: list[BaseException] = []

    def save(store: Any, ordered: list[Any]) -> None:
        try:
            for seq in range(1, 15):
                store.save_records(account.id, "v1", seq, ordered, list(reversed(ordered)))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=save, args=(first, rows)),
        threading.Thread(target=save, args=(second, list(reversed(rows)))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first.close()
    second.close()
    assert failures == []
