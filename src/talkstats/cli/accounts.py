"""Operator commands for accounts and reference data: accounts, users, groups, numbers, tokens.

Each command opens the store through the composition root, does one thing, prints one
line (or a table) and exits 1 with a one-line message on a conflict, an unknown record
or an invalid value.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from talkstats.cli.root import (
    account_option,
    database_option,
    open_service,
    reports_errors,
    resolve_account,
)
from talkstats.domain.stats import PLANS
from talkstats.service import AGENT_ROLES, check_new_account
from talkstats.store.base import ROLES


@click.group("account")
def account() -> None:
    """Create and list accounts (tenants)."""


@account.command("create")
@click.argument("subdomain")
@click.option("--timezone", required=True, help="IANA time zone of the account, e.g. Europe/Paris.")
@click.option("--plan", required=True, type=click.Choice(PLANS), help="Zendesk Talk plan.")
@click.option("--admin-email", required=True, help="Email of the account's first admin.")
@click.option(
    "--admin-password",
    envvar="TALKSTATS_ADMIN_PASSWORD",
    show_envvar=True,
    default=None,
    help="Password of the first admin (prompted for, hidden, on a terminal if omitted).",
)
@click.option("--admin-name", default="Admin", show_default=True, help="Name of the first admin.")
@database_option
@reports_errors
def account_create(
    subdomain: str,
    timezone: str,
    plan: str,
    admin_email: str,
    admin_password: str | None,
    admin_name: str,
    database_url: str | None,
) -> None:
    """Create an account SUBDOMAIN with its first admin user."""
    if not admin_password:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "no admin password: pass --admin-password or set TALKSTATS_ADMIN_PASSWORD"
            )
        admin_password = click.prompt(
            "Admin password", hide_input=True, confirmation_prompt=True, err=True
        )
    # checked before the database is created: a refused account leaves no empty database
    check_new_account(subdomain, timezone, plan, admin_password=admin_password or "")
    with open_service(database_url=database_url, create=True) as service:
        created = service.create_account(
            subdomain,
            timezone,
            plan,
            admin_email=admin_email,
            admin_password=admin_password or "",
            admin_name=admin_name,
        )
    click.echo(
        f"created account {created.subdomain} (id {created.id}, {created.timezone}, "
        f"{created.plan}) with admin {admin_email}"
    )


@account.command("list")
@database_option
@reports_errors
def account_list(database_url: str | None) -> None:
    """List every account: id, subdomain, time zone and plan."""
    with open_service(database_url=database_url) as service:
        accounts = service.accounts()
    if not accounts:
        click.echo("no accounts", err=True)
        return
    rows = [("ID", "SUBDOMAIN", "TIMEZONE", "PLAN")]
    rows += [(str(a.id), a.subdomain, a.timezone, a.plan) for a in accounts]
    _table(rows)


@click.group("user")
def user() -> None:
    """Create users (agents, admins, end users)."""


@user.command("create")
@account_option
@click.option("--name", required=True, help="Display name.")
@click.option("--email", required=True, help="Email, unique within the account.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Role.")
@click.option(
    "--id",
    "user_id",
    type=click.IntRange(min=1),
    default=None,
    help="Zendesk user id to use [default: the next free id].",
)
@click.option("--password", default=None, help="Password for Basic email:password auth.")
@click.option("--avatar-url", default=None, help="Avatar shown in agents_activity.")
@database_option
@reports_errors
def user_create(
    subdomain: str | None,
    name: str,
    email: str,
    role: str,
    user_id: int | None,
    password: str | None,
    avatar_url: str | None,
    database_url: str | None,
) -> None:
    """Create a user; agents and admins can be named by events."""
    with open_service(database_url=database_url) as service:
        acct = resolve_account(service, subdomain)
        created = service.create_user(
            acct,
            name=name,
            email=email,
            role=role,
            id=user_id,
            password=password,
            avatar_url=avatar_url,
        )
    click.echo(f"created user {created.id} {created.name} <{created.email}> ({created.role})")


@click.group("group")
def group() -> None:
    """Create groups and add agents to them."""


@group.command("create")
@account_option
@click.option("--name", required=True, help="Group name.")
@click.option(
    "--id",
    "group_id",
    type=click.IntRange(min=1),
    default=None,
    help="Zendesk group id to use [default: the next free id].",
)
@database_option
@reports_errors
def group_create(
    subdomain: str | None, name: str, group_id: int | None, database_url: str | None
) -> None:
    """Create a group."""
    with open_service(database_url=database_url) as service:
        created = service.create_group(resolve_account(service, subdomain), name=name, id=group_id)
    click.echo(f"created group {created.id} {created.name}")


@group.command("add-member")
@account_option
@click.option("--group", "group_id", required=True, type=click.IntRange(min=1), help="Group id.")
@click.option("--user", "user_id", required=True, type=click.IntRange(min=1), help="User id.")
@database_option
@reports_errors
def group_add_member(
    subdomain: str | None, group_id: int, user_id: int, database_url: str | None
) -> None:
    """Make a user a member of a group."""
    with open_service(database_url=database_url) as service:
        acct = resolve_account(service, subdomain)
        member = service.store.get_user(acct.id, user_id)
        if member is not None and member.role not in AGENT_ROLES:
            raise click.ClickException(
                f"user {user_id} is an {member.role}; only agents and admins join groups"
            )
        created = service.add_membership(acct, group_id=group_id, user_id=user_id)
    click.echo(
        f"added user {created.user_id} to group {created.group_id} (membership {created.id})"
    )


@click.group("phone-number")
def phone_number() -> None:
    """Create phone numbers that calls can arrive on."""


@phone_number.command("create")
@account_option
@click.option("--number", required=True, help="The number, e.g. +14155550100.")
@click.option(
    "--name",
    default="",
    help="Display name, e.g. Support line [default: none; the API then shows the number].",
)
@click.option(
    "--id",
    "number_id",
    type=click.IntRange(min=1),
    default=None,
    help="Zendesk phone number id to use [default: the next free id].",
)
@database_option
@reports_errors
def phone_number_create(
    subdomain: str | None,
    number: str,
    name: str,
    number_id: int | None,
    database_url: str | None,
) -> None:
    """Create a phone number."""
    with open_service(database_url=database_url) as service:
        created = service.create_phone_number(
            resolve_account(service, subdomain), number=number, name=name, id=number_id
        )
    label = f" ({created.name})" if created.name else ""
    click.echo(f"created phone number {created.id} {created.number}{label}")


@click.group("token")
def token() -> None:
    """Create API tokens (Basic email/token:TOKEN)."""


@token.command("create")
@account_option
@click.option("--email", required=True, help="Email of the user the token authenticates as.")
@click.option("--description", default="", help="What the token is for.")
@database_option
@reports_errors
def token_create(
    subdomain: str | None, email: str, description: str, database_url: str | None
) -> None:
    """Create an API token for a user and print it (it is shown only this once)."""
    with open_service(database_url=database_url) as service:
        acct = resolve_account(service, subdomain)
        owner = service.store.find_user_by_email(acct.id, email)
        if owner is None:
            raise click.ClickException(f"no user with email {email!r} in account {acct.subdomain}")
        record, plain = service.create_api_token(acct, user_id=owner.id, description=description)
    click.echo(
        f"created token {record.id} for {owner.email} ({owner.role}); store it now, it is not shown again:",
        err=True,
    )
    click.echo(plain)


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


COMMANDS = (account, user, group, phone_number, token)
