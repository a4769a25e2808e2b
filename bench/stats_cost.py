"""What one read of each stats endpoint costs the service, in-process (no HTTP).

    .venv/bin/python bench/stats_cost.py                # the 100,000-call day
    .venv/bin/python bench/stats_cost.py --calls 500000 --reads 200

The day of bench/data.py (1,000 agents) is ingested into a fresh SQLite file, then
each endpoint's function (a page of 100 rows for agents_activity) is called
``--reads`` times on the loaded projection at the day's clock, and the mean time of
one call is printed: the CPU a read costs before any HTTP work. The reads repeat
with no event in between, as a dashboard's polls between two events do.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data
from bench.harness import SUBDOMAIN
from bench.scaleout import prepare, sqlite_database
from talkstats.config import Settings
from talkstats.domain import stats
from talkstats.service import Talkstats
from talkstats.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls in the day")
    parser.add_argument("--reads", type=int, default=500, help="calls of each endpoint")
    args = parser.parse_args()
    ds = data.dataset(args.calls)
    with sqlite_database() as url:
        prepare(url, ds, ds.events)
        settings = Settings(database_url=url, log_level="warning")
        service = Talkstats(open_store(url), settings, clock=lambda: ds.clock_ns,
                            monotonic=time.monotonic)  # fmt: skip
        try:
            account = service.account(SUBDOMAIN)
            assert account is not None
            p = service.projection(account)
            now = p.effective_now(ds.clock_ns)
            page = p.directory.agent_ids()[:100]
            reads: dict[str, Callable[[], Any]] = {
                "account_overview": lambda: stats.account_overview(p, now, plan=account.plan),
                "agents_activity (100 rows)": lambda: stats.agents_activity(
                    p, now, plan=account.plan, agent_ids=page
                ),
                "agents_overview": lambda: stats.agents_overview(p, now, plan=account.plan),
                "current_queue_activity": lambda: stats.current_queue_activity(p, now),
                "service_level": lambda: stats.service_level(p, now),
            }
            print(f"{ds.calls:,}-call day, {ds.events:,} events; plan {account.plan}")
            for name, read in reads.items():
                read()  # the first read after the last event builds what later ones reuse
                t0 = time.perf_counter()
                for _ in range(args.reads):
                    read()
                mean = (time.perf_counter() - t0) / args.reads
                print(f"{name}: {mean * 1e6:,.0f} us a read")
        finally:
            service.close()


if __name__ == "__main__":
    main()
