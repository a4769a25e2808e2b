"""A private PostgreSQL cluster for tests that stop and start the server.

The shared server (tests/servers.py) is never stopped: other suites and other people
use it. A test that takes PostgreSQL down makes its own cluster with the machine's
`initdb` and `pg_ctl` (Debian puts them under /usr/lib/postgresql/VERSION/bin) in a
fresh directory, on a free port of 127.0.0.1, and removes it afterwards.

PostgreSQL refuses to run as root; when the tests run as root, the cluster's programs
run as the `postgres` user (through `runuser`), in a directory that user owns. Where
there are no binaries, or no way to run them, the test skips with a message naming
TALKSTATS_TEST_POSTGRES_URL, and fails instead when that variable is set (CI).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.servers import _CONFIGURED, POSTGRES_VAR, _unavailable

TIMEOUT_S = 60


def _binaries() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, or None."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()
    ]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    """A free port below the kernel's ephemeral range.

    The cluster is stopped and started on the same port; a port from the ephemeral
    range could meanwhile become the local end of some client connection (ours
    included), and the restart would fail to bind it.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(max(1024, low - 8000), low), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range for a private PostgreSQL")


class Cluster:
    """initdb, start, stop and remove a PostgreSQL cluster of the test's own."""

    def __init__(self) -> None:
        configured = _CONFIGURED[POSTGRES_VAR]
        bindir = _binaries()
        if bindir is None:
            _unavailable(
                POSTGRES_VAR,
                configured,
                "no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin "
                "for a private cluster",
            )
        self.bindir = bindir
        self.prefix: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable(
                    POSTGRES_VAR,
                    configured,
                    "the tests run as root, which initdb refuses, and there is no "
                    "`postgres` user to run a private cluster as",
                )
            runuser = shutil.which("runuser")
            if runuser is None:
                _unavailable(
                    POSTGRES_VAR,
                    configured,
                    "running as root without runuser(1) to drop to postgres",
                )
            self.prefix = [runuser, "-u", "postgres", "--"]
        # not under pytest's tmp_path: that is private to the user running the tests
        self.root = Path(tempfile.mkdtemp(prefix="talkstats-pgcluster-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",  # scaffolding: the OS is never crashed in these tests
        )

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            cwd=self.root,
        )
        assert done.returncode == 0, (
            f"{program} failed ({done.returncode}): {done.stderr}{self.server_log()}"
        )

    def server_log(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session at once; ``immediate`` is a crash."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w")

    def remove(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.prefix, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data)]
                + ["-m", "immediate", "-w"],
                capture_output=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
