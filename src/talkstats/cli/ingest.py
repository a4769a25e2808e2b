"""`talkstats ingest`: load an NDJSON file of events into the log, sorted by time.

docs/events.md asks bulk importers to sort by time, stably (events at the same instant keep
their order in the file: a ``call.started`` and its ``call.callback_requested`` often
share one). The sort compares parsed instants, not strings, because offsets differ.
The whole file is read into memory to sort it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import click
import orjson

from talkstats.cli.root import (
    account_option,
    database_option,
    open_service,
    reports_errors,
    resolve_account,
)
from talkstats.domain.timeutil import InvalidInstant, parse_instant
from talkstats.service import Talkstats, Unavailable
from talkstats.store.base import Account

EXIT_SOME_REJECTED = 2


@dataclass(frozen=True, slots=True)
class Line:
    """One decoded line of the file: its 1-based line number and the JSON object."""

    number: int
    obj: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one line was not accepted."""

    line: int
    event_id: str | None
    message: str


@dataclass(slots=True)
class Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def read_ndjson(lines: Iterable[bytes]) -> tuple[list[Line], list[Rejection]]:
    """Decode every non-blank line; lines that are not JSON objects become rejections."""
    events: list[Line] = []
    rejections: list[Rejection] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            rejections.append(Rejection(number, None, f"not valid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            rejections.append(Rejection(number, None, "not a JSON object"))
            continue
        events.append(Line(number, obj))
    return events, rejections


def _time_key(line: Line) -> tuple[int, int]:
    # An event without a readable time sorts first; the service rejects it with the reason.
    raw = line.obj.get("time")
    if isinstance(raw, str):
        try:
            return (1, parse_instant(raw))
        except InvalidInstant:
            pass
    return (0, 0)


def sort_by_time(events: Sequence[Line]) -> list[Line]:
    """Events in order of their instants; equal instants keep file order (sorted is stable)."""
    return sorted(events, key=_time_key)


def ingest_lines(
    service: Talkstats,
    account: Account,
    events: Sequence[Line],
    batch_size: int,
    progress: Any = None,
) -> tuple[Tally, list[Rejection]]:
    """Send the events in batches through the service; collect counts and rejections."""
    tally = Tally()
    rejections: list[Rejection] = []
    for start in range(0, len(events), batch_size):
        chunk = events[start : start + batch_size]
        outcome = service.ingest(account, [line.obj for line in chunk])
        tally.accepted += outcome.accepted
        tally.duplicates += outcome.duplicates
        tally.rejected += outcome.rejected
        for result in outcome.results:
            if result.status == "rejected":
                message = result.error or "rejected"
                rejections.append(Rejection(chunk[result.index].number, result.id, message))
        if progress is not None:
            progress.update(len(chunk))
    return tally, rejections


@contextmanager
def _progress(length: int) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty() or length == 0:
        yield None
        return
    with click.progressbar(length=length, label="ingesting", file=sys.stderr) as bar:
        yield bar


@click.command("ingest")
@click.argument("file", type=click.File("rb"), metavar="FILE")
@account_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Events per durable transaction.",
)
@database_option
@reports_errors
def ingest(
    file: IO[bytes], subdomain: str | None, batch_size: int, database_url: str | None
) -> None:
    """Ingest NDJSON events from FILE (`-` for stdin), sorted by time.

    Prints accepted / duplicate / rejected counts and each rejection's line number and
    reason. Exit code 0 when nothing was rejected, 2 when some lines were rejected,
    1 on an error (unknown account, unwritable log). Re-running the same file is safe:
    events already in the log count as duplicates.
    """
    events, unreadable = read_ndjson(file)
    ordered = sort_by_time(events)
    with open_service(database_url=database_url) as service:
        acct = resolve_account(service, subdomain)
        with _progress(len(ordered)) as bar:
            try:
                tally, rejected = ingest_lines(service, acct, ordered, batch_size, bar)
            except Unavailable as exc:
                raise click.ClickException(
                    f"{exc}; events acknowledged before the failure are stored: "
                    "re-run the same file to continue (they come back as duplicates)"
                ) from None
    rejections = sorted([*unreadable, *rejected], key=lambda r: r.line)
    for rejection in rejections:
        click.echo(f"line {rejection.line}: {rejection.message}", err=True)
    click.echo(
        f"accepted {tally.accepted}, duplicate {tally.duplicates}, rejected {len(rejections)}"
    )
    if rejections:
        click.get_current_context().exit(EXIT_SOME_REJECTED)
