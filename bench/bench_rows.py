"""Cost of one agents_activity page (100 rows) in-process: building the rows, and encoding.

    .venv/bin/python bench/bench_rows.py

Prints microseconds per page; no server, no load generator. It isolates the part of an
agents_activity request that the domain and JSON encoding cost, beside the framework.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkstats.domain import stats  # noqa: E402
from tests.domain.story import Story  # noqa: E402


def main() -> None:
    story = Story(agents=list(range(1, 101)))
    for agent in range(1, 101):
        story.at("08:00:00").agent(agent, "online", via="client")
    for n in range(1, 51):
        story.at("09:00:00").inbound(f"c{n}")
        story.at("09:00:05").call(f"c{n}", "queued")
        story.at("09:00:09").call(f"c{n}", "answered", agent_id=n)
    story.now("10:00:00")
    p, now, ids = story.projection, story.current, list(range(1, 101))

    def rows() -> list[dict[str, object]]:
        return stats.agents_activity(p, now, plan="professional", agent_ids=ids)

    n = 2000
    build = timeit.timeit(rows, number=n) / n * 1e6
    encoded = timeit.timeit(lambda: orjson.dumps({"agents_activity": rows()}), number=n) / n * 1e6
    size = len(orjson.dumps({"agents_activity": rows()}))
    print(
        f"agents_activity page of 100 rows: build {build:.0f} us, build+encode {encoded:.0f} us,"
        f" {size:,} bytes of JSON"
    )


if __name__ == "__main__":
    main()
