"""Benchmark data: one simulated local day of a 1,000-agent center, cached as NDJSON.

The day is ``DAY`` in America/New_York (a past Tuesday, so the numbers are
reproducible); the service under test gets a fake clock fixed at the end of that day
(``Dataset.clock_ns``), so the whole day is "today" for it. The traffic is
``scenarios/center-200.toml`` scaled to 1,000 agents (every shift, group and line
five times wider) with the arrival rates scaled to the wanted number of calls a day.
Handle and wrap-up times are shortened so that 1,000 agents can carry 500,000 calls
(beyond that the center is overloaded and more callers abandon, which is still valid
traffic). The simulator emits only contract-valid events; every ingest in the suite
checks that nothing was rejected.

Generation runs at ~70k events/s, so each day is written once to
``bench/.cache/<name>.ndjson`` (one event per line, in time order) with a
``.meta.json`` beside it, and reused by later runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from talkstats.simulator import Scenario, Simulator, load_scenario, scenario_path

CACHE = Path(__file__).resolve().parent / ".cache"
DAY = "2026-03-10"  # a Tuesday
ZONE = "America/New_York"
SEED = 4
NS = 1_000_000_000
HOUR = 3600 * NS
AGENTS = 1_000
# calls a day of center-200 at the rates in the file (measured: 53,511 on DAY, seed 1)
BASE_CALLS_PER_DAY = 53_500
BASE_RATES = (1900, 1400, 620, 500)
GENERATOR_VERSION = 1  # bump when the overrides change, to invalidate the cache


def day_window(day: str = DAY, zone: str = ZONE) -> tuple[int, int]:
    """[local midnight, next local midnight) of ``day`` in ns."""
    tz = ZoneInfo(zone)
    d = datetime.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=tz)
    end = datetime.combine(start.date() + timedelta(days=1), start.timetz())
    return int(start.timestamp()) * NS, int(end.timestamp()) * NS


def overrides(calls_per_day: int) -> list[str]:
    """center-200 -> a 1,000-agent center taking about ``calls_per_day`` calls."""
    factor = calls_per_day / BASE_CALLS_PER_DAY
    # ~45 s of agent time per call at <= 500k calls; shorter beyond, to stay carriable
    handle = 35 if calls_per_day <= 500_000 else max(12, round(35 * 500_000 / calls_per_day))
    wrap = 4 if calls_per_day <= 500_000 else 2
    out = [
        f"agents.count={AGENTS}",
        "shifts.0.agents=300",
        "shifts.1.agents=350",
        "shifts.2.agents=310",
        "shifts.3.agents=40",
        "groups.0.member_range=[2001, 2600]",
        "groups.1.member_range=[2501, 2850]",
        "groups.2.member_range=[2751, 3000]",
        f"calls.handle_time_mean={handle}",
        f"calls.wrap_up_mean={wrap}",
    ]
    for i, rate in enumerate(BASE_RATES):
        out.append(f"phone_numbers.{i}.calls_per_hour={rate * factor:.4f}")
    return out


def scenario(calls_per_day: int) -> Scenario:
    return load_scenario(scenario_path("center-200"), overrides(calls_per_day))


@dataclass(frozen=True)
class Dataset:
    """A generated day on disk."""

    name: str
    calls_per_day: int  # the target
    calls: int  # what the simulator produced (call.started events)
    events: int
    start_ns: int
    clock_ns: int  # the fake server clock: the end of the simulated day
    path: Path

    @property
    def scenario(self) -> Scenario:
        return scenario(self.calls_per_day)

    def lines(self, limit: int | None = None) -> Iterator[bytes]:
        """The events as NDJSON lines (without the newline), in time order."""
        with self.path.open("rb") as f:
            for n, line in enumerate(f):
                if limit is not None and n >= limit:
                    return
                yield line.rstrip(b"\n")

    def batches(self, size: int, limit: int | None = None) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for line in self.lines(limit):
            batch.append(line)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def dataset(calls_per_day: int, *, log: bool = True) -> Dataset:
    """The cached day for ``calls_per_day``, generating it first if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name = f"day-{calls_per_day}-v{GENERATOR_VERSION}"
    path = CACHE / f"{name}.ndjson"
    meta_path = CACHE / f"{name}.meta.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return Dataset(name, calls_per_day, meta["calls"], meta["events"], meta["start_ns"],
                       meta["clock_ns"], path)  # fmt: skip
    start, end = day_window()
    clock = end - NS // 1000  # 23:59:59.999 local: every event is before it, in today
    sim = Simulator(scenario(calls_per_day), SEED, start, id_prefix=f"b{calls_per_day}")
    calls = events = 0
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        t = start
        while t < clock:
            t = min(t + HOUR, clock)
            chunk = sim.advance(t)
            calls += sum(1 for e in chunk if e["type"] == "call.started")
            events += len(chunk)
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
            if log and calls_per_day >= 100_000:
                print(f"  generating {name}: {events:,} events so far", flush=True)
    os.replace(tmp, path)
    seconds = time.perf_counter() - t0
    meta = {"calls": calls, "events": events, "start_ns": start, "clock_ns": clock,
            "seconds": round(seconds, 1), "overrides": overrides(calls_per_day)}  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=1))
    if log:
        print(f"  generated {name}: {calls:,} calls, {events:,} events in {seconds:.1f} s")
    return Dataset(name, calls_per_day, calls, events, start, clock, path)
