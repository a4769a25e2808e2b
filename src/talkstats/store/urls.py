"""open_store: a Store from a URL, as given in settings or on the command line."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from talkstats.store.base import Store, StoreError
from talkstats.store.migrations import SchemaState
from talkstats.store.migrations.runner import require_current

SUPPORTED = (
    "sqlite:///relative.db, sqlite:////absolute/path.db, sqlite://:memory:, "
    "postgresql://user:password@host:5432/database"
)
POSTGRES_EXTRA = "pip install 'talkstats[postgres]'"


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def sqlite_path(url: str) -> str:
    """The file path (or ":memory:") named by a `sqlite://` URL.

    `sqlite:///./talkstats.db` and `sqlite:///talkstats.db` are relative to the working
    directory, `sqlite:////var/lib/talkstats.db` is absolute, and `sqlite://:memory:`,
    `sqlite:///:memory:` and `sqlite://` are an in-memory database.
    """
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite:// URL: {url!r}")
    rest = url[len("sqlite://") :]
    if rest in ("", ":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or rest == "/":
        raise ValueError(f"bad SQLite URL {url!r}; expected one of {SUPPORTED}")
    if "?" in rest or "#" in rest:
        raise ValueError(f"SQLite URL {url!r} takes no query or fragment")
    return rest[1:]


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme; expected one of {SUPPORTED}")
    scheme = scheme.lower()
    if scheme not in ("sqlite", "postgres", "postgresql"):
        raise ValueError(
            f"store URL {url!r}: unknown scheme {scheme!r}; expected one of {SUPPORTED}"
        )
    return scheme


def _open(url: str, *, create: bool, migrate: bool) -> tuple[Store, SchemaState | None]:
    if _scheme(url) == "sqlite":
        from talkstats.store.sqlite import SQLiteStore

        lite = SQLiteStore(sqlite_path(url), create=create, migrate=migrate)
        return lite, lite.schema
    try:
        from talkstats.store.postgres import PostgresStore
    except ImportError as exc:
        raise StoreError(
            f"PostgreSQL support is not installed ({exc.name} is missing): {POSTGRES_EXTRA}"
        ) from None
    pg = PostgresStore(url, create=create, migrate=migrate)
    return pg, pg.schema


def open_store(url: str, *, create: bool = False, migrate: bool = False) -> Store:
    """Open the store a URL names; ValueError for a malformed URL or unknown scheme.

    A database that does not exist is created only with ``create`` (the commands that
    create accounts); otherwise StoreMissing. A database with no talkstats schema gets
    it. One at an older schema version raises SchemaOutdated (naming the `talkstats
    migrate` command to run) unless `migrate`; one at a newer version always raises
    SchemaTooNew.
    """
    return _open(url, create=create, migrate=migrate)[0]


def migrate_store(url: str) -> SchemaState:
    """Apply the migrations the database lacks (`talkstats migrate`); what was done."""
    store, state = _open(url, create=False, migrate=True)
    store.close()
    assert state is not None
    return state


def schema_status(url: str) -> int:
    """The database's schema version, writing nothing (`talkstats migrate --check`).

    StoreMissing if there is no database; SchemaOutdated if it lacks migrations or has
    no talkstats schema yet; SchemaTooNew if a newer talkstats migrated it.
    """
    where = redact(url)
    if _scheme(url) == "sqlite":
        from talkstats.store.sqlite import read_schema_version

        path = sqlite_path(url)
        found = read_schema_version(path)
        require_current(found, where=repr(path), url=url)
        return found
    try:
        from talkstats.store.pgserver import read_schema_version as read_pg_version
    except ImportError as exc:
        raise StoreError(
            f"PostgreSQL support is not installed ({exc.name} is missing): {POSTGRES_EXTRA}"
        ) from None
    found = read_pg_version(url)
    require_current(found, where=where, url=where)
    return found
