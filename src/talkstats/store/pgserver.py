"""The PostgreSQL server a URL names: connections, the database, its identity.

Used by the PostgreSQL store (postgres.py) and by `talkstats migrate --check`; like
postgres.py, only imported when a URL names PostgreSQL (psycopg is an extra).
"""

from __future__ import annotations

import getpass
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from talkstats.store.base import StoreError, StoreMissing
from talkstats.store.migrations.runner import read_version
from talkstats.store.urls import redact

CONNECT_TIMEOUT_S: Final = 5
# One fixed key for pg_advisory_xact_lock while the schema is checked or migrated; an
# advisory lock is scoped to its database, so other databases on the server are free.
MIGRATION_LOCK: Final = 0x74616C6B73746174  # "talkstat"
# Which database, and which tables in it: both change when either is created anew.
_IDENTITY: Final = (
    "SELECT d.oid, to_regclass('schema_version')::oid"
    " FROM pg_database d WHERE d.datname = current_database()"
)


def database_identity(conn: psycopg.Connection[Any]) -> tuple[int, int] | None:
    """(database oid, schema_version table oid); None when there is no such table."""
    row = conn.execute(_IDENTITY).fetchone()
    return None if row is None or row[1] is None else (int(row[0]), int(row[1]))


def configure(conn: psycopg.Connection[Any]) -> None:
    """Per-connection settings: durable commits whatever the server's default."""
    conn.execute("SET synchronous_commit = on")


class Server:
    """Where a URL points: connecting, and finding or creating the database there."""

    def __init__(self, url: str) -> None:
        self.where = redact(url)
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise ValueError(f"bad PostgreSQL URL {self.where!r}: {exc}") from None
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        params.setdefault("application_name", "talkstats")
        self.params = params
        self.conninfo = make_conninfo("", **params)
        # libpq's default database is the user's name
        self.dbname = str(params.get("dbname") or params.get("user") or getpass.getuser())

    def connect(self, *, create: bool) -> psycopg.Connection[Any]:
        """An autocommit connection; StoreMissing (or CREATE DATABASE) if there is none."""
        try:
            return psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            if not self._missing():
                raise StoreError(
                    f"cannot open PostgreSQL database {self.where!r}: {message(exc)}"
                ) from exc
        if not create:
            raise StoreMissing(
                f"database {self.dbname!r} does not exist on the server of {self.where!r}"
            )
        self._create()
        try:
            return psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open PostgreSQL database {self.where!r}: {message(exc)}"
            ) from exc

    def _maintenance(self) -> psycopg.Connection[Any]:
        """A connection to the server's `postgres` database, to look at or create ours."""
        return psycopg.connect(make_conninfo(self.conninfo, dbname="postgres"), autocommit=True)

    def _missing(self) -> bool:
        """True when the server answers and has no database of our name."""
        if self.dbname == "postgres":
            return False
        try:
            with self._maintenance() as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)
                ).fetchone()
        except psycopg.Error:
            return False  # the original error says more
        return row is None

    def _create(self) -> None:
        try:
            with self._maintenance() as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
        except pg_errors.DuplicateDatabase:
            pass  # another process created it first
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot create database {self.dbname!r} on the server of {self.where!r}: "
                f"{message(exc)}; create it with `createdb {self.dbname}` (as a user allowed to)"
            ) from exc


def read_schema_version(url: str) -> int:
    """The database's schema version (0: no schema), writing nothing; StoreMissing if none."""
    server = Server(url)
    try:
        with server.connect(create=False) as conn:
            return read_version(conn, "postgres")
    except psycopg.Error as exc:
        raise StoreError(f"{server.where}: {message(exc)}") from exc


def message(exc: BaseException) -> str:
    """A driver error as one line (libpq messages may span several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
