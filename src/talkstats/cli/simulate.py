"""The `talkstats simulate` command, and the run loop the demo shares.

This module is a composition root: it reads the real clock (`time.time_ns`) and hands
it to the service and the simulator's driver; nothing below it reads the clock.

``simulate`` runs a scenario over a time range and sends its events, in batches, into
the embedded store (``--database``/``--account``) or to a running server (``--url``
with credentials). Runs that would pass *now* stop at now: the server rejects events
more than 300 s ahead of its clock. The agents' opening states are sent first, alone:
if the account rejects them as older than those agents' latest events, the range is
too early for the account and the run stops there, saying what to do instead (the
same run sent again is fine: its events come back as duplicates). The run ends with
`Simulator.finish` (open calls end, agents log off) unless ``--no-finish``. Progress
goes to stderr; at the end it prints a summary and the first rejections, and exits 1
if anything was rejected.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from talkstats.cli.progress import Progress
from talkstats.config import Settings, load_settings
from talkstats.domain.timeutil import (
    DayCalendar,
    InvalidInstant,
    format_instant,
    instant_from_datetime,
    load_zone,
    parse_instant,
)
from talkstats.simulator.driver import (
    DEFAULT_BATCH,
    Driver,
    DriverError,
    HttpAdmin,
    HttpSink,
    ReferenceTally,
    Rejection,
    SendReport,
    ServiceSink,
    basic_authorization,
    create_reference_data,
)
from talkstats.simulator.engine import Simulator
from talkstats.simulator.reference import reference_data
from talkstats.simulator.scenario import Scenario, ScenarioError, load_scenario, scenario_path
from talkstats.store.base import StoreMissing

__all__ = [
    "COMMANDS",
    "RunRefused",
    "load_named_scenario",
    "open_service",
    "resolve_window",
    "run_simulation",
    "simulate",
]

NS = 1_000_000_000
MS = 1_000_000
MINUTE = 60 * NS
HOUR = 60 * MINUTE
CHUNK = 10 * MINUTE  # simulated time per advance: the progress bar moves at least this often
_OLDER = "is older than the last accepted event of agent"


class RunRefused(Exception):
    """The account already holds later events of the scenario's agents than the run's start.

    ``latest`` is the latest of those agents' last event times, as the rejections gave
    them (their reasons end with "(TIME)").
    """

    def __init__(self, rejections: Sequence[Rejection]) -> None:
        self.rejections = list(rejections)
        times = [r.error.rsplit("(", 1)[-1].rstrip(")") for r in rejections]
        self.latest = max(times, key=_instant_or_zero)
        super().__init__(rejections[0].error)


def _instant_or_zero(text: str) -> int:
    try:
        return parse_instant(text)
    except InvalidInstant:
        return 0


def open_service(settings: Settings, *, create: bool = False) -> Any:
    """The `Talkstats` service over ``settings.database_url``, built as every CLI command
    builds it (`talkstats.cli.root.compose`: the real clocks). ``create``: the command
    may create the account, so it may create the database."""
    from talkstats.cli.root import compose

    return compose(settings, create=create)


def load_named_scenario(name_or_path: str, overrides: Sequence[str]) -> Scenario:
    """A ready scenario by name, or a TOML file; a usage error naming the problem."""
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


def _opening(events: list[dict[str, Any]]) -> int:
    """How many events open the run: the agents' states at its first instant."""
    n = 0
    while (
        n < len(events)
        and events[n]["type"] == "agent.state_changed"
        and events[n]["time"] == events[0]["time"]
    ):
        n += 1
    return n


def run_simulation(
    sim: Simulator,
    driver: Driver,
    until_ns: int,
    *,
    finish: bool = True,
    chunk_ns: int = CHUNK,
    before_send: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Advance ``sim`` to ``until_ns`` in chunks and send every event; ``(calls, events)``.

    The agents' opening states go first, on their own: if the account rejects one as
    older than that agent's last event, the whole range is too early for the account
    and `RunRefused` is raised before any call is sent. ``before_send(t)`` is told the
    end of each chunk before its events are sent (tests move a fake server clock with
    it). ``finish`` ends open calls and logs agents off at ``until_ns``. ``progress``
    is told the simulated seconds done, events and calls after each chunk.
    """
    start = sim.now_ns
    calls = events = 0
    t = start
    first = True
    while t < until_ns:
        t = min(t + chunk_ns, until_ns)
        chunk = sim.advance(t)
        if finish and t == until_ns:
            chunk += sim.finish(until_ns)
        if before_send is not None:
            before_send(t)
        if first:
            first = False
            opening = _opening(chunk)
            if opening:
                result = driver.probe(chunk[:opening])
                older = [r for r in result.rejections if _OLDER in r.error]
                if older:
                    raise RunRefused(older)
                driver.record(chunk[:opening], result)
                chunk = chunk[opening:]
                events += opening
        driver.send(chunk)
        calls += sum(1 for e in chunk if e["type"] == "call.started")
        events += len(chunk)
        if progress is not None:
            progress.update((t - start) / NS, events=events, calls=calls)
    return calls, events


def sim_time_progress(label: str, start: int, end: int, zone: str) -> Progress:
    """A progress bar over simulated time that shows the simulated local time."""
    tz = load_zone(zone)

    def where(done: float) -> str:
        seconds, _ = divmod(start + round(done * NS), NS)
        return f"at {datetime.fromtimestamp(seconds, tz):%Y-%m-%d %H:%M} {zone}"

    return Progress(label, (end - start) / NS, where=where)


def warn(message: str) -> None:
    click.secho(message, fg="red", bold=True, err=True)


def note(message: str) -> None:
    click.echo(message, err=True)


def report(sent: SendReport) -> None:
    """The driver's summary on stdout; a loud line on stderr if anything was rejected."""
    click.echo(sent.summary())
    if sent.rejected:
        shown = (
            "listed above"
            if not sent.unshown
            else f"the first {len(sent.rejections)} listed above, {sent.unshown} more not shown"
        )
        warn(
            f"{sent.rejected} EVENT(S) REJECTED ({shown}): the simulator emitted events the "
            "contract does not accept, or the account already had conflicting events"
        )


def _refusal(start: int, where: str, latest: str, in_store: bool) -> str:
    instead = (
        "simulate into a new account (--account NEW --create-reference-data) or a new "
        "database (--database sqlite:///./other.db)"
        if in_store
        else "simulate into another account"
    )
    return (
        f"the run starts at {format_instant(start)}, before the latest events of the "
        f"scenario's agents {where} ({latest}): an agent's events must come in time "
        "order, so the events of this range would be rejected; no call was sent. "
        f"Instead, {instead}, or start after those events (--from {latest})."
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
            note(
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
    help="Create the scenario's agents, groups, memberships and phone numbers that are "
    "missing (and, in a store, the account) first.",
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
    scenario = load_named_scenario(scenario_name, overrides)
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
            made = _http_reference_data(url, auth, ref)
            click.echo(f"reference data: {made}")
        where = f"on {url}"
        driver = Driver(HttpSink.connect(url, auth, warn=note), batch_size=batch_size, warn=warn)
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
        where = f"in account {acct.subdomain}"
        if create_reference_data:
            made = create_reference_data_in_store(service, acct, ref)
            click.echo(f"reference data: {made}")
        driver = Driver(ServiceSink(service, acct), batch_size=batch_size, warn=warn)
    sim = Simulator(scenario, seed, start, id_prefix=id_prefix)
    click.echo(
        f"simulating {scenario.name} (seed {seed}) from {format_instant(start)} to {format_instant(end)}"
    )
    progress = sim_time_progress("simulating", start, end, scenario.timezone)
    t0 = time.perf_counter()
    try:
        calls, events = run_simulation(sim, driver, end, finish=finish, progress=progress)
    except RunRefused as exc:
        progress.close()
        raise click.ClickException(
            _refusal(start, where, exc.latest, in_store=service is not None)
        ) from None
    except DriverError as exc:
        progress.close()
        report(driver.report)
        raise click.ClickException(str(exc)) from None
    finally:
        if service is not None:
            service.close()
    progress.close()
    seconds = time.perf_counter() - t0
    click.echo(
        f"{calls} calls, {events} events in {seconds:.2f} s ({events / max(seconds, 1e-9):,.0f} events/s)"
    )
    report(driver.report)
    if driver.report.rejected:
        sys.exit(1)


def _http_reference_data(url: str, auth: str, ref: Any) -> ReferenceTally:
    try:
        return HttpAdmin.connect(url, auth, warn=note).create_reference_data(ref, note=note)
    except DriverError as exc:
        raise click.ClickException(str(exc)) from None


def create_reference_data_in_store(service: Any, account: Any, ref: Any) -> ReferenceTally:
    try:
        return create_reference_data(service, account, ref, note=note)
    except DriverError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = (simulate,)
