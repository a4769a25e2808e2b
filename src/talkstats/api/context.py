"""What every route shares: the service, and the rule for touching its projections.

The service's projections are plain Python objects with no lock of their own. Each
account has an ``asyncio.Lock``: reads of its statistics run on the event loop,
synchronously, while holding it; writes (ingestion, availability, reference data)
take the same lock and run in a worker thread, so the loop stays free and no read ever
sees a half-applied event. Accounts never wait for each other: a 10,000-event batch or
a log replay in one account leaves every other account's reads as fast as when idle.
An uncontended ``asyncio.Lock`` costs no suspension, so a read pays almost nothing.

A projection that is still loading (at start, or for an account another process just
created) answers 503 with ``Retry-After`` instead of making the request wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from ..domain.projection import AccountProjection
from ..service import Loading, Talkstats
from ..store.base import Account, User
from .errors import LOADING_RETRY_AFTER, ServiceUnavailable

P = ParamSpec("P")
R = TypeVar("R")


class ApiContext:
    """The service, the per-account locks and the authenticated-user cache of one app."""

    def __init__(self, service: Talkstats) -> None:
        self.service = service
        self._locks: dict[int, asyncio.Lock] = {}
        # (account id, user id) -> User. Users are never updated or deleted through the
        # Store protocol, so a record once read stays right; this keeps a cached
        # credential from costing a store round trip on the event loop.
        self.users: dict[tuple[int, int], User] = {}
        # Set by the app's lifespan: loads projections and follows the log (upkeep.py).
        self.request_load: Callable[[Account], None] = lambda account: None

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
        """Run a service call that changes the account: under its lock, off the loop."""
        async with self.lock(account.id):
            return await run_in_threadpool(fn, *args, **kwargs)

    async def blocking(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a store read (or a hash) off the loop; projections are not touched."""
        return await run_in_threadpool(fn, *args, **kwargs)


def _left(exc: Loading) -> str:
    return "" if exc.events_left is None else f" ({exc.events_left:,} events left to replay)"
