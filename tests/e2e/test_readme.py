"""README.md's shell examples, run in order against a real server.

The convention is written at the top of README.md: ```sh blocks run in order in one
bash process (in an empty directory where `.venv/bin/talkstats` is the talkstats under
test); a block that only runs `.venv/bin/talkstats serve ...` starts a real server on
a free port instead, and the blocks after it talk to that server; a `# {...}` comment
is an expected response; other fences never run.

Each block is written to a file and sourced by the one bash process with its standard
input from /dev/null, so a command that reads standard input cannot swallow the next
commands. Waiting is bounded: a block has `BLOCK_SECONDS` to finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.harness import Server, environment

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8080"
SERVE = (".venv", "bin", "talkstats", "serve")
BLOCK_SECONDS = 180.0
DONE = "__readme_block_done__"
CURLRC = 'silent\nshow-error\nfail-with-body\nwrite-out = "\\n"\n'
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One ```sh block: the README line its code starts on, and the code."""

    line: int
    code: str

    def commands(self) -> list[str]:
        """Its commands: continuation lines joined, comments and blank lines left out."""
        joined = self.code.replace("\\\n", " ")
        return [
            c.strip() for c in joined.splitlines() if c.strip() and not c.lstrip().startswith("#")
        ]

    def serve_args(self) -> list[str] | None:
        """`serve`'s arguments with `--port 0`, if the block only starts the server."""
        commands = self.commands()
        if len(commands) != 1:
            return None
        words = shlex.split(commands[0])
        if tuple(Path(words[0]).parts) + tuple(words[1:2]) != SERVE:
            return None
        args: list[str] = []
        rest = iter(words[2:])
        for word in rest:
            if word == "--port":
                next(rest, None)
            elif not word.startswith("--port="):
                args.append(word)
        return [*args, "--port", "0"]

    def expected(self) -> list[Any]:
        """The `# {...}` comments that hold valid JSON."""
        found = []
        for line in self.code.splitlines():
            text = line.strip()
            if text.startswith("# {"):
                try:
                    found.append(json.loads(text[2:]))
                except ValueError:
                    continue
        return found


def sh_blocks(markdown: str) -> list[Block]:
    """The ```sh blocks, in order; every other fence is left out."""
    blocks = []
    for match in _FENCE.finditer(markdown):
        if match.group(1).strip() == "sh":
            line = markdown.count("\n", 0, match.start(2)) + 1
            blocks.append(Block(line, match.group(2)))
    return blocks


def matches(expected: Any, actual: Any) -> bool:
    """Objects key by key (only the expected keys), lists item by item, the rest equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def responses(output: str) -> list[Any]:
    """Every line of the output that is a JSON object (curl prints one per response)."""
    found = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


class BlockFailed(AssertionError):
    pass


class Shell:
    """One bash process that sources the blocks one by one, keeping its variables."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.count = 0
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(self.stdout,), daemon=True)
        self.reader.start()
        self._send("set -euo pipefail")

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, text: str) -> None:
        self.stdin.write(text + "\n")
        self.stdin.flush()

    def run(self, block: Block, code: str) -> str:
        """Source the block's code; its output (stdout and stderr), or BlockFailed."""
        self.count += 1
        script = self.cwd.parent / f"block-{self.count}.sh"
        script.write_text(code)
        self._send(f"source {shlex.quote(str(script))} </dev/null; printf '\\n%s\\n' {DONE}")
        out: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=BLOCK_SECONDS)
            except queue.Empty:
                self.close()
                raise BlockFailed(
                    f"README.md line {block.line}: no end after {BLOCK_SECONDS:.0f} s; "
                    f"output so far:\n{''.join(out)}"
                ) from None
            if line is None:
                code_ = self.process.wait(timeout=30)
                raise BlockFailed(
                    f"README.md line {block.line}: the block failed (bash exited with {code_}):"
                    f"\n{block.code}\n--- output ---\n{''.join(out)}"
                )
            if line.strip() == DONE:
                return "".join(out)
            out.append(line)

    def close(self) -> None:
        """End bash (its standard input closes; killed if it does not exit) and its pipes."""
        if not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        self.stdout.close()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty directory with `.venv/bin/talkstats`, and the environment to run in."""
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"the README's examples need {tool}, which is not installed")
    work = tmp_path / "checkout"
    (work / ".venv" / "bin").mkdir(parents=True)
    wrapper = work / ".venv" / "bin" / "talkstats"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m talkstats "$@"\n')
    wrapper.chmod(0o755)
    curl_home = tmp_path / "curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text(CURLRC)
    env = environment()
    env["CURL_HOME"] = str(curl_home)
    env.pop("CURL_CA_BUNDLE", None)  # loopback only; keep curl's defaults
    yield work, env


def local_day(zone: str) -> str:
    return datetime.now(ZoneInfo(zone)).date().isoformat()


def test_the_convention_is_written_at_the_top_of_the_readme() -> None:
    text = README.read_text()
    assert text.startswith("<!--") and "tests/e2e/test_readme.py" in text.split("-->")[0]
    blocks = sh_blocks(text)
    assert sum(b.serve_args() is not None for b in blocks) == 1
    assert all(b.expected() is not None for b in blocks)


def test_the_readme_runs_top_to_bottom(sandbox: tuple[Path, dict[str, str]]) -> None:
    """Every ```sh block succeeds, in order, and the numbers it shows are right."""
    work, env = sandbox
    blocks = sh_blocks(README.read_text())
    assert blocks, "README.md has no ```sh block"
    day_before = local_day("Europe/Paris")
    shell = Shell(work, env)
    server: Server | None = None
    outputs: dict[int, str] = {}
    misses: list[str] = []
    try:
        for block in blocks:
            args = block.serve_args()
            if args is not None:
                assert server is None, f"README.md line {block.line}: a second server"
                server = Server("", work.parent, args=args, cwd=work)
                server.start()
                continue
            code = block.code if server is None else block.code.replace(README_URL, server.url)
            print(f"README.md line {block.line}: running", file=sys.stderr)
            output = shell.run(block, code)
            outputs[block.line] = output
            got = responses(output)
            for wanted in block.expected():
                if not any(matches(wanted, r) for r in got):
                    misses.append(
                        f"README.md line {block.line}: no response matches {wanted}; got {got}"
                    )
        assert server is not None, "README.md never starts the server"
        day_after = local_day("Europe/Paris")
        if misses and day_before != day_after:
            pytest.skip("the examples ran across midnight in Europe/Paris: 'today' moved")
        assert not misses, "\n".join(misses)
        check_the_numbers(server.url, outputs)
    finally:
        shell.close()
        if server is not None:
            server.close()


def check_the_numbers(url: str, outputs: dict[int, str]) -> None:
    """The call of the README is answered, not abandoned, and nothing was rejected."""
    ingested = [r for out in outputs.values() for r in responses(out) if "results" in r]
    assert ingested and ingested[0]["accepted"] == 7 and ingested[0]["rejected"] == 0
    auth = ("admin@acme.example", "choose-one")
    stats = f"{url}/api/v2/channels/voice/stats"
    overview = requests.get(f"{stats}/account_overview.json", auth=auth, timeout=10).json()
    figures = overview["account_overview"]
    assert (figures["total_calls"], figures["total_calls_abandoned_in_queue"]) == (1, 0)
    queue_now = requests.get(f"{stats}/current_queue_activity.json", auth=auth, timeout=10)
    assert queue_now.json()["current_queue_activity"]["calls_waiting"] == 0
    rows = requests.get(f"{stats}/agents_activity.json", auth=auth, timeout=10).json()
    ada = next(r for r in rows["agents_activity"] if r["agent_id"] == 7)
    assert (ada["calls_accepted"], ada["agent_state"]) == (1, "away")
    simulated = next(out for out in outputs.values() if "simulating help-desk" in out)
    assert " 0 rejected" in simulated and "calls," in simulated


def test_blocks_and_expectations_are_read_as_the_convention_says() -> None:
    text = (
        "```console\n$ talkstats demo\n```\n"
        "```sh\n.venv/bin/talkstats serve --port 8080 \\\n  --default-account acme\n```\n"
        '```sh\nA=1  # not JSON\ncurl x\n# {"a": {"b": [1, {"c": 2}]}}\n# {nope\n```\n'
        "```text\nnot run\n```\n"
    )
    blocks = sh_blocks(text)
    assert [b.line for b in blocks] == [5, 9]
    assert blocks[0].serve_args() == ["--default-account", "acme", "--port", "0"]
    assert blocks[1].serve_args() is None
    assert blocks[1].expected() == [{"a": {"b": [1, {"c": 2}]}}]
    assert matches({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}], "e": 4}})
    assert not matches({"a": {"b": [1]}}, {"a": {"b": [1, 2]}})
    assert not matches({"a": 1}, {"b": 1})
    assert os.linesep == "\n"
