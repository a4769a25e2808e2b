"""What every route shares: the service, and the rule for touching its projections.

The service's projections are plain Python objects with no lock of their own. Each
account has an ``asyncio.Lock``: reads of its statistics run on the event loop,
synchronously, while holding it; writes run in a worker thread. Ingestion and
following the log take the lock from their thread through ``guard`` (the service's
``Runtimes.guard``) around what changes the projection (checking, folding and
committing a batch), not around a batch's store reads or its wait for the write lock
another process holds; so no read sees a half-applied event or one not yet committed,
and none waits for another process's batch. Reference-data writes hold it for their
whole call (``write``). Accounts never wait for each other: a 10,000-event batch or a
log replay in one account leaves every other account's reads as fast as when idle. An
uncontended ``asyncio.Lock`` costs no suspension, so a read pays almost nothing.

A projection that is still loading (at start, or for an account another process just
created) answers 503 with ``Retry-After`` instead of making the request wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from ..domain.projection import AccountProjection
from ..service import Loading, Talkstats
from ..service.runtimes import unguarded
from ..store.base import Account, User
from .errors import LOADING_RETRY_AFTER, ServiceUnavailable

CHANGING_THREADS = 16  # threads for calls that may wait for an account's lock
STOPPED_CHECK_SECONDS = 1.0  # how often a thread waiting for a lock checks the loop runs
P = ParamSpec("P")
R = TypeVar("R")


class ApiContext:
    """The service, the per-account locks and the authenticated-user cache of one app."""

    def __init__(self, service: Talkstats) -> None:
        self.service = service
        self._locks: dict[int, asyncio.Lock] = {}
        self._writers: dict[int, asyncio.Lock] = {}  # ingestion of this process, in turn
        # (account id, user id) -> User. Users are never updated or deleted through the
        # Store protocol, so a record once read stays right; this keeps a cached
        # credential from costing a store round trip on the event loop.
        self.users: dict[tuple[int, int], User] = {}
        # Set by the app's lifespan: loads projections and follows the log (upkeep.py).
        self.request_load: Callable[[Account], None] = lambda account: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held = threading.local()  # .accounts: ids whose lock this thread holds
        # Threads that may wait for an account's lock (``changing``, the upkeep's
        # follow) have their own: the shared pool's threads serve the work that holds
        # a lock, so they can never all be taken by threads waiting for one.
        self._changers: anyio.CapacityLimiter | None = None

    def bind(self) -> None:
        """Serve the service's guard from this event loop (call on the loop; idempotent)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._changers is None:
            self._loop = loop
            self._changers = anyio.CapacityLimiter(CHANGING_THREADS)
            self.service.runtimes.guard = self.guard

    def unbind(self) -> None:
        """The loop stops: the service's changes need no guard any more (the CLI may
        still ingest after the server stopped, as the demo does on Ctrl-C)."""
        self._loop = None
        self.service.runtimes.guard = unguarded

    @contextmanager
    def guard(self, account_id: int) -> Iterator[None]:
        """The account's lock, held from a worker thread while it changes the projection.

        Re-entrant for the thread. Reads queue on the lock as usual; the thread waits
        for the reads ahead of it, then holds the lock until it leaves the block.
        """
        held: set[int] | None = getattr(self._held, "accounts", None)
        if held is None:
            held = self._held.accounts = set()
        loop = self._loop
        if account_id in held or loop is None or loop.is_closed():
            yield
            return
        if loop.is_running() and _on_loop(loop):
            raise RuntimeError("the projection guard is taken from worker threads only")

        async def acquire() -> asyncio.Lock:
            lock = self.lock(account_id)
            await lock.acquire()
            return lock

        waiting = asyncio.run_coroutine_threadsafe(acquire(), loop)
        while True:
            try:
                lock = waiting.result(timeout=STOPPED_CHECK_SECONDS)
                break
            except concurrent.futures.TimeoutError:
                if not loop.is_running():  # the server stopped: never wait forever
                    waiting.cancel()
                    raise RuntimeError("the server's event loop stopped") from None
        held.add(account_id)
        try:
            yield
        finally:
            held.discard(account_id)
            loop.call_soon_threadsafe(lock.release)

    def lock(self, account_id: int) -> asyncio.Lock:
        """The lock that serializes everything touching one account's projection."""
        lock = self._locks.get(account_id)
        if lock is None:
            lock = self._locks[account_id] = asyncio.Lock()
        return lock

    def projection(self, account: Account) -> AccountProjection:
        """The account's loaded projection (call with its lock held), else a 503."""
        try:
            return self.service.require_loaded(account)
        except Loading as exc:
            self.request_load(account)
            raise ServiceUnavailable(
                f"The statistics of this account are loading{_left(exc)}; retry shortly.",
                retry_after=LOADING_RETRY_AFTER,
            ) from None

    async def readable(
        self, account: Account, day: date | None, phone_number_ids: list[int] | None = None
    ) -> None:
        """Make a sealed past day readable for a read with these phone numbers (call with
        the account's lock held): loading one from the database runs off the loop."""
        if day is None:
            return
        p = self.projection(account)
        several = phone_number_ids is not None and len(set(phone_number_ids)) > 1
        if day in p.sealed and (day not in p.mounted or (several and not p.mounted[day])):
            await run_in_threadpool(self.service.readable_day, account, day, phone_number_ids)
        else:
            self.service.readable_day(account, day, phone_number_ids)

    @asynccontextmanager
    async def reading(
        self,
        account: Account,
        day: date | None = None,
        phone_number_ids: list[int] | None = None,
    ) -> AsyncIterator[AccountProjection]:
        """The account's projection to read, under its lock, with ``day`` readable."""
        async with self.lock(account.id):
            await self.readable(account, day, phone_number_ids)
            yield self.projection(account)

    async def write(
        self, account: Account, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run a service call that changes the account: under its lock, off the loop.

        For calls that take no store write lock (reference data); ingestion guards its
        own changes (``changing``).
        """
        async with self.lock(account.id):
            return await run_in_threadpool(fn, *args, **kwargs)

    async def changing(
        self, account: Account, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ingestion (or anything else that takes the store's write lock) off the
        loop. It holds the account's lock through ``guard``, only to change the
        projection; the account's writers of this process queue here, on the loop,
        rather than each in a worker thread waiting for the store's write lock."""
        writers = self._writers.get(account.id)
        if writers is None:
            writers = self._writers[account.id] = asyncio.Lock()
        async with writers:
            return await self.guarded(fn, *args, **kwargs)

    async def guarded(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a call that takes accounts' locks through ``guard`` (never call it with
        one held) in a thread of the pool kept for them."""
        self.bind()
        return await anyio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=self._changers
        )

    async def blocking(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a store read (or a hash) off the loop; projections are not touched."""
        return await run_in_threadpool(fn, *args, **kwargs)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _left(exc: Loading) -> str:
    return "" if exc.events_left is None else f" ({exc.events_left:,} events left to replay)"
