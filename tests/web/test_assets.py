"""The wallboard's static files: the built third-party assets match their lock file and
manifest, every static file is package data, and the build reproduces them (slow: npm)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "talkstats" / "web" / "static"
WEB_SRC = ROOT / "web-src"


def test_the_built_assets_are_what_the_manifest_and_the_lock_file_say() -> None:
    manifest = json.loads((STATIC / "vendor" / "MANIFEST.json").read_text())
    lock = json.loads((WEB_SRC / "package-lock.json").read_text())
    package = json.loads((WEB_SRC / "package.json").read_text())
    for name, pinned in manifest["packages"].items():
        locked = lock["packages"][f"node_modules/{name}"]
        assert pinned == {"version": locked["version"], "integrity": locked["integrity"]}
        assert package["dependencies"][name] == locked["version"]  # an exact pin
    for relative, digest in manifest["files"].items():
        data = (STATIC / "vendor" / relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, relative
    shipped = {str(p.relative_to(STATIC / "vendor")) for p in (STATIC / "vendor").rglob("*")}
    assert shipped - {"MANIFEST.json"} == set(manifest["files"]) | {"uplot"}


def test_every_static_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["talkstats"]
    package = ROOT / "src" / "talkstats"
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(package))
            assert any(fnmatch.fnmatchcase(relative, p) for p in patterns), relative


def test_no_page_loads_anything_from_elsewhere() -> None:
    for path in STATIC.glob("*.*"):
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path.name


@pytest.mark.slow
def test_the_build_reproduces_the_committed_assets(tmp_path: Path) -> None:
    """npm ci from the lock file, then build.mjs --check against the committed files."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    work = tmp_path / "web-src"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy(WEB_SRC / name, work / name)
    # build.mjs writes next to ../src/talkstats/web/static/vendor: point it at the real one
    (tmp_path / "src").symlink_to(ROOT / "src")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=work, check=True,
        capture_output=True, timeout=300,
    )  # fmt: skip
    done = subprocess.run(
        ["npm", "run", "build", "--", "--check"], cwd=work, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
