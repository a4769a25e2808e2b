"""CI smoke run of the benchmark suite: quick mode, end to end, so it never rots.

It runs ``python -m bench --quick`` in a subprocess with the Python load generator
(no wrk needed), records into a temporary file instead of bench/RESULTS.md, and checks
that every figure was produced. It never asserts on the values: they are wall-clock
measurements.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb", reason="the bench extra is not installed (pip install -e .[bench])")

pytestmark = pytest.mark.announce

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = [
    "ingest: in-process",
    "ingest: raw append ceiling",
    "ingest: in-process / raw append",
    "ingest: HTTP bulk NDJSON",
    "ingest: HTTP bulk JSON",
    "reads: GET /api/v2/ping",
    *[
        f"reads: {name} {what}"
        for name in (
            "account_overview",
            "agents_activity",
            "agents_overview",
            "current_queue_activity",
            "service_level",
        )
        for what in ("throughput / ping", "p99")
    ],
    "reads: server RSS",
    "peer: account_overview numbers agree with DuckDB",
    "peer: DuckDB account_overview latency",
    "peer: agents_activity numbers agree with DuckDB",
    "peer: DuckDB agents_activity latency",
    "restart-to-ready, 5,000 events today, snapshot at the log head",
    "restart-to-ready, 5,000 events, no snapshot",
    "restart-to-ready after a crash",
    "scale 1,000 calls/day",
    "scale 2,000 calls/day",
    "scale: account_overview p50 at 2,000 / at 1,000",
]


def test_quick_suite_produces_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--tool", "python", "--results", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = results.read_text()
    assert "## suite (quick):" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    for name in EXPECTED:
        assert any(row.startswith(f"| {name}") for row in rows), f"no figure {name!r}"
    for row in rows[1:]:
        assert row.split("|")[2].strip(), f"figure without a value: {row}"
    # the numbers of talkstats and of the DuckDB peer agree
    assert "numbers agree with DuckDB (1 row" in text
    assert all("| yes |" in r for r in rows if "numbers agree" in r), text
    assert "load generator: python" in text


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("TALKSTATS_SLOW"),
    reason="slow (1,000 agents created per store): TALKSTATS_SLOW=1",
)
def test_ingest_stores_runs_on_both_stores(postgres_server: str) -> None:
    """bench/ingest_stores.py end to end on a small day (never asserting on values)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TALKSTATS_BENCH_POSTGRES_URL=postgres_server)
    proc = subprocess.run(
        [sys.executable, "bench/ingest_stores.py", "--calls", "1000", "--limit", "3000",
         "--singles", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for store in ("SQLite", "PostgreSQL"):
        line = next(li for li in proc.stdout.splitlines() if li.strip().startswith(f"{store}:"))
        assert "in-process" in line and "parallel writers" in line and "0 rejected" in line


def test_bench_exports_runs(tmp_path: Path) -> None:
    """bench/bench_exports.py on a tiny day: every line printed (values not checked)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "bench/bench_exports.py", "2000", "--rounds", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for start in ("ingest:", "load before", "export_page calls", "export_page legs", "GET "):
        assert any(line.startswith(start) for line in proc.stdout.splitlines()), proc.stdout


def test_contention_smoke() -> None:
    """bench/contention.py on SQLite, two batches a client: every row printed, no 503."""
    result = subprocess.run(
        [sys.executable, "bench/contention.py", "--stores", "sqlite", "--batches", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| sqlite |")]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "3"]
    assert all(row.split("|")[-2].strip() == "0" for row in rows)  # nothing rejected


def _script(*argv: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_scaleout_runs_on_sqlite() -> None:
    """bench/scaleout.py --quick on SQLite: every row and figure printed (values not checked)."""
    out = _script("bench/scaleout.py", "--quick", "--stores", "sqlite", "--no-record")
    rows = [line for line in out.splitlines() if line.startswith("| SQLite |")]
    # each row twice: as it is measured, and in the table at the end
    assert [r.split("|")[2:4] for r in rows[len(rows) // 2 :]] == [
        [" 1 ", " idle "], [" 1 ", " ingest "], [" 2 ", " idle "], [" 2 ", " ingest "]]  # fmt: skip
    for start in ("visibility, SQLite idle:", "visibility, SQLite ingest:",
                  "SQLite size per event", "SQLite, ingest: 2 workers x"):  # fmt: skip
        assert any(line.startswith(start) for line in out.splitlines()), (start, out)
    assert "rejected" not in out  # every event of the simulated day was accepted


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("TALKSTATS_SLOW"),
    reason="slow (5 accounts of 1,000 agents per store): TALKSTATS_SLOW=1",
)
def test_scaleout_and_writers_run_on_postgresql(postgres_server: str) -> None:
    """bench/scaleout.py and bench/writers.py --quick on both stores (values not checked)."""
    env = {"TALKSTATS_BENCH_POSTGRES_URL": postgres_server}
    out = _script("bench/scaleout.py", "--quick", "--stores", "postgres", "--no-record", env=env)
    assert "visibility, PostgreSQL ingest:" in out and "rejected" not in out
    out = _script("bench/writers.py", "--quick", "--no-record", env=env)
    rows = [line for line in out.splitlines() if line.startswith(("| SQLite |", "| PostgreSQL |"))]
    assert len(rows) == 16 and "rejected" not in out  # 8 measured, 8 in the table


def test_stats_cost_runs() -> None:
    """bench/stats_cost.py on a tiny day: a line per endpoint (values not checked)."""
    out = _script("bench/stats_cost.py", "--calls", "1000", "--reads", "3")
    for name in ("account_overview", "agents_activity (100 rows)", "agents_overview",
                 "current_queue_activity", "service_level"):  # fmt: skip
        assert any(line.startswith(f"{name}: ") and line.endswith(" us a read")
                   for line in out.splitlines()), (name, out)  # fmt: skip
