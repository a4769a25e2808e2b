"""`talkstats demo`: the API on the embedded store with a live simulated contact center.

A composition root like `simulate` (it reads the real clock). It creates the account
``demo`` and the scenario's reference data, backfills today from local midnight to now
with a progress bar, says what it simulates and how the center stands right now, then
serves the API and generates live traffic every second. The default scenario,
``round-the-clock``, has agents on duty and calls at every hour, so the demo is alive
whenever it is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from talkstats.cli.progress import Progress
from talkstats.cli.simulate import (
    MS,
    NS,
    load_named_scenario,
    note,
    open_service,
    report,
    run_simulation,
    sim_time_progress,
    warn,
)
from talkstats.config import load_settings
from talkstats.domain.timeutil import DayCalendar, load_zone
from talkstats.simulator.driver import Driver, ServiceSink, close_open_calls, create_reference_data
from talkstats.simulator.engine import Simulator
from talkstats.simulator.reference import reference_data
from talkstats.simulator.scenario import Scenario

__all__ = ["DEMO_ADMIN", "DEMO_PASSWORD", "DEMO_SCENARIO", "demo", "describe", "prepare_demo"]

DEMO_ACCOUNT = "demo"
DEMO_ADMIN = "admin@demo.example"
DEMO_PASSWORD = "talkstats-demo"  # printed at start; the demo listens on 127.0.0.1 by default
DEMO_SCENARIO = "round-the-clock"


def _sqlite_file(url: str) -> Path | None:
    from talkstats.store.urls import sqlite_path

    try:
        path = sqlite_path(url)
    except ValueError:
        return None
    return None if path == ":memory:" else Path(path)


def _api_context(app: Any) -> Any:
    """The API's context, whose per-account lock live ingestion takes like its writers."""
    from talkstats.api.context import ApiContext

    context = getattr(getattr(app, "state", None), "context", None)
    return context if isinstance(context, ApiContext) else None


def prepare_demo(
    service: Any,
    scenario: Scenario,
    seed: int,
    now: int,
    *,
    note: Callable[[str], None] = note,
    progress: Callable[[int, int], Progress] | None = None,
) -> tuple[Any, Simulator, Driver, float, tuple[int, int]]:
    """Account, reference data and today's backfill; returns what the live loop needs.

    A demo database is reused: the new run starts where the account's log ends (or
    at local midnight if that is later), with a new id prefix; calls a killed earlier
    run left open are ended first. ``progress(start, end)`` makes the backfill's
    progress bar.
    """
    account = service.account(DEMO_ACCOUNT)
    if account is None:
        account = service.create_account(
            DEMO_ACCOUNT, scenario.timezone, "professional",
            admin_email=DEMO_ADMIN, admin_password=DEMO_PASSWORD, admin_name="Demo Admin",
        )  # fmt: skip
    else:
        known = {u.id for u in service.store.list_users(account.id)}
        if not set(scenario.agents.ids) <= known:
            note(
                f"the demo database was made with another scenario than {scenario.name}; "
                "its agents stay in the account (--fresh starts over)"
            )
    create_reference_data(service, account, reference_data(scenario), note=note)
    driver = Driver(ServiceSink(service, account), warn=warn)
    projection = service.projection(account)
    calendar = DayCalendar(account.timezone)
    midnight, _ = calendar.bounds(calendar.day_of(now))
    start = max(midnight, projection.latest_time + MS)
    start -= start % MS
    if start >= now:
        start = now - now % MS
    run = f"demo{start // NS}"
    tidy = close_open_calls(projection, start, f"{run}-tidy")
    if tidy:
        note(
            f"ending {len(tidy)} calls/wrap-ups left open by an earlier run that did not stop cleanly"
        )
        driver.send(tidy)
    sim = Simulator(scenario, seed, start, id_prefix=run)
    bar = progress(start, now) if progress is not None else None
    t0 = time.perf_counter()
    try:
        counts = run_simulation(sim, driver, now, finish=False, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return account, sim, driver, time.perf_counter() - t0, counts


def what_it_simulates(scenario: Scenario) -> str:
    """The first line the demo prints: the scenario and what it is."""
    return f"simulating {scenario.name}: {scenario.description or 'a contact center'}"


def how_it_stands(service: Any, account: Any, scenario: Scenario, now: int) -> str:
    """The center at ``now``: local time, agents online, calls so far today."""
    projection = service.projection(account)
    today = DayCalendar(account.timezone).day_of(now)
    totals = projection.totals_for(today)
    calls = totals.calls if totals is not None else 0
    local = datetime.fromtimestamp(now // NS, load_zone(account.timezone))
    text = (
        f"account {account.subdomain} ({account.timezone}): it is {local:%H:%M} there, "
        f"{projection.agents_online} agents online, {calls} calls so far today"
    )
    if projection.agents_online == 0:
        text += (
            f"\nno agent of {scenario.name} is on duty at this hour, so the center looks "
            f"closed; the default scenario, {DEMO_SCENARIO}, is busy at any hour"
        )
    return text


def describe(service: Any, account: Any, scenario: Scenario, now: int) -> str:
    """What the demo simulates and how the center stands at ``now``."""
    return f"{what_it_simulates(scenario)}\n{how_it_stands(service, account, scenario, now)}"


async def _serve(
    app: Any,
    account: Any,
    sim: Simulator,
    driver: Driver,
    host: str,
    port: int,
    log_level: str,
) -> None:
    import uvicorn

    from talkstats.cli.serve import SWITCH_INTERVAL_SECONDS, closing_server

    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # as `talkstats serve` does
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    server = closing_server(config, app)  # open wallboards let go when it stops
    context = _api_context(app)

    async def live() -> None:
        while True:
            await asyncio.sleep(1.0)
            events = sim.advance(time.time_ns())
            if not events:
                continue
            try:
                if context is not None:  # in a worker thread, guarded as HTTP ingestion is
                    await context.changing(account, driver.send, events)
                else:
                    driver.send(events)
            except Exception as exc:  # keep serving; the failure is shown
                warn(f"live traffic: {len(events)} events not ingested: {exc}")

    task = asyncio.create_task(live())
    try:
        await server.serve()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--database", default="sqlite:///./talkstats-demo.db", show_default=True, metavar="URL"
)
@click.option(
    "--scenario",
    "scenario_name",
    default=DEMO_SCENARIO,
    show_default=True,
    help="A ready scenario's name or a TOML file (round-the-clock is busy at any hour).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--fresh", is_flag=True, help="Delete the demo database file first and start over.")
def demo(host: str, port: int, database: str, scenario_name: str, seed: int, fresh: bool) -> None:
    """Serve the API with a demo account and live simulated traffic."""
    scenario = load_named_scenario(scenario_name, ())
    path = _sqlite_file(database)
    if fresh and path is not None:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(p)
    settings = load_settings(
        {"database_url": database, "host": host, "port": port, "default_account": DEMO_ACCOUNT}
    )
    service = open_service(settings, create=True)
    try:
        existing = service.account(DEMO_ACCOUNT)
        if existing is not None and existing.timezone != scenario.timezone:
            scenario = load_named_scenario(
                scenario_name, (f"account.timezone={existing.timezone}",)
            )
        now = time.time_ns()
        click.echo(what_it_simulates(scenario))

        def backfill_bar(start: int, end: int) -> Progress:
            return sim_time_progress("backfilling today", start, end, scenario.timezone)

        account, sim, driver, seconds, (calls, events) = prepare_demo(
            service, scenario, seed, now, progress=backfill_bar
        )
        local = datetime.fromtimestamp(sim.now_ns // NS, load_zone(account.timezone))
        click.echo(
            f"backfilled today up to {local:%H:%M:%S}: "
            f"{calls} calls, {events} events in {seconds:.2f} s"
        )
        try:
            from talkstats.web.app import create_app
        except ImportError as exc:
            raise click.ClickException(f"the HTTP API is not available: {exc}") from None
        app = create_app(service)
        base = f"http://{host}:{port}"
        stats = f"{base}/api/v2/channels/voice/stats"
        login = f"{DEMO_ADMIN}:{DEMO_PASSWORD}"
        click.echo(
            f"{how_it_stands(service, account, scenario, sim.now_ns)}\n\n"
            f"talkstats demo: {base}  (account {account.subdomain}, scenario {scenario.name})\n"
            f"login: {DEMO_ADMIN}  password: {DEMO_PASSWORD}\n\n"
            f"  curl -u {login} {stats}/current_queue_activity.json\n"
            f"  curl -u {login} {stats}/account_overview.json\n"
            f"  curl -u {login} {stats}/agents_activity.json\n"
            f"  curl -u {login} '{stats}/service_level.json?threshold=20'\n\n"
            f"Wallboard: {base}/wallboard (sign in with the login above)\n"
            "Live traffic is generated every second. Ctrl-C stops (open calls are ended).\n"
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            warn(f"the demo password is public and the server listens on {host}")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(app, account, sim, driver, host, port, settings.log_level))
        driver.send(sim.finish(max(time.time_ns(), sim.now_ns)))
        report(driver.report)
    finally:
        service.close()


COMMANDS = (demo,)
