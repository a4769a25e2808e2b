"""Several processes writing to ONE account: what their write lock costs and saves.

    .venv/bin/python bench/contention.py                      # this tree, 1 and 3 processes
    .venv/bin/python bench/contention.py --src /other/tree/src  # another tree (same venv)

On a fresh PostgreSQL database (TALKSTATS_BENCH_POSTGRES_URL or the local server) and a
fresh SQLite file: one account with 300 agents, then for 1 and 3 `talkstats serve`
processes, 3 clients at once, each posting to its own process (round robin) batches of
100 `agent.state_changed` events of its own agents, whose times only go forward: every
event is valid, so every batch must be accepted whole. A 503 is retried after 0.1 s and
counted. Printed per store and process count: events/s of all clients together, batch
p50 / p99 and the 503s. With one process the account's lock in the process orders the
writers; with three, the store's write lock (or, in a tree without it, the append's
sequence check and a rebuild of the projection for the loser) does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_stores import postgres_database

ADMIN = ("admin@acme.test", "bench-password")
AGENTS = 300
CLIENTS = 3
BATCH = 100
SETUP = """
import sys
from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.store import open_store
store = open_store(sys.argv[1], create=True)
service = Talkstats(store, Settings(database_url=sys.argv[1]), clock=lambda: 0, monotonic=lambda: 0.0)
account = service.create_account("acme", "UTC", "enterprise",
    admin_email=sys.argv[2], admin_password=sys.argv[3])
for n in range(int(sys.argv[4])):
    service.create_user(account, id=100 + n, name=f"Agent {n}", email=f"a{n}@acme.test", role="agent")
service.close()
"""


def environment(src: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = src
    env["TALKSTATS_RATE_LIMIT_TALK"] = "0"
    env["TALKSTATS_RATE_LIMIT_QUEUE_ACTIVITY"] = "0"
    env["TALKSTATS_LOG_LEVEL"] = "warning"
    return env


@contextmanager
def servers(src: str, database: str, count: int) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[str]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            proc = subprocess.Popen(
                [sys.executable, "-m", "talkstats", "serve", "--port", "0", "--database", database],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=environment(src),
            )
            procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            urls.append(line.rsplit(" ", 1)[-1].strip())
        for url in urls:
            for _ in range(600):
                if requests.get(f"{url}/readyz", timeout=10).status_code == 200:
                    break
                time.sleep(0.05)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


def batches(client: int, count: int, start_s: int) -> list[list[dict[str, Any]]]:
    """Client ``client``'s batches: its agents (every CLIENTS-th), times going forward."""
    agents = [100 + n for n in range(client, AGENTS, CLIENTS)]
    out, t = [], start_s
    for b in range(count):
        batch = []
        for i in range(BATCH):
            agent = agents[(b * BATCH + i) % len(agents)]
            t += 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            state = "online" if (b * BATCH + i) // len(agents) % 2 == 0 else "away"
            batch.append(
                {"id": f"c{client}-{b}-{i}", "type": "agent.state_changed", "time": stamp,
                 "agent_id": agent, "state": state}
            )  # fmt: skip
        out.append(batch)
    return out


def run(src: str, database: str, processes: int, per_client: int) -> dict[str, float]:
    start_s = int(time.time()) - 10 * 86_400
    work = [batches(c, per_client, start_s) for c in range(CLIENTS)]
    latencies: list[float] = []
    unavailable = [0]
    rejected = [0]
    lock = threading.Lock()
    with servers(src, database, processes) as urls:

        def client(n: int) -> None:
            s = requests.Session()
            s.auth = ADMIN
            url = f"{urls[n % len(urls)]}/api/v2/channels/voice/events"
            for batch in work[n]:
                while True:
                    began = time.perf_counter()
                    r = s.post(url, json={"events": batch}, timeout=120)
                    took = time.perf_counter() - began
                    if r.status_code == 503:
                        with lock:
                            unavailable[0] += 1
                        time.sleep(0.1)
                        continue
                    r.raise_for_status()
                    with lock:
                        latencies.append(took)
                        rejected[0] += r.json()["rejected"]
                    break

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    latencies.sort()
    return {
        "events_per_s": CLIENTS * per_client * BATCH / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "unavailable": unavailable[0],
        "rejected": rejected[0],
    }


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    parser.add_argument("--batches", type=int, default=40, help="batches per client")
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"tree {args.src}; {CLIENTS} clients x {args.batches} batches of {BATCH}, one account")
    print("| store | processes | events/s | batch p50 ms | batch p99 ms | 503s | rejected |")
    print("|---|---|---|---|---|---|---|")
    for kind in args.stores.split(","):
        for processes in (1, 3):
            with database(kind) as url:
                subprocess.run(
                    [sys.executable, "-c", SETUP, url, *ADMIN, str(AGENTS)],
                    check=True,
                    env=environment(args.src),
                )
                f = run(args.src, url, processes, args.batches)
            print(
                f"| {kind} | {processes} | {f['events_per_s']:,.0f} | {f['p50_ms']:.1f} | "
                f"{f['p99_ms']:.1f} | {f['unavailable']:,.0f} | {f['rejected']:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
