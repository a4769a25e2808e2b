"""What a migration is, and the errors of a database whose schema this code cannot use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from talkstats.store.base import StoreError

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: the same change written for each store's SQL dialect."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The schema version a database had when opened, the one it has now, what ran."""

    found: int
    version: int
    applied: tuple[Migration, ...]


class SchemaError(StoreError):
    """The database's schema is not the one this code knows; nothing was changed."""

    def __init__(self, message: str, *, found: int, known: int) -> None:
        super().__init__(message)
        self.found = found
        self.known = known


class SchemaTooNew(SchemaError):
    """A newer talkstats migrated the database: this code must not run on it."""


class SchemaOutdated(SchemaError):
    """The database lacks migrations: `talkstats migrate` applies them."""
