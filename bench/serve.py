"""The server under test, in its own process: the real app on a fixed clock.

    python -m bench.serve --db PATH --clock-ns N --port P

Builds ``Talkstats`` over the prepared database with the clock fixed at the end of the
simulated day and the rate limits lifted, then runs uvicorn (log level warning, no
access log). Projections load in the background at start, as in production (503 until loaded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from talkstats.api.app import create_app
from talkstats.cli.serve import SWITCH_INTERVAL_SECONDS

from .harness import open_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--clock-ns", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # as `talkstats serve` does
    service = open_service(args.db, args.clock_ns)
    try:
        uvicorn.run(
            create_app(service),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
    finally:
        service.store.close()  # no snapshot on the way out: the benchmark owns the file


if __name__ == "__main__":
    main()
