"""The `talkstats` command, one module per command group.

- ``serve``: the HTTP server and ``settings``;
- ``migrate``: schema migrations of the store;
- ``accounts``: accounts, users, groups, phone numbers and API tokens;
- ``ingest``: events from files or standard input;
- ``simulate``: the traffic simulator's ``simulate``;
- ``demo``: the API with a live simulated contact center;
- ``asterisk``: Asterisk's queue_log (``import`` and ``follow``);
- ``export``: the incremental exports' call and leg records of some days, to a file;
- ``progress``: progress bars (terminal) and progress lines (logs) of long commands;
- ``wallboard``: display links of the wallboard.

``root`` is the composition root (settings -> store -> service, the real clocks);
every command builds its service there.
"""

from __future__ import annotations

import click

from talkstats.cli import (
    accounts,
    asterisk,
    demo,
    export,
    ingest,
    migrate,
    serve,
    simulate,
    wallboard,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="talkstats", prog_name="talkstats")
def cli() -> None:
    """talkstats: voice contact-center statistics behind the Zendesk Talk Stats API.

    Settings come from flags, then TALKSTATS_* environment variables, then defaults
    (`talkstats settings` lists them).
    """


for _command in (
    *serve.COMMANDS,
    *migrate.COMMANDS,
    *accounts.COMMANDS,
    ingest.ingest,
    *simulate.COMMANDS,
    *demo.COMMANDS,
    *wallboard.COMMANDS,
    *export.COMMANDS,
    *asterisk.COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point (`talkstats`)."""
    cli(prog_name="talkstats")


__all__ = ["cli", "main"]
