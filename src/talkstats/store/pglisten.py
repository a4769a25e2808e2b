"""Wake-ups between PostgreSQL processes: LISTEN on the channel appends NOTIFY.

Every append sends ``NOTIFY talkstats_log, '<account id>'`` inside its transaction,
so the notification goes out when (and only if) the events are committed. A
`Listener` holds one connection of its own (never a pooled one: a pooled connection
is lent to other work between calls) in a thread that waits for notifications and
calls ``wake(account_id)`` for each. When the connection is lost it reconnects, with
a pause that grows to a few seconds; what was appended meanwhile is found by the
followers' polling, which never stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import psycopg

from talkstats.store.pgserver import message

log = logging.getLogger("talkstats.store")

CHANNEL: Final = "talkstats_log"
WAIT_SECONDS: Final = 1.0  # how often the thread looks whether it must stop
RECONNECT_FIRST: Final = 0.5
RECONNECT_MOST: Final = 5.0
CONNECT_TIMEOUT_S: Final = 5


class Listener:
    """A thread that turns NOTIFYs on CHANNEL into ``wake(account_id)`` calls."""

    def __init__(self, conninfo: str, wake: Callable[[int], None], where: str) -> None:
        self.conninfo = conninfo
        self.wake = wake
        self.where = where
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="talkstats-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; returns within about WAIT_SECONDS."""
        self._stop.set()
        self._thread.join(timeout=WAIT_SECONDS + 1)

    def _run(self) -> None:
        pause = RECONNECT_FIRST
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    pause = RECONNECT_FIRST
                    self._listen(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                log.warning(
                    "listening for new events on %s failed (%s); polling until it is back",
                    self.where,
                    message(exc),
                )
            finally:
                self.connected.clear()
            if self._stop.wait(pause):
                break
            pause = min(RECONNECT_MOST, pause * 2)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            for note in conn.notifies(timeout=WAIT_SECONDS):
                try:
                    account_id = int(note.payload)
                except ValueError:
                    continue
                try:
                    self.wake(account_id)
                except Exception:
                    log.exception("waking the follower of account %s failed", account_id)
