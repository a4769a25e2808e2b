"""The cost of open wallboards: N screens on one server, idle and under a stream of events.

    python -m bench.wallboards [--screens 1000] [--scenario help-desk] [--rate 100]
                               [--seconds 20] [--no-record]

A real ``talkstats serve`` process on a fresh SQLite file: an account with the
scenario's agents and the day so far simulated into it (calls left open), then
``--screens`` Server-Sent Events streams of ``/wallboard/stream`` from one asyncio
client process (raw sockets: one event per chunk), all signed in with
one session cookie and the same filters, so they share one feed. Then:

1. idle for ``--seconds``: server CPU, frames each screen receives (heartbeats);
2. load for ``--seconds`` with no screen: ``--rate`` events a second posted to the
   events API in batches every 100 ms (inbound calls that start, queue and end);
3. the same load with every screen open: server CPU, updates per screen per second,
   bytes per screen, and the time from each batch's acknowledgement until a probe
   screen shows its calls (``today.calls``), measured on 20 probe screens that parse
   every frame (the others only count).

The wallboard's cost is (3) minus (2). Server CPU is user+system time of the server
process from /proc; memory is its resident set. The client runs on the same machine
and takes CPU too: the figures are for the server process only. Prints the figures
and appends them to bench/RESULTS.md (unless ``--no-record``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import requests

from talkstats.simulator import load_scenario, scenario_path

from .record import RESULTS, Figure, append, machine, section

ADMIN = ("admin@bench.example", "bench-password")
PROBES = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def talkstats(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "talkstats", *args], capture_output=True, text=True, env=env,
        timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"talkstats {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def rss_mib(self) -> float:
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * PAGE / 2**20


def start_server(database: str, workdir: Path, env: dict[str, str]) -> ServerProcess:
    out = workdir / "serve.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "talkstats", "serve", "--port", "0", "--database", database,
         "--log-level", "warning"],
        stdout=out.open("wb"), stderr=(workdir / "serve.err").open("wb"), env=env,
    )  # fmt: skip
    for _ in range(400):
        m = re.search(r"listening on (http://\S+)", out.read_text())
        if m:
            url = m.group(1)
            for _ in range(400):
                try:
                    if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                        return ServerProcess(process, url)
                except requests.ConnectionError:
                    pass
                time.sleep(0.05)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"the server did not start: {(workdir / 'serve.err').read_text()}")


@dataclass
class Screen:
    probe: bool
    frames: int = 0
    boards: int = 0
    bytes: int = 0
    first_board: float | None = None
    seen: list[tuple[float, int]] = field(default_factory=list)  # (arrival, today.calls)


async def watch(host: str, port: int, cookie: str, screen: Screen, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection(host, port, limit=2**22)
    writer.write(
        f"GET /wallboard/stream HTTP/1.0\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream refused: {head[:80]!r}")
    buffer = b""
    try:
        while not stop.is_set():
            chunk = await reader.read(2**16)
            if not chunk:
                return
            now = time.monotonic()
            screen.bytes += len(chunk)
            if not screen.probe:  # count only: keep the client cheap (it shares the machine)
                boards = chunk.count(b"event: board")
                screen.boards += boards
                screen.frames += boards + chunk.count(b"event: ping")
                if boards and screen.first_board is None:
                    screen.first_board = now
                continue
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for piece in frames:
                start = piece.find(b"event: ")  # after the chunked encoding's size line
                if start < 0:
                    continue
                frame = piece[start:]
                screen.frames += 1
                if frame.startswith(b"event: board"):
                    screen.boards += 1
                    if screen.first_board is None:
                        screen.first_board = now
                    if screen.probe:
                        board = orjson.loads(frame.split(b"data: ", 1)[1])
                        screen.seen.append((now, board["today"]["calls"]))
    finally:
        writer.close()


def post_events(
    url: str, number: int, rate: int, seconds: float, tag: str
) -> list[tuple[float, int]]:
    """Post ``rate`` events a second for ``seconds``; (acknowledged at, calls posted so far)."""
    session = requests.Session()
    session.auth = ADMIN
    per_batch = max(3, rate // 10) // 3  # calls per 100 ms; 3 events each
    acks: list[tuple[float, int]] = []
    started = 0
    previous: list[str] = []
    t0 = time.monotonic()
    tick = 0
    while time.monotonic() - t0 < seconds:
        now = datetime.now(ZoneInfo("UTC")).isoformat()
        events = []
        for call in previous:
            events.append({"id": f"{call}-end", "type": "call.ended", "time": now, "call_id": call})
        previous = []
        for i in range(per_batch):
            call = f"{tag}-{tick}-{i}"
            previous.append(call)
            events.append({"id": f"{call}-s", "type": "call.started", "time": now, "call_id": call,
                           "direction": "inbound", "phone_number_id": number})  # fmt: skip
            events.append({"id": f"{call}-q", "type": "call.queued", "time": now, "call_id": call})
        r = session.post(f"{url}/api/v2/channels/voice/events", json={"events": events}, timeout=30)
        body = r.json()
        if r.status_code != 200 or body["rejected"]:
            raise SystemExit(f"events refused: {r.status_code} {str(body)[:300]}")
        started += per_batch
        acks.append((time.monotonic(), started))
        tick += 1
        wait = t0 + tick * 0.1 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    return acks


def calls_today(url: str) -> int:
    r = requests.get(f"{url}/api/v2/channels/voice/stats/account_overview", auth=ADMIN, timeout=30)
    return int(r.json()["account_overview"]["total_calls"])


async def measure(args: argparse.Namespace) -> tuple[list[Figure], list[str]]:
    scenario = load_scenario(scenario_path(args.scenario))
    zone = scenario.timezone
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTATS_")}
    env |= {"TALKSTATS_RATE_LIMIT_TALK": "0", "TALKSTATS_RATE_LIMIT_QUEUE_ACTIVITY": "0"}
    workdir = Path(tempfile.mkdtemp(prefix="bench-wallboards-"))
    database = f"sqlite:///{workdir / 'talkstats.db'}"
    talkstats("account", "create", "bench", "--timezone", zone, "--plan", "professional",
              "--admin-email", ADMIN[0], "--admin-password", ADMIN[1], "--database", database,
              env=env)  # fmt: skip
    local_now = datetime.now(ZoneInfo(zone))
    since = max(local_now.replace(hour=0, minute=0, second=0, microsecond=0),
                local_now - timedelta(hours=3)).replace(tzinfo=None)  # fmt: skip
    t = time.perf_counter()
    talkstats("simulate", "--scenario", args.scenario, "--seed", "3", "--database", database,
              "--account", "bench", "--create-reference-data", "--no-finish",
              "--from", since.isoformat(timespec="seconds"), env=env)  # fmt: skip
    notes = [
        f"scenario {args.scenario} ({scenario.agents.count} agents), "
        f"today from {since:%H:%M} to now simulated in {time.perf_counter() - t:.1f} s, calls left open",
    ]
    server = start_server(database, workdir, env)
    figures: list[Figure] = []
    try:
        signin = requests.post(
            f"{server.url}/wallboard/signin",
            data={"email": ADMIN[0], "password": ADMIN[1]},
            headers={"Origin": server.url},
            allow_redirects=False,
            timeout=30,
        )
        cookie = signin.headers["set-cookie"].split(";", 1)[0]
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        number = scenario.phone_numbers[0].id
        calls_today(server.url)  # load the projection before measuring
        rss_before = server.rss_mib()

        # (2) the load with no screen open: what ingestion alone costs
        cpu0, w0 = server.cpu_seconds(), time.monotonic()
        await asyncio.to_thread(post_events, server.url, number, args.rate, args.seconds, "base")
        base_cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - w0)

        # screens connect
        stop = asyncio.Event()
        screens = [Screen(probe=i < PROBES) for i in range(args.screens)]
        t = time.monotonic()
        tasks = []
        for i, screen in enumerate(screens):
            tasks.append(asyncio.create_task(watch(host, int(port), cookie, screen, stop)))
            if i % 100 == 99:
                await asyncio.sleep(0)
        while any(s.first_board is None for s in screens):
            if time.monotonic() - t > 120:
                raise SystemExit("not every screen got its first board within 120 s")
            await asyncio.sleep(0.05)
        connect_seconds = time.monotonic() - t
        await asyncio.sleep(1)
        rss_screens = server.rss_mib()

        # (1) idle
        before = [(s.frames, s.bytes) for s in screens]
        cpu0, w0 = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(args.seconds)
        idle_wall = time.monotonic() - w0
        idle_cpu = (server.cpu_seconds() - cpu0) / idle_wall
        idle_frames = statistics.mean(s.frames - b[0] for s, b in zip(screens, before, strict=True))

        # (3) the load with every screen open
        before = [(s.boards, s.bytes) for s in screens]
        cpu0, w0 = server.cpu_seconds(), time.monotonic()
        acks = await asyncio.to_thread(
            post_events, server.url, number, args.rate, args.seconds, "load"
        )
        load_wall = time.monotonic() - w0
        load_cpu = (server.cpu_seconds() - cpu0) / load_wall
        await asyncio.sleep(2)  # the last updates arrive
        stop.set()
        updates = [(s.boards - b[0]) / load_wall for s, b in zip(screens, before, strict=True)]
        sent = [(s.bytes - b[1]) / load_wall for s, b in zip(screens, before, strict=True)]
        base_calls = calls_today(server.url) - acks[-1][1]
        latencies = []
        for screen in screens[:PROBES]:
            for acked, posted in acks:
                want = base_calls + posted
                shown = next(
                    (at for at, calls in screen.seen if calls >= want and at >= acked), None
                )
                if shown is not None:
                    latencies.append(shown - acked)
        latencies.sort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        n = args.screens
        figures = [
            Figure(f"{n:,} screens: all connected and showing numbers", connect_seconds, "s"),
            Figure(
                f"server RSS with {n:,} screens open",
                rss_screens,
                "MiB",
                note=f"{rss_before:.0f} MiB before: {(rss_screens - rss_before) * 1024 / n:.1f} KiB a screen",
            ),  # fmt: skip
            Figure(
                f"idle, {n:,} screens: server CPU",
                idle_cpu * 100,
                "% of a core",
                note=f"{idle_frames / idle_wall:.2f} frames a second per screen (heartbeats)",
            ),  # fmt: skip
            Figure(f"{args.rate} events/s, no screen: server CPU", base_cpu * 100, "% of a core"),
            Figure(
                f"{args.rate} events/s, {n:,} screens: server CPU",
                load_cpu * 100,
                "% of a core",
                note=f"the screens' share: {(load_cpu - base_cpu) * 100:.0f} % of a core",
            ),  # fmt: skip
            Figure(
                f"{args.rate} events/s, {n:,} screens: updates per screen per second",
                statistics.mean(updates),
                "",
                "<= 4",
                max(updates) <= 4.2,
                note=f"max {max(updates):.2f}; {statistics.mean(sent) / 1024:.1f} KiB/s per screen",
            ),  # fmt: skip
            Figure(
                f"{args.rate} events/s, {n:,} screens: acknowledged -> on screen, p50",
                1000 * latencies[len(latencies) // 2],
                "ms",
            ),  # fmt: skip
            Figure(
                f"{args.rate} events/s, {n:,} screens: acknowledged -> on screen, p99 / max",
                1000 * latencies[int(len(latencies) * 0.99)],
                "ms",
                "< 1000",
                latencies[int(len(latencies) * 0.99)] < 1.0,
                note=f"max {1000 * latencies[-1]:.0f} ms; {len(latencies)} samples on {PROBES} probe screens",
            ),  # fmt: skip
        ]
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)
    return figures, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--scenario", default="help-desk")
    parser.add_argument("--rate", type=int, default=100, help="events a second during the load")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.screens)), hard))
    info = machine()
    t0 = time.monotonic()
    figures, notes = asyncio.run(measure(args))
    notes.append(f"total run time {time.monotonic() - t0:.0f} s")
    for figure in figures:
        verdict = f"  [{figure.verdict()} {figure.target}]" if figure.target else ""
        print(f"{figure.name}: {figure.shown()}{verdict}  {figure.note}")
    if not args.no_record:
        append(RESULTS, section("wallboards", figures, info, notes))
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
