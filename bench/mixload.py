"""A closed-loop load generator over a mix of paths: keep-alive GETs from asyncio (uvloop).

    python -m bench.mixload --port P --header 'Authorization: ...' -c 32 -d 10 \
        --path /a --path /b ...

Runs in its own process: ``-c`` keep-alive connections, each sending one request after
another for ``-d`` seconds, connection *i* starting at path *i* of the list and taking
the next path on every request, so every path gets the same share. Requests made
during the first ``--warmup`` seconds are not counted. Prints one JSON object:
requests, seconds, rps, p50_ms, p99_ms, per-path p99, errors (non-2xx or broken
responses) and the CPU seconds this process used (user + system), so that a run on a
small machine can say how much of it the client took.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

from bench.pyload import read_response


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _connection(host: str, port: int, requests: list[bytes], first: int, start: float,
                      until: float, lat: list[list[float]], errors: list[int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    n = first
    try:
        while True:
            t0 = perf()
            if t0 >= until:
                break
            which = n % len(requests)
            n += 1
            writer.write(requests[which])
            status = await read_response(reader)
            if t0 >= start:
                lat[which].append(perf() - t0)
                if not 200 <= status < 300:
                    errors[0] += 1
    finally:
        writer.close()


async def run(host: str, port: int, paths: list[str], headers: list[str], connections: int,
              seconds: float, warmup: float) -> dict[str, object]:  # fmt: skip
    requests = [
        "\r\n".join([f"GET {p} HTTP/1.1", f"Host: {host}:{port}", *headers, "", ""]).encode()
        for p in paths
    ]
    lat: list[list[float]] = [[] for _ in paths]
    errors = [0]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    begin = time.perf_counter()
    start, until = begin + warmup, begin + warmup + seconds
    await asyncio.gather(
        *(
            _connection(host, port, requests, i, start, until, lat, errors)
            for i in range(connections)
        )
    )
    end = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    every = [x for per in lat for x in per]
    measured = end - start
    return {
        "requests": len(every),
        "seconds": measured,
        "rps": len(every) / measured,
        "p50_ms": _percentile(every, 0.50),
        "p99_ms": _percentile(every, 0.99),
        "paths": {
            p: {"requests": len(lat[i]), "p99_ms": _percentile(lat[i], 0.99)}
            for i, p in enumerate(paths)
        },  # fmt: skip
        "errors": errors[0],
        "cpu_seconds": cpu,
        "wall_seconds": end - begin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    job = run(args.host, args.port, args.path, args.header, args.connections, args.duration,
              args.warmup)  # fmt: skip
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        result = asyncio.run(job)
    else:
        result = uvloop.run(job)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
