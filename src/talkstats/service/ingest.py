"""Ingestion: validate a batch against the live projection, append it, acknowledge.

The promise, whatever fails and wherever: every event the outcome calls `accepted` is
in the log and in the projection, and nothing is in the projection that is not in the
log. The account's write lock, which every process sees, is held from catching up
with the log to the append, so the batch is checked against the whole log. The store
is read (what the log lacks, which ids it holds already, which call ids belong to
sealed days) before the projection's guard is taken; inside the guard, events are
checked and folded one by one and the accepted ones are appended in one durable
transaction that succeeds only if the account's log still ends where the projection
does (the backstop: otherwise the projection is rebuilt and the batch checked again).
So a read of the account waits for the fold and the commit (and, once a day, for a
day's sealing), not for the write lock another process holds nor for the store reads
before them.

An unexpected exception while one event is checked or folded (a bug, or a fault test)
rejects that event with a reason and is logged with its traceback; the projection may
hold part of it, so the events accepted before it are appended first and the
projection is rebuilt from the log before the batch goes on. A failure of the store
(to append, or to read back a sealed day while folding) drops the projection (rebuilt
on next use) and answers Unavailable, with nothing of the batch acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack

import orjson

from talkstats.domain.events import Event, EventRejected, parse_event
from talkstats.domain.projection import AccountProjection, DaySealed
from talkstats.domain.reasons import ID_CONFLICT, MALFORMED, rule_broken
from talkstats.domain.reasons import INTERNAL_ERROR as INTERNAL_FAILURE
from talkstats.store.base import Account, StaleLog, Store, StoreError, StoreLost

from .outcomes import BatchOutcome, EventOutcome, Unavailable
from .runtimes import INTERNAL_ERROR, Runtime, Runtimes, decode_batch

log = logging.getLogger("talkstats")

STALE_ATTEMPTS = 3  # batches re-checked when another process keeps appending
_UNREADABLE = Event("", "", -1)  # a logged event that cannot be read back: never equal


class _Stale(Exception):
    """The log moved under the batch; the projection was dropped."""


def _body(obj: object) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()


def ingest(
    runtimes: Runtimes, account: Account, objs: Sequence[object], server_now: int
) -> BatchOutcome:
    """Validate, append and acknowledge a batch; Unavailable if the store cannot be used.

    The account's write lock (every process sees it) is held from catching up with the
    log to the append's commit, so no other writer appends in between; the projection
    is loaded before it is taken, so a long replay never holds up other processes.
    """
    for _ in range(STALE_ATTEMPTS):
        _loaded(runtimes, account)  # (re)built from the store outside the lock, if need be
        with ExitStack() as held:
            try:
                held.enter_context(runtimes.store.write_lock(account.id))
            except StoreError as exc:
                log.warning("account %s: no write lock: %s", account.subdomain, exc)
                raise Unavailable("the event log is busy or unreachable; retry later") from exc
            runtime = _writable(runtimes, account)  # caught up under the lock
            batch = _Batch(runtimes, account, runtime, objs, server_now)
            batch.prepare()  # the store's answers the batch needs, outside the guard
            try:
                with runtimes.guard(account.id):
                    outcome = batch.run()
            except _Stale:  # a writer that ignores the lock (never ours): check again
                log.info(
                    "the log of account %s moved during a batch; checking it again",
                    account.subdomain,
                )
                continue
        _seal(runtimes, account, server_now)  # after the lock: other processes may write
        return outcome
    raise Unavailable("the event log of this account kept changing during the batch; retry")


def _seal(runtimes: Runtimes, account: Account, server_now: int) -> None:
    """Move the days that can no longer change out of memory (service/sealer.py)."""
    runtime = runtimes.get(account.id)
    if runtime is None:
        return
    projection = runtime.projection
    try:
        with runtimes.guard(account.id):
            runtimes.sealer.seal_due(account, projection, projection.effective_now(server_now))
            runtimes.sealer.direct(account, projection)
    except Exception:  # the batch is stored and acknowledged whatever happens here
        log.exception("sealing past days of account %s failed", account.subdomain)


def _loaded(runtimes: Runtimes, account: Account) -> None:
    """The account's projection is loaded (a replay, if it was not, runs here)."""
    try:
        runtimes.load(account)
    except StoreError as exc:
        log.error("the store of account %s cannot be read: %s", account.subdomain, exc)
        raise Unavailable("the event log cannot be read right now; retry later") from exc


def _writable(runtimes: Runtimes, account: Account) -> Runtime:
    """The account's runtime, caught up with the log (other processes may write)."""
    try:
        runtime = runtimes.load(account)
        runtimes.follow(account)
    except StoreError as exc:
        log.error("the store of account %s cannot be read: %s", account.subdomain, exc)
        raise Unavailable("the event log cannot be read right now; retry later") from exc
    return runtime


class _Batch:
    """One pass over a batch against one runtime."""

    def __init__(
        self,
        runtimes: Runtimes,
        account: Account,
        runtime: Runtime,
        objs: Sequence[object],
        server_now: int,
    ) -> None:
        self.runtimes = runtimes
        self.store: Store = runtimes.store
        self.account = account
        self.runtime = runtime
        self.objs = objs
        self.server_now = server_now
        self.rows: list[tuple[str, str]] = []  # accepted, not yet appended
        self.parsed: list[Event | EventRejected] = []
        self.stored: dict[str, str] = {}  # ids of the batch the log holds -> their bodies
        self.sealed_calls: set[str] = set()
        self.sealed_then: object = None  # the projection's sealed days when looked up

    def prepare(self) -> None:
        """Decode the batch and ask the store what it needs (no projection change)."""
        self.parsed = parsed = decode_batch(self.objs)
        events = [item for item in parsed if type(item) is Event]
        try:
            ids = [e.id for e in events]
            self.stored = self.store.find_events(self.account.id, ids) if ids else {}
            self._look_up_sealed_calls(events)
        except StoreError as exc:
            raise Unavailable("the event log cannot be read right now; retry later") from exc

    def _look_up_sealed_calls(self, events: list[Event]) -> None:
        projection = self.runtime.projection
        self.sealed_then = tuple(projection.sealed.items())
        self.sealed_calls = self.runtimes.sealer.sealed_calls(self.account, projection, events)

    def run(self) -> BatchOutcome:
        """Check, fold and append the batch (the caller holds the projection's guard)."""
        parsed, stored = self.parsed, self.stored
        projection = self.runtime.projection
        if tuple(projection.sealed.items()) != self.sealed_then:  # a day was sealed since
            try:
                self._look_up_sealed_calls([item for item in parsed if type(item) is Event])
            except StoreError as exc:
                raise Unavailable("the event log cannot be read right now; retry later") from exc
        self.runtimes.sealer.use_sealed_calls(projection, self.sealed_calls)
        in_batch: dict[str, Event] = {}
        results: list[EventOutcome] = []
        accepted = duplicates = 0
        reasons: dict[str, int] = {}  # rejections by class (domain/reasons.py)
        for index, item in enumerate(parsed):
            if isinstance(item, EventRejected):
                results.append(
                    EventOutcome(index, item.event_id, "rejected", item.message, item.field)
                )
                _tally(reasons, INTERNAL_FAILURE if item.reason == INTERNAL_ERROR else MALFORMED)
                continue
            earlier: Event | None = in_batch.get(item.id)
            if earlier is None and item.id in stored:
                earlier = _stored_event(stored[item.id]) or _UNREADABLE
            if earlier is not None:
                if earlier == item:
                    results.append(EventOutcome(index, item.id, "duplicate"))
                    duplicates += 1
                else:
                    message = (
                        f"event {item.id!r}: field 'id': was already used by an event "
                        "with different content"
                    )
                    results.append(EventOutcome(index, item.id, "rejected", message, "id"))
                    _tally(reasons, ID_CONFLICT)
                continue
            try:
                body = _body(self.objs[index])
                self._apply(projection, item)
            except EventRejected as exc:
                results.append(EventOutcome(index, item.id, "rejected", exc.message, exc.field))
                _tally(reasons, rule_broken(exc))
                continue
            except StoreError as exc:
                # The store is out (reading a sealed day back, say), not the event: the
                # batch is not acknowledged, and the projection, which may hold events
                # not appended yet, is rebuilt on next use.
                self.runtimes.drop(self.account.id)
                log.error("the store of account %s failed: %s", self.account.subdomain, exc)
                raise Unavailable("the event log cannot be read right now; retry later") from exc
            except Exception:
                log.exception(
                    "event %r of account %s could not be processed", item.id, self.account.subdomain
                )
                message = f"event {item.id!r}: {INTERNAL_ERROR}"
                results.append(EventOutcome(index, item.id, "rejected", message, None))
                _tally(reasons, INTERNAL_FAILURE)
                projection = self._recover()
                continue
            in_batch[item.id] = item
            self.rows.append((item.id, body))
            results.append(EventOutcome(index, item.id, "accepted"))
            accepted += 1
        self._append()
        return BatchOutcome(results, accepted, duplicates, sum(reasons.values()), reasons)

    def _apply(self, projection: AccountProjection, event: Event) -> None:
        try:
            projection.apply(event, self.server_now)
        except DaySealed as sealed:  # a late event: the day becomes live again first
            try:
                self.runtimes.sealer.unseal(self.account, projection, sealed.day)
            except StoreError as exc:
                # The store is out, not the event: nothing of the batch is acknowledged
                # (the projection may hold events not yet appended: rebuilt on next use).
                self.runtimes.drop(self.account.id)
                log.error(
                    "a sealed day of account %s cannot be read back: %s",
                    self.account.subdomain,
                    exc,
                )
                raise Unavailable("the event log cannot be read right now; retry later") from exc
            projection.apply(event, self.server_now)

    def _recover(self) -> AccountProjection:
        """Store what was accepted so far, then rebuild the projection from the log."""
        self._append()
        self.runtimes.drop(self.account.id)
        self.runtime = _writable(self.runtimes, self.account)
        return self.runtime.projection

    def _append(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        runtime = self.runtime
        try:
            seq = self.store.append_events(self.account.id, rows, after_seq=runtime.seq)
        except StaleLog as exc:
            self.runtimes.drop(self.account.id)
            raise _Stale() from exc
        except BaseException as exc:
            # The projection folded events the log may not hold: rebuild it on next use.
            self.runtimes.drop(self.account.id)
            _log_append_failure(self.account, exc)
            if isinstance(exc, StoreLost):
                raise Unavailable(
                    "the event log cannot be written: its database was removed or replaced "
                    "while the server ran; an operator must restart talkstats on its database"
                ) from exc
            if isinstance(exc, Exception):
                raise Unavailable("the event log could not be written; retry later") from exc
            raise
        runtime.seq = seq
        runtime.folded += len(rows)


def _tally(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1


def _stored_event(body: str) -> Event | None:
    """The logged event with this id, to compare a re-sent one with (None if unreadable)."""
    try:
        return parse_event(orjson.loads(body))
    except Exception:
        log.exception("a logged event could not be read back for comparison")
        return None


def _log_append_failure(account: Account, exc: BaseException) -> None:
    if isinstance(exc, StoreLost):
        log.critical("account %s: %s; every write now fails", account.subdomain, exc)
    elif isinstance(exc, StoreError):
        log.error("append to the log of account %s failed: %s", account.subdomain, exc)
    else:
        log.error("append to the log of account %s failed", account.subdomain, exc_info=exc)
