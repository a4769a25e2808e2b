"""Shared by every test: slow tests say what they do as they start, the slowest
only run when asked for; servers.

A test marked ``announce`` (or ``e2e``: it starts real processes) starts a line on the
terminal before it runs: its id and the first line of its docstring (else of its
module's), then its outcome; so a run that pauses on it shows what it is doing.

``@pytest.mark.slow`` tests (long Hypothesis runs, long schemathesis runs) only run
when asked for, with ``-m slow`` (or any ``-m`` expression naming slow) or
``TALKSTATS_SLOW=1``.

The fixtures ``postgres_server``, ``postgres_database``, ``postgres_url`` and
``redis_url`` give the suites that need a PostgreSQL or Redis server one, or skip them
(see tests/servers.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from tests import servers


def _what(item: pytest.Item) -> str:
    for owner in (getattr(item, "obj", None), getattr(item, "module", None)):
        doc = (getattr(owner, "__doc__", None) or "").strip()
        if doc:
            return doc.splitlines()[0]
    return "a slow test"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("announce") is None and item.get_closest_marker("e2e") is None:
        return
    plugins = item.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = plugins.get_plugin("capturemanager")
    # output is captured during setup: step out of it, as pytest's live logging does
    suspended = capture.global_and_fixture_disabled() if capture is not None else nullcontext()
    with suspended:
        reporter.ensure_newline()
        reporter.write(f"{item.nodeid}: {_what(item)} ")  # its outcome follows on the line


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("TALKSTATS_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or TALKSTATS_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A reachable PostgreSQL server URL (the suite skips, or fails on CI, without one)."""
    return servers.postgres_server()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A database of this test session's own, dropped at its end."""
    with servers.fresh_database(postgres_server) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """A store URL naming a fresh, empty schema of its own for this test, dropped after."""
    with servers.fresh_schema(postgres_database) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis URL (the suite skips, or fails on CI, without one)."""
    return servers.redis_server()
