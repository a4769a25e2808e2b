"""What the timeline costs ingestion: a day folded with and without its hooks.

    python -m bench.timeline_fold [--repeat 6]

Simulates one day of ``center-200`` (2026-03-10, seed 1), then folds its events into a
fresh projection ``--repeat`` times with the timeline and as many times with the
timeline's four hooks replaced by no-ops, and prints the best time of each (the
difference is what the timeline adds to validation and folding; decoding and the
fsynced append, most of an ingestion, are not in either figure).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

from talkstats.domain import timeline
from talkstats.domain.decoding import parse_batch
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import Event
from talkstats.domain.projection import AccountProjection
from talkstats.simulator import Simulator, load_scenario, reference_data, scenario_path

HOOKS = ("call_started", "call_answered", "call_abandoned", "waiting_changed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6)
    args = parser.parse_args()
    scenario = load_scenario(scenario_path("center-200"))
    ref = reference_data(scenario)

    def projection() -> AccountProjection:
        directory = Directory()
        for agent in ref.agents:
            directory.add_agent(AgentInfo(agent.id, agent.name))
        for group in ref.groups:
            directory.add_group(group.id)
            for member in group.members:
                directory.add_member(group.id, member)
        for number in ref.phone_numbers:
            directory.add_phone_number(number.id)
        return AccountProjection(scenario.timezone, directory)

    start, end = projection().calendar.bounds(date(2026, 3, 10))
    events = [
        e for e in parse_batch(Simulator(scenario, 1, start).advance(end)) if isinstance(e, Event)
    ]

    def fold() -> float:
        p = projection()
        t0 = time.perf_counter()
        for event in events:
            p.apply(event, end)
        return time.perf_counter() - t0

    with_timeline = min(fold() for _ in range(args.repeat))
    for name in HOOKS:
        setattr(timeline.Timeline, name, lambda *a, **k: None)
    without = min(fold() for _ in range(args.repeat))
    print(f"{len(events):,} events; load average {os.getloadavg()[0]:.2f}")
    print(f"fold with the timeline: {with_timeline:.2f} s, without: {without:.2f} s, "
          f"+{(with_timeline / without - 1) * 100:.1f} % "
          f"({(with_timeline - without) / len(events) * 1e6:.2f} µs an event)")  # fmt: skip


if __name__ == "__main__":
    main()
