"""The fallback load generator (when wrk is missing): keep-alive GETs from asyncio.

    python -m bench.pyload URL --header 'Authorization: ...' -c 8 -d 10

Runs in its own process, opens ``-c`` raw keep-alive connections, each sending one
request after another for ``-d`` seconds, and prints one JSON object: requests,
seconds, rps, p50_ms, p99_ms, errors (non-2xx or broken responses). It is slower
per request than wrk, so on two cores it takes more of the server's CPU: compare
figures measured with the same tool only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (head, and a body of Content-Length); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _worker(host: str, port: int, request: bytes, until: float, lat: list[float],
                  errors: list[int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    try:
        while True:
            t0 = perf()
            if t0 >= until:
                break
            writer.write(request)
            status = await read_response(reader)
            lat.append(perf() - t0)
            if not 200 <= status < 300:
                errors[0] += 1
    finally:
        writer.close()


async def run(url: str, headers: list[str], connections: int, seconds: float) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", *headers, "", ""]
    request = "\r\n".join(lines).encode()
    lat: list[float] = []
    errors = [0]
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(_worker(host, port, request, until, lat, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0

    return {
        "requests": len(lat),
        "seconds": elapsed,
        "rps": len(lat) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("-c", "--connections", type=int, default=8)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.header, args.connections, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
