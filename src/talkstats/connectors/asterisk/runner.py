"""``import`` and ``follow``: a source's lines through the parser into a sink.

- `Connector` turns lines into events (the parser), creates the reference data the
  resolver invented, sorts each batch by time (stably: equal times keep the log's
  order, EVENTS.md) and sends it through the simulator's `Driver` (a store in-process,
  or a server over HTTP).
- `run_import` reads a source to its end, settles what is pending, sends, returns the
  `Summary`.
- `run_follow` does the same, then keeps reading new lines every ``poll_seconds``,
  settles exits and wrap-ups as the clock passes them, and saves its position and the
  parser's state to a small JSON file after every batch the sink acknowledged: a
  restart goes on from there (re-sent events come back as duplicates). A server that
  does not answer is retried with a growing pause, and the connector says so.

The clock and the sleep are parameters (the CLI passes the real ones).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from talkstats.connectors.asterisk.filetail import FileTail
from talkstats.connectors.asterisk.lines import MalformedLine, QueueLogLine, parse_line
from talkstats.connectors.asterisk.mapping import KnownReference, Mapping, NewReference, Resolver
from talkstats.connectors.asterisk.parser import QueueLogParser
from talkstats.connectors.asterisk.reference import ReferenceWriter
from talkstats.domain.timeutil import parse_instant
from talkstats.simulator.driver import Driver, DriverError

__all__ = [
    "Connector",
    "FileSource",
    "LineSource",
    "ParserSpec",
    "StateFile",
    "Summary",
    "run_follow",
    "run_import",
    "run_import_pipelined",
]

Event = dict[str, Any]
NS = 1_000_000_000
STATE_VERSION = 1


class LineSource(Protocol):
    def read(self, limit: int = ...) -> list[QueueLogLine]: ...

    def position(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class FileSource:
    """A queue_log file's lines, parsed (`FileTail` does the reading and the rotations)."""

    def __init__(self, tail: FileTail) -> None:
        self.tail = tail
        self.malformed: list[str] = []

    def read(self, limit: int = 50_000) -> list[QueueLogLine]:
        out: list[QueueLogLine] = []
        for raw in self.tail.read(limit):
            if not raw.strip():
                continue
            try:
                out.append(parse_line(raw))
            except MalformedLine as exc:
                self.malformed.append(f"{raw[:80]!r}: {exc}")
        return out

    def position(self) -> dict[str, Any]:
        return self.tail.position()

    def close(self) -> None:
        self.tail.close()


@dataclass(slots=True)
class Summary:
    """What a run did: lines, events and their outcomes, skipped lines by reason."""

    lines: int = 0
    malformed: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)

    def text(self) -> str:
        out = [
            f"lines read {self.lines:,}, events sent {self.events:,}: accepted "
            f"{self.accepted:,}, duplicates {self.duplicates:,}, rejected {self.rejected:,}"
        ]
        if self.created:
            made = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in self.created.items())
            out.append(f"created {made}")
        if self.malformed:
            out.append(f"  skipped {self.malformed:,}: not a queue_log line")
        for reason, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  skipped {count:,}: {reason}")
        for note, count in sorted(self.notes.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  note {count:,}: {note}")
        return "\n".join(out)


def _by_time(event: Event) -> int:
    return parse_instant(event["time"])


class Connector:
    """Lines -> parser -> reference data and sorted events -> the driver's sink."""

    def __init__(
        self,
        parser: QueueLogParser,
        reference: ReferenceWriter,
        driver: Driver,
        *,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.parser = parser
        self.reference = reference
        self.driver = driver
        self.note = note or (lambda _msg: None)
        self.summary = Summary()
        self._uncreated = NewReference()

    def parse(self, lines: Sequence[QueueLogLine]) -> list[Event]:
        feed = self.parser.feed
        events: list[Event] = []
        for line in lines:
            events.extend(feed(line))
        return events

    def adopt(self, new: NewReference) -> None:
        """Records another resolver invented (a pipelined import's parser), to create."""
        pending = self._uncreated
        pending.agents += new.agents
        pending.groups += new.groups
        pending.phone_numbers += new.phone_numbers
        pending.memberships += new.memberships

    def send(self, events: list[Event], *, presorted: bool = False) -> None:
        """Create what the events name, then send them sorted by time (stable)."""
        self.adopt(self.parser.resolver.take_new())
        pending = self._uncreated
        if pending:
            self.reference.create(pending)  # DriverError: kept for the next attempt
            self.summary.created.update(pending.counts())
            self._uncreated = NewReference()
        if not events:
            return
        if not presorted:
            events.sort(key=_by_time)
        before = self.driver.report.sent
        self.driver.send(events)
        self.summary.events += self.driver.report.sent - before

    def collect(self, source: LineSource) -> None:
        """Copy the parser's and the source's counts into the summary."""
        s = self.summary
        report = self.driver.report
        s.malformed = len(getattr(source, "malformed", ()))
        s.lines = self.parser.lines + s.malformed  # every line read, parsed or not
        s.accepted, s.duplicates, s.rejected = report.accepted, report.duplicates, report.rejected
        s.skipped = Counter(self.parser.skipped)
        s.notes = Counter(self.parser.notes)


def run_import(source: LineSource, connector: Connector, *, chunk: int = 50_000) -> Summary:
    """Read the source to its end, send everything, settle what is pending."""
    while True:
        lines = source.read(chunk)
        if not lines:
            break
        connector.send(connector.parse(lines))
    connector.send(connector.parser.finish())
    connector.collect(source)
    return connector.summary


# --- import on two cores -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """What a parser is made of, to build the same one in another process."""

    mapping: Mapping
    known: KnownReference
    options: dict[str, Any]


def _parse_in_child(path: str, spec: ParserSpec, chunk: int, out: Any) -> None:
    """The reading and parsing half of a pipelined import (a child process)."""
    try:
        resolver = Resolver(spec.mapping, spec.known)
        parser = QueueLogParser(resolver, **spec.options)
        source = FileSource(FileTail(path))
        while lines := source.read(chunk):
            events: list[Event] = []
            for line in lines:
                events.extend(parser.feed(line))
            events.sort(key=_by_time)
            out.put(("events", events, resolver.take_new()))
        events = parser.finish()
        events.sort(key=_by_time)
        out.put(("events", events, resolver.take_new()))
        source.close()
        out.put(("done", parser.lines, dict(parser.skipped), dict(parser.notes), source.malformed))
    except BaseException as exc:  # the parent reports it
        out.put(("failed", f"{type(exc).__name__}: {exc}"))


def run_import_pipelined(
    path: str | Path, spec: ParserSpec, connector: Connector, *, chunk: int = 50_000
) -> Summary:
    """`run_import` of a file on two cores: a child process reads and parses while this
    one creates the reference data and sends. The same events, in the same order."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)
    child = context.Process(
        target=_parse_in_child, args=(str(path), spec, chunk, queue), daemon=True
    )
    child.start()
    summary = connector.summary
    try:
        while True:
            message = queue.get()
            if message[0] == "events":
                _, events, new = message
                connector.adopt(new)
                connector.send(events, presorted=True)
            elif message[0] == "done":
                _, lines, skipped, notes, malformed = message
                break
            else:
                raise RuntimeError(f"reading {path} failed: {message[1]}")
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    report = connector.driver.report
    summary.lines, summary.malformed = lines + len(malformed), len(malformed)
    summary.accepted, summary.duplicates, summary.rejected = (
        report.accepted, report.duplicates, report.rejected,
    )  # fmt: skip
    summary.skipped, summary.notes = Counter(skipped), Counter(notes)
    return summary


# --- follow ------------------------------------------------------------------------------


class StateFile:
    """The follow state: which source, where in it, and the parser's state (JSON)."""

    def __init__(self, path: str | Path, source_id: str) -> None:
        self.path = Path(path)
        self.source_id = source_id

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"state file {self.path}: unreadable ({exc}); move it away") from None
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state file {self.path}: unknown version {data.get('version')!r}")
        if data.get("source") != self.source_id:
            raise ValueError(
                f"state file {self.path} belongs to {data.get('source')!r}, not {self.source_id!r}:"
                " give another --state"
            )
        return data  # type: ignore[no-any-return]

    def save(self, position: dict[str, Any], parser: dict[str, Any]) -> None:
        data = {
            "version": STATE_VERSION,
            "source": self.source_id,
            "position": position,
            "parser": parser,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def run_follow(
    source: LineSource,
    connector: Connector,
    state: StateFile,
    *,
    clock: Callable[[], int],
    sleep: Callable[[float], None],
    poll_seconds: float = 1.0,
    report_seconds: float = 60.0,
    report: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Summary:
    """Send what the source has, then keep following it until ``stop()``.

    The position and the parser's state are saved after each acknowledged batch.
    """
    report = report or (lambda _msg: None)
    warn = warn or (lambda _msg: None)
    next_report = clock() + int(report_seconds * NS)
    saved_at: dict[str, Any] | None = None
    while not stop():
        lines = source.read()
        events = connector.parse(lines)
        events += connector.parser.expire(clock())
        if events or connector.parser.resolver_has_new():
            _send_until_done(connector, events, sleep, warn, stop)
        position = source.position()
        if events or lines or position != saved_at:
            state.save(position, connector.parser.snapshot())
            saved_at = position
        now = clock()
        if now >= next_report:
            connector.collect(source)
            report(connector.summary.text())
            next_report = now + int(report_seconds * NS)
        if not lines:
            sleep(poll_seconds)
    connector.collect(source)
    return connector.summary


def _send_until_done(
    connector: Connector,
    events: list[Event],
    sleep: Callable[[float], None],
    warn: Callable[[str], None],
    stop: Callable[[], bool],
) -> None:
    pause = 1.0
    while True:
        try:
            connector.send(events)
            return
        except DriverError as exc:
            if stop():
                raise
            warn(f"could not send {len(events)} events ({exc}); retrying in {pause:g} s")
            sleep(pause)
            pause = min(pause * 2, 30.0)
