"""settings, documentation of every setting, help, and the simulator commands' registration."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from talkstats.cli import cli
from talkstats.config import SETTINGS

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_settings_lists_every_setting_with_env_default_current_and_help() -> None:
    result = CliRunner().invoke(cli, ["settings"], env={"TALKSTATS_PORT": "9999"})
    assert result.exit_code == 0, result.output
    blocks = result.stdout.strip().split("\n")
    names = [line for line in blocks if not line.startswith(" ")]
    assert names == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        assert f"env:      {setting.env}" in result.stdout
        assert setting.help in result.stdout
    port = result.stdout.split("\nport\n", 1)[1].split("\n")[:3]
    assert port[1].split() == ["default:", "8080"]
    assert port[2].split() == ["current:", "9999"]


def test_settings_reports_a_bad_environment_value() -> None:
    result = CliRunner().invoke(cli, ["settings"], env={"TALKSTATS_PORT": "eighty"})
    assert result.exit_code == 1
    assert "TALKSTATS_PORT" in result.stderr and "Traceback" not in result.output


def test_every_setting_is_documented() -> None:
    text = OPERATIONS.read_text()
    for setting in SETTINGS:
        assert f"`{setting.name}`" in text, f"{setting.name} missing from docs/operations.md"
        assert f"`{setting.env}`" in text, f"{setting.env} missing from docs/operations.md"
        default = "" if setting.default is None else str(setting.default)
        assert default in text


def _all_commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _all_commands(command, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_command_is_documented_with_an_example() -> None:
    text = CLI_DOC.read_text()
    for name in _all_commands(cli):
        assert f"talkstats {name}" in text, f"`talkstats {name}` missing from docs/cli.md"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["ingest", "--help"],
        ["account", "create", "--help"],
        ["token", "create", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_python_dash_m_entry_point() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "talkstats", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "serve" in done.stdout


def test_every_command_group_is_registered() -> None:
    assert {"serve", "settings", "account", "user", "group", "phone-number", "token",
            "ingest", "simulate", "demo"} <= set(cli.commands)  # fmt: skip


def test_settings_never_prints_the_metrics_token() -> None:
    env = {"TALKSTATS_METRICS_TOKEN": "do-not-print-me"}
    result = CliRunner().invoke(cli, ["settings"], env=env)
    assert result.exit_code == 0, result.output
    assert "do-not-print-me" not in result.output
    token = result.stdout.split("\nmetrics_token\n", 1)[1].split("\n")[:3]
    assert token[2].split() == ["current:", "(set,", "not", "shown)"]
