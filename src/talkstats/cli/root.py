"""The composition root: the one place that builds settings, the store and the service.

Every command (and the simulator's ``simulate`` / ``demo``) gets its ``Talkstats``
from here, so this is also the only module that hands the real clock to the core.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import click

from talkstats import gctune
from talkstats.config import Settings, load_settings
from talkstats.service import Talkstats, Unavailable
from talkstats.store import Account, StoreError, StoreMissing, open_store

P = ParamSpec("P")
R = TypeVar("R")

CREATE_HINT = (
    "create it with `talkstats account create SUBDOMAIN --timezone ZONE --plan PLAN"
    " --admin-email EMAIL` (only the commands that create accounts create a database), or check --database"
)


def compose(settings: Settings, *, create: bool = False) -> Talkstats:
    """Open the store the settings name and build the service on the real clocks.

    Only the commands that create accounts pass ``create``: any other command on a
    database that does not exist says so instead of starting on an empty one.
    """
    gctune.tune()
    store = open_store(settings.database_url, create=create)
    return Talkstats(store, settings, clock=time.time_ns, monotonic=time.monotonic)


def build_settings(**flags: Any) -> Settings:
    """Settings from command-line flags (None = not given) > TALKSTATS_* env > defaults."""
    return load_settings(flags)


@contextmanager
def open_service(*, create: bool = False, **flags: Any) -> Iterator[Talkstats]:
    """A service for one command; closed (snapshots taken, store closed) on the way out."""
    service = compose(build_settings(**flags), create=create)
    try:
        yield service
    finally:
        service.close()


def resolve_account(service: Talkstats, subdomain: str | None) -> Account:
    """The account named by --account, else the default account, else a clear error."""
    if subdomain:
        found = service.account(subdomain.strip().lower())
        if found is None:
            raise click.ClickException(f"no account with subdomain {subdomain!r}")
        return found
    found = service.default_account()
    if found is None:
        count = len(service.accounts())
        if count == 0:
            raise click.ClickException(
                "there are no accounts yet; create one with `talkstats account create`"
            )
        raise click.ClickException(
            f"there are {count} accounts: pass --account SUBDOMAIN "
            "(or set TALKSTATS_DEFAULT_ACCOUNT)"
        )
    return found


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the core's expected errors into a one-line message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (StoreError, ValueError, Unavailable) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, StoreMissing):
                message += f"; {CREATE_HINT}"
            raise click.ClickException(message) from None

    return wrapper


def database_option(fn: Callable[P, R]) -> Callable[P, R]:
    """The --database flag every command that opens the store takes."""
    return click.option(
        "--database",
        "database_url",
        metavar="URL",
        default=None,
        help="Store URL: sqlite:///./talkstats.db or postgresql://USER:PASSWORD@HOST/DATABASE "
        "[env TALKSTATS_DATABASE_URL; default sqlite:///./talkstats.db].",
    )(fn)


def account_option(fn: Callable[P, R]) -> Callable[P, R]:
    """The --account flag: which account a command acts on (default: the default account)."""
    return click.option(
        "--account",
        "subdomain",
        metavar="SUBDOMAIN",
        default=None,
        help="Account subdomain [default: TALKSTATS_DEFAULT_ACCOUNT, or the only account].",
    )(fn)
