"""Figures, the machine they were measured on, and appending them to bench/RESULTS.md."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = """# Benchmark results

Figures recorded by the scripts in `bench/`: date, machine, commit, the command, and
the figures. Machines differ; compare runs from the same machine.
"""


@dataclass
class Figure:
    name: str
    value: float | str
    unit: str = ""
    target: str = ""  # e.g. ">= 150000"; empty when there is no target
    ok: bool | None = None  # None: no target
    note: str = ""

    def shown(self) -> str:
        v = self.value
        if isinstance(v, float):
            v = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}" if abs(v) < 10 else f"{v:,.1f}"
        elif isinstance(v, int):
            v = f"{v:,}"
        return f"{v} {self.unit}".strip()

    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "MISS")


def check(name: str, value: float, unit: str, op: str, bound: float, note: str = "") -> Figure:
    ok = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
    shown = f"{bound:,}" if isinstance(bound, int) else f"{bound:g}"
    return Figure(name, value, unit, f"{op} {shown}", ok, note)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    u = platform.uname()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "uname": f"{u.system} {u.release} {u.machine}",
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "commit": commit,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def heading(title: str, info: dict[str, str], command: str) -> list[str]:
    """The first lines of a RESULTS.md entry: its title and date, machine, commit, command."""
    return [
        f"## {title}: {info['date']}",
        "",
        f"- machine: `{info['uname']}`, {info['cpu']}, nproc {info['nproc']}, "
        f"Python {info['python']}, load average at start {info['load']}",
        f"- commit: {info['commit']}",
        f"- command: `{command.strip()}`",
    ]


def section(
    title: str,
    figures: list[Figure],
    info: dict[str, str],
    notes: list[str],
    command: str | None = None,
) -> str:
    lines = [
        *heading(title, info, command or " ".join(["python -m bench", *sys.argv[1:]])),
        *[f"- {n}" for n in notes],
        "",
        "| figure | value | target | result | note |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(f"| {f.name} | {f.shown()} | {f.target} | {f.verdict()} | {f.note} |")
    return "\n".join(lines) + "\n"


def append(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else HEADER
    path.write_text(old.rstrip("\n") + "\n\n" + text)
