"""`talkstats migrate`: bring a database's schema to the version this talkstats needs."""

from __future__ import annotations

import click

from talkstats.cli.root import build_settings, database_option, reports_errors
from talkstats.store import migrate_store
from talkstats.store.migrations import LATEST
from talkstats.store.urls import redact, schema_status


@click.command()
@database_option
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing: exit 0 if the schema is current, 1 (naming what is missing) if not.",
)
@reports_errors
def migrate(database_url: str | None, check: bool) -> None:
    """Apply the schema migrations the database lacks, in one transaction.

    `serve` and the other commands refuse a database whose schema is older than this
    talkstats (and any newer one); back the database up, then run this. An existing
    database with no talkstats schema gets all of it; a database that does not exist
    is not created (`talkstats account create` creates one). Running it again does
    nothing. Several processes may run it at once: one migrates, the others wait and
    find the work done.
    """
    url = build_settings(database_url=database_url).database_url
    where = redact(url)
    if check:
        schema_status(url)  # StoreMissing, SchemaOutdated, SchemaTooNew: one line, exit 1
        click.echo(f"{where}: schema version {LATEST}, current")
        return
    state = migrate_store(url)
    for migration in state.applied:
        click.echo(f"applied migration {migration.version}: {migration.name}")
    if not state.applied:
        click.echo(f"{where}: schema version {state.version}, current; nothing to do")
    elif state.found == 0:
        click.echo(f"{where}: created the schema at version {state.version}")
    else:
        click.echo(f"{where}: schema version {state.found} -> {state.version}")


COMMANDS = (migrate,)
