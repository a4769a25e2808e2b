"""Progress of long commands: a bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import io

from talkstats.cli.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_line_every_few_seconds() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress("simulating", 3600, where=lambda s: f"at +{s:.0f} s", stream=out,
                        clock=clock, every=5.0)  # fmt: skip
    progress.update(600, events=1_000, calls=100)
    assert out.getvalue() == ""  # not five seconds yet
    clock.now += 5.0
    progress.update(1800, events=50_000, calls=4_000)
    clock.now += 1.0
    progress.update(2400, events=60_000, calls=5_000)  # one second later: no new line
    progress.close()
    assert out.getvalue().splitlines() == [
        "simulating: 50%, at +1800 s, 50,000 events, 4,000 calls, 10,000 events/s, 0:05 elapsed"
    ]


def test_on_a_terminal_a_bar_with_the_figures() -> None:
    clock, out = FakeClock(), Terminal()
    progress = Progress("ingesting", 200, stream=out, clock=clock, redraw_every=0)
    clock.now += 2.0
    progress.update(100, events=100, calls=7)
    progress.close()
    screen = out.getvalue()
    assert "ingesting:  50%|" in screen
    assert "100 events, 7 calls, 50 events/s, 0:02 elapsed" in screen


def test_long_runs_show_hours() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress("x", 10, stream=out, clock=clock, every=1.0)
    clock.now += 3 * 3600 + 62
    progress.update(5, events=1, calls=0)
    assert "3:01:02 elapsed" in out.getvalue()
