"""The live hub: one computation per change for any number of screens, bounded updates,
numbers equal to the API's, sessions checked, shutdown.

The feeds' pause is driven by the test (``Steps``): each ``advance()`` runs every
feed exactly once, and the fake clock moves only when told. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from talkstats.access.sessions import DISPLAY, USER, Session
from talkstats.web.live import Filters, Hub, Subscriber
from tests.api.conftest import AGENT, basic, local_iso

from .conftest import Web

ALL = Filters(None, None, 20)
STATS = "/api/v2/channels/voice/stats"


class Steps:
    """The feeds' pause: a feed parks here until the test lets every parked feed go."""

    def __init__(self) -> None:
        self.parked: list[asyncio.Future[None]] = []
        self.arrived: asyncio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.parked.append(future)
        if self.arrived is not None:
            self.arrived.set()
        await future

    async def settle(self, feeds: int) -> None:
        """Wait (on the loop, not the clock) until ``feeds`` feeds are parked."""
        while len(self.parked) < feeds:
            self.arrived = asyncio.Event()
            await asyncio.wait_for(self.arrived.wait(), 10)

    async def advance(self, feeds: int = 1) -> None:
        await self.settle(feeds)
        parked, self.parked = self.parked, []
        for future in parked:
            future.set_result(None)
        await self.settle(feeds)

    async def stop(self, hub: Hub) -> None:
        """Let every feed look once more; those without screens end."""
        tasks = [feed.task for feed in hub.feeds.values() if feed.task is not None]
        parked, self.parked = self.parked, []
        for future in parked:
            future.set_result(None)
        await asyncio.wait(tasks, timeout=10, return_when=asyncio.FIRST_COMPLETED)


@pytest.fixture
def live(make_web: Callable[..., Web]) -> tuple[Web, Steps]:
    steps = Steps()
    return make_web(pause=steps), steps


def run(web: Web, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    web.client.loop.run_until_complete(main())


def hub_of(web: Web) -> Hub:
    hub = web.client.http._transport.app.state.wallboard  # type: ignore[attr-defined]
    assert isinstance(hub, Hub)
    return hub


def user(web: Web, user_id: int = 2, hours: int = 12) -> Session:
    now = web.clock.now_ns // 10**9
    return Session(web.acme.id, USER, user_id, now, now + hours * 3600)


def frames(subscriber: Subscriber) -> dict[str, Any]:
    """What waits to be written to the screen, decoded by kind."""
    out = {}
    for kind, data in subscriber.take():
        text = data.decode()
        assert text.startswith(f"event: {kind}\ndata: ") and text.endswith("\n\n")
        out[kind] = json.loads(text.split("data: ", 1)[1])
    return out


_IDS = itertools.count(1)


def events(*rows: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": f"e{next(_IDS)}", "type": kind, "time": local_iso(clock), **fields}
        for clock, kind, fields in rows
    ]


def ingest(web: Web, *rows: tuple[str, str, dict[str, Any]]) -> None:
    outcome = web.service.ingest(web.acme, events(*rows))
    assert outcome.rejected == 0, outcome.results


def morning(web: Web) -> None:
    """Agent 2 online and answers c1 (number 10); c2 waits on 20; agent 3 away."""
    web.clock.set("09:00:00")
    ingest(
        web,
        *(
            ("08:00:00", "agent.state_changed", {"agent_id": 2, "state": "online"}),
            ("08:00:00", "agent.state_changed", {"agent_id": 3, "state": "away"}),
            ("08:50:00", "call.started",
             {"call_id": "c1", "direction": "inbound", "phone_number_id": 10}),
            ("08:50:05", "call.queued", {"call_id": "c1"}),
            ("08:50:30", "call.answered", {"call_id": "c1", "agent_id": 2}),
            ("08:58:00", "call.started",
             {"call_id": "c2", "direction": "inbound", "phone_number_id": 20}),
            ("08:58:01", "call.queued", {"call_id": "c2"}),
        ),
    )  # fmt: skip


def test_a_thousand_screens_cost_one_computation_per_change(live: tuple[Web, Steps]) -> None:
    web, steps = live
    morning(web)
    hub = hub_of(web)

    async def main() -> None:
        screens = [hub.subscribe(web.acme, ALL, user(web)) for _ in range(1000)]
        await steps.settle(1)
        assert hub.computations == 1 and len(hub.feeds) == 1 and hub.subscribers == 1000
        first = [s.take() for s in screens]
        assert all(len(f) == 2 for f in first)  # the board and the chart
        assert all(f[0][1] is first[0][0][1] for f in first)  # one encoding, shared
        # a burst of 30 events between two looks: one computation, one update each
        for i in range(30):
            ingest(web, ("09:00:00", "call.started",
                         {"call_id": f"b{i}", "direction": "inbound", "phone_number_id": 10}))  # fmt: skip
        await steps.advance()
        assert hub.computations == 2
        latest = [frames(s) for s in screens]
        assert all(set(f) == {"board"} for f in latest)  # the chart waits (TIMELINE_EVERY)
        assert all(f["board"]["today"]["calls"] == 32 for f in latest)
        # nothing happened: no computation, nothing sent
        await steps.advance()
        assert hub.computations == 2 and all(s.take() == [] for s in screens)
        for screen in screens:
            hub.unsubscribe(screen)
        await steps.stop(hub)
        assert hub.feeds == {}

    run(web, main)


def test_updates_are_bounded_however_fast_events_arrive(live: tuple[Web, Steps]) -> None:
    web, steps = live
    morning(web)
    hub = hub_of(web)

    async def main() -> None:
        screen = hub.subscribe(web.acme, ALL, user(web))
        await steps.settle(1)
        screen.take()
        for look in range(5):
            for i in range(20):  # 20 calls before each look
                call = f"x{look}-{i}"
                ingest(
                    web,
                    ("09:00:00", "call.started",
                     {"call_id": call, "direction": "outbound", "phone_number_id": 10,
                      "agent_id": 3}),
                    ("09:00:00", "call.ended", {"call_id": call}),
                    ("09:00:00", "call.wrap_up_ended", {"call_id": call, "agent_id": 3}),
                )  # fmt: skip
            await steps.advance()
            kinds = [kind for kind, _ in screen.take()]
            assert kinds == ["board"]  # one update per look, the newest
        assert hub.computations == 6 and hub.updates == 6

    run(web, main)


def test_the_board_says_what_the_api_says(live: tuple[Web, Steps]) -> None:
    web, steps = live
    morning(web)
    hub = hub_of(web)

    async def main() -> None:
        for numbers, groups in ((None, None), ((10,), None), ((20,), (200,)), (None, (100,))):
            screen = hub.subscribe(web.acme, Filters(numbers, groups, 30), user(web))
            await steps.settle(1)
            got = frames(screen)
            board, timeline = got["board"], got["timeline"]
            query = {"phone_number_ids": ",".join(map(str, numbers))} if numbers else {}
            agents_query = {"group_ids": ",".join(map(str, groups))} if groups else {}

            async def api(path: str, **params: Any) -> Any:
                r = await web.client.http.get(
                    f"{STATS}/{path}", params=params, headers=basic(*AGENT)
                )
                assert r.status_code == 200, r.text
                return r.json()

            queue = (await api("current_queue_activity", **query))["current_queue_activity"]
            overview = (await api("account_overview", **query))["account_overview"]
            level = (await api("service_level", threshold="30", **query))["service_level"]
            chart = (await api("timeline", **query))["timeline"]
            rows = (await api("agents_activity", **agents_query))["agents_activity"]
            assert board["queue"]["calls_waiting"] == queue["calls_waiting"]
            assert board["queue"]["callbacks_waiting"] == queue["callbacks_waiting"]
            assert board["queue"]["longest_wait_time"] == queue["longest_wait_time"]
            assert board["today"]["calls"] == overview["total_calls"]
            assert board["today"]["abandoned"] == overview["total_calls_abandoned_in_queue"]
            assert board["today"]["average_queue_wait_time"] == overview["average_queue_wait_time"]
            assert board["today"]["answered"] == chart["totals"]["answered"]
            assert board["today"]["service_level"] == level
            assert timeline == chart
            columns = board["agents"]["columns"]
            table = [dict(zip(columns, values, strict=True)) for values in board["agents"]["rows"]]
            assert [r["agent_id"] for r in table] == [r["agent_id"] for r in rows]
            for mine, theirs in zip(table, rows, strict=True):
                for key in ("name", "agent_state", "call_status", "calls_accepted",
                            "calls_missed", "total_talk_time"):  # fmt: skip
                    assert mine[key] == theirs[key], key
            counts = board["agents"]["counts"]
            assert counts["online"] == sum(
                r["agent_state"] in ("online", "away", "transfers_only") for r in rows
            )
            assert counts["on_call"] == sum(r["call_status"] == "on_call" for r in rows)
            assert counts["away"] == sum(r["agent_state"] == "away" for r in rows)
            hub.unsubscribe(screen)
            await steps.stop(hub)

    run(web, main)


def test_a_quiet_board_sends_a_heartbeat_and_the_chart_catches_up(
    live: tuple[Web, Steps],
) -> None:
    web, steps = live
    morning(web)
    ingest(web, ("08:59:00", "call.ended", {"call_id": "c2"}))  # nobody waits
    web.clock.set("09:01:00")
    hub = hub_of(web)

    async def main() -> None:
        screen = hub.subscribe(web.acme, ALL, user(web))
        await steps.settle(1)
        assert set(frames(screen)) == {"board", "timeline"}
        ingest(
            web,
            ("09:00:30", "call.started",
             {"call_id": "c3", "direction": "inbound", "phone_number_id": 20}),
            ("09:00:31", "call.queued", {"call_id": "c3"}),
            ("09:00:50", "call.ended", {"call_id": "c3"}),
        )  # fmt: skip
        await steps.advance()
        got = frames(screen)
        assert set(got) == {"board"}  # at once; the chart waits for TIMELINE_EVERY
        assert got["board"]["today"]["abandoned"] == 2
        web.clock.advance(5)  # REFRESH: computed again; nothing changed, so a heartbeat
        await steps.advance()
        got = frames(screen)
        assert set(got) == {"ping", "timeline"}
        assert got["ping"]["now"] == web.clock.now_ns // 10**6
        assert got["timeline"]["totals"]["abandoned"] == 2

    run(web, main)


def test_screens_with_other_filters_get_their_own_feed(live: tuple[Web, Steps]) -> None:
    web, steps = live
    morning(web)
    hub = hub_of(web)

    async def main() -> None:
        a = hub.subscribe(web.acme, Filters((10,), None, 20), user(web))
        b = hub.subscribe(web.acme, Filters((20,), None, 20), user(web))
        c = hub.subscribe(web.acme, Filters((10,), None, 20), user(web))
        await steps.settle(2)
        assert len(hub.feeds) == 2 and hub.computations == 2
        waiting = [frames(s)["board"]["queue"]["calls_waiting"] for s in (a, b, c)]
        assert waiting == [0, 1, 0]

    run(web, main)


def test_a_revoked_link_and_an_expired_session_end_the_stream(live: tuple[Web, Steps]) -> None:
    web, steps = live
    morning(web)
    hub = hub_of(web)
    link, _ = hub.links.create(web.acme.id, "TV", web.clock.now_ns)
    now = web.clock.now_ns // 10**9

    async def main() -> None:
        tv = hub.subscribe(web.acme, ALL, Session(web.acme.id, DISPLAY, link.id, now, now + 99999))
        person = hub.subscribe(web.acme, ALL, user(web, hours=1))
        await steps.settle(1)
        tv.take(), person.take()
        hub.links.revoke(web.acme.id, link.id, web.clock.now_ns)
        web.clock.advance(5)  # LINK_CHECK
        await steps.advance()
        assert frames(tv)["end"] == {"reason": "revoked"}
        assert "end" not in frames(person)
        web.clock.advance(3600)
        await steps.advance()
        assert frames(person)["end"] == {"reason": "expired"}

    run(web, main)


def test_shutdown_tells_every_screen_to_reconnect(live: tuple[Web, Steps]) -> None:
    web, steps = live
    hub = hub_of(web)

    async def main() -> None:
        screens = [hub.subscribe(web.acme, ALL, user(web)) for _ in range(3)]
        await steps.settle(1)
        hub.close()
        for screen in screens:
            received = [data async for data in screen.frames()]
            assert received[-1] == b'event: end\ndata: {"reason":"restart"}\n\n'
        late = hub.subscribe(web.acme, ALL, user(web))
        assert [data async for data in late.frames()][-1].startswith(b"event: end")
        await asyncio.sleep(0)  # let the cancelled feed finish

    run(web, main)
