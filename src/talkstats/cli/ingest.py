"""`talkstats ingest`: load an NDJSON file of events into the log, sorted by time.

docs/events.md asks bulk importers to sort by time, stably (events at the same instant keep
their order in the file: a ``call.started`` and its ``call.callback_requested`` often
share one). The sort compares parsed instants, not strings, because offsets differ.
The whole file is read into memory to sort it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import click
import orjson

from talkstats.cli.progress import Progress
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
SHOWN_REJECTIONS = 20


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
    progress: Progress | None = None,
) -> tuple[Tally, list[Rejection]]:
    """Send the events in batches through the service; collect counts and rejections."""
    tally = Tally()
    rejections: list[Rejection] = []
    calls = 0
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
        calls += sum(1 for line in chunk if line.obj.get("type") == "call.started")
        if progress is not None:
            progress.update(start + len(chunk), events=start + len(chunk), calls=calls)
    return tally, rejections


@contextmanager
def _progress(length: int) -> Iterator[Progress | None]:
    """Progress on stderr: a bar on a terminal, a line every few seconds otherwise."""
    if length == 0:
        yield None
        return
    bar = Progress("ingesting", length)
    try:
        yield bar
    finally:
        bar.close()


def print_rejections(rejections: Sequence[Rejection], shown: int = SHOWN_REJECTIONS) -> None:
    """The first ``shown`` rejections on stderr, in line order, then how many more."""
    for rejection in rejections[:shown]:
        click.echo(f"line {rejection.line}: {rejection.message}", err=True)
    if len(rejections) > shown:
        click.echo(
            f"... and {len(rejections) - shown} more rejected lines (only the first "
            f"{shown} are shown)",
            err=True,
        )


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

    Prints accepted / duplicate / rejected counts and the first 20 rejections' line
    numbers and reasons (then how many more). Shows progress on stderr. Exit code 0 when nothing was rejected, 2 when some lines were rejected,
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
    print_rejections(rejections)
    click.echo(
        f"accepted {tally.accepted}, duplicate {tally.duplicates}, rejected {len(rejections)}"
    )
    if rejections:
        click.get_current_context().exit(EXIT_SOME_REJECTED)
