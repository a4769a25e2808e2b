"""`talkstats asterisk follow` as real processes against a real `talkstats serve`: rotation
by rename and by copy-and-truncate, a connector restart and a server restart in the
middle; every call is counted exactly once, and a line appended shows in
current_queue_activity (found by polling the API: no test here measures its own speed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import ADMIN
from tests.e2e.harness import ATTEMPTS, POLL, environment, talkstats

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("America/New_York")
WAIT = 2400  # x POLL: how long a poll for an expected state may go on before failing


class Serve:
    """`talkstats serve` on a port chosen by the system at the first start, kept on restart."""

    def __init__(self, database: str, workdir: Path) -> None:
        self.database, self.workdir = database, workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        out = self.workdir / f"serve-{self.runs}.out"
        with out.open("wb") as stdout, (self.workdir / f"serve-{self.runs}.err").open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "talkstats", "serve", "--port", str(self.port),
                 "--database", self.database, "--log-level", "warning"],
                stdout=stdout, stderr=err, env=environment(),
            )  # fmt: skip
        for _ in range(ATTEMPTS):
            for line in out.read_text().splitlines():
                if line.startswith("talkstats listening on "):
                    self.url = line.rsplit(" ", 1)[1]
                    self.port = int(self.url.rsplit(":", 1)[1])
                    return
            assert self.process.poll() is None, "server exited"
            time.sleep(POLL)
        raise AssertionError("server printed no URL")

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class Follow:
    """The connector process; its output goes to files (one pair per run)."""

    def __init__(self, workdir: Path, log: Path, url: str) -> None:
        self.workdir, self.log, self.url = workdir, log, url
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._files: list[IO[bytes]] = []

    def start(self) -> None:
        self.runs += 1
        out = (self.workdir / f"follow-{self.runs}.out").open("wb")
        err = (self.workdir / f"follow-{self.runs}.err").open("wb")
        self._files += [out, err]
        env = {**environment(), "TALKSTATS_PASSWORD": ADMIN[1]}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "talkstats", "asterisk", "follow", str(self.log),
             "--url", self.url, "--email", ADMIN[0], "--state", str(self.workdir / "state.json"),
             "--poll-seconds", "0.2", "--requeue-seconds", "0"],
            stdout=out, stderr=err, env=env,
        )  # fmt: skip

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def output(self) -> str:
        return "".join(
            (self.workdir / f"follow-{n}.{kind}").read_text()
            for n in range(1, self.runs + 1)
            for kind in ("out", "err")
        )

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for f in self._files:
            f.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Serve, Follow, Path]]:
    database = f"sqlite:///{tmp_path / 'talkstats.db'}"
    talkstats(
        "account", "create", "acme", "--timezone", "America/New_York", "--plan", "professional",
        "--admin-email", ADMIN[0], "--admin-password", ADMIN[1], database=database,
    )  # fmt: skip
    server = Serve(database, tmp_path)
    server.start()
    log = tmp_path / "queue_log"
    log.touch()
    follow = Follow(tmp_path, log, server.url)
    try:
        yield server, follow, log
    finally:
        follow.close()
        server.close()


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy (bounded; fails saying what)."""
    for _ in range(WAIT):
        try:
            value = check()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(POLL)
    raise AssertionError(f"never: {what}")


def get(server: Serve, endpoint: str, **params: Any) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}/api/v2/channels/voice/stats/{endpoint}.json",
        params=params, auth=ADMIN, timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


class Calls:
    """queue_log lines of answered calls, a few seconds apart, all on one local day."""

    def __init__(self) -> None:
        now = int(time.time())
        midnight = int(
            datetime.fromtimestamp(now, ZONE).replace(hour=0, minute=0, second=0).timestamp()
        )
        self.t = max(midnight + 60, now - 3000)  # today, in the past
        self.day = datetime.fromtimestamp(self.t, ZONE).date().isoformat()
        self.n = 0

    def next(self) -> list[str]:
        self.n += 1
        c, t = f"call-{self.n}", self.t
        self.t += 20
        return [
            f"{t}|{c}|support|NONE|DID|+12125550100",
            f"{t}|{c}|support|NONE|ENTERQUEUE||+1555000{self.n:04d}|1",
            f"{t + 5}|{c}|support|PJSIP/400|CONNECT|5|{c}-peer|2",
            f"{t + 15}|{c}|support|PJSIP/400|COMPLETECALLER|5|10|1",
        ]


def append(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def test_follow_through_rotations_and_restarts_counts_every_call_once(
    world: tuple[Serve, Follow, Path],
) -> None:
    server, follow, log = world
    calls = Calls()

    def total() -> int:
        return int(
            get(server, "account_overview", date=calls.day)["account_overview"]["total_calls"]
        )

    append(log, [f"{calls.t - 10}|NONE|support|PJSIP/400|ADDMEMBER|", *calls.next(), *calls.next()])
    follow.start()
    until(lambda: total() == 2, "the first two calls")

    # rotation by rename: a last line still goes to the renamed file, then a new file
    os.rename(log, log.with_name("queue_log.1"))
    append(log.with_name("queue_log.1"), calls.next())
    append(log, calls.next())
    until(lambda: total() == 4, "calls 3 (renamed file) and 4 (new file)")

    # a connector restart across a copy-and-truncate rotation. Killed once its saved
    # position is in the new file (a state saved a moment after the server answered
    # would still name the renamed file: a second rotation, while it is down, of a
    # file it never read is not what this step tests)
    def saved_in_current_file() -> bool:
        state = follow.workdir / "state.json"
        if not state.exists():
            return False
        position = json.loads(state.read_text())["position"]
        return bool(position["inode"] == log.stat().st_ino and position["offset"] > 0)

    until(saved_in_current_file, "the connector's state to name the new file")
    follow.kill()
    append(log, calls.next())  # not read before the copy
    shutil.copyfile(log, log.with_name("queue_log-copy"))
    with log.open("r+") as f:
        f.truncate(0)
    append(log, calls.next())
    follow.start()
    until(lambda: total() == 6, "call 5 (from the copy) and 6 (truncated file)")

    # a server restart: the connector retries and says so; nothing is lost
    server.stop()
    append(log, calls.next())
    until(lambda: "retrying" in follow.output(), "the connector saying it retries")
    server.start()
    until(lambda: total() == 7, "call 7, sent once the server is back")

    # a line appended shows in current_queue_activity
    now = int(time.time())
    append(log, [f"{now}|live-1|support|NONE|ENTERQUEUE||+15550009999|1"])
    until(
        lambda: (
            get(server, "current_queue_activity")["current_queue_activity"]["calls_waiting"] == 1
        ),
        "the waiting caller in current_queue_activity",
    )
    assert follow.stop() == 0
    overview = get(server, "account_overview", date=calls.day)["account_overview"]
    assert overview["total_calls"] == 7 + (
        calls.day == datetime.fromtimestamp(now, ZONE).date().isoformat()
    )
    activity = get(server, "agents_activity", date=calls.day)["agents_activity"]
    member = next(row for row in activity if row["agent_id"] == 400)
    assert (member["calls_accepted"], member["total_talk_time"]) == (7, 70)
    assert "rejected 0" in follow.output()
