"""Per-account write locks: one thread of this process at a time, then one process.

`AccountLocks` serializes the threads of one process per account (a lock per account,
made on first use). Each store adds the lock other processes see: a byte-range lock
on a file beside an SQLite database (`FileLocks`), an advisory lock in PostgreSQL.
Waits are bounded: a writer that cannot have the lock within ``timeout`` seconds gets
StoreError, so a stuck process turns into 503s elsewhere, never a hang.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from talkstats.store.base import StoreError

LOCK_TIMEOUT_S: Final = 10.0
_FIRST_PAUSE_S: Final = 0.0005  # polls of a lock another process holds: 0.5 ms ...
_LONGEST_PAUSE_S: Final = 0.01  # ... doubling up to 10 ms
_LOCK_SPAN: Final = 2**40  # byte offsets of the lock file: account ids modulo this


def busy(account_id: int, timeout: float) -> StoreError:
    return StoreError(
        f"the log of account {account_id} stayed locked by another writer for {timeout:g} s"
    )


class AccountLocks:
    """One lock per account for the threads of this process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}

    @contextmanager
    def hold(self, account_id: int, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(account_id, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise busy(account_id, timeout)
        try:
            yield
        finally:
            lock.release()


class FileLocks:
    """Byte-range locks on one file, a byte per account, seen by every process.

    POSIX record locks (``fcntl.lockf``) belong to the process and go away with it, so
    a writer killed with -9 never leaves an account locked. They do not exclude the
    threads of one process: hold an `AccountLocks` lock first. Where there are no such
    locks (Windows), this is a no-op and the append's sequence check serializes alone.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._opening = threading.Lock()

    def _file(self) -> int | None:
        """The lock file's descriptor, opened (created) at the first write."""
        with self._opening:
            if self._fd is None and sys.platform != "win32":
                try:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
                except OSError as exc:
                    raise StoreError(
                        f"cannot open the lock file {self.path!r}: {exc.strerror}"
                    ) from exc
            return self._fd

    @contextmanager
    def hold(self, account_id: int, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        fd = self._file()
        if fd is None:
            yield
            return
        import fcntl

        offset = account_id % _LOCK_SPAN
        waited, pause = 0.0, _FIRST_PAUSE_S  # the wait is the sum of the pauses: no clock
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):  # another process holds it
                    raise StoreError(f"cannot lock {self.path!r}: {exc.strerror}") from exc
            if waited >= timeout:
                raise busy(account_id, timeout)
            time.sleep(pause)
            waited += pause
            pause = min(_LONGEST_PAUSE_S, pause * 2)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    def close(self) -> None:
        with self._opening:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
