"""One record of Asterisk's queue_log, from a file line or a realtime table row.

A file line is ``EPOCH|CALLID|QUEUE|AGENT|EVENT|DATA...`` (the data fields separated
by ``|`` too). A realtime row has the same fields in columns: ``time`` (a DATETIME in
Asterisk's local time unless ``queue_log_realtime_use_gmt``), ``callid``, ``queuename``,
``agent``, ``event`` and either ``data1``..``data5`` (the last one keeps any further
``|``-separated parts) or the older single ``data`` column. Both become a
`QueueLogLine`; its ``key`` identifies the record, so events derived from it get the
same ids whenever it is read again.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from talkstats.domain.timeutil import NS_PER_SECOND, instant_from_datetime

__all__ = ["MalformedLine", "QueueLogLine", "line_from_row", "parse_line"]

LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: the last instant an event can carry
# ASCII digits only ("²".isdigit() is true); before 1970 is read (the parser skips it)
_SECONDS = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class MalformedLine(ValueError):
    """A record that is not a queue_log line (the message says why)."""


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    """A queue_log record: its instant (ns since the epoch), fields and identity."""

    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]
    key: str

    def field(self, index: int) -> str:
        """Data field ``index`` (0 = data1), or "" when the line has fewer."""
        return self.data[index] if index < len(self.data) else ""


def _line_key(raw: str) -> str:
    return hashlib.blake2b(raw.encode("utf-8", "surrogateescape"), digest_size=10).hexdigest()


def parse_line(raw: str) -> QueueLogLine:
    """Parse one line of a queue_log file (without or with its line ending)."""
    text = raw.rstrip("\r\n")
    parts = text.split("|")
    if len(parts) < 5:
        raise MalformedLine(f"has {len(parts)} fields, a queue_log line has at least 5")
    instant = _epoch_instant(parts[0].strip())
    event = parts[4].strip()
    if not event:
        raise MalformedLine("has no event name")
    return QueueLogLine(
        instant, parts[1], parts[2], parts[3], event, tuple(parts[5:]), _line_key(text)
    )


def _epoch_instant(text: str) -> int:
    """Seconds since the epoch (a fraction allowed) as ns; MalformedLine past year 9999."""
    if not _SECONDS.fullmatch(text):
        raise MalformedLine(f"time {text[:40]!r} is not a number of seconds")
    whole = text.partition(".")[0].lstrip("-").lstrip("0")
    if len(whole) > 12 or int(whole or "0") > LAST_SECOND:
        raise MalformedLine(f"time {text[:40]!r} is out of range (years 0 to 9999)")
    if text.isdigit():
        return int(text) * NS_PER_SECOND
    return int(Decimal(text) * NS_PER_SECOND)


def _row_instant(value: object, zone: tzinfo) -> int:
    """The instant of a row's ``time``: naive DATETIME values are in ``zone``."""
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return instant_from_datetime(when)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _epoch_instant(format(Decimal(value), "f"))
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if _SECONDS.fullmatch(text):
            return _epoch_instant(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise MalformedLine(f"time {text!r} is not a date and time") from None
        return _row_instant(parsed, zone)
    raise MalformedLine(f"time {value!r} is not a date and time")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def line_from_row(
    row_id: int,
    time: object,
    callid: object,
    queue: object,
    agent: object,
    event: object,
    data: tuple[object, ...],
    zone: tzinfo = UTC,
    *,
    table: str = "queue_log",
) -> QueueLogLine:
    """A realtime table row as a line; ``data`` is (data1..data5) or (data,).

    The key is the table and the row id (ids never change, so a row read again maps to
    the same events).
    """
    name = _text(event).strip()
    if not name:
        raise MalformedLine("has no event name")
    joined = "|".join(_text(d) for d in data)
    fields = tuple(joined.split("|")) if joined else ()
    while fields and fields[-1] == "":  # data1..data5 are padded with empty strings
        fields = fields[:-1]
    return QueueLogLine(
        _row_instant(time, zone),
        _text(callid),
        _text(queue),
        _text(agent),
        name,
        fields,
        f"{table}.{row_id}",
    )
