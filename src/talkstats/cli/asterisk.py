"""`talkstats asterisk import|follow SOURCE`: Asterisk's queue_log into talkstats.

This module is a composition root (like ``simulate``): it builds the source (a
queue_log file, or a realtime table), the parser with its mapping, and the sink (a
store in-process with ``--database``/``--account``, or a server with ``--url``), and
hands the real clock and sleep to `run_follow`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from talkstats.cli.root import build_settings, compose, resolve_account
from talkstats.connectors.asterisk.filetail import FileTail
from talkstats.connectors.asterisk.mapping import Mapping, MappingError, Resolver
from talkstats.connectors.asterisk.parser import QueueLogParser
from talkstats.connectors.asterisk.reference import HttpReference, StoreReference
from talkstats.connectors.asterisk.runner import (
    Connector,
    FileSource,
    LineSource,
    ParserSpec,
    StateFile,
    Summary,
    run_follow,
    run_import,
    run_import_pipelined,
)
from talkstats.connectors.asterisk.table import (
    TableError,
    TableSource,
    is_table_url,
    parse_table_url,
)
from talkstats.domain.timeutil import load_zone
from talkstats.simulator.driver import (
    DEFAULT_BATCH,
    Driver,
    DriverError,
    HttpAdmin,
    HttpSink,
    ServiceSink,
    basic_authorization,
)
from talkstats.store import StoreError

__all__ = ["COMMANDS", "asterisk"]

EXIT_SOME_REJECTED = 2


def _warn(message: str) -> None:
    click.secho(message, fg="red", err=True)


def _note(message: str) -> None:
    click.echo(message, err=True)


def _options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options `import` and `follow` share."""
    options = [
        click.argument("source", metavar="SOURCE"),
        click.option("--database", metavar="URL", help="Write into this store in-process."),
        click.option("--account", metavar="SUBDOMAIN", help="Account in the store."),
        click.option("--url", metavar="http://HOST:PORT", help="Send to a running server instead."),
        click.option("--email", help="Admin email for --url."),
        click.option(
            "--token", envvar="TALKSTATS_API_TOKEN", help="API token for --url [env TALKSTATS_API_TOKEN]."
        ),
        click.option(
            "--password", envvar="TALKSTATS_PASSWORD", help="Password for --url [env TALKSTATS_PASSWORD]."
        ),
        click.option(
            "--map", "map_file", type=click.Path(dir_okay=False, exists=True), help="Mapping file (TOML)."
        ),
        click.option(
            "--log-timezone",
            metavar="TZ",
            help="Zone of a table's DATETIME values [default: the account's; required with --url].",
        ),
        click.option(
            "--wrapup-seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
            help="A member's wrap-up after each call (Asterisk logs none).",
        ),
        click.option(
            "--requeue-seconds", type=click.FloatRange(min=0), default=2.0, show_default=True,
            help="A caller who leaves a queue and enters another within this is one call.",
        ),
        click.option(
            "--min-ring-ms", type=click.IntRange(min=0), default=1000, show_default=True,
            help="Shorter RINGNOANSWER rings mean the member could not be rung: no miss.",
        ),
        click.option(
            "--id-prefix", default="ql:", show_default=True,
            help="Prefix of event ids (give each Asterisk server its own).",
        ),
        click.option(
            "--batch-size", type=click.IntRange(1, 10_000), default=None,
            help=f"Events per batch [default: {IMPORT_BATCH:,} for import (fewer fsyncs: "
            f"faster), {DEFAULT_BATCH:,} for follow].",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


IMPORT_BATCH = 10_000  # a bulk import: one fsync per 10,000 events (ingestion's maximum)


class _Run:
    """Everything a command builds: the sink, the parser, the source's zone."""

    def __init__(self, kw: dict[str, Any], *, default_batch: int) -> None:
        self.kw = kw
        self.batch_size: int = kw["batch_size"] or default_batch
        self.service: Any = None
        self.zone_name: str | None = kw["log_timezone"]
        self.spec: ParserSpec

    def close(self) -> None:
        if self.service is not None:
            self.service.close()

    def connector(self) -> Connector:
        kw = self.kw
        mapping = Mapping()
        if kw["map_file"]:
            try:
                mapping = Mapping.from_toml(Path(kw["map_file"]).read_text())
            except MappingError as exc:
                raise click.BadParameter(str(exc), param_hint="--map") from None
        reference: Any
        if kw["url"]:
            if kw["database"] or kw["account"]:
                raise click.UsageError(
                    "--url sends to a server; --database/--account write into a store"
                )
            if not kw["email"] or (kw["token"] is None) == (kw["password"] is None):
                raise click.UsageError("--url needs --email and one of --token or --password")
            auth = basic_authorization(kw["email"], token=kw["token"], password=kw["password"])
            reference = HttpReference(HttpAdmin.connect(kw["url"], auth, warn=_note))
            sink: Any = HttpSink.connect(kw["url"], auth, warn=_note)
        else:
            self.service = compose(build_settings(database_url=kw["database"]))
            account = resolve_account(self.service, kw["account"])
            reference = StoreReference(self.service, account)
            sink = ServiceSink(self.service, account)
            self.zone_name = self.zone_name or account.timezone
        known = reference.load()
        options = {
            "wrapup_seconds": kw["wrapup_seconds"],
            "requeue_seconds": kw["requeue_seconds"],
            "min_ring_ms": kw["min_ring_ms"],
            "id_prefix": kw["id_prefix"],
        }
        self.spec = ParserSpec(mapping, known, options)
        parser = QueueLogParser(Resolver(mapping, known), **options)
        driver = Driver(sink, batch_size=self.batch_size, warn=_warn)
        return Connector(parser, reference, driver, note=_note)

    def source(self, position: dict[str, Any] | None) -> tuple[LineSource, str]:
        """The source and its identity (for the state file)."""
        text = self.kw["source"]
        if is_table_url(text):
            url = parse_table_url(text)
            if self.zone_name is None:
                raise click.UsageError(
                    "a table's times are local: give --log-timezone (the server's API does not "
                    "tell the account's zone)"
                )
            try:
                zone = load_zone(self.zone_name)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--log-timezone") from None
            return TableSource(url, zone, position), url.safe()
        path = Path(text)
        if not path.exists():
            raise click.BadParameter(f"{text}: no such file", param_hint="SOURCE")
        tail = FileTail(path, position, warn=_warn)
        return FileSource(tail), str(path.resolve())


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (TableError, StoreError, DriverError, ValueError) as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None


def _finish(summary: Summary) -> None:
    click.echo(summary.text())
    if summary.rejected:
        _warn(f"{summary.rejected} event(s) rejected (listed above)")
        sys.exit(EXIT_SOME_REJECTED)


@click.command("import")
@_options
def import_(**kw: Any) -> None:
    """Read SOURCE to its end, send every call and agent event, print a summary.

    SOURCE is a queue_log file or a realtime table (mysql://USER:PW@HOST/DB or
    postgresql://USER@HOST/DB, ?table=NAME). Importing again is safe: events already
    sent come back as duplicates. Exit code 2 when some events were rejected.
    """
    run = _Run(kw, default_batch=IMPORT_BATCH)
    try:
        with _errors():
            connector = run.connector()
            source, _ = run.source(None)
            path = Path(kw["source"])
            try:
                if _two_cores_pay(source, path):
                    source.close()
                    summary = run_import_pipelined(path, run.spec, connector)
                else:
                    summary = run_import(source, connector)
            finally:
                source.close()
    finally:
        run.close()
    _finish(summary)


PIPELINE_BYTES = 8 << 20  # a file this big is parsed in a second process while sending


def _two_cores_pay(source: LineSource, path: Path) -> bool:
    """Parsing in a child process pays for its start-up on a big file and a second core."""
    return (
        isinstance(source, FileSource)
        and (os.cpu_count() or 1) > 1
        and path.stat().st_size >= PIPELINE_BYTES
    )


def default_state_path(source_id: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(source_id.encode()).hexdigest()[:12]
    return base / "talkstats" / f"asterisk-{digest}.json"


@click.command("follow")
@_options
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="Position and parser state [default: ~/.local/state/talkstats/asterisk-<source>.json].",
)
@click.option("--poll-seconds", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option(
    "--report-seconds", type=click.FloatRange(min=1), default=60.0, show_default=True,
    help="How often the running summary is printed.",
)  # fmt: skip
def follow(state_path: str | None, poll_seconds: float, report_seconds: float, **kw: Any) -> None:
    """Send what SOURCE has, then keep following new lines (Ctrl-C or SIGTERM stops).

    The position and the parser's state are saved to --state after every batch, so a
    restart goes on where it stopped; rotations (rename, copy and truncate) are followed.
    """
    stopping = False

    def stop_now(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop_now)
    run = _Run(kw, default_batch=DEFAULT_BATCH)
    try:
        with _errors():
            connector = _connector_when_reachable(run, lambda: stopping)
            probe, source_id = run.source(None)
            probe.close()
            state = StateFile(state_path or default_state_path(source_id), source_id)
            saved = state.load()
            if saved is not None:
                connector.parser.restore(saved["parser"])
                _note(f"resuming from {state.path}")
            source, _ = run.source(saved["position"] if saved else None)
            click.echo(f"following {source_id} (state {state.path})")
            try:
                summary = run_follow(
                    source, connector, state,
                    clock=time.time_ns, sleep=time.sleep, poll_seconds=poll_seconds,
                    report_seconds=report_seconds, report=click.echo, warn=_warn,
                    stop=lambda: stopping,
                )  # fmt: skip
            except KeyboardInterrupt:
                connector.collect(source)
                summary = connector.summary
            finally:
                source.close()
    finally:
        run.close()
        signal.signal(signal.SIGTERM, previous)
    _finish(summary)


def _connector_when_reachable(run: _Run, stopping: Callable[[], bool]) -> Connector:
    """The connector; a server that does not answer yet is waited for (and said so)."""
    pause = 1.0
    while True:
        try:
            return run.connector()
        except DriverError as exc:
            if stopping() or not run.kw["url"]:
                raise
            _warn(f"{exc}; retrying in {pause:g} s")
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


@click.group("asterisk")
def asterisk() -> None:
    """Asterisk's queue_log (a file or a realtime table) into talkstats."""


asterisk.add_command(import_)
asterisk.add_command(follow)

COMMANDS = (asterisk,)
