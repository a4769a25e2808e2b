"""The PostgreSQL and Redis servers some suites need, found through the environment.

`TALKSTATS_TEST_POSTGRES_URL` (a server URL whose user may create databases) and
`TALKSTATS_TEST_REDIS_URL` name them. When a variable is set, its server must answer:
CI (.ci/run) sets both, so there these suites fail rather than skip. When it is not
set, the machine's default (PostgreSQL on 127.0.0.1:5432 as user postgres, Redis on
127.0.0.1:6379) is tried, and the suites skip with a message naming the variable if
nothing answers.

Other people and processes use the same servers, so nothing here touches what it did
not make: a test session creates one uniquely named database and drops it at the end,
and each PostgreSQL test gets a uniquely named schema in it (its URL sets
`search_path` to that schema alone), dropped after the test. A schema costs
milliseconds where a database costs a second or more on a busy disk. Tests that need
a whole database (server-level settings) use `fresh_database`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import pytest

POSTGRES_VAR = "TALKSTATS_TEST_POSTGRES_URL"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_VAR = "TALKSTATS_TEST_REDIS_URL"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
DATABASE_PREFIX = "talkstats_test_"
# Read once, at import: some suites clear TALKSTATS_* variables for each test.
_CONFIGURED = {POSTGRES_VAR: os.environ.get(POSTGRES_VAR), REDIS_VAR: os.environ.get(REDIS_VAR)}


def postgres_server() -> str:
    """The server URL to create test databases on; skips (or fails, on CI) otherwise."""
    configured = _CONFIGURED[POSTGRES_VAR]
    url = configured or POSTGRES_DEFAULT
    try:
        import psycopg
    except ImportError:
        _unavailable(
            POSTGRES_VAR, configured, f"psycopg is not installed (pip install -e '.[test]'); {url}"
        )
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True):
            pass
    except psycopg.Error as exc:
        _unavailable(
            POSTGRES_VAR,
            configured,
            f"no PostgreSQL at {_redact(url)}: {' '.join(str(exc).split())}",
        )
    return url


def redis_server() -> str:
    """The Redis URL for the Redis suites; skips (or fails, on CI) when none answers."""
    configured = _CONFIGURED[REDIS_VAR]
    url = configured or REDIS_DEFAULT
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 3) as s:
            s.sendall(b"PING\r\n")
            answer = s.recv(64)
    except OSError as exc:
        _unavailable(REDIS_VAR, configured, f"no Redis at {url}: {exc}")
    if not answer.startswith((b"+PONG", b"-NOAUTH")):
        _unavailable(REDIS_VAR, configured, f"{url} did not answer PING like Redis: {answer!r}")
    return url


def _unavailable(variable: str, configured: str | None, why: str) -> NoReturn:
    if configured:
        pytest.fail(f"{variable} is set but {why}")
    pytest.skip(f"{why}; set {variable} to a server URL to run this suite")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname}:{parts.port}"))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params, quote_via=quote)]))
    return urlunsplit(parts._replace(query=query))


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """A new, empty, uniquely named schema; the URL's connections see only it."""
    import psycopg
    from psycopg import sql

    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:20]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SET synchronous_commit = off")  # scaffolding: no fsync to wait for
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield _with_query(database_url, options=f"-csearch_path={name}")
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SET synchronous_commit = off")
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty, uniquely named database on the server; dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:20]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
