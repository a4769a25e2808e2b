"""What /metrics costs: the per-request cost of the gate's latency counting, and a scrape.

    python bench/metrics_cost.py [--calls N] [--requests N] [--repeat N] [--scrapes N]

On the benchmark day (bench/data.py: 1,000 agents, ``--calls`` calls today, ingested
in-process first) the app is called directly as an ASGI callable: no socket and no
HTTP parsing, so what is measured is the server's own work per request. Figures are
CPU time of this process (the machine is shared; a wall clock would count the time
other processes held the CPU): the best of ``--repeat`` runs of ``--requests``
requests to ping and to three stats endpoints, in microseconds per request; then a
/metrics scrape's CPU time and size. To compare with another tree's code (before the
gate counted anything, say), put its ``src`` first on the path:

    PYTHONPATH=/path/to/other/checkout/src python bench/metrics_cost.py --requests-only

(it prints which talkstats it imported). It prints figures and records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # importable as a script

import talkstats  # noqa: E402
from bench import data, harness  # noqa: E402
from talkstats.api.app import create_app  # noqa: E402

STATS = "/api/v2/channels/voice/stats"
PATHS = {
    "ping": "/api/v2/ping",
    "account_overview": f"{STATS}/account_overview",
    "current_queue_activity": f"{STATS}/current_queue_activity",
    "service_level": f"{STATS}/service_level",
    "agents_activity": f"{STATS}/agents_activity",  # a page of 100 of the 1,000 agents
}


def scope(path: str, authorization: str, host: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode()), (b"authorization", authorization.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }


async def call(app: Any, request: dict[str, Any]) -> tuple[int, bytes]:
    """One request through the app; (status, body)."""
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(dict(request), receive, send)
    return status, bytes(body)


async def per_request(app: Any, requests: dict[str, dict[str, Any]], n: int, repeat: int
                      ) -> dict[str, float]:  # fmt: skip
    """Best microseconds of CPU per request for each request, over ``repeat`` rounds of
    ``n`` each (rounds go through the requests in turn, so a noisy moment is shared)."""
    for name, request in requests.items():
        for _ in range(max(1, n // 10)):  # warm: credentials cached, code paths hot
            status, body = await call(app, request)
        if status != 200:
            raise SystemExit(f"{name}: {status} {body[:200]!r}")
    best = dict.fromkeys(requests, float("inf"))
    for _ in range(repeat):
        for name, request in requests.items():
            t0 = time.process_time()
            for _ in range(n):
                await call(app, request)
            best[name] = min(best[name], (time.process_time() - t0) / n)
    return {name: seconds * 1e6 for name, seconds in best.items()}


async def measure(args: argparse.Namespace) -> None:
    ds = data.dataset(args.calls)
    db = Path(args.workdir) / f"metrics-cost-{args.calls}.db"
    if not db.exists():
        prep = harness.prepare(db, ds.scenario, ds.clock_ns)
        print(f"ingesting {ds.events:,} events ({ds.calls:,} calls) in-process ...", flush=True)
        harness.ingest_in_process(prep.db, ds.clock_ns, ds.batches(1000))
    service = harness.open_service(db, ds.clock_ns)
    account = service.account(harness.SUBDOMAIN)
    assert account is not None
    service.projection(account)  # loaded before timing
    _, token = service.create_api_token(
        account,
        user_id=service.store.find_user_by_email(account.id, harness.ADMIN_EMAIL).id,  # type: ignore[union-attr]
    )
    from talkstats.simulator.driver import basic_authorization

    authorization = basic_authorization(harness.ADMIN_EMAIL, token=token)
    app = create_app(service)
    host = f"{harness.SUBDOMAIN}.talkstats.test"
    print(f"talkstats from {Path(talkstats.__file__).parent}")
    print(f"{ds.calls:,} calls today, {ds.events:,} events; best of {args.repeat} x "
          f"{args.requests:,} requests, in-process ASGI")  # fmt: skip
    requests = {name: scope(path, authorization, host) for name, path in PATHS.items()}
    for name, us in (await per_request(app, requests, args.requests, args.repeat)).items():
        print(f"  {name}: {us:.1f} us/request")
    telemetry = getattr(service, "telemetry", None)
    if telemetry is not None:
        # The same process, the same requests, one app whose gate counts and one whose
        # gate's counting is a no-op, in alternating rounds: the cost of the counting.
        real = telemetry.request
        telemetry.request = lambda *args: None
        silent = create_app(service)
        telemetry.request = real
        both = {f"{name} {kind}": (app if kind == "counting" else silent, request)
                for name, request in requests.items() if name != "ping"
                for kind in ("counting", "silent")}  # fmt: skip
        best = dict.fromkeys(both, float("inf"))
        for _ in range(args.repeat):
            for label, (target, request) in both.items():
                t0 = time.process_time()
                for _ in range(args.requests):
                    await call(target, request)
                best[label] = min(best[label], (time.process_time() - t0) / args.requests)
        for name in requests:
            if name != "ping":
                counting, quiet = best[f"{name} counting"], best[f"{name} silent"]
                print(f"  {name}: {counting * 1e6:.1f} us counting, {quiet * 1e6:.1f} us not "
                      f"({(counting / quiet - 1) * 100:+.1f} %)")  # fmt: skip
        route = f"{STATS}/account_overview"
        n = 200_000
        t0 = time.process_time()
        for _ in range(n):
            real(route, "GET", 200, 0.0002)
        print(f"  Telemetry.request alone: {(time.process_time() - t0) / n * 1e6:.2f} us")
    if args.requests_only:
        service.store.close()
        return
    scrape = scope("/metrics", "", "127.0.0.1")
    status, body = await call(app, scrape)
    assert status == 200, body[:300]
    times = []
    for _ in range(args.scrapes):
        t0 = time.process_time()
        await call(app, scrape)
        times.append(time.process_time() - t0)
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"  /metrics: {min(times) * 1e3:.1f} ms CPU best, {sorted(times)[len(times) // 2] * 1e3:.1f} "
          f"ms median of {args.scrapes}; {len(body):,} bytes, {samples:,} samples")  # fmt: skip
    service.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls today (default 100,000)")
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--workdir", default=str(data.CACHE))
    parser.add_argument("--requests-only", action="store_true", help="skip the /metrics scrape")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
