"""Live updates: one producer per account and filter, fanned out to every open screen.

A :class:`Feed` looks at its account's projection a few times a second (``PERIOD``).
Only when the projection changed (its event counter or its reference data) does it
compute the board, once, and hand the same encoded Server-Sent Events frame to every
:class:`Subscriber` (an open screen). So the work per update does not depend on the
number of screens, and however fast events arrive a screen gets at most
``1 / PERIOD`` updates a second. Each subscriber keeps only the newest frame of each
kind: a slow screen skips updates, it never queues them.

Every ``REFRESH`` seconds the board is computed even without events (the day may have
turned); if nothing changed, a small ``ping`` frame tells the screens the server is
alive and what time it is. The timeline (the chart) goes out at most every
``TIMELINE_EVERY`` seconds. Screens opened by a display link are checked against the
store every ``LINK_CHECK`` seconds and closed once their link is revoked; any screen
is closed when its session expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from ..access.displays import DisplayLinks
from ..access.sessions import DISPLAY, Session
from ..api.context import ApiContext
from ..api.errors import ServiceUnavailable
from ..domain import board
from ..store.base import Account, StoreError

log = logging.getLogger("talkstats.web")

PERIOD = 0.25
REFRESH = 5.0
TIMELINE_EVERY = 5.0
LINK_CHECK = 5.0
NS = 1_000_000_000

Pause = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Filters:
    """What a screen shows: phone numbers and groups (None = all), the service-level
    threshold in seconds. Screens with equal filters share one feed."""

    phone_number_ids: tuple[int, ...] | None
    group_ids: tuple[int, ...] | None
    threshold: int


AGENT_COLUMNS = (
    "agent_id",
    "name",
    "agent_state",
    "call_status",
    "since",
    "calls_accepted",
    "calls_missed",
    "total_talk_time",
)


def wire(board_data: dict[str, Any]) -> dict[str, Any]:
    """The board as sent: the agents table as column names and rows of values (keys
    repeated on every row were most of the bytes of a large center's board)."""
    agents = board_data["agents"]
    rows = [[row[c] for c in AGENT_COLUMNS] for row in agents["table"]]
    return {**board_data, "agents": {"counts": agents["counts"], "columns": AGENT_COLUMNS,
                                     "rows": rows}}  # fmt: skip


def frame(kind: str, data: Any) -> bytes:
    """One Server-Sent Events message."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Subscriber:
    """One open screen: the newest frame of each kind, waiting to be written."""

    __slots__ = ("session", "key", "_slots", "_wake", "ended")

    def __init__(self, session: Session, key: tuple[int, Filters]) -> None:
        self.session = session
        self.key = key
        self._slots: dict[str, bytes] = {}
        self._wake = asyncio.Event()
        self.ended = False

    def offer(self, kind: str, data: bytes) -> None:
        if self.ended:
            return
        self._slots[kind] = data  # replaces an older frame of the kind not yet written
        self._wake.set()

    def end(self, reason: str) -> None:
        self.offer("end", frame("end", {"reason": reason}))
        self.ended = True

    def take(self) -> list[tuple[str, bytes]]:
        """The frames waiting to be written, oldest kind first, and forget them."""
        pending, self._slots = self._slots, {}
        self._wake.clear()
        return list(pending.items())

    async def frames(self) -> AsyncIterator[bytes]:
        """Frames as they come, until the subscriber is ended."""
        while True:
            await self._wake.wait()
            for kind, data in self.take():
                yield data
                if kind == "end":
                    return


class Feed:
    """The producer of one account and filter, while at least one screen watches."""

    def __init__(self, hub: Hub, account: Account, filters: Filters) -> None:
        self.hub = hub
        self.account = account
        self.filters = filters
        self.subscribers: set[Subscriber] = set()
        self.marker: tuple[int, ...] | None = None
        self.computed_at = float("-inf")
        self.links_checked_at = float("-inf")
        self.board: dict[str, Any] | None = None
        self.board_frame: bytes | None = None
        self.timeline: dict[str, Any] | None = None
        self.timeline_frame: bytes | None = None
        self.timeline_sent: dict[str, Any] | None = None
        self.timeline_at = float("-inf")
        self.task: asyncio.Task[None] | None = None

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        if self.board_frame is not None:
            subscriber.offer("board", self.board_frame)
        if self.timeline_frame is not None:
            subscriber.offer("timeline", self.timeline_frame)

    def publish(self, kind: str, data: bytes) -> None:
        for subscriber in self.subscribers:
            subscriber.offer(kind, data)

    async def run(self) -> None:
        logged = float("-inf")
        try:
            while self.subscribers:
                try:
                    await self.step()
                except ServiceUnavailable:
                    pass  # the account is loading: screens keep waiting for their first board
                except Exception as exc:  # the store is down, a bug...
                    # screens keep their numbers (their banner ages them); say it once a minute
                    mono = self.hub.service.monotonic()
                    if mono - logged >= 60:
                        logged = mono
                        level = logging.WARNING if isinstance(exc, StoreError) else logging.ERROR
                        log.log(level, "wallboard of account %s: %r", self.account.id, exc)
                await self.hub.pause(self.hub.period)
        finally:
            self.hub.feeds.pop((self.account.id, self.filters), None)

    async def step(self) -> None:
        hub = self.hub
        mono = hub.service.monotonic()
        async with hub.ctx.lock(self.account.id):
            p = hub.ctx.projection(self.account)
            directory = p.directory
            marker = (
                p.event_count,
                len(directory.agents),
                sum(len(m) for m in directory.groups.values()),
                len(directory.phone_numbers),
            )
            if marker != self.marker or mono - self.computed_at >= hub.refresh:
                now = p.effective_now(hub.service.clock())
                groups = self.filters.group_ids
                agent_ids = (
                    directory.agent_ids()
                    if groups is None
                    else directory.agent_ids_in_groups(groups)
                )
                numbers = self.filters.phone_number_ids
                data = board.board(
                    p,
                    now,
                    phone_number_ids=None if numbers is None else list(numbers),
                    agent_ids=agent_ids,
                    threshold=self.filters.threshold,
                )
                hub.computations += 1
                self.marker, self.computed_at = marker, mono
                self._publish_board(data)
        if self.timeline != self.timeline_sent and mono - self.timeline_at >= hub.timeline_every:
            self.timeline_frame = frame("timeline", self.timeline)
            self.timeline_sent, self.timeline_at = self.timeline, mono
            self.publish("timeline", self.timeline_frame)
        await self._check_sessions(mono)

    def _publish_board(self, data: dict[str, Any]) -> None:
        self.timeline = data.pop("timeline")
        now = data.pop("now")
        if data != self.board:
            self.board = data
            self.board_frame = frame("board", {"now": now, **wire(data)})
            self.hub.updates += 1
            self.publish("board", self.board_frame)
        else:
            self.publish("ping", frame("ping", {"now": now}))

    async def _check_sessions(self, mono: float) -> None:
        now = self.hub.service.clock() // NS
        for subscriber in list(self.subscribers):
            if subscriber.session.expired(now):
                subscriber.end("expired")
        displays = [s for s in self.subscribers if s.session.kind == DISPLAY and not s.ended]
        if not displays or mono - self.links_checked_at < self.hub.link_check:
            return
        self.links_checked_at = mono
        active = await run_in_threadpool(self.hub.links.active_ids, self.account.id)
        for subscriber in displays:
            if subscriber.session.subject not in active:
                subscriber.end("revoked")


class Hub:
    """Every feed of one process; screens subscribe to the feed of their filters."""

    def __init__(
        self,
        ctx: ApiContext,
        links: DisplayLinks,
        *,
        pause: Pause = asyncio.sleep,
        period: float = PERIOD,
        refresh: float = REFRESH,
        timeline_every: float = TIMELINE_EVERY,
        link_check: float = LINK_CHECK,
    ) -> None:
        self.ctx = ctx
        self.service = ctx.service
        self.links = links
        self.pause = pause
        self.period = period
        self.refresh = refresh
        self.timeline_every = timeline_every
        self.link_check = link_check
        self.feeds: dict[tuple[int, Filters], Feed] = {}
        self.computations = 0  # boards computed (for tests and the benchmark)
        self.updates = 0  # board frames published
        self.closed = False

    def subscribe(self, account: Account, filters: Filters, session: Session) -> Subscriber:
        key = (account.id, filters)
        subscriber = Subscriber(session, key)
        if self.closed:
            subscriber.end("restart")
            return subscriber
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = Feed(self, account, filters)
        feed.add(subscriber)
        if feed.task is None:
            feed.task = asyncio.get_running_loop().create_task(feed.run())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = self.feeds.get(subscriber.key)
        if feed is not None:
            feed.subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return sum(len(feed.subscribers) for feed in self.feeds.values())

    def close(self) -> None:
        """Server shutdown: every screen is told to reconnect, every feed stops."""
        self.closed = True
        for feed in list(self.feeds.values()):
            for subscriber in list(feed.subscribers):
                subscriber.end("restart")
            feed.subscribers.clear()
            if feed.task is not None:
                feed.task.cancel()
