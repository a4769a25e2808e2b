"""Realtime queue_log tables on the real servers of the machine: MariaDB/MySQL and
PostgreSQL. Each test makes its own uniquely named database and drops it.

The servers are found at TALKSTATS_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306)
and TALKSTATS_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a test whose server does not answer is skipped, saying which.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from talkstats.cli import cli
from talkstats.config import load_settings
from talkstats.connectors.asterisk.mapping import Resolver
from talkstats.connectors.asterisk.parser import QueueLogParser
from talkstats.connectors.asterisk.reference import StoreReference
from talkstats.connectors.asterisk.runner import Connector, StateFile, run_follow
from talkstats.connectors.asterisk.table import TableSource, parse_table_url
from talkstats.domain import stats
from talkstats.service import Talkstats
from talkstats.simulator.driver import Driver, ServiceSink
from talkstats.store import SQLiteStore
from tests.api.conftest import CHEAP

PARIS = ZoneInfo("Europe/Paris")
MYSQL = os.environ.get("TALKSTATS_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
POSTGRES = os.environ.get(
    "TALKSTATS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# a call that starts at 00:30 Paris time (23:30 UTC the day before): a zone mistake
# would put it on the wrong day
ROWS = [
    ("2026-03-10 00:29:00", "NONE", "support", "PJSIP/400", "ADDMEMBER", ""),
    ("2026-03-10 00:30:00.250000", "c1", "support", "NONE", "ENTERQUEUE", "|+4911111|1"),
    ("2026-03-10 00:30:20", "c1", "support", "PJSIP/400", "RINGNOANSWER", "15000"),
    ("2026-03-10 00:30:30", "c1", "support", "PJSIP/400", "CONNECT", "30|x|5"),
    ("2026-03-10 00:32:30", "c1", "support", "PJSIP/400", "COMPLETECALLER", "30|120|1"),
    (
        "2026-03-10 00:34:00",
        "c2",
        "support",
        "PJSIP/400",
        "ATTENDEDTRANSFER",
        "LINK|Local/401@x-1;1|Local/401@x-1;2|10|50|1",
    ),
]


def _mysql_server() -> Any:
    pymysql = pytest.importorskip("pymysql")
    url = parse_table_url(MYSQL.rstrip("/") + "/x")
    try:
        return pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.user or "root",
            password=url.password or "", connect_timeout=5, autocommit=True,
        )  # fmt: skip
    except pymysql.MySQLError as exc:
        if "TALKSTATS_TEST_MYSQL_URL" in os.environ:  # CI asked for these tests: fail
            pytest.fail(f"MariaDB/MySQL not reachable at {MYSQL}: {exc}")
        pytest.skip(f"MariaDB/MySQL not reachable at {MYSQL} (set TALKSTATS_TEST_MYSQL_URL): {exc}")


def _postgres_server() -> Any:
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if "TALKSTATS_TEST_POSTGRES_URL" in os.environ:  # CI asked for these tests: fail
            pytest.fail(f"PostgreSQL not reachable at {POSTGRES}: {exc}")
        pytest.skip(
            f"PostgreSQL not reachable at {POSTGRES} (set TALKSTATS_TEST_POSTGRES_URL): {exc}"
        )


@pytest.fixture(params=["mysql", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """(URL of a fresh database, a connection to it): one per server kind."""
    name = f"talkstats_ast_{uuid.uuid4().hex[:12]}"
    if request.param == "mysql":
        server = _mysql_server()
        server.cursor().execute(f"CREATE DATABASE {name}")
        base = MYSQL.rstrip("/")
        conn = _mysql_server()
        conn.select_db(name)
        try:
            yield f"{base}/{name}", conn
        finally:
            conn.close()
            server.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
            server.close()
    else:
        server = _postgres_server()
        server.execute(f"CREATE DATABASE {name}")
        base = POSTGRES.rsplit("/", 1)[0]
        import psycopg

        conn = psycopg.connect(f"{base}/{name}", autocommit=True)
        try:
            yield f"{base}/{name}", conn
        finally:
            conn.close()
            server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            server.close()


def create_table(
    conn: Any, url: str, *, single_data: bool = False, table: str = "queue_log"
) -> None:
    """Asterisk's realtime schema (contrib/ast-db-manage), or the older one-``data`` form."""
    mysql = url.startswith("mysql")
    ident = "id BIGINT AUTO_INCREMENT PRIMARY KEY" if mysql else "id BIGSERIAL PRIMARY KEY"
    when = "DATETIME(6)" if mysql else "TIMESTAMP"
    data = (
        "data VARCHAR(400)"
        if single_data
        else ", ".join(f"data{i} VARCHAR(100)" for i in range(1, 6))
    )
    sql = (
        f"CREATE TABLE {table} ({ident}, time {when}, callid VARCHAR(80), "
        f"queuename VARCHAR(256), agent VARCHAR(80), event VARCHAR(32), {data})"
    )
    with conn.cursor() as cur:
        cur.execute(sql)


def insert(
    conn: Any,
    rows: list[tuple[str, ...]],
    *,
    single_data: bool = False,
    ids: list[int] | None = None,
    table: str = "queue_log",
) -> None:
    """Rows as Asterisk writes them: data1..data5, the last keeping the rest."""
    with conn.cursor() as cur:
        for n, (when, callid, queue, agent, event, data) in enumerate(rows):
            parts = data.split("|")
            values: list[Any] = [when, callid, queue, agent, event]
            if single_data:
                columns = "time, callid, queuename, agent, event, data"
                values.append(data)
            else:
                columns = "time, callid, queuename, agent, event, data1, data2, data3, data4, data5"
                values += [*parts[:4], "|".join(parts[4:])] + [""] * (4 - len(parts[:4]))
            if ids is not None:
                columns = "id, " + columns
                values.insert(0, ids[n])
            marks = ", ".join(["%s"] * len(values))
            cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
    if hasattr(conn, "commit"):
        conn.commit()


def account(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ts.db'}"
    result = CliRunner().invoke(
        cli,
        ["account", "create", "acme", "--timezone", "Europe/Paris", "--plan", "professional",
         "--admin-email", "a@acme.test", "--admin-password", "pw", "--database", url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return url


def service(url: str) -> Talkstats:
    return Talkstats(
        SQLiteStore(url.removeprefix("sqlite:///")),
        load_settings({"database_url": url}, environ={}),
        clock=lambda: 2**62,
        monotonic=lambda: 0.0,
        hasher=CHEAP,
    )


@pytest.mark.parametrize("single_data", [False, True])
def test_import_a_realtime_table(
    database: tuple[str, Any], tmp_path: Path, single_data: bool
) -> None:
    url, conn = database
    create_table(conn, url, single_data=single_data, table="qlog")
    insert(conn, ROWS, single_data=single_data, table="qlog")
    store = account(tmp_path)
    run = CliRunner().invoke(
        cli, ["asterisk", "import", f"{url}?table=qlog", "--database", store, "--account", "acme"],
        catch_exceptions=False,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "lines read 6" in run.output and "rejected 0" in run.output
    ts = service(store)
    try:
        acme = ts.account("acme")
        assert acme is not None
        p = ts.projection(acme)
        day = datetime(2026, 3, 10).date()
        o = stats.account_overview(p, 2**62, plan="professional", date=day)
        assert (o["total_calls"], o["max_queue_wait_time"], o["total_call_duration"]) == (
            2,
            30,
            210,
        )
        rows = stats.agents_activity(p, 2**62, plan="professional", agent_ids=[400], date=day)
        assert (rows[0]["calls_missed"], rows[0]["total_talk_time"]) == (1, 120 + 50)
        assert rows[0]["started_transfers"] == 1
    finally:
        ts.close()


def test_a_table_without_an_id_column_is_refused_with_the_way_out(
    database: tuple[str, Any], tmp_path: Path
) -> None:
    url, conn = database
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE queue_log (time TIMESTAMP, callid VARCHAR(80), queuename "
                    "VARCHAR(80), agent VARCHAR(80), event VARCHAR(32), data VARCHAR(200))")  # fmt: skip
    run = CliRunner().invoke(
        cli, ["asterisk", "import", url, "--database", account(tmp_path), "--account", "acme"]
    )
    assert run.exit_code == 1 and "no column(s) id" in run.output


def test_follow_polls_by_id_and_picks_up_a_late_commit(
    database: tuple[str, Any], tmp_path: Path
) -> None:
    url, conn = database
    create_table(conn, url)
    insert(conn, ROWS[:2], ids=[1, 2])
    store = account(tmp_path)
    ts = service(store)
    source = TableSource(parse_table_url(url), PARIS)
    try:
        acme = ts.account("acme")
        assert acme is not None
        reference = StoreReference(ts, acme)
        parser = QueueLogParser(Resolver(known=reference.load()))
        connector = Connector(parser, reference, Driver(ServiceSink(ts, acme)))
        state = StateFile(tmp_path / "state.json", url)
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:  # Asterisk writes while we wait
            sleeps.append(seconds)
            if len(sleeps) == 1:
                insert(conn, [ROWS[2], ROWS[4]], ids=[3, 6])
            elif len(sleeps) == 2:
                insert(conn, [ROWS[3]], ids=[4])  # committed after id 6

        summary = run_follow(
            source, connector, state, clock=lambda: 0, sleep=sleep, poll_seconds=1.0,
            stop=lambda: len(sleeps) >= 3,
        )  # fmt: skip
        assert summary.lines == 5 and summary.rejected == 0
        day = datetime(2026, 3, 10).date()
        o = stats.account_overview(ts.projection(acme), 2**62, plan="professional", date=day)
        assert (o["total_calls"], o["average_time_to_answer"]) == (1, 30)
        saved = state.load()
        assert saved is not None and saved["position"]["watermark"] == 6
    finally:
        source.close()
        ts.close()
