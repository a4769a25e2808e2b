"""The server process, the load generators (wrk, or the Python fallback) and HTTP ingest."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATS = "/api/v2/channels/voice/stats"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m bench.serve`` in a child process, stopped on exit."""

    def __init__(self, db: Path, clock_ns: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "bench.serve", "--db", str(db),
               "--clock-ns", str(clock_ns), "--port", str(self.port)]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env)

    def wait_ready(self, authorization: str, path: str = f"{STATS}/account_overview",
                   timeout: float = 600.0) -> float:  # fmt: skip
        """Seconds from process start until ``path`` first answers 200 (projection loaded;
        it answers 503 while the projection loads in the background)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                status, _ = get(self.port, path, authorization, timeout=timeout)
                if status == 200:
                    return time.perf_counter() - self.started
                if status != 503:  # 503: the projection is still loading
                    raise RuntimeError(f"GET {path}: HTTP {status}")
                time.sleep(0.02)
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server not ready in time")

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server process, MiB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def get(port: int, path: str, authorization: str, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": authorization})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@dataclass
class LoadResult:
    tool: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, label: str) -> float:
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if m is None:
        raise RuntimeError(f"wrk output without {label}:\n{text}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def load(url: str, authorization: str, *, seconds: float, connections: int = 8,
         tool: str = "wrk") -> LoadResult:  # fmt: skip
    """Drive ``url`` from a second process for ``seconds``; throughput and latency."""
    header = f"Authorization: {authorization}"
    if tool == "wrk":
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "-H", header, url]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        m_req = re.search(r"(\d+) requests in", out)
        m_rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        m_err = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        if m_req is None or m_rps is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        return LoadResult("wrk", int(m_req.group(1)), float(m_rps.group(1)),
                          _wrk_ms(out, "50%"), _wrk_ms(out, "99%"),
                          int(m_err.group(1)) if m_err else 0)  # fmt: skip
    cmd = [sys.executable, "-m", "bench.pyload", url, "--header", header,
           "-c", str(connections), "-d", str(seconds)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    r = json.loads(out.stdout)
    return LoadResult("python", r["requests"], r["rps"], r["p50_ms"], r["p99_ms"], r["errors"])


def post_batches(port: int, authorization: str, bodies: list[bytes], content_type: str
                 ) -> tuple[float, int, int]:  # fmt: skip
    """POST each body on one keep-alive connection; (seconds, accepted, rejected)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": authorization, "Content-Type": content_type}
    accepted = rejected = 0
    t0 = time.perf_counter()
    for body in bodies:
        conn.request("POST", "/api/v2/channels/voice/events", body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"ingest: HTTP {resp.status}: {payload[:300]!r}")
        # the counts are at the end of the body; skip decoding the per-event results
        tail = payload[-200:]
        accepted += int(re.search(rb'"accepted":(\d+)', tail).group(1))  # type: ignore[union-attr]
        rejected += int(re.search(rb'"rejected":(\d+)', tail).group(1))  # type: ignore[union-attr]
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds, accepted, rejected
