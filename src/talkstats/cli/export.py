"""`talkstats export calls|legs`: the incremental exports' records of some days, to a file.

The records are the ones ``GET .../stats/incremental/calls`` and ``/legs`` serve, every
Zendesk field present, for the calls that started on the account's local days
``--from`` to ``--to`` (legs: the legs of those calls), by id. The command first folds
whatever the log holds beyond the record tables (another process may still be
writing). Output: CSV with a header (lists as JSON text, null as an empty cell) or
NDJSON; a progress bar on a terminal, a plain line every few seconds otherwise.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import IO, Any

import click
import orjson
from tqdm import tqdm

from talkstats.cli.root import (
    account_option,
    database_option,
    open_service,
    reports_errors,
    resolve_account,
)
from talkstats.domain.records import CALL_FIELDS, LEG_FIELDS

PLAIN_EVERY_SECONDS = 5.0
MAX_DAYS = 3_660


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return value


class Writer:
    """Records to CSV (header first) or NDJSON, on a text stream."""

    def __init__(self, out: IO[str], fmt: str, fields: tuple[str, ...]) -> None:
        self.out = out
        self.fmt = fmt
        self.fields = fields
        self.csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writerow(fields)

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.csv is not None:
            self.csv.writerows([_cell(r[f]) for f in self.fields] for r in records)
        else:
            self.out.write("".join(orjson.dumps(r).decode() + "\n" for r in records))


class PlainProgress:
    """`exported N of M calls` on stderr, at most every few seconds, and at the end."""

    def __init__(self, total: int, kind: str, monotonic: Callable[[], float]) -> None:
        self.total, self.kind, self.monotonic = total, kind, monotonic
        self.done = 0
        self.last = monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = self.monotonic()
        if now - self.last >= PLAIN_EVERY_SECONDS:
            self.last = now
            self.line()

    def line(self) -> None:
        click.echo(f"exported {self.done:,} of {self.total:,} {self.kind}", err=True)


@contextmanager
def progress(total: int, kind: str, monotonic: Callable[[], float]) -> Iterator[Any]:
    """A tqdm bar when stderr is a terminal, else PlainProgress."""
    if not sys.stderr.isatty():
        plain = PlainProgress(total, kind, monotonic)
        yield plain
        plain.line()
        return
    bar = tqdm(total=total, desc=f"exporting {kind}", unit=" records", file=sys.stderr, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def _day(_ctx: click.Context, param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param=param) from None


@click.command("export")
@click.argument("kind", type=click.Choice(["calls", "legs"]))
@click.option(
    "--from",
    "first",
    required=True,
    callback=_day,
    metavar="DATE",
    help="First local day (YYYY-MM-DD) of the calls to export.",
)
@click.option(
    "--to",
    "last",
    required=True,
    callback=_day,
    metavar="DATE",
    help="Last local day (YYYY-MM-DD), included.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ndjson"]),
    default="csv",
    show_default=True,
    help="CSV with a header row, or one JSON object a line.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    metavar="FILE",
    help="Where to write [default: standard output].",
)
@account_option
@database_option
@reports_errors
def export(
    kind: str,
    first: date,
    last: date,
    fmt: str,
    output: IO[str],
    subdomain: str | None,
    database_url: str | None,
) -> None:  # fmt: skip
    """Export the call or leg records of the calls started from --from to --to.

    The same records as Zendesk's incremental exports (GET .../stats/incremental/calls
    and /legs), for spreadsheets and warehouses: days are the account's local days and
    a call belongs to the day it started on; legs come with their call's day.
    """
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if (last - first).days >= MAX_DAYS:
        raise click.BadParameter(f"at most {MAX_DAYS} days at once", param_hint="--to")
    with open_service(database_url=database_url) as service:
        account = resolve_account(service, subdomain)
        total, chunks = service.export_days(account, kind, first, last)
        writer = Writer(output, fmt, CALL_FIELDS if kind == "calls" else LEG_FIELDS)
        with progress(total, kind, service.monotonic) as bar:
            for records in chunks:
                writer.write(records)
                bar.update(len(records))
    output.flush()


COMMANDS = (export,)
