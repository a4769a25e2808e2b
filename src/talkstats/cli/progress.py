"""Progress of long commands (simulate, ingest, the demo's backfill), on stderr.

On a terminal a tqdm bar redraws in place: how far the work is, events, calls,
events/s and the time elapsed. Anywhere else (a pipe, a log file, CI) a plain line is
printed every ``every`` seconds instead, so a log shows the command is alive without
being flooded. Standard output stays for the command's results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

from tqdm import tqdm

PLAIN_EVERY_SECONDS = 5.0
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:24}| {figures}"


class _Bar(tqdm):  # type: ignore[type-arg]
    """A tqdm bar with one more field for its format: ``figures`` (our own text)."""

    figures = ""

    @property
    def format_dict(self) -> MutableMapping[str, Any]:
        fields = super().format_dict
        fields["figures"] = self.figures
        return fields


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """How far a long command is: ``update(done, events=..., calls=...)`` as it goes.

    ``done`` and ``total`` are in the command's own unit (simulated seconds, lines of
    a file); ``where(done)`` may describe the position (a simulated time). The clock
    is a parameter so that tests drive the plain lines without waiting.
    """

    def __init__(
        self,
        label: str,
        total: float,
        *,
        where: Callable[[float], str] | None = None,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = PLAIN_EVERY_SECONDS,
        redraw_every: float = 0.1,
    ) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.where = where
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.every = every
        self.started = self.last_line = clock()
        self.done = 0.0
        self.events = self.calls = 0
        if interactive is None:
            interactive = self.stream.isatty()
        self.bar: _Bar | None = None
        if interactive:
            self.bar = _Bar(
                total=self.total,
                desc=label,
                file=self.stream,
                bar_format=_BAR_FORMAT,
                dynamic_ncols=True,
                leave=False,
                mininterval=redraw_every,
            )

    def _figures(self) -> str:
        seconds = self.clock() - self.started
        rate = self.events / seconds if seconds > 0 else 0.0
        at = f"{self.where(self.done)}, " if self.where is not None else ""
        return (
            f"{at}{self.events:,} events, {self.calls:,} calls, {rate:,.0f} events/s, "
            f"{_elapsed(seconds)} elapsed"
        )

    def update(self, done: float, *, events: int, calls: int) -> None:
        """The position now (absolute, in the unit of ``total``) and the running counts."""
        step = min(done, self.total) - self.done
        self.done = min(done, self.total)
        self.events, self.calls = events, calls
        if self.bar is not None:
            self.bar.figures = self._figures()
            self.bar.update(step)
            return
        now = self.clock()
        if now - self.last_line >= self.every:
            self.last_line = now
            percent = 100.0 * self.done / self.total
            print(f"{self.label}: {percent:.0f}%, {self._figures()}", file=self.stream, flush=True)

    def close(self) -> None:
        """Take the bar off the screen (the command prints its own summary next)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
