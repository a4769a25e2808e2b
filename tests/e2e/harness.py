"""Real processes for the end-to-end tests: the CLI, and `talkstats serve` on a free port.

The server is started with ``--port 0``; it binds the socket itself and prints
``talkstats listening on http://HOST:PORT``, so there is no race for a port. Waiting is
bounded polling of readiness only (the process's output, then /readyz: every account's
statistics loaded), never a sleep to let time pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import requests

ATTEMPTS = 400  # x 0.05 s: up to 20 s for the process to print its URL / be ready
POLL = 0.05


def environment() -> dict[str, str]:
    """The test's environment without any TALKSTATS_* setting from the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TALKSTATS_")}


def talkstats(*args: str, database: str) -> str:
    """Run `python -m talkstats ARGS --database DB`; its stdout (fails the test on exit != 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "talkstats", *args, "--database", database],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(),
        check=False,
    )
    assert done.returncode == 0, f"talkstats {' '.join(args)}: {done.stderr}"
    return done.stdout


class Server:
    """One `talkstats serve` process on a database; start, stop (signal) and restart."""

    def __init__(
        self,
        database: str,
        workdir: Path,
        *,
        args: Sequence[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``args``: `serve`'s arguments instead of ``--port 0 --database DB ...``;
        ``env``: TALKSTATS_* settings for the process."""
        self.database = database
        self.workdir = workdir
        self.args = list(args) if args is not None else None
        self.cwd = cwd
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.runs = 0
        self._stdout: IO[bytes] | None = None

    def start(self, port: int = 0) -> str:
        """Start the server (on a free port, or on ``port`` to come back where it was)."""
        assert self.process is None, "already running"
        self.runs += 1
        out_path = self.workdir / f"serve-{self.runs}.out"
        self.err_path = self.workdir / f"serve-{self.runs}.err"
        self._stdout = out_path.open("wb")
        with self.err_path.open("wb") as err:
            args = self.args
            if args is None:
                args = ["--port", str(port), "--database", self.database, "--log-level", "warning"]
            self.process = subprocess.Popen(
                [sys.executable, "-m", "talkstats", "serve", *args],
                stdout=self._stdout,
                stderr=err,
                env={**environment(), **self.env},
                cwd=self.cwd,
            )
        self.url = self._await_url(out_path)
        self.await_ready()
        return self.url

    def _running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "not running"
        return self.process

    def _pause_or_fail(self) -> None:
        """Wait one poll interval for the process; fail at once if it exited."""
        try:
            code = self._running().wait(timeout=POLL)
        except subprocess.TimeoutExpired:
            return
        raise AssertionError(f"server exited with {code}: {self.err_path.read_text()}")

    def _await_url(self, out_path: Path) -> str:
        for _ in range(ATTEMPTS):
            for line in out_path.read_text().splitlines():
                if line.startswith("talkstats listening on "):
                    return line.rsplit(" ", 1)[1]
            self._pause_or_fail()
        raise AssertionError("server printed no URL")

    def await_ready(self) -> None:
        """Poll /readyz until 200 (the store answers, every account is loaded)."""
        for _ in range(ATTEMPTS):
            try:
                if requests.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            self._pause_or_fail()
        raise AssertionError("server never became ready")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send a signal and wait for the exit; the exit code."""
        process = self._running()
        process.send_signal(sig)
        code = process.wait(timeout=30)
        self._reset()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def stderr(self) -> str:
        return self.err_path.read_text()

    def _reset(self) -> None:
        self.process = None
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def close(self) -> None:
        """Teardown: kill whatever is still running."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._reset()
