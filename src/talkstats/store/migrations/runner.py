"""Bring a database's schema to the latest version, or refuse to use it.

Both stores call `upgrade` when they open a database, inside one transaction that
holds the store's migration lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
lock), so two processes opening the same database never migrate it twice. A database
with no talkstats schema yet gets every migration; one at an older version is
migrated only when asked (`talkstats migrate`); a newer one is always refused.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from talkstats.store.migrations.schema import (
    Dialect,
    Migration,
    SchemaOutdated,
    SchemaState,
    SchemaTooNew,
)
from talkstats.store.migrations.versions import MIGRATIONS

LATEST: Final = MIGRATIONS[-1].version


class Executes(Protocol):
    """A connection inside the caller's transaction (sqlite3 and psycopg both fit)."""

    def execute(self, sql: Any, /) -> Any: ...


def check_sequence(migrations: tuple[Migration, ...]) -> None:
    """Versions are 1, 2, 3, ... and every migration has statements for both stores."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise AssertionError(
                f"migration {migration.name!r} has version {migration.version}, expected "
                f"{expected}: versions are consecutive, appended at the end"
            )
        if not migration.sqlite or not migration.postgres:
            raise AssertionError(
                f"migration {migration.version} ({migration.name}) needs statements for "
                "both SQLite and PostgreSQL"
            )


def read_version(conn: Executes, dialect: Dialect) -> int:
    """The schema version, writing nothing: 0 when there is no talkstats schema."""
    exists = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        if dialect == "sqlite"
        else "SELECT count(*) FROM (SELECT to_regclass('schema_version') AS t) r WHERE t IS NOT NULL"
    )
    if not conn.execute(exists).fetchone()[0]:
        return 0
    return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)


def require_current(found: int, *, where: str, url: str, empty_ok: bool = False) -> None:
    """SchemaTooNew or SchemaOutdated unless `found` is the latest version.

    `empty_ok`: a database with no schema at all (0) passes; opening it creates it.
    """
    migrations = MIGRATIONS  # the module's, read at each call
    latest = migrations[-1].version
    if found > latest:
        raise SchemaTooNew(
            f"{where} has schema version {found}, newer than this talkstats knows "
            f"({latest}): run a talkstats at least as new as the one that migrated it",
            found=found,
            known=latest,
        )
    if found == latest or (found == 0 and empty_ok):
        return
    names = ", ".join(f"{m.version} ({m.name})" for m in migrations if m.version > found)
    state = f"has schema version {found}" if found else "has no talkstats schema yet"
    raise SchemaOutdated(
        f"{where} {state}; this talkstats needs version {latest} (migrations {names}). "
        f"Back the database up, then run: talkstats migrate --database '{url}'",
        found=found,
        known=latest,
    )


def upgrade(
    conn: Executes,
    dialect: Dialect,
    *,
    migrate: bool,
    where: str,
    url: str,
) -> SchemaState:
    """Check the schema in the caller's locked transaction; create or migrate it.

    `where` names the database in messages, `url` is the (password-free) store URL
    that `talkstats migrate --database` takes. Raises SchemaTooNew for a version above
    the latest, SchemaOutdated for an older one unless `migrate`.
    """
    migrations = MIGRATIONS  # the module's, read at each call
    latest = migrations[-1].version
    found = read_version(conn, dialect)
    if not migrate:
        require_current(found, where=where, url=url, empty_ok=True)
    elif found > latest:
        require_current(found, where=where, url=url)
    if found == latest:
        return SchemaState(found, found, ())
    pending = tuple(m for m in migrations if m.version > found)
    if found == 0:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for migration in pending:
        for statement in migration.statements(dialect):
            conn.execute(statement)
    conn.execute("DELETE FROM schema_version")
    conn.execute(f"INSERT INTO schema_version (version) VALUES ({int(latest)})")
    return SchemaState(found, latest, pending)
