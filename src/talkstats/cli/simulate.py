"""The `talkstats simulate` and `talkstats demo` commands.

This module is a composition root: it reads the real clock (`time.time_ns`) and hands
it to the service and the simulator's driver; nothing below it reads the clock.

- ``simulate`` runs a scenario over a time range and sends its events, in batches,
  into the embedded store (``--database``/``--account``) or to a running server
  (``--url`` with credentials). Runs that would pass *now* stop at now: the server
  rejects events more than 300 s ahead of its clock. The run ends with
  `Simulator.finish` (open calls end, agents log off) unless ``--no-finish``.
  It prints a summary, every rejection, and exits 1 if anything was rejected.
- ``demo`` serves the API on the embedded store with a demo account, backfills today
  from local midnight to now, and keeps generating live traffic every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from talkstats.config import Settings, load_settings
from talkstats.domain.timeutil import DayCalendar, format_instant, instant_from_datetime, load_zone
from talkstats.simulator.driver import (
    DEFAULT_BATCH,
    Driver,
    DriverError,
    HttpAdmin,
    HttpSink,
    SendReport,
    ServiceSink,
    basic_authorization,
    close_open_calls,
    create_reference_data,
)
from talkstats.simulator.engine import Simulator
from talkstats.simulator.reference import reference_data
from talkstats.simulator.scenario import Scenario, ScenarioError, load_scenario, scenario_path
from talkstats.store.base import StoreMissing

__all__ = [
    "COMMANDS",
    "DEMO_ADMIN",
    "DEMO_PASSWORD",
    "demo",
    "open_service",
    "run_simulation",
    "simulate",
]

NS = 1_000_000_000
MS = 1_000_000
HOUR = 3600 * NS
DEMO_ACCOUNT = "demo"
DEMO_ADMIN = "admin@demo.example"
DEMO_PASSWORD = "talkstats-demo"  # printed at start; the demo listens on 127.0.0.1 by default
FUTURE_ALLOWANCE = 300 * NS


def open_service(settings: Settings, *, create: bool = False) -> Any:
    """The `Talkstats` service over ``settings.database_url``, built as every CLI command
    builds it (`talkstats.cli.root.compose`: the real clocks). ``create``: the command
    may create the account, so it may create the database."""
    from talkstats.cli.root import compose

    return compose(settings, create=create)


def _load(name_or_path: str, overrides: Sequence[str]) -> Scenario:
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = scenario_path(name_or_path)
    try:
        return load_scenario(path, list(overrides))
    except (ScenarioError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None


def _instant(text: str, zone: str, what: str) -> int:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date-time", param_hint=what
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=load_zone(zone))
    return instant_from_datetime(dt)


def resolve_window(
    *,
    zone: str,
    now: int,
    from_: str | None = None,
    day: str | None = None,
    to: str | None = None,
    hours: float | None = None,
) -> tuple[int, int, bool]:
    """``(start, end, capped)``: the simulated range; ``capped`` when it was cut at now.

    ``--day`` is that local day (of the scenario's zone); neither ``--from`` nor
    ``--day`` means today from local midnight. Without ``--to``/``--hours`` the range
    ends at the day's end (``--day``) or at now.
    """
    calendar = DayCalendar(zone)
    if from_ is not None and day is not None:
        raise click.UsageError("give --from or --day, not both")
    if to is not None and hours is not None:
        raise click.UsageError("give --to or --hours, not both")
    end: int | None = None
    if from_ is not None:
        start = _instant(from_, zone, "--from")
    else:
        try:
            d = date.fromisoformat(day) if day is not None else calendar.day_of(now)
        except ValueError:
            raise click.BadParameter(f"{day!r} is not YYYY-MM-DD", param_hint="--day") from None
        start, day_end = calendar.bounds(d)
        if day is not None:
            end = day_end
    if to is not None:
        end = _instant(to, zone, "--to")
    elif hours is not None:
        if hours <= 0:
            raise click.BadParameter("must be > 0", param_hint="--hours")
        end = start + round(hours * HOUR)
    if end is None:
        end = now
    capped = end > now
    end = min(end, now)
    if end <= start:
        raise click.UsageError(
            f"nothing to simulate: the range {format_instant(start)} .. {format_instant(end)} is empty"
            + (" (it starts after now)" if capped or start >= now else "")
        )
    return start, end, capped


def run_simulation(
    sim: Simulator,
    driver: Driver,
    until_ns: int,
    *,
    finish: bool = True,
    chunk_ns: int = HOUR,
    before_send: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Advance ``sim`` to ``until_ns`` in chunks and send every event; ``(calls, events)``.

    ``before_send(t)`` is told the end of each chunk before its events are sent (tests
    move a fake server clock with it). ``finish`` ends open calls and logs agents off
    at ``until_ns``.
    """
    calls = events = 0
    t = sim.now_ns
    while t < until_ns:
        t = min(t + chunk_ns, until_ns)
        chunk = sim.advance(t)
        if finish and t == until_ns:
            chunk += sim.finish(until_ns)
        if before_send is not None:
            before_send(t)
        driver.send(chunk)
        calls += sum(1 for e in chunk if e["type"] == "call.started")
        events += len(chunk)
    return calls, events


def _warn(message: str) -> None:
    click.secho(message, fg="red", bold=True, err=True)


def _note(message: str) -> None:
    click.echo(message, err=True)


def _report(report: SendReport) -> None:
    click.echo(report.summary())
    if report.rejected:
        _warn(
            f"{report.rejected} EVENT(S) REJECTED (listed above): the simulator emitted events "
            "the contract does not accept, or the account already had conflicting events"
        )


def _store_account(service: Any, subdomain: str | None, scenario: Scenario, create: bool) -> Any:
    if subdomain is None:
        accounts = service.accounts()
        if len(accounts) == 1:
            return accounts[0]
        raise click.UsageError(
            "name the account with --account"
            + (
                ""
                if accounts
                else " (the store has none; add --create-reference-data to create it)"
            )
        )
    account = service.account(subdomain.lower())
    if account is not None:
        if account.timezone != scenario.timezone:
            _note(
                f"note: account {account.subdomain} is in {account.timezone}, the scenario in "
                f"{scenario.timezone}; shifts and profiles follow the scenario"
            )
        return account
    if not create:
        raise click.UsageError(
            f"no account {subdomain!r}; add --create-reference-data to create it"
        )
    password = secrets.token_urlsafe(12)
    email = f"admin@{subdomain.lower()}.example"
    account = service.create_account(
        subdomain, scenario.timezone, "professional", admin_email=email, admin_password=password
    )
    click.echo(
        f"created account {account.subdomain} ({scenario.timezone}); admin {email} password {password}"
    )
    return account


@click.command()
@click.option(
    "--scenario",
    "scenario_name",
    default="help-desk",
    show_default=True,
    help="A ready scenario's name or a TOML file.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="The same seed gives the same events."
)
@click.option(
    "--from", "from_", metavar="ISO", help="Start (naive times are in the scenario's zone)."
)
@click.option(
    "--day", metavar="YYYY-MM-DD", help="Simulate this local day (default: today from midnight)."
)
@click.option("--to", metavar="ISO", help="End (default: the day's end, or now).")
@click.option("--hours", type=float, help="Length of the run instead of --to.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario key (repeatable).",
)
@click.option(
    "--database",
    metavar="URL",
    help="Write into this store in-process [default: the configured database].",
)
@click.option(
    "--account", metavar="SUBDOMAIN", help="Account in the store (default: the only one)."
)
@click.option("--url", metavar="http://HOST:PORT", help="Send to a running server instead.")
@click.option("--email", help="Admin email for --url.")
@click.option(
    "--token", envvar="TALKSTATS_API_TOKEN", help="API token for --url (env TALKSTATS_API_TOKEN)."
)
@click.option(
    "--password", envvar="TALKSTATS_PASSWORD", help="Password for --url (env TALKSTATS_PASSWORD)."
)
@click.option(
    "--create-reference-data",
    is_flag=True,
    help="Create the scenario's agents, groups and phone numbers (and, in a store, the account) first.",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True
)
@click.option(
    "--id-prefix", help="Prefix of event and call ids (default sim{seed}-{start second})."
)
@click.option(
    "--finish/--no-finish",
    default=True,
    show_default=True,
    help="End open calls and log agents off at the end.",
)
def simulate(
    scenario_name: str,
    seed: int,
    from_: str | None,
    day: str | None,
    to: str | None,
    hours: float | None,
    overrides: tuple[str, ...],
    database: str | None,
    account: str | None,
    url: str | None,
    email: str | None,
    token: str | None,
    password: str | None,
    create_reference_data: bool,
    batch_size: int,
    id_prefix: str | None,
    finish: bool,
) -> None:
    """Generate a scenario's traffic and send it through the event contract."""
    scenario = _load(scenario_name, overrides)
    now = time.time_ns()
    start, end, capped = resolve_window(
        zone=scenario.timezone, now=now, from_=from_, day=day, to=to, hours=hours
    )
    if capped:
        click.echo(f"the run would pass now: stopping at now ({format_instant(end)})")
    ref = reference_data(scenario)
    service = None
    if url is not None:
        if database is not None or account is not None:
            raise click.UsageError(
                "--url sends to a server; --database/--account write into a store"
            )
        if not email or (token is None) == (password is None):
            raise click.UsageError("--url needs --email and one of --token or --password")
        auth = basic_authorization(email, token=token, password=password)
        if create_reference_data:
            made = HttpAdmin.connect(url, auth, warn=_note).create_reference_data(ref, note=_note)
            click.echo(f"reference data: created {_counts(made)}")
        driver = Driver(HttpSink.connect(url, auth, warn=_note), batch_size=batch_size, warn=_warn)
    else:
        try:
            service = open_service(
                load_settings({"database_url": database}), create=create_reference_data
            )
        except StoreMissing as exc:
            raise click.UsageError(
                f"{exc}; pass --account SUBDOMAIN --create-reference-data to create the "
                "database with the account"
            ) from None
        acct = _store_account(service, account, scenario, create_reference_data)
        if create_reference_data:
            made = create_reference_data_in_store(service, acct, ref)
            click.echo(f"reference data: created {_counts(made)}")
        driver = Driver(ServiceSink(service, acct), batch_size=batch_size, warn=_warn)
    sim = Simulator(scenario, seed, start, id_prefix=id_prefix)
    click.echo(
        f"simulating {scenario.name} (seed {seed}) from {format_instant(start)} to {format_instant(end)}"
    )
    t0 = time.perf_counter()
    try:
        calls, events = run_simulation(sim, driver, end, finish=finish)
    except DriverError as exc:
        _report(driver.report)
        raise click.ClickException(str(exc)) from None
    finally:
        if service is not None:
            service.close()
    seconds = time.perf_counter() - t0
    click.echo(
        f"{calls} calls, {events} events in {seconds:.2f} s ({events / max(seconds, 1e-9):,.0f} events/s)"
    )
    _report(driver.report)
    if driver.report.rejected:
        sys.exit(1)


def create_reference_data_in_store(service: Any, account: Any, ref: Any) -> dict[str, int]:
    try:
        return create_reference_data(service, account, ref, note=_note)
    except DriverError as exc:
        raise click.ClickException(str(exc)) from None


def _counts(made: dict[str, int]) -> str:
    return ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in made.items())


# --- demo ---------------------------------------------------------------------------------


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
    service: Any, scenario: Scenario, seed: int, now: int, *, note: Callable[[str], None] = _note
) -> tuple[Any, Simulator, Driver, float, tuple[int, int]]:
    """Account, reference data and today's backfill; returns what the live loop needs.

    A demo database is reused: the new run starts where the account's log ends (or
    at local midnight if that is later), with a new id prefix; calls a killed earlier
    run left open are ended first.
    """
    account = service.account(DEMO_ACCOUNT)
    if account is None:
        account = service.create_account(
            DEMO_ACCOUNT, scenario.timezone, "professional",
            admin_email=DEMO_ADMIN, admin_password=DEMO_PASSWORD, admin_name="Demo Admin",
        )  # fmt: skip
    create_reference_data(service, account, reference_data(scenario), note=note)
    driver = Driver(ServiceSink(service, account), warn=_warn)
    projection = service.projection(account)
    midnight, _ = DayCalendar(account.timezone).bounds(DayCalendar(account.timezone).day_of(now))
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
    t0 = time.perf_counter()
    counts = run_simulation(sim, driver, now, finish=False)
    return account, sim, driver, time.perf_counter() - t0, counts


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

    from talkstats.cli.serve import SWITCH_INTERVAL_SECONDS

    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # as `talkstats serve` does
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    context = _api_context(app)

    async def live() -> None:
        while True:
            await asyncio.sleep(1.0)
            events = sim.advance(time.time_ns())
            if not events:
                continue
            try:
                if context is not None:  # in a worker thread, under the account's lock
                    await context.write(account, driver.send, events)
                else:
                    driver.send(events)
            except Exception as exc:  # keep serving; the failure is shown
                _warn(f"live traffic: {len(events)} events not ingested: {exc}")

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
@click.option("--scenario", "scenario_name", default="help-desk", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--fresh", is_flag=True, help="Delete the demo database file first and start over.")
def demo(host: str, port: int, database: str, scenario_name: str, seed: int, fresh: bool) -> None:
    """Serve the API with a demo account and live simulated traffic."""
    scenario = _load(scenario_name, ())
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
            scenario = _load(scenario_name, (f"account.timezone={existing.timezone}",))
        account, sim, driver, seconds, (calls, events) = prepare_demo(
            service, scenario, seed, time.time_ns()
        )
        click.echo(
            f"backfilled today up to {format_instant(sim.now_ns)}: "
            f"{calls} calls, {events} events in {seconds:.2f} s"
        )
        try:
            from talkstats.api.app import create_app
        except ImportError as exc:
            raise click.ClickException(f"the HTTP API is not available: {exc}") from None
        app = create_app(service)
        base = f"http://{host}:{port}"
        stats = f"{base}/api/v2/channels/voice/stats"
        login = f"{DEMO_ADMIN}:{DEMO_PASSWORD}"
        click.echo(
            f"\ntalkstats demo: {base}  (account {account.subdomain}, {account.timezone}, "
            f"scenario {scenario.name})\n"
            f"login: {DEMO_ADMIN}  password: {DEMO_PASSWORD}\n\n"
            f"  curl -u {login} {stats}/current_queue_activity.json\n"
            f"  curl -u {login} {stats}/account_overview.json\n"
            f"  curl -u {login} {stats}/agents_activity.json\n"
            f"  curl -u {login} '{stats}/service_level.json?threshold=20'\n\n"
            "Live traffic is generated every second. Ctrl-C stops (open calls are ended).\n"
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            _warn(f"the demo password is public and the server listens on {host}")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(app, account, sim, driver, host, port, settings.log_level))
        driver.send(sim.finish(max(time.time_ns(), sim.now_ns)))
        _report(driver.report)
    finally:
        service.close()


COMMANDS = (simulate, demo)
