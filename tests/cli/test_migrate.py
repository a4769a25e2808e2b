"""`talkstats migrate`, and every command refusing a schema it does not know."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner

from talkstats.cli import cli
from talkstats.store.migrations import LATEST, MIGRATIONS, Migration, runner
from talkstats.store.urls import sqlite_path

from .conftest import Run

PROBE = Migration(
    version=LATEST + 1,
    name="probe table",
    sqlite=("CREATE TABLE probe (id INTEGER PRIMARY KEY)",),
    postgres=("CREATE TABLE probe (id bigint PRIMARY KEY)",),
)


def test_migrate_never_creates_a_database(run: Run, database: str) -> None:
    for args in (("migrate",), ("migrate", "--check")):
        refused = run(*args)
        assert refused.exit_code == 1
        assert "does not exist" in refused.stderr and "talkstats account create" in refused.stderr
    assert not Path(sqlite_path(database)).exists()


def test_migrate_sets_up_an_empty_database_then_finds_nothing_to_do(
    run: Run, database: str
) -> None:
    Path(sqlite_path(database)).touch()
    check = run("migrate", "--check")
    assert check.exit_code == 1 and "has no talkstats schema yet" in check.stderr
    first = run("migrate")
    assert first.exit_code == 0, first.output
    assert f"applied migration 1: {MIGRATIONS[0].name}" in first.stdout
    assert f"created the schema at version {LATEST}" in first.stdout
    again = run("migrate")
    assert again.exit_code == 0
    assert again.stdout == f"{database}: schema version {LATEST}, current; nothing to do\n"
    check = run("migrate", "--check")
    assert check.exit_code == 0 and "current" in check.stdout


def test_an_outdated_database_is_refused_until_migrated(
    run: Run, acme: str, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "MIGRATIONS", (*MIGRATIONS, PROBE))
    for args in (("serve", "--port", "0"), ("account", "list"), ("migrate", "--check")):
        refused = run(*args)
        assert refused.exit_code == 1, args
        assert f"needs version {LATEST + 1}" in refused.stderr
        assert f"talkstats migrate --database '{database}'" in refused.stderr
        assert "Traceback" not in refused.output
    done = run("migrate")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        f"applied migration {LATEST + 1}: probe table",
        f"{database}: schema version {LATEST} -> {LATEST + 1}",
    ]
    listed = run("account", "list")
    assert listed.exit_code == 0 and "acme" in listed.stdout


def test_a_newer_database_is_refused(run: Run, acme: str, database: str) -> None:
    conn = sqlite3.connect(sqlite_path(database))
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (LATEST + 7,))
    conn.close()
    for args in (("serve", "--port", "0"), ("migrate",), ("ingest", "-")):
        refused = run(*args, input="")
        assert refused.exit_code == 1, args
        assert f"schema version {LATEST + 7}, newer than this talkstats knows" in refused.stderr


def test_migrate_on_postgresql_never_prints_the_password(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    password = parts.password
    if password is None:  # trust authentication ignores a made-up password
        password = "s3cret"
        user = parts.username or "postgres"
        host = parts.netloc.rsplit("@", 1)[-1]
        postgres_url = urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))
    result = CliRunner().invoke(cli, ["migrate", "--database", postgres_url])
    assert result.exit_code == 0, result.output
    assert password not in result.output
    assert ":***@" in result.stdout and "created the schema" in result.stdout


def test_migrate_reports_an_unreachable_server(tmp_path: Path) -> None:
    url = "postgresql://talkstats:hunter2@127.0.0.1:1/talkstats"
    result = CliRunner().invoke(cli, ["migrate", "--database", url])
    assert result.exit_code == 1
    assert "cannot open PostgreSQL database" in result.stderr
    assert "hunter2" not in result.output and "Traceback" not in result.output
