"""Storage: the Store port (base), its adapters and open_store(url).

The PostgreSQL adapter (store.postgres) is imported only by open_store when a URL
names PostgreSQL, so this package needs no database driver for SQLite.
"""

from talkstats.store.base import (
    Account,
    ApiToken,
    Conflict,
    DisplayLink,
    Group,
    Membership,
    NewUser,
    NotFound,
    PhoneNumber,
    RecordRow,
    StaleLog,
    Store,
    StoreError,
    StoreLost,
    StoreMissing,
    User,
)
from talkstats.store.migrations import SchemaError, SchemaOutdated, SchemaTooNew
from talkstats.store.sqlite import SQLiteStore
from talkstats.store.urls import migrate_store, open_store

__all__ = [
    "Account",
    "ApiToken",
    "Conflict",
    "DisplayLink",
    "Group",
    "Membership",
    "NewUser",
    "NotFound",
    "PhoneNumber",
    "RecordRow",
    "SQLiteStore",
    "SchemaError",
    "SchemaOutdated",
    "SchemaTooNew",
    "StaleLog",
    "Store",
    "StoreError",
    "StoreLost",
    "StoreMissing",
    "User",
    "migrate_store",
    "open_store",
]
