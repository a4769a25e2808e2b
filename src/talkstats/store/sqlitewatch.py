"""Wake-ups between SQLite processes: a thread that watches the file's change counter.

SQLite cannot notify another process, but asking whether anything was committed is
nearly free: ``PRAGMA data_version`` on a connection reads the shared-memory WAL
index, not the database. A `Watcher` asks every WATCH_SECONDS on a read-only
connection of its own; when the counter moved, one query reads every account's log
head, and ``wake(account_id)`` is called for each account whose head moved. An idle
database costs one tiny query per interval, however many accounts it holds. The first
look is taken before `start` returns, so no commit after it goes unnoticed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from talkstats.store.base import LOG_HEADS_SQL

log = logging.getLogger("talkstats.store")

WATCH_SECONDS: Final = 0.05


class Watcher:
    """A thread that calls ``wake(account_id)`` when an account's log head moves."""

    def __init__(self, path: str, wake: Callable[[int], None]) -> None:
        self.path = path
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="talkstats-watch", daemon=True)
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._heads: dict[int, int] = {}

    def start(self) -> Watcher:
        """Take the first look now, so that every commit after this returns is seen."""
        try:
            self._conn = sqlite3.connect(
                f"{Path(self.path).absolute().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,  # opened here, used by the thread only
            )
            self._look()
        except sqlite3.Error as exc:
            log.warning("cannot watch %r for changes (%s); polling only", self.path, exc)
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            return self
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=WATCH_SECONDS * 20)
        elif self._conn is not None:  # started, but the thread never ran
            self._conn.close()
            self._conn = None

    def _look(self) -> list[int]:
        """The accounts whose log head moved since the previous look."""
        assert self._conn is not None
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return []
        self._version = version
        latest = {int(a): int(h or 0) for a, h in self._conn.execute(LOG_HEADS_SQL).fetchall()}
        moved = [a for a, h in latest.items() if self._heads.get(a, 0) != h]
        self._heads = latest
        return moved

    def _run(self) -> None:
        try:
            while not self._stop.wait(WATCH_SECONDS):
                try:
                    moved = self._look()
                except sqlite3.Error as exc:  # a busy or vanished file: the polling goes on
                    log.debug("watching %r: %s", self.path, exc)
                    continue
                for account_id in moved:
                    try:
                        self.wake(account_id)
                    except Exception:
                        log.exception("waking the follower of account %s failed", account_id)
        finally:
            if self._conn is not None:
                self._conn.close()
