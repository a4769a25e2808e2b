"""`talkstats wallboard link create|list|revoke`: display links for screens nobody signs in on.

A display link opens the account's wallboard read-only (never the API). The token is
printed once, at creation; the store keeps only its hash. Revoking a link signs out
every screen that opened it within seconds.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import click

from talkstats.access.displays import DisplayLinks
from talkstats.cli.root import (
    account_option,
    database_option,
    open_service,
    reports_errors,
    resolve_account,
)
from talkstats.domain.timeutil import format_instant


@click.group("wallboard")
def wallboard() -> None:
    """The live wallboard (GET /wallboard): display links for unattended screens."""


@wallboard.group("link")
def link() -> None:
    """Create, list and revoke read-only display links."""


def _base(url: str) -> str:
    """An http(s) address with no query or fragment, where a link's path can be appended."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{url!r} is not an http:// or https:// address", param_hint="--base-url"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise click.BadParameter(f"{url!r} has a query or a fragment", param_hint="--base-url")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@link.command("create")
@account_option
@click.option("--description", default="", help="Which screen it is for, e.g. 'Lobby TV'.")
@click.option(
    "--base-url",
    metavar="URL",
    default=None,
    help="The server's address as screens reach it (e.g. https://acme.example.com); "
    "prints the whole link.",
)
@database_option
@reports_errors
def link_create(
    subdomain: str | None, description: str, base_url: str | None, database_url: str | None
) -> None:
    """Create a display link and print it (the token is shown only this once)."""
    if base_url is not None:
        base_url = _base(base_url)
    with open_service(database_url=database_url) as service:
        account = resolve_account(service, subdomain)
        links = DisplayLinks(service.store, hasher=service.hasher)
        record, token = links.create(account.id, description, service.clock())
    click.echo(
        f"created display link {record.id} for account {account.subdomain}; "
        "it is not shown again (revoke it with `talkstats wallboard link revoke "
        f"{record.id}`):",
        err=True,
    )
    path = f"/wallboard/link#{token}"
    click.echo(f"{base_url.rstrip('/')}{path}" if base_url else path)


@link.command("list")
@account_option
@database_option
@reports_errors
def link_list(subdomain: str | None, database_url: str | None) -> None:
    """List the account's display links: id, created, revoked, description."""
    with open_service(database_url=database_url) as service:
        account = resolve_account(service, subdomain)
        found = DisplayLinks(service.store, hasher=service.hasher).list(account.id)
    if not found:
        click.echo("no display links", err=True)
        return
    rows = [("ID", "CREATED", "REVOKED", "DESCRIPTION")]
    for r in found:
        revoked = "-" if r.revoked_at is None else format_instant(r.revoked_at)
        rows.append((str(r.id), format_instant(r.created_at), revoked, r.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@link.command("revoke")
@click.argument("link_id", type=click.IntRange(min=1))
@account_option
@database_option
@reports_errors
def link_revoke(link_id: int, subdomain: str | None, database_url: str | None) -> None:
    """Revoke display link LINK_ID: screens that opened it are signed out."""
    with open_service(database_url=database_url) as service:
        account = resolve_account(service, subdomain)
        record = DisplayLinks(service.store, hasher=service.hasher).revoke(
            account.id, link_id, service.clock()
        )
    click.echo(f"revoked display link {record.id} ({record.description or 'no description'})")


COMMANDS = (wallboard,)
