"""/docs in a real headless Chromium, with every address but the loopback unreachable.

Swagger UI must render the whole document from the assets talkstats serves itself. The
browser is pointed at a proxy that does not exist, so a CDN request would fail (Chromium
never proxies the loopback). Skipped where no Chromium is installed
(``apt-get install chromium``); the screenshot is kept in artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import Server

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)"),
]


def _chromium(*args: str) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--proxy-server=http://127.0.0.1:9",  # nothing listens: off-machine is unreachable
            "--virtual-time-budget=15000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_docs_render_without_network(server: Server) -> None:
    dom = _chromium("--dump-dom", f"{server.url}/docs")
    assert "OAS 3.1" in dom
    for summary in ("Show Account Overview", "Ingest events", "Create API Token", "Liveness"):
        assert summary in dom, summary
    assert dom.count("opblock-summary-path") >= 19
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "docs.png"
    _chromium("--window-size=1280,1600", f"--screenshot={shot}", f"{server.url}/docs")
    assert shot.stat().st_size > 10_000
