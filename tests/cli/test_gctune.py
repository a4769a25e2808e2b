"""Every command's service comes from the composition root, which tunes the collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkstats import gctune
from talkstats.cli.root import build_settings, compose


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("default_thresholds")
def test_compose_raises_the_young_generation_threshold(tmp_path: Path) -> None:
    service = compose(build_settings(database_url=f"sqlite:///{tmp_path / 'ts.db'}"), create=True)
    try:
        assert gc.get_threshold() == (gctune.YOUNG_THRESHOLD, *gctune.OLDER_THRESHOLDS)
        assert gc.isenabled()  # cycles are still collected
    finally:
        service.close()


def test_free_heap_pages_go_back_to_the_system_where_glibc_can() -> None:
    import platform

    released = gctune.release_free_memory()
    assert released == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
