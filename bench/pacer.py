"""An ingestion client at a fixed rate: NDJSON batches POSTed on one keep-alive connection.

    python -m bench.pacer --port P --header 'Authorization: ...' --events FILE \
        --skip N --count M --batch 100 --rate 5000

Runs in its own process. Sends lines ``skip`` to ``skip + count`` of an NDJSON file (one
event a line, in time order) as batches of ``--batch`` events to
``POST /api/v2/channels/voice/events``, one after another on one connection (the
events of one call must arrive in order, so batches are never sent side by side).
Batch *k* is due at ``k * batch / rate`` seconds after the start; a batch that is due
while the previous one is still in flight goes as soon as it is answered, so the
client never falls behind for long without it showing. ``--rate 0`` sends as fast as
the server answers. It prints ``started`` on its first send, then at the end one JSON
object: events sent, accepted, rejected, duplicates, batches answered 503 and sent
again, seconds, the achieved rate,
batch latency p50/p99, how late the latest batch went, and its CPU seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import resource
import sys
import time
from itertools import islice
from pathlib import Path

EVENTS = "/api/v2/channels/voice/events"
RETRIES = 50
RETRY_PAUSE = 0.05  # seconds; shorter than the Retry-After a client would honour


def read_batches(path: Path, skip: int, count: int, size: int) -> list[bytes]:
    with path.open("rb") as f:
        lines = [line.rstrip(b"\n") for line in islice(f, skip, skip + count)]
    return [b"\n".join(lines[i : i + size]) + b"\n" for i in range(0, len(lines), size)]


def _count(tail: bytes, name: bytes) -> int:
    found = re.search(rb'"' + name + rb'":(\d+)', tail)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5000.0, help="events/s; 0: unpaced")
    args = parser.parse_args()
    batches = read_batches(args.events, args.skip, args.count, args.batch)
    headers = {"Content-Type": "application/x-ndjson"}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    conn = http.client.HTTPConnection(args.host, args.port, timeout=300)
    sent = accepted = rejected = duplicates = retried = 0
    latencies: list[float] = []
    latest = 0.0
    first_error = ""
    perf = time.perf_counter
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    print("started", flush=True)
    start = perf()
    for k, body in enumerate(batches):
        if args.rate > 0:
            due = start + k * args.batch / args.rate
            now = perf()
            if due > now:
                time.sleep(due - now)
            else:
                latest = max(latest, now - due)
        t0 = perf()
        for _ in range(RETRIES):  # a 503 asks for a retry: the batch goes again, unchanged
            try:
                conn.request("POST", EVENTS, body=body, headers=headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                conn.close()  # an idle keep-alive connection the server closed: reconnect
                retried += 1
                continue
            payload = resp.read()
            if resp.status != 503:
                break
            retried += 1
            time.sleep(RETRY_PAUSE)
        latencies.append(perf() - t0)
        if resp.status != 200:
            print(f"HTTP {resp.status}: {payload[:300]!r}", file=sys.stderr)
            sys.exit(1)
        tail = payload[-200:]
        sent += body.count(b"\n")
        accepted += _count(tail, b"accepted")
        got = _count(tail, b"rejected")
        if got and not first_error:
            at = payload.find(b'"status":"rejected"')
            first_error = payload[max(0, at - 80) : at + 300].decode(errors="replace")
        rejected += got
        duplicates += _count(tail, b"duplicates")
    seconds = perf() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    conn.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(json.dumps({
        "sent": sent, "accepted": accepted, "rejected": rejected, "duplicates": duplicates,
        "retried": retried,
        "seconds": seconds, "rate": sent / seconds if seconds else 0.0,
        "batch_p50_ms": pct(0.5) if latencies else 0.0,
        "batch_p99_ms": pct(0.99) if latencies else 0.0,
        "latest_s": latest,
        "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "first_error": first_error,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
