"""Storage: the Store port (base), its SQLite adapter, and open_store(url)."""

from talkstats.store.base import (
    Account,
    ApiToken,
    Conflict,
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
from talkstats.store.sqlite import SQLiteStore
from talkstats.store.urls import open_store

__all__ = [
    "Account",
    "ApiToken",
    "Conflict",
    "Group",
    "Membership",
    "NewUser",
    "NotFound",
    "PhoneNumber",
    "RecordRow",
    "SQLiteStore",
    "StaleLog",
    "Store",
    "StoreError",
    "StoreLost",
    "StoreMissing",
    "User",
    "open_store",
]
