"""What every route shares: the service, and the rule for touching its projections.

The service's projections are plain Python objects with no lock of their own. Reads
(the stats endpoints) run on the event loop, synchronously, while holding
``ApiContext.lock``; writes (ingestion, availability, reference data) take the same
lock and run in a worker thread, so the loop stays free (pings, auth, other accounts'
clients waiting their turn) while a batch is validated and fsynced, and no read ever
sees a half-applied event. An uncontended ``asyncio.Lock`` costs no suspension, so a
read pays almost nothing for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from ..service import Talkstats
from ..store.base import User

P = ParamSpec("P")
R = TypeVar("R")


class ApiContext:
    """The service, the projection lock and the authenticated-user cache of one app."""

    def __init__(self, service: Talkstats) -> None:
        self.service = service
        self.lock = asyncio.Lock()
        # (account id, user id) -> User. Users are never updated or deleted through the
        # Store protocol, so a record once read stays right; this keeps a cached
        # credential from costing a store round trip on the event loop.
        self.users: dict[tuple[int, int], User] = {}

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a service call that changes projections: under the lock, off the loop."""
        async with self.lock:
            return await run_in_threadpool(fn, *args, **kwargs)

    async def blocking(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a store read (or a hash) off the loop; projections are not touched."""
        return await run_in_threadpool(fn, *args, **kwargs)
