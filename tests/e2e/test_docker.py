"""The Docker image: built and run where a Docker daemon answers, checked as text elsewhere.

`test_the_image_serves_and_is_healthy` builds the image, creates an account in a volume,
runs the default command and waits (bounded polling) for /healthz and for Docker's own
health status. Without a daemon it is skipped, saying so. The other tests need no
Docker: the Dockerfile's promises read from its text, and its HEALTHCHECK command run
against a real server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import POLL, Server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_SECONDS = 900
HEALTHY_SECONDS = 90


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) of the Dockerfile, continuation lines joined, comments left out."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_dockerfile_keeps_its_promises() -> None:
    """Read as text: slim bases, a non-root user, /data as the volume, /healthz checked."""
    steps = _instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert froms and all(":" in f and "-slim" in f for f in froms)  # slim, tagged bases
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")  # the server does not run as root
    assert ("VOLUME", '["/data"]') in final
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert "TALKSTATS_DATABASE_URL=sqlite:////data/talkstats.db" in env
    health = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0]
    assert final[-1] == ("CMD", '["talkstats", "serve"]')
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1:4] == ["*", "!pyproject.toml", "!README.md"]  # nothing else is sent
    compose = (ROOT / "compose.yaml").read_text()
    assert "- demo" in compose and "build: ." in compose and "/data" in compose


def _healthcheck_command() -> str:
    rest = next(rest for word, rest in _instructions() if word == "HEALTHCHECK")
    return rest.split(" CMD ", 1)[1]


@pytest.fixture
def python_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment where `python` is the interpreter running the tests (as in the image)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTATS_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_healthcheck_command_tells_up_from_down(
    server: Server, python_on_path: dict[str, str]
) -> None:
    """The image's HEALTHCHECK, run by sh as Docker runs it: 0 while serving, 1 after."""
    port = server.url.rsplit(":", 1)[1]
    env = {**python_on_path, "TALKSTATS_PORT": port}
    command = ["sh", "-c", _healthcheck_command()]
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0
    server.stop()
    down = subprocess.run(command, env=env, capture_output=True, timeout=30)
    assert down.returncode == 1


def _docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture
def docker() -> None:
    if shutil.which("docker") is None:
        pytest.skip("Docker is not installed here: the image was not built")
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker daemon answers here ({reason}): the image was not built")


@pytest.fixture
def image(docker: None) -> Iterator[str]:
    tag = f"talkstats-test:{uuid.uuid4().hex[:12]}"
    print(f"building the Docker image {tag} (a few minutes)", file=sys.stderr)
    _docker("build", "--tag", tag, str(ROOT), timeout=BUILD_SECONDS)
    try:
        yield tag
    finally:
        _docker("rmi", "--force", tag, check=False)


def test_the_image_serves_and_is_healthy(image: str) -> None:
    """Build the image, create an account in a volume, serve it; Docker reports healthy."""
    name = f"talkstats-test-{uuid.uuid4().hex[:12]}"
    volume = f"{name}-data"
    _docker("volume", "create", volume)
    try:
        _docker("run", "--rm", "--volume", f"{volume}:/data", image, "talkstats", "account",
                "create", "acme", "--timezone", "UTC", "--plan", "team",
                "--admin-email", "admin@acme.test", "--admin-password", "pw")  # fmt: skip
        _docker("run", "--detach", "--name", name, "--volume", f"{volume}:/data",
                "--publish", "127.0.0.1::8080", "--health-interval", "1s", image)  # fmt: skip
        port = _docker("port", name, "8080/tcp").splitlines()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        status = ""
        deadline = time.monotonic() + HEALTHY_SECONDS
        while time.monotonic() < deadline and status != "healthy":
            state = json.loads(_docker("inspect", "--format", "{{json .State}}", name))
            assert state["Running"], f"the container stopped: {_docker('logs', name)}"
            status = state.get("Health", {}).get("Status", "")
            time.sleep(POLL)  # polling Docker's view of the container, bounded
        assert status == "healthy", _docker("logs", name)
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        users = requests.get(f"{url}/api/v2/users.json", auth=("admin@acme.test", "pw"), timeout=10)
        assert users.status_code == 200 and users.json()["count"] == 1
        assert _docker("exec", name, "id", "-u") != "0"
        _docker("stop", "--time", "20", name)
        code = _docker("inspect", "--format", "{{.State.ExitCode}}", name)
        assert code == "0"  # SIGTERM stops the server gracefully
    finally:
        _docker("rm", "--force", name, check=False)
        _docker("volume", "rm", "--force", volume, check=False)
