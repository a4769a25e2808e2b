"""open_store: a Store from a URL, as given in settings or on the command line."""

from __future__ import annotations

from talkstats.store.base import Store

SUPPORTED = "sqlite:///relative.db, sqlite:////absolute/path.db, sqlite://:memory:"


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


def open_store(url: str, *, create: bool = False) -> Store:
    """Open the store a URL names; ValueError for a malformed URL or unknown scheme.

    A database that does not exist is created only with ``create`` (the commands that
    create accounts); otherwise StoreMissing.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme; expected one of {SUPPORTED}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        from talkstats.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), create=create)
    if scheme in ("postgres", "postgresql"):
        raise ValueError(f"store URL {url!r}: PostgreSQL is not supported yet; use {SUPPORTED}")
    raise ValueError(f"store URL {url!r}: unknown scheme {scheme!r}; expected one of {SUPPORTED}")
