"""Smoke run of bench/memory_days.py (two tiny days), so the script never rots.

It checks that each figure is printed, never their values (wall-clock measurements).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_memory_days_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory_days.py"), "--days", "3", "--calls", "300"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = run.stdout
    assert "day  1 2026-03-02:" in out and "day  3 2026-03-04:" in out
    assert "sealed 2, mounted" in out
    assert "read date=2026-03-02 (two numbers): first" in out
    assert ", 0 rejected," in out
    assert "sealing: 2 times" in out
