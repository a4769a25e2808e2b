"""Reading a queue_log file: from a saved position, line by line, across rotations.

`FileTail.read()` returns the complete lines appended since the last read (a line
being written, without its newline yet, waits for the next read). Its `position()` is
saved with the parser's state; a new `FileTail` given it goes on from there.

Rotation, both ways logrotate and Asterisk do it:

- **rename** (Asterisk's own rotation, logrotate's default): the file we read is
  renamed (``queue_log.1``, ``queue_log-20261201``...) and a new ``queue_log`` begins.
  We read the old file to its end, then the new one from its start. After a restart
  the old file is found again by its inode.
- **copy and truncate** (logrotate's ``copytruncate``): the content is copied to a new
  file and ``queue_log`` is emptied in place. We notice that the file no longer starts
  with the first line we read there (or is shorter than our position), read the lines
  we had not read yet from the copy (found by that first line), then ``queue_log``
  from its start.

Compressed rotations (``.gz``...) are not read: rotate with ``delaycompress``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FileTail"]

_HEAD = 512  # bytes of the first line that identify a file's content
_CHUNK = 1 << 20
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".Z", ".zip")


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class FileTail:
    """Complete lines of a file from a position on, following rotations."""

    def __init__(
        self,
        path: str | Path,
        position: dict[str, Any] | None = None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.warn = warn or (lambda _msg: None)
        self._file: Any = None
        self._inode = 0
        self._offset = 0
        self._head = ""  # digest of the first line (up to _HEAD bytes) of the open file
        self._head_len = 0
        self._buffer = b""
        self._backlog: list[tuple[Path, int, str, int]] = []  # rotated files to finish first
        if position:
            self._resume(position)

    # --- position ------------------------------------------------------------------

    def position(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "inode": self._inode,
            "offset": self._offset,
            "head": self._head,
            "head_len": self._head_len,
        }

    def _resume(self, position: dict[str, Any]) -> None:
        inode, offset = int(position["inode"]), int(position["offset"])
        head, head_len = str(position.get("head", "")), int(position.get("head_len", 0))
        current = self._stat(self.path)
        if (
            current is not None
            and current.st_ino == inode
            and self._matches(self.path, head, head_len, offset)
        ):
            self._open(self.path, offset, head, head_len)
            return
        old = self._find_rotated(inode, head, head_len, offset)
        if old is not None:
            self._backlog.append((old, offset, head, head_len))
        elif offset:
            self.warn(
                f"{self.path}: the file read before (inode {inode}) is gone and no rotated copy "
                f"starts with its first line; lines after its position {offset} may be lost"
            )

    @staticmethod
    def _stat(path: Path) -> os.stat_result | None:
        try:
            return path.stat()
        except FileNotFoundError:
            return None

    @staticmethod
    def _matches(path: Path, head: str, head_len: int, offset: int) -> bool:
        """The file at ``path`` starts with the head we saw and reaches ``offset``."""
        try:
            with path.open("rb") as f:
                if head_len and _digest(f.read(head_len)) != head:
                    return False
                f.seek(0, os.SEEK_END)
                return bool(f.tell() >= offset)
        except OSError:
            return False

    def _find_rotated(self, inode: int, head: str, head_len: int, offset: int) -> Path | None:
        """A rotated file: the same inode (renamed), or a copy with the same first line."""
        folder = self.path.parent
        candidates = sorted(
            p
            for p in folder.glob(self.path.name + "*")
            if p != self.path and p.is_file() and not p.name.endswith(_COMPRESSED)
        )
        for candidate in candidates:
            st = self._stat(candidate)
            if st is not None and st.st_ino == inode and st.st_size >= offset:
                return candidate
        if head_len:
            for candidate in candidates:
                if self._matches(candidate, head, head_len, offset):
                    return candidate
        return None

    # --- reading ---------------------------------------------------------------------

    def _open(self, path: Path, offset: int, head: str, head_len: int) -> None:
        self._close()
        f = path.open("rb")
        self._file = f
        self._inode = os.fstat(f.fileno()).st_ino
        self._offset = offset
        self._head, self._head_len = head, head_len
        self._buffer = b""
        f.seek(offset)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._close()

    def _drain(self, limit: int) -> list[str]:
        """Complete lines of the open file from the offset (at most about ``limit``)."""
        lines: list[str] = []
        f = self._file
        while len(lines) < limit:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            data = self._buffer + chunk
            end = data.rfind(b"\n")
            if end < 0:
                self._buffer = data
                continue
            complete, self._buffer = data[: end + 1], data[end + 1 :]
            if not self._head_len:
                first = complete[: complete.find(b"\n")][:_HEAD]
                self._head, self._head_len = _digest(first), len(first)
            self._offset += len(complete)
            lines.extend(complete.decode("utf-8", "replace").splitlines())
        # what was read past the last newline is read again next time (from the offset)
        if self._buffer:
            f.seek(self._offset)
            self._buffer = b""
        return lines

    def read(self, limit: int = 50_000) -> list[str]:
        """The complete lines appended since the last read (rotations followed)."""
        lines: list[str] = []
        while self._backlog and len(lines) < limit:
            path, offset, head, head_len = self._backlog[0]
            if self._file is None:
                self._open(path, offset, head, head_len)
            got = self._drain(limit - len(lines))
            lines.extend(got)
            if not got:
                self._backlog.pop(0)
                self._close()
                self._inode, self._offset, self._head, self._head_len = 0, 0, "", 0
        if len(lines) >= limit:
            return lines
        if self._file is None:
            if self._stat(self.path) is None:
                return lines
            self._open(self.path, 0, "", 0)
        elif self._truncated():
            return lines + self._after_truncation(limit - len(lines))
        lines.extend(self._drain(limit - len(lines)))
        if len(lines) < limit:
            lines.extend(self._rotation(limit - len(lines)))
        return lines

    def _rotation(self, limit: int) -> list[str]:
        """At the end of the open file: has it been renamed away or truncated?"""
        current = self._stat(self.path)
        if current is None:
            return []  # renamed, the new file not there yet: keep reading the old one
        if current.st_ino != self._inode:
            lines = self._drain(limit)  # the last lines written before the rename
            if lines or current.st_size == 0:
                # an empty new file (logrotate's ``create``) gets lines only once Asterisk
                # reopens its log: until then it may still write to the renamed one
                return lines
            self._open(self.path, 0, "", 0)
            return self._drain(limit)
        if self._truncated():
            return self._after_truncation(limit)
        return []

    def _truncated(self) -> bool:
        """The open file was emptied in place (and maybe written again) since we read it."""
        if not self._head_len:
            return False
        current = self._stat(self.path)
        if current is None or current.st_ino != self._inode:
            return False
        return current.st_size < self._offset or not self._matches(
            self.path, self._head, self._head_len, 0
        )

    def _after_truncation(self, limit: int) -> list[str]:
        """Read what we had not read yet from the copy, then the file from its start."""
        head, head_len, offset = self._head, self._head_len, self._offset
        copy = self._find_rotated(-1, head, head_len, offset)
        if copy is not None:
            self._backlog.append((copy, offset, head, head_len))
        else:
            self.warn(
                f"{self.path}: truncated at position {offset} and no copy starts with its "
                "first line; lines written between the last read and the truncation are lost"
            )
        self._close()
        self._inode, self._offset, self._head, self._head_len = 0, 0, "", 0
        return self.read(limit)
