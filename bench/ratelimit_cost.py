"""What a rate-limit decision costs: in memory against one round trip to Redis.

    python bench/ratelimit_cost.py [--redis redis://127.0.0.1:6379/0] [--hits N] [--threads N]
                                   [--http-seconds S] [--connections N]

Each backend decides ``--hits`` requests of one account in two buckets (talk and
current_queue_activity, as a queue-activity read counts), with limits high enough that
none is refused, first from one thread, then from ``--threads`` threads at once (each
with its own Redis connection, as separate processes would have). Printed: the median
and 99th percentile of one decision in microseconds (wall clock: for Redis it is a
network round trip, time the CPU spends waiting) and decisions per second. The keys
go under a random prefix and are deleted at the end.

Then the same through HTTP: a real `talkstats serve` on a fresh SQLite account (limits
raised out of reach, so every request is counted but none refused), GET /api/v2/ping
from ``--connections`` concurrent keep-alive connections for ``--http-seconds``,
without and with ``--redis-url``: requests per second and p50/p99 latency. It prints
figures and records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # importable as a script

from talkstats.access.ratelimit import (  # noqa: E402
    CURRENT_QUEUE_ACTIVITY,
    TALK,
    MemoryBackend,
    RateLimitBackend,
    RateLimiter,
)

LIMITS = {TALK: 10**9, CURRENT_QUEUE_ACTIVITY: 10**9}
BUCKETS = (TALK, CURRENT_QUEUE_ACTIVITY)


def run(make: Callable[[], RateLimitBackend], hits: int, threads: int) -> tuple[list[float], float]:
    """Per-decision seconds of every hit, and the wall time of the whole run."""
    limiters = [RateLimiter(LIMITS, backend=make()) for _ in range(threads)]
    samples: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        limiter, out = limiters[i], samples[i]
        barrier.wait()
        for _ in range(hits // threads):
            began = time.perf_counter()
            limiter.hit(1, BUCKETS, began)
            out.append(time.perf_counter() - began)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    return [s for per in samples for s in per], time.perf_counter() - began


def report(name: str, threads: int, seconds: list[float], wall: float) -> None:
    q = statistics.quantiles(seconds, n=100)
    print(
        f"{name:<8} threads={threads}  p50 {q[49] * 1e6:7.1f} us  p99 {q[98] * 1e6:7.1f} us"
        f"  {len(seconds) / wall:9,.0f} decisions/s"
    )


def serve(
    database: str, workdir: Path, redis_url: str | None, prefix: str
) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTATS_")}
    env["TALKSTATS_RATE_LIMIT_TALK"] = str(10**9)
    env["TALKSTATS_REDIS_KEY_PREFIX"] = prefix
    args = [sys.executable, "-m", "talkstats", "serve", "--port", "0", "--database", database]
    args += ["--log-level", "warning"] + (["--redis-url", redis_url] if redis_url else [])
    out = workdir / f"serve-{uuid.uuid4().hex[:6]}.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL, env=env)
    for _ in range(400):
        for line in out.read_text().splitlines():
            if line.startswith("talkstats listening on "):
                url = line.rsplit(" ", 1)[1]
                for _ in range(400):
                    try:
                        if httpx.get(f"{url}/readyz").status_code == 200:
                            return process, url
                    except httpx.TransportError:
                        pass
                    time.sleep(0.05)
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start")


async def load(url: str, seconds: float, connections: int) -> list[float]:
    """Ping from ``connections`` kept-alive clients for ``seconds``; each latency."""
    latencies: list[float] = []
    auth = ("admin@bench.test", "bench-password")
    clients = [httpx.AsyncClient(base_url=url, auth=auth, timeout=120) for _ in range(connections)]
    await clients[0].get("/api/v2/ping")  # the first sign-in hashes; later ones hit the cache
    await asyncio.gather(*(c.get("/api/v2/ping") for c in clients))  # connections open
    deadline = time.perf_counter() + seconds

    async def run(http: httpx.AsyncClient) -> None:
        while (began := time.perf_counter()) < deadline:
            r = await http.get("/api/v2/ping")
            assert r.status_code == 200, r.status_code
            latencies.append(time.perf_counter() - began)

    try:
        await asyncio.gather(*(run(c) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    return latencies


def http_figures(redis_url: str, seconds: float, connections: int, prefix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.db"
        subprocess.run(
            [sys.executable, "-m", "talkstats", "account", "create", "bench", "--timezone",
             "UTC", "--plan", "professional", "--admin-email", "admin@bench.test",
             "--admin-password", "bench-password", "--database", database],
            check=True, capture_output=True,
        )  # fmt: skip
        for name, redis in (("memory", None), ("redis", redis_url)):
            process, url = serve(database, Path(tmp), redis, prefix)
            try:
                latencies = asyncio.run(load(url, seconds, connections))
            finally:
                process.terminate()
                process.wait(timeout=30)
            q = statistics.quantiles(latencies, n=100)
            print(
                f"http {name:<6} connections={connections}  {len(latencies) / seconds:7,.0f} req/s"
                f"  p50 {q[49] * 1e3:6.2f} ms  p99 {q[98] * 1e3:6.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    from talkstats.access.ratelimit_redis import RedisBackend, connect

    prefix = f"talkstats:bench:{uuid.uuid4().hex[:12]}:"
    clients = []

    def redis_backend() -> RateLimitBackend:
        client = connect(args.redis, timeout=5)
        clients.append(client)
        return RedisBackend(client, prefix=prefix)

    memory = MemoryBackend()
    try:
        for threads in (1, args.threads):
            report("memory", threads, *run(lambda: memory, args.hits, threads))
            report("redis", threads, *run(redis_backend, args.hits, threads))
        if args.http_seconds > 0:
            http_figures(args.redis, args.http_seconds, args.connections, prefix)
    finally:
        for key in clients[0].scan_iter(match=f"{prefix}*"):
            clients[0].delete(key)
        for client in clients:
            client.close()


if __name__ == "__main__":
    main()
