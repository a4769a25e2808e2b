"""The incremental exports' store side: keeping the record tables, reading pages.

The domain (``domain/records.py``) folds events into call and leg records and says
which changed; this module writes those changes to the store's record tables, in one
transaction with the log position they cover (the *records mark*), and reads pages
back by ``updated_at``. The service calls it at a few points: when a projection is
loaded, after events are folded (live or replayed), before a snapshot, and before an
export is read. Exports never scan the log: a page is an index range on the tables.

Invariant kept with the service: a projection snapshot never covers more of the log
than the records mark (``flush`` runs before every snapshot), so a restart that folds
the log from the snapshot on re-derives every change the tables may lack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from talkstats.domain.records import CallRecords, render_call, render_leg
from talkstats.domain.timeutil import NS_PER_SECOND
from talkstats.store.base import RECORD_KINDS, Account, Store

FLUSH_AT = 20_000
"""Changed records kept in memory before they are written (a write per ~50k events)."""

PAGE_SIZE = 1_000
"""Records per export page, as Zendesk serves; a page ends at a second's end."""


def _json(values: tuple[Any, ...]) -> str:
    return orjson.dumps(values).decode()


def covered(store: Store, account: Account, version: str) -> int:
    """The log position the account's record tables cover, for records ``version``.

    Tables written by another version (another domain, another timezone) are emptied
    first: the records are then rebuilt from the log.
    """
    mark = store.records_mark(account.id)
    if mark is not None and mark[1] == version:
        return mark[0]
    store.reset_records(account.id, version)
    return 0


def flush(store: Store, account: Account, version: str, records: CallRecords, seq: int) -> None:
    """Write every changed record as of log position ``seq`` and mark the tables at seq."""
    changes = records.take_changes(_json)
    store.save_records(account.id, version, seq, changes.calls, changes.legs)


def after_fold(
    store: Store, account: Account, version: str, records: CallRecords, seq: int, mark: int
) -> int:
    """After folding the log up to ``seq``: drop changes the tables already hold, or
    write them once enough are waiting. Returns the new records mark."""
    if seq <= mark:
        records.discard_changes()
        return mark
    if records.pending >= FLUSH_AT:
        flush(store, account, version, records, seq)
        return seq
    return mark


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
