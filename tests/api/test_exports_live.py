"""A live day polled every minute while the simulator runs (fake clock, no sleeps).

Two pollers read the calls and legs exports: one follows ``next_page`` (as Zendesk
advises), one keeps only ``end_time`` and sends it back as ``start_time``. After every
poll each has exactly the records a full export gives at that moment (so each change
was seen at the next poll), and at the end exactly the day's calls and legs in their
final state. The first never gets a record again without a change; the second gets
again only the records of the second it restarted from.
"""

from __future__ import annotations

from typing import Any

from talkstats.simulator import load_scenario, scenario_path

from .conftest import Env
from .exports_support import CALLS, LEGS, SimAccount, sim_account, simulate

MINUTE = 60 * 10**9


class NextPagePoller:
    def __init__(self, sim: SimAccount, kind: str) -> None:
        self.sim, self.kind = sim, kind
        self.url = f"{CALLS if kind == 'calls' else LEGS}?start_time=0"
        self.state: dict[int, dict[str, Any]] = {}
        self.deliveries = 0

    def poll(self) -> None:
        while True:
            body = self.sim.get(self.url)
            self.url = body["next_page"]
            if not body["count"]:
                return
            for record in body[self.kind]:
                assert self.state.get(record["id"]) != record, "a record again, unchanged"
                self.state[record["id"]] = record
                self.deliveries += 1


class EndTimePoller:
    def __init__(self, sim: SimAccount, kind: str) -> None:
        self.sim, self.kind = sim, kind
        self.path = CALLS if kind == "calls" else LEGS
        self.start_time = 0
        self.state: dict[int, dict[str, Any]] = {}

    def poll(self) -> None:
        while True:
            body = self.sim.get(f"{self.path}?start_time={self.start_time}")
            for record in body[self.kind]:
                if self.state.get(record["id"]) == record:  # seen, unchanged: Zendesk's rule
                    assert record["updated_at"] == self.sim_iso(self.start_time)
                self.state[record["id"]] = record
            done = body["end_time"] == self.start_time
            self.start_time = body["end_time"]
            if done:
                return

    @staticmethod
    def sim_iso(seconds: int) -> str:
        from talkstats.domain.records import iso_seconds

        return iso_seconds(seconds)


def test_a_live_day_polled_every_minute_ends_with_every_record_final(make_env: Any) -> None:
    env: Env = make_env(rate_limit_incremental_exports=0)
    scenario = load_scenario(scenario_path("center-200"), ["calls.transfer_probability=0.1"])
    sim = sim_account(env, scenario)
    start = sim.local_ns("2026-03-10T10:00:00")
    model = simulate(scenario, 11, start)
    pollers = [p(sim, kind) for kind in ("calls", "legs") for p in (NextPagePoller, EndTimePoller)]
    started: set[str] = set()
    changed_again = 0
    for minute in range(1, 13):
        now = start + minute * MINUTE
        events = model.advance(now) if minute < 12 else model.finish(now)
        started |= {e["call_id"] for e in events if e["type"] == "call.started"}
        env.clock.now_ns = now
        sim.ingest(events)
        truth = {kind: sim.export(kind) for kind in ("calls", "legs")}
        for poller in pollers:
            before = dict(poller.state)
            poller.poll()
            assert poller.state == truth[poller.kind], (type(poller).__name__, minute)
            changed_again += sum(
                1 for i, r in poller.state.items() if i in before and before[i] != r
            )
    assert changed_again > 0, "calls should change between polls"
    final_calls = pollers[0].state
    assert sorted(c["external_id"] for c in final_calls.values()) == sorted(started)
    assert all(c["completion_status"] is not None for c in final_calls.values())
    assert all(g["completion_status"] is not None for g in pollers[2].state.values())
    assert {g["call_id"] for g in pollers[2].state.values()} <= set(final_calls)
