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
  fold what the log gained (exports.RecordsFollower, without the account's lock).

``tick()`` is one round, so tests drive the upkeep without waiting for time to pass.
On stop, a round in progress finishes before the service may snapshot and close, so
no snapshot is ever taken of a projection a worker thread is still changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from ..store.base import Account
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

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.service.inline_snapshots = False  # snapshots are this object's job now
        self._stop.clear()
        self.ctx.request_load = self.request_load
        self._follower = asyncio.create_task(self._follow_forever(), name="talkstats-upkeep")

    async def stop(self) -> None:
        self._stop.set()
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
        except Exception:
            log.exception("loading account %s failed; it will be tried again", account.subdomain)
        finally:
            self._queued.pop(account.id, None)
            self._loads.pop(account.id, None)

    # --- following and snapshots --------------------------------------------------------

    async def _follow_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("upkeep round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def tick(self) -> None:
        """One round: new accounts loaded, changes caught up, due snapshots taken."""
        async with self._round:
            await self._tick()

    async def _tick(self) -> None:
        service = self.service
        accounts = await run_in_threadpool(service.refresh_accounts)
        for account in accounts:
            if self._stop.is_set():
                return
            if service.loaded(account) is None:
                self.request_load(account)
                continue
            if await run_in_threadpool(service.behind, account):
                async with self.ctx.lock(account.id):
                    await run_in_threadpool(service.follow, account)
            if service.snapshot_due(account):
                async with self.ctx.lock(account.id):
                    taken = await run_in_threadpool(service.take_snapshot, account)
                if taken is not None:
                    await run_in_threadpool(service.save_snapshot, account, taken)
            # the exports' record tables follow the log on their own (no account lock:
            # they read the store, never the projection)
            if await run_in_threadpool(service.records_behind, account):
                await run_in_threadpool(service.flush_records, account)
