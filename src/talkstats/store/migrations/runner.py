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
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    found = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
    if found > latest:
        raise SchemaTooNew(
            f"{where} has schema version {found}, newer than this talkstats knows "
            f"({latest}): run a talkstats at least as new as the one that migrated it",
            found=found,
            known=latest,
        )
    if found == latest:
        return SchemaState(found, found, ())
    if found > 0 and not migrate:
        names = ", ".join(f"{m.version} ({m.name})" for m in migrations if m.version > found)
        raise SchemaOutdated(
            f"{where} has schema version {found}; this talkstats needs version {latest} "
            f"(migrations {names}). Back the database up, then run: "
            f"talkstats migrate --database '{url}'",
            found=found,
            known=latest,
        )
    pending = tuple(m for m in migrations if m.version > found)
    for migration in pending:
        for statement in migration.statements(dialect):
            conn.execute(statement)
    conn.execute("DELETE FROM schema_version")
    conn.execute(f"INSERT INTO schema_version (version) VALUES ({int(latest)})")
    return SchemaState(found, latest, pending)
