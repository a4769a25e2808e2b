"""Fixtures of the end-to-end tests: a database with one account, and a server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Server, talkstats

ADMIN = ("admin@acme.test", "admin-password")


def create_acme(url: str) -> None:
    """The account `acme` (America/New_York, professional) and its admin, by the CLI."""
    talkstats(
        "account",
        "create",
        "acme",
        "--timezone",
        "America/New_York",
        "--plan",
        "professional",
        "--admin-email",
        ADMIN[0],
        "--admin-password",
        ADMIN[1],
        database=url,
    )


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database with the account `acme` (America/New_York), made by the CLI.

    SQLite unless the test asks for ``postgres`` (``parametrize("database", [...],
    indirect=True)``): then a fresh PostgreSQL schema (tests/servers.py).
    """
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'talkstats.db'}"
    create_acme(url)
    return url


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[Server]:
    """A server on the database, started; killed at teardown if the test left it running."""
    running = Server(database, tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.close()
