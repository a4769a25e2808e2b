"""The server's background work: load projections, follow the log, take snapshots.

Started by the app's lifespan, so it runs in a server and not in the CLI:

- at start, every account's projection is loaded (snapshot + log tail) in worker
  threads, a few accounts at a time, so that the first request does not pay for it,
  a small account is not kept waiting behind a large one, and the event loop keeps
  answering (``/healthz`` in milliseconds throughout);
- every ``interval`` seconds, for each account: a new account (created by another
  process) is loaded; one whose log or reference data another process changed is
  caught up; one with enough events since its last snapshot is snapshotted (pickled
  under the account's lock, written without it; a failure is logged and retried
  later by the service, and never reaches a client); and the exports' record tables
  fold what the log gained (exports.RecordsFollower, without the account's lock);
- a round starts with the store's change mark (SQLite: its data_version): when nothing
  was committed since the last complete round, it does no store reads beyond that
  one, however many accounts there are; otherwise one query reads every log head;
- between rounds, the store's watcher (PostgreSQL: LISTEN/NOTIFY; SQLite: a thread
  watching data_version) wakes the upkeep for the account another process just
  appended to, which is caught up at once; the rounds go on as the fallback for a
  notification that got lost.

``tick()`` is one round, so tests drive the upkeep without waiting for time to pass.
On stop, a round in progress finishes before the service may snapshot and close, so
no snapshot is ever taken of a projection a worker thread is still changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from ..store.base import Account, StoreError
from .context import ApiContext

log = logging.getLogger("talkstats.api")

INTERVAL_SECONDS = 0.5
LOADS_AT_ONCE = 4


class Upkeep:
    """Background loading, following and snapshots for one app."""

    def __init__(self, ctx: ApiContext, *, interval: float = INTERVAL_SECONDS) -> None:
        self.ctx = ctx
        self.service = ctx.service
        self.interval = interval
        self._queued: dict[int, Account] = {}  # waiting to be loaded, or loading
        self._loads: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(LOADS_AT_ONCE)
        self._stop = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()  # rounds never overlap (a test may call tick too)
        self._wakeup = asyncio.Event()  # set by a notification, or by stop()
        self._woken: set[int] = set()  # accounts a notification named
        self._unwatch: Callable[[], None] | None = None
        self._mark: int | None = None  # the store's change mark of the last full round

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.ctx.bind()
        self.service.inline_snapshots = False  # snapshots are this object's job now
        self._stop.clear()
        self.ctx.request_load = self.request_load
        self._mark = None
        loop = asyncio.get_running_loop()

        def notified(account_id: int) -> None:  # called in the store's listener thread
            loop.call_soon_threadsafe(self.wake, account_id)

        try:
            self._unwatch = await run_in_threadpool(self.service.watch, notified)
        except Exception:
            log.exception("cannot watch the store for new events; following by polling")
        self._follower = asyncio.create_task(self._follow_forever(), name="talkstats-upkeep")

    async def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        if self._unwatch is not None:
            await run_in_threadpool(self._unwatch)
            self._unwatch = None
        if self._follower is not None:
            await self._follower  # finishes the round in progress, then returns
            self._follower = None
        for task in self._loads.values():
            task.cancel()  # an unpublished projection: its thread's work is dropped
        for task in list(self._loads.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loads.clear()
        self.ctx.request_load = lambda account: None
        self.service.inline_snapshots = True

    # --- loading ----------------------------------------------------------------------

    def request_load(self, account: Account) -> None:
        """Load an account's projection in the background (a no-op if loaded or loading)."""
        if self._stop.is_set() or self.service.loaded(account) is not None:
            return
        if account.id not in self._loads:
            self._queued[account.id] = account
            self._loads[account.id] = asyncio.create_task(
                self._load(account), name=f"talkstats-load-{account.subdomain}"
            )

    def pending(self) -> list[Account]:
        """Accounts waiting to be loaded, or loading now."""
        return list(self._queued.values())

    async def _load(self, account: Account) -> None:
        try:
            async with self._slots:
                await run_in_threadpool(self.service.load, account)
        except StoreError as exc:  # an outage: one line, not a traceback
            log.warning(
                "loading account %s failed; it will be tried again: %s", account.subdomain, exc
            )
        except Exception:
            log.exception("loading account %s failed; it will be tried again", account.subdomain)
        finally:
            self._queued.pop(account.id, None)
            self._loads.pop(account.id, None)

    # --- following and snapshots --------------------------------------------------------

    def wake(self, account_id: int) -> None:
        """Another process appended to the account's log: catch up now, not next round."""
        self._woken.add(account_id)
        self._wakeup.set()

    async def _follow_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            try:
                await self.tick()
            except StoreError as exc:  # an outage: one line a round, not a traceback
                log.warning("upkeep round failed: the store cannot be used: %s", exc)
            except Exception:
                log.exception("upkeep round failed")
            next_round = loop.time() + self.interval
            while not self._stop.is_set() and (left := next_round - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), left)
                self._wakeup.clear()
                if self._woken and not self._stop.is_set():
                    woken, self._woken = self._woken, set()
                    try:
                        await self.follow_now(woken)
                    except StoreError as exc:  # an outage: one line, not a traceback
                        log.warning("catching up after a notification failed: %s", exc)
                    except Exception:
                        log.exception("catching up after a notification failed")

    async def follow_now(self, account_ids: set[int]) -> None:
        """Catch up the named accounts' projections (a notification's work)."""
        async with self._round:
            for account in self.service.known_accounts():
                if account.id in account_ids and not self._stop.is_set():
                    await self._follow(account)

    async def tick(self) -> None:
        """One round: new accounts loaded, changes caught up, due snapshots taken."""
        async with self._round:
            await self._tick()

    async def _tick(self) -> None:
        service = self.service
        mark = await run_in_threadpool(service.change_mark)
        if mark is not None and mark == self._mark and not self._loads:
            # nothing committed anywhere since the last full round: only snapshots
            for account in service.known_accounts():
                await self._snapshot_if_due(account)
            return
        accounts = await run_in_threadpool(service.refresh_accounts)
        heads = await run_in_threadpool(service.log_heads)
        complete = True
        for account in accounts:
            if self._stop.is_set():
                return
            if service.loaded(account) is None:
                self.request_load(account)
                complete = False
                continue
            await self._follow(account, heads.get(account.id))
            await self._snapshot_if_due(account)
            # the exports' record tables follow the log on their own (no account lock:
            # they read the store, never the projection)
            if await run_in_threadpool(service.records_behind, account):
                await run_in_threadpool(service.flush_records, account)
        # A round that looked at everything: until the mark moves, the next may skip.
        self._mark = mark if complete else None

    async def _follow(self, account: Account, head: int | None = None) -> None:
        service = self.service
        if await run_in_threadpool(service.behind, account, head):
            # reads the log outside the account's lock, folds inside it (Runtimes.guard)
            await self.ctx.guarded(service.follow, account)

    async def _snapshot_if_due(self, account: Account) -> None:
        service = self.service
        if service.snapshot_due(account):
            async with self.ctx.lock(account.id):
                taken = await run_in_threadpool(service.take_snapshot, account)
            if taken is not None:
                await run_in_threadpool(service.save_snapshot, account, taken)
