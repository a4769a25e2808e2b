"""`talkstats serve --workers N`: N server processes on one listening socket.

The parent binds the socket once (so ``--port 0`` prints the real port), prints the
URL, and starts N worker processes. Each worker is a fresh interpreter (``spawn``,
never ``fork``: no store connection, pool thread or lock crosses into a child) that
opens its own store and builds its own projections, then serves the inherited socket;
the kernel hands each new connection to one of them.

The parent is a small supervisor. It restarts a worker that exits without being asked
(a crash, ``kill -9``), after a pause that doubles on each quick failure, and it turns
SIGTERM and SIGINT into a SIGTERM for every worker, then waits for them all: each one
finishes its requests, snapshots its projections and closes its store, as a single
server does. A worker whose supervisor was killed stops by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

from talkstats.config import Settings

log = logging.getLogger("talkstats.workers")

RESTART_FIRST_SECONDS = 0.5
RESTART_MOST_SECONDS = 30.0
HEALTHY_SECONDS = 30.0  # a worker that ran this long starts its next pause afresh
ORPHAN_CHECK_SECONDS = 1.0


@dataclass
class Slot:
    """One worker place: the process in it (or None while it waits to restart)."""

    index: int
    process: Any = None  # multiprocessing.process.BaseProcess
    started: float = 0.0
    pause: float = RESTART_FIRST_SECONDS
    restart_at: float | None = None


class Supervisor:
    """Start, restart and stop the workers of one listening socket."""

    def __init__(self, settings: Settings, sock: socket.socket, count: int) -> None:
        self.settings = settings
        self.sock = sock
        self.slots = [Slot(i + 1) for i in range(count)]
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # --- signals ------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):  # a full pipe: the loop is awake already
            os.write(self._wake_w, b"\0")

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM / SIGINT, then stop every worker; the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for slot in self.slots:
                self._start(slot)
            while not self.stopping:
                self._watch()
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _watch(self) -> None:
        """Wait for a worker to exit, a restart to fall due, or a signal."""
        now = time.monotonic()
        due = [s.restart_at for s in self.slots if s.restart_at is not None]
        timeout = max(0.0, min(due) - now) if due else None
        sentinels = {s.process.sentinel: s for s in self.slots if s.process is not None}
        ready = wait([*sentinels, self._wake_r], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        for sentinel in ready:
            slot = sentinels.get(sentinel)
            if slot is not None:
                self._exited(slot)
        if self.stopping:
            return
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and slot.restart_at <= now:
                self._start(slot)

    def _start(self, slot: Slot) -> None:
        process = self.context.Process(
            target=worker_main,
            args=(self.settings, self.sock, slot.index),
            name=f"talkstats-worker-{slot.index}",
            daemon=False,
        )
        process.start()
        slot.process = process
        slot.started = time.monotonic()
        slot.restart_at = None
        log.info("worker %d started (pid %s)", slot.index, process.pid)

    def _exited(self, slot: Slot) -> None:
        process = slot.process
        process.join()
        slot.process = None
        if self.stopping:
            return
        if time.monotonic() - slot.started >= HEALTHY_SECONDS:
            slot.pause = RESTART_FIRST_SECONDS
        log.warning(
            "worker %d (pid %s) exited with %s; restarting it in %.1f s",
            slot.index,
            process.pid,
            _describe(process.exitcode),
            slot.pause,
        )
        slot.restart_at = time.monotonic() + slot.pause
        slot.pause = min(RESTART_MOST_SECONDS, slot.pause * 2)

    def _stop_all(self) -> int:
        """SIGTERM to every worker, then wait for each (they snapshot on the way out)."""
        for slot in self.slots:
            slot.restart_at = None
            if slot.process is not None and slot.process.exitcode is None:
                _signal(slot.process.pid, signal.SIGTERM)
        failed = 0
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join()
                # -SIGTERM: a worker still starting up, stopped before it served anything
                if slot.process.exitcode not in (0, None, -signal.SIGTERM):
                    failed += 1
                    log.warning(
                        "worker %d stopped with %s", slot.index, _describe(slot.process.exitcode)
                    )
                slot.process = None
        return 1 if failed else 0


def _signal(pid: int | None, sig: int) -> None:
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


# --- in the worker process ---------------------------------------------------------------


def worker_main(settings: Settings, sock: socket.socket, index: int) -> None:
    """A worker's life: its own service on the shared socket, closed on SIGTERM.

    Ctrl-C in a terminal reaches every process of the group; the worker leaves it to
    the supervisor, which forwards it as SIGTERM. A SIGTERM that arrives while the
    worker is still opening its store stops it before it serves anything.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    early: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: early.append(signum))
    from talkstats.cli.root import compose
    from talkstats.cli.serve import configure_logging, serve_socket, stopped_message

    configure_logging(settings, worker=index)
    _stop_when_orphaned(os.getppid())
    service = compose(settings)
    saved = False
    try:
        if not early:
            serve_socket(service, settings, sock, stop_requested=early)
    finally:
        saved = service.close()
    print(stopped_message(saved, f"talkstats worker {index}"), file=sys.stderr)


def _stop_when_orphaned(parent: int) -> None:
    """SIGTERM this worker if its supervisor dies (``kill -9`` of the parent): a
    worker must not go on serving the socket with nobody to stop it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        log.warning("the supervisor (pid %s) is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="talkstats-orphan-watch", daemon=True).start()
