"""The server's background work: load projections, follow the log, take snapshots.

Started by the app's lifespan, so it runs in a server and not in the CLI:

- at start, every account's projection is loaded (snapshot + log tail) in a worker
  thread, one account after another, so that the first request does not pay for it
  and the event loop keeps answering (``/healthz`` in milliseconds throughout);
- every ``interval`` seconds, for each account: a new account (created by another
  process) is loaded; one whose log or reference data another process changed is
  caught up; one with enough events since its last snapshot is snapshotted (pickled
  under the account's lock, written without it; a failure is logged and retried
  later by the service, and never reaches a client).

``tick()`` is one round, so tests drive the upkeep without waiting for time to pass.
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


class Upkeep:
    """Background loading, following and snapshots for one app."""

    def __init__(self, ctx: ApiContext, *, interval: float = INTERVAL_SECONDS) -> None:
        self.ctx = ctx
        self.service = ctx.service
        self.interval = interval
        self._queue: dict[int, Account] = {}  # accounts waiting to be loaded, in order
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listed = False  # the first list of accounts has been read

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.service.inline_snapshots = False  # snapshots are this object's job now
        self._tasks = [
            asyncio.create_task(self._loader(), name="talkstats-loader"),
            asyncio.create_task(self._follower(), name="talkstats-follower"),
        ]
        self.ctx.request_load = self.request_load

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.service.inline_snapshots = True

    # --- loading ----------------------------------------------------------------------

    def request_load(self, account: Account) -> None:
        """Queue an account's projection to be loaded (a no-op if queued or loaded)."""
        if self.service.loaded(account) is None and account.id not in self._queue:
            self._queue[account.id] = account
            self._wake.set()

    def pending(self) -> list[Account]:
        """Accounts queued for loading, or loading now."""
        return list(self._queue.values())

    async def _loader(self) -> None:
        while True:
            while self._queue:
                account = next(iter(self._queue.values()))
                await self.load(account)
                self._queue.pop(account.id, None)
            self._wake.clear()
            await self._wake.wait()

    async def load(self, account: Account) -> None:
        """Load one account's projection in a worker thread; errors are logged."""
        if self.service.loaded(account) is not None:
            return
        try:
            await run_in_threadpool(self.service.load, account)
        except Exception:
            log.exception("loading account %s failed; it will be tried again", account.subdomain)
            await asyncio.sleep(self.interval)

    # --- following and snapshots --------------------------------------------------------

    async def _follower(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("upkeep round failed")
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        """One round: new accounts queued, changes caught up, due snapshots taken."""
        service = self.service
        accounts = await run_in_threadpool(service.refresh_accounts)
        self.listed = True
        for account in accounts:
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
