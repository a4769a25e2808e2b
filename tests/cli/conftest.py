"""CLI tests: real commands through click's CliRunner against a SQLite file in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from talkstats.cli import cli
from talkstats.config import load_settings
from talkstats.domain.timeutil import parse_instant
from talkstats.service import Talkstats
from talkstats.store import open_store

Run = Callable[..., Result]
READ_NOW = parse_instant("2026-06-01T00:00:00Z")  # a fixed "now" for reading back


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TALKSTATS_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("TALKSTATS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'talkstats.db'}"


@pytest.fixture
def run(database: str) -> Run:
    """Invoke `talkstats ARGS... --database <tmp db>` (pass database=None to leave it out)."""

    def invoke(
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        database_flag: bool = True,
    ) -> Result:
        argv = [*args, "--database", database] if database_flag else list(args)
        return CliRunner().invoke(cli, argv, input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def acme(run: Run) -> str:
    """An account `acme` (Europe/Paris, professional), agent 7 Ann, phone number 3, group 5."""
    steps = [
        (
            "account",
            "create",
            "acme",
            "--timezone",
            "Europe/Paris",
            "--plan",
            "professional",
            "--admin-email",
            "admin@acme.test",
            "--admin-password",
            "s3cret",
        ),
        (
            "user",
            "create",
            "--account",
            "acme",
            "--name",
            "Ann",
            "--email",
            "ann@acme.test",
            "--role",
            "agent",
            "--id",
            "7",
        ),
        (
            "phone-number",
            "create",
            "--account",
            "acme",
            "--id",
            "3",
            "--number",
            "+33100000003",
            "--name",
            "Support",
        ),
        ("group", "create", "--account", "acme", "--id", "5", "--name", "Support"),
        ("group", "add-member", "--account", "acme", "--group", "5", "--user", "7"),
    ]
    for step in steps:
        result = run(*step)
        assert result.exit_code == 0, result.output
    return "acme"


@pytest.fixture
def open_service(database: str) -> Callable[[], Iterator[Talkstats]]:
    """Open the test database as a service, to check what the commands stored."""
    from contextlib import contextmanager

    @contextmanager
    def opened() -> Iterator[Talkstats]:
        service = Talkstats(
            open_store(database),
            load_settings({"database_url": database}),
            clock=lambda: READ_NOW,
            monotonic=lambda: 0.0,
        )
        try:
            yield service
        finally:
            service.close()

    return opened
