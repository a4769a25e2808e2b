"""Domain tests: ``@pytest.mark.slow`` tests (long Hypothesis runs) only run when asked
for, with ``-m slow`` (or any ``-m`` expression naming slow) or ``TALKSTATS_SLOW=1``."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("TALKSTATS_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or TALKSTATS_SLOW=1")
    for item in items:
        if "slow" in item.keywords and "tests/domain" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)
