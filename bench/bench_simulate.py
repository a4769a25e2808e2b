"""Benchmark: `talkstats simulate` of a full day of center-200 into a fresh SQLite store.

Runs the real command in a subprocess (start-up, reference data, generation, batched
ingestion with an fsync per batch, final snapshot), times it from the outside, prints
calls, events, seconds and events/s, and appends a line to bench/RESULTS.md.

    .venv/bin/python bench/bench_simulate.py [--batch-size 1000] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
DAY = "2026-03-10"  # a Tuesday: a full weekday of center-200
HEADER = """# Benchmark results

Figures recorded by the scripts in `bench/`, one line per run: date, machine, commit,
the command, and the figure. Machines differ; compare lines from the same machine.
"""
SECTION = "## simulate: a full day of center-200 into a fresh SQLite store"


def machine() -> str:
    """Architecture, CPU model and core count, as bench/record.py reads them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
    from bench.record import machine as describe

    m = describe()
    return f"{platform.machine()}, {m['cpu']}, {m['nproc']} CPUs"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        return out + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record(line: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
        text += "| date | machine | commit | command | calls | events | seconds | events/s |\n"
        text += "|---|---|---|---|---|---|---|---|\n"
    lines = text.rstrip("\n").split("\n")
    # insert after the last row of this section's table
    start = lines.index(SECTION)
    end = start + 1
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    while end > start and not lines[end - 1].startswith("|"):
        end -= 1
    lines.insert(end, line)
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    talkstats = Path(sys.executable).with_name("talkstats")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            str(talkstats), "simulate", "--scenario", "center-200", "--day", DAY, "--seed", "1",
            "--database", f"sqlite:///{tmp}/bench.db", "--account", "bench",
            "--create-reference-data", "--batch-size", str(args.batch_size),
        ]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-2000:])
    if proc.returncode != 0:
        sys.exit(f"simulate failed with exit code {proc.returncode}")
    m = re.search(r"(\d+) calls, (\d+) events in", proc.stdout)
    if m is None:
        sys.exit("could not read the calls/events line of the output")
    calls, events = int(m.group(1)), int(m.group(2))
    if calls < 50_000:
        sys.exit(f"only {calls} calls: the benchmark needs a day of at least 50,000")
    rate = events / seconds
    print(f"BENCH simulate center-200 full day: {calls} calls, {events} events, "
          f"{seconds:.1f} s wall (process start to exit), {rate:,.0f} events/s")  # fmt: skip
    shown = " ".join(cmd[1:]).replace(tmp, "$TMP")
    line = (
        f"| {datetime.date.today().isoformat()} | {machine()} | {commit()} | `talkstats {shown}` "
        f"| {calls} | {events} | {seconds:.1f} | {rate:,.0f} |"
    )
    if not args.no_record:
        record(line)
        print(f"recorded in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
