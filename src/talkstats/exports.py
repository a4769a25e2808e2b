"""The incremental exports' store side: record tables that follow the log, and pages.

The domain (``domain/records.py``) folds events into call and leg records. A
``RecordsFollower`` keeps one account's record tables caught up with its log: it reads
the log entries after the position the tables cover, folds them, and writes the changed
records together with that position and the fold's state there (the unfinished calls,
pickled), all in one transaction. It runs beside ingestion, never inside it (a server
runs it in its background rounds, and before every export read), so ingesting costs
nothing more; after a crash or in another process it goes on from the stored state.
Pages are read by ``updated_at`` from the tables: exports never scan the log.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from talkstats.domain.decoding import parse_batch
from talkstats.domain.events import Event, EventRejected, parse_event
from talkstats.domain.records import CallRecords, render_call, render_leg
from talkstats.domain.timeutil import NS_PER_SECOND, DayCalendar
from talkstats.store.base import RECORD_KINDS, Account, Store

log = logging.getLogger("talkstats")

READ_CHUNK = 10_000
"""Log entries read and folded at a time."""

FLUSH_AT = 20_000
"""Changed records kept in memory before they are written (at the end of a catch-up
at the latest)."""

PAGE_SIZE = 1_000
"""Records per export page, as Zendesk serves; a page ends at a second's end."""


def _json(values: tuple[Any, ...]) -> str:
    return orjson.dumps(values).decode()


def _decode(objs: Sequence[object]) -> list[Event | EventRejected]:
    try:
        return parse_batch(objs)
    except Exception:
        out: list[Event | EventRejected] = []
        for obj in objs:
            try:
                out.append(parse_event(obj))
            except Exception:  # an entry the projection skips too (it is logged there)
                out.append(EventRejected(None, None, "unreadable"))
        return out


def _state(blob: bytes) -> tuple[int, CallRecords] | None:
    """(seq, fold) from a stored state; None if it cannot be read (then: rebuild)."""
    try:
        seq, records = pickle.loads(blob)
    except Exception:
        return None
    return (seq, records) if isinstance(records, CallRecords) and isinstance(seq, int) else None


class RecordsFollower:
    """One account's record tables, kept caught up with its log (thread-safe)."""

    def __init__(self, store: Store, account: Account, version: str) -> None:
        self.store = store
        self.account = account
        self.version = version
        self._lock = threading.Lock()
        self._records: CallRecords | None = None
        self._seq = 0

    def behind(self) -> bool:
        """Whether the log holds entries the tables do not cover yet (store reads only)."""
        return self.store.log_head(self.account.id) > self._seq

    def catch_up(self) -> int:
        """Fold and write what the log holds past the tables' position; how many entries."""
        with self._lock:
            records = self._open()
            folded = 0
            while True:
                rows = self.store.read_events(self.account.id, self._seq, READ_CHUNK)
                if not rows:
                    break
                self._fold(records, rows)
                self._seq = rows[-1][0]
                folded += len(rows)
                if records.pending >= FLUSH_AT:
                    self._save(records)
            if folded:
                self._save(records)
            return folded

    def _open(self) -> CallRecords:
        """The fold at the position the tables cover (from memory, or from the store)."""
        mark = self.store.records_mark(self.account.id)
        if mark is None or mark[1] != self.version:
            # never written, or by another version (domain, time zone): start over
            self.store.reset_records(self.account.id, self.version)
            self._records, self._seq = CallRecords(DayCalendar(self.account.timezone)), 0
            return self._records
        if self._records is not None and mark[0] <= self._seq:
            return self._records  # ours is current (no other process went further)
        stored = self.store.records_state(self.account.id)
        state = _state(stored[1]) if stored is not None else None
        if stored is None or state is None or state[0] != stored[0] or stored[0] != mark[0]:
            # a mark without the state to go on from it: rebuild from the start
            self.store.reset_records(self.account.id, self.version)
            self._records, self._seq = CallRecords(DayCalendar(self.account.timezone)), 0
            return self._records
        self._seq, self._records = state
        return self._records

    def _fold(self, records: CallRecords, rows: list[tuple[int, str]]) -> None:
        objs: list[object] = []
        for _, body in rows:
            try:
                objs.append(orjson.loads(body))
            except orjson.JSONDecodeError:
                objs.append(None)
        latest = records.now
        fold = records.fold
        for event in _decode(objs):
            if isinstance(event, EventRejected):
                continue
            if event.time > latest:
                latest = event.time
            try:
                fold(event, latest)
            except Exception:
                log.exception("event %r did not fold into the records", event.id)

    def _save(self, records: CallRecords) -> None:
        changes = records.take_changes(_json)
        state = pickle.dumps((self._seq, records), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.store.save_records(
                self.account.id, self.version, self._seq, changes.calls, changes.legs, state=state
            )
        except BaseException:
            self._records = None  # its changes are in no table: go on from the store's state
            raise


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an export: the records, ``end_time`` and where the next page starts.

    ``end_time`` is the ``updated_at`` (Unix seconds) of the last record, or the
    request's ``start_time`` when the page is empty; ``after`` is the exact stamp (ns)
    of the last record served (the next page's exclusive lower bound), None if none.
    """

    records: list[dict[str, Any]]
    end_time: int
    after: int | None


def _check_kind(kind: str) -> None:
    if kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}, got {kind!r}")


def _phone_numbers(store: Store, account: Account) -> dict[int, str]:
    return {n.id: n.number for n in store.list_phone_numbers(account.id)}


def _render(
    kind: str, rows: list[tuple[int, str]], numbers: dict[int, str]
) -> list[dict[str, Any]]:
    loads = orjson.loads
    if kind == "calls":
        out = []
        for record_id, data in rows:
            values = loads(data)
            out.append(render_call(record_id, values, numbers.get(values[4])))
        return out
    return [render_leg(record_id, loads(data)) for record_id, data in rows]


def page(
    store: Store,
    account: Account,
    kind: str,
    start_time: int,
    after: int | None = None,
    size: int | None = None,
) -> Page:
    """Records updated at or after ``start_time`` (Unix s) and after stamp ``after``.

    Ordered by ``updated_at``; ``size`` records, then the rest of the last record's
    second, so that a reader who restarts from ``end_time`` skips nothing (Zendesk's
    pages likewise run over 1,000 records when more share one second).
    """
    _check_kind(kind)
    size = size or PAGE_SIZE
    lo = start_time * NS_PER_SECOND
    if after is not None and after >= lo:
        lo = after + 1
    rows = store.read_records(account.id, kind, lo, None, size)
    if len(rows) == size:
        last = rows[-1][1]
        rows += store.read_records(
            account.id, kind, last + 1, (last // NS_PER_SECOND + 1) * NS_PER_SECOND, None
        )
    numbers = _phone_numbers(store, account) if kind == "calls" else {}
    records = _render(kind, [(r[0], r[2]) for r in rows], numbers)
    if not rows:
        return Page(records, start_time, after)
    last = rows[-1][1]
    return Page(records, last // NS_PER_SECOND, last)


def day_count(store: Store, account: Account, kind: str, first: date, last: date) -> int:
    """How many records of ``kind`` the local days first..last hold."""
    _check_kind(kind)
    return store.count_day_records(account.id, kind, first.isoformat(), last.isoformat())


def by_day(
    store: Store, account: Account, kind: str, days: list[date], chunk: int = 5_000
) -> Iterator[list[dict[str, Any]]]:
    """The records of calls that started on ``days`` (local), day by day, by id, in chunks."""
    _check_kind(kind)
    numbers = _phone_numbers(store, account) if kind == "calls" else {}
    for day in days:
        after_id = 0
        while True:
            rows = store.read_day_records(account.id, kind, day.isoformat(), after_id, chunk)
            if not rows:
                break
            yield _render(kind, rows, numbers)
            after_id = rows[-1][0]
