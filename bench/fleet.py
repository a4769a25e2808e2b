"""N server processes on one listening socket, on a fixed clock: `serve --workers N` for bench/.

    python -m bench.fleet --database URL --clock-ns N --workers K [--port P]

What `talkstats serve --workers K` does, with the benchmark's fixed clock (the end of the
simulated day) and the rate limits lifted: the parent binds one socket and spawns K
fresh interpreters (``spawn``), each opening its own store, loading its own projections,
following the log and serving the inherited socket, so the kernel hands each new
connection to one of them. Each worker also listens on a private port of its own, so
that a benchmark can talk to one chosen process (readiness of each, and the visibility
of an event written through one process in another's reads).

The parent prints one JSON line per worker (``{"worker", "pid", "port"}``) and then
``{"listening": PORT}``, and forwards SIGTERM / SIGINT to the workers, which stop as a
server does (requests finish, projections snapshotted, store closed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

SETTLE_SECONDS = 60.0


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def worker(url: str, clock_ns: int, shared: socket.socket, index: int, queue: Any) -> None:
    """One server process: its own store and projections, the shared and a private socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import uvicorn

    from talkstats import gctune
    from talkstats.cli.serve import SWITCH_INTERVAL_SECONDS, closing_server
    from talkstats.config import Settings
    from talkstats.service import Talkstats
    from talkstats.store import open_store
    from talkstats.web.app import create_app

    gctune.tune()
    settings = Settings(
        database_url=url,
        rate_limit_talk=0,
        rate_limit_queue_activity=0,
        rate_limit_incremental_exports=0,
        log_level="warning",
    )
    service = Talkstats(open_store(url), settings, clock=lambda: clock_ns, monotonic=time.monotonic)
    private = _bind(0)
    queue.put((index, os.getpid(), private.getsockname()[1]))
    try:
        app = create_app(service)
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        server = closing_server(config, app)

        def stop(signum: int, frame: object) -> None:
            server.should_exit = True

        signal.signal(signal.SIGTERM, stop)
        server.run(sockets=[shared, private])
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--clock-ns", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    shared = _bind(args.port)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=worker, args=(args.database, args.clock_ns, shared, i, queue))
        for i in range(1, args.workers + 1)
    ]
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    for process in processes:
        process.start()
    for _ in processes:
        index, pid, port = queue.get(timeout=SETTLE_SECONDS)
        print(json.dumps({"worker": index, "pid": pid, "port": port}), flush=True)
    print(json.dumps({"listening": shared.getsockname()[1]}), flush=True)
    while not stopping and all(p.is_alive() for p in processes):
        time.sleep(0.1)
    for process in processes:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join()
    shared.close()
    sys.exit(1 if any(p.exitcode for p in processes) else 0)


if __name__ == "__main__":
    main()
