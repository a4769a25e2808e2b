"""Versioned schema migrations, shared by the SQLite and PostgreSQL stores.

- `versions.py`: every migration, in order, each written for both stores. Adding a
  table or a column is one new entry at the end of `MIGRATIONS` there.
- `runner.py`: `upgrade`, which a store calls on open inside its migration lock.
- `schema.py`: `Migration` and the errors of a schema this code cannot use.
"""

from talkstats.store.migrations.runner import LATEST, upgrade
from talkstats.store.migrations.schema import (
    Dialect,
    Migration,
    SchemaError,
    SchemaOutdated,
    SchemaState,
    SchemaTooNew,
)
from talkstats.store.migrations.versions import MIGRATIONS

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "Dialect",
    "Migration",
    "SchemaError",
    "SchemaOutdated",
    "SchemaState",
    "SchemaTooNew",
    "upgrade",
]
