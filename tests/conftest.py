"""Shared by every test: slow tests say what they do as they start, and the slowest
only run when asked for.

A test marked ``announce`` (or ``e2e``: it starts real processes) starts a line on the
terminal before it runs: its id and the first line of its docstring (else of its
module's), then its outcome; so a run that pauses on it shows what it is doing.

``@pytest.mark.slow`` tests (long Hypothesis runs, long schemathesis runs) only run
when asked for, with ``-m slow`` (or any ``-m`` expression naming slow) or
``TALKSTATS_SLOW=1``.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import pytest


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
