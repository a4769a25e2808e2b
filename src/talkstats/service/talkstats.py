"""The composition of store, projections and credentials that the API and CLI share.

One ``Talkstats`` per process. It keeps one projection per account in memory (see
runtimes.py) and is the only place where events are ingested (ingest.py). Callers
serialize what they do per account; different accounts never wait for each other here.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

from talkstats import exports
from talkstats.access.credentials import Authenticator, hash_secret, new_api_token, token_prefix
from talkstats.access.ratelimit import (
    CURRENT_QUEUE_ACTIVITY,
    INCREMENTAL_EXPORTS,
    INCREMENTAL_EXPORTS_WINDOW,
    TALK,
    FailOpen,
    RateLimitBackend,
    RateLimiter,
)
from talkstats.config import Settings
from talkstats.domain.directory import AgentInfo
from talkstats.domain.projection import AccountProjection
from talkstats.domain.stats import PLANS
from talkstats.domain.timeutil import format_instant, load_zone
from talkstats.store.base import (
    Account,
    ApiToken,
    Conflict,
    Group,
    Membership,
    NewUser,
    NotFound,
    PhoneNumber,
    Store,
    StoreError,
    StoreLost,
    User,
)

from . import ingest as ingestion
from .outcomes import BatchOutcome, Loading, Unavailable
from .runtimes import AGENT_ROLES, LoadProgress, Runtimes, Snapshot, snapshot_version
from .telemetry import Telemetry

if TYPE_CHECKING:
    from talkstats.access.ratelimit_redis import RedisBackend

log = logging.getLogger("talkstats")

Clock = Callable[[], int]
Monotonic = Callable[[], float]

_SUBDOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def check_new_account(subdomain: str, timezone: str, plan: str, *, admin_password: str) -> str:
    """The normalized subdomain of a valid new account; ValueError naming what is wrong.

    Needs no store: the CLI checks an account before it creates a database for it.
    """
    subdomain = subdomain.strip().lower()
    if not _SUBDOMAIN.fullmatch(subdomain):
        raise ValueError(f"invalid subdomain {subdomain!r}: use letters, digits and hyphens")
    load_zone(timezone)
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}: use one of {', '.join(PLANS)}")
    if not admin_password:
        raise ValueError("the admin password must not be empty")
    return subdomain


_ACCOUNT_REFRESH_SECONDS = 1.0


@contextmanager
def _naming(account: Account) -> Iterator[None]:
    """Re-raise the store's Conflict / NotFound naming the account by its subdomain.

    The store knows accounts by internal id and leaves them out of its messages; users
    know them by subdomain, so this is the depth at which the account gets its name.
    """
    try:
        yield
    except (Conflict, NotFound) as exc:
        message = str(exc)
        if message.startswith("account "):  # the account itself is gone
            message = f"account {account.subdomain} does not exist"
        else:
            message = f"{message} in account {account.subdomain}"
        raise type(exc)(message) from exc


class Talkstats:
    """Accounts, their live projections, ingestion and authentication."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock,
        monotonic: Monotonic,
        hasher: PasswordHasher | None = None,
        telemetry: Telemetry | None = None,
        rate_limit_backend: RateLimitBackend | None = None,
    ) -> None:
        """``rate_limit_backend``: the counters' backend; by default a Redis one when the
        settings name a ``redis_url``, in this process's memory otherwise."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.hasher = hasher
        # the service's own health, counted per batch and per failure (/metrics)
        self.telemetry = Telemetry() if telemetry is None else telemetry
        self.authenticator = Authenticator(store, hasher=hasher)
        limits = {
            TALK: settings.rate_limit_talk or None,
            CURRENT_QUEUE_ACTIVITY: settings.rate_limit_queue_activity or None,
            INCREMENTAL_EXPORTS: settings.rate_limit_incremental_exports or None,
        }
        self._redis: RedisBackend | None = None  # when the settings name a redis_url
        if rate_limit_backend is None and settings.redis_url:
            rate_limit_backend = self._redis_backend(settings.redis_url)
        self.rate_limiter = RateLimiter(
            limits,
            window=float(settings.rate_limit_window_seconds),
            windows={INCREMENTAL_EXPORTS: INCREMENTAL_EXPORTS_WINDOW},
            backend=rate_limit_backend,
        )
        self.runtimes = Runtimes(store, settings, monotonic)
        # Snapshot after a batch when due (the CLI). A server turns this off and takes
        # snapshots in the background instead, off the request path.
        self.inline_snapshots = True
        self._accounts: dict[str, Account] = {}
        self._followers: dict[int, exports.RecordsFollower] = {}  # record tables (exports)
        self._accounts_loaded_at = float("-inf")
        self._accounts_error: StoreError | None = None  # the last refresh failed
        self._store_lost_logged = False

    def _redis_backend(self, url: str) -> FailOpen:
        """Counters shared through Redis; requests are served unlimited while it fails."""
        try:
            from talkstats.access.ratelimit_redis import RedisBackend, connect
        except ImportError:
            raise ValueError(
                "redis_url needs the Redis client: pip install 'talkstats[redis]'"
            ) from None
        try:
            client = connect(url)
        except ValueError as exc:  # redis-py's word for a URL it cannot read
            raise ValueError(f"redis_url: {exc}") from None  # the URL may hold a password
        backend = RedisBackend(client, prefix=self.settings.redis_key_prefix, url=url)
        self._redis = backend
        return FailOpen(
            backend,
            on_unchecked=self.telemetry.rate_limit_unchecked,
            on_error=self.telemetry.rate_limit_error,
            name="Redis (rate limits)",
        )

    # --- accounts ---------------------------------------------------------------------

    def create_account(
        self,
        subdomain: str,
        timezone: str,
        plan: str,
        *,
        admin_email: str,
        admin_password: str,
        admin_name: str = "Admin",
    ) -> Account:
        """Create an account with its first admin user."""
        subdomain = check_new_account(subdomain, timezone, plan, admin_password=admin_password)
        account = self.store.create_account(subdomain, timezone, plan)
        self.create_user(
            account, name=admin_name, email=admin_email, role="admin", password=admin_password
        )
        self.runtimes.install_empty(account)  # its log is empty: loaded at once
        self._accounts[account.subdomain] = account
        return account

    def accounts(self) -> list[Account]:
        return self.store.list_accounts()

    def refresh_accounts(self) -> list[Account]:
        """Every account, read from the store now; a projection whose time zone changed is
        dropped (it is rebuilt for the new zone)."""
        accounts = self.store.list_accounts()
        for account in accounts:
            runtime = self.runtimes.get(account.id)
            if runtime is not None and runtime.projection.timezone != account.timezone:
                self.runtimes.drop(account.id)
        self._accounts = {a.subdomain: a for a in accounts}
        self._accounts_loaded_at = self.monotonic()
        self._accounts_error = None
        return accounts

    def known_accounts(self) -> list[Account]:
        """Every account as last read from the store, by id; never touches the store."""
        return sorted(self._accounts.values(), key=lambda a: a.id)

    def account(self, subdomain: str) -> Account | None:
        """The account with this subdomain (cached; the store is asked at most once a second).

        StoreError when the account is not cached and the store cannot say; an account
        already known keeps being found while the store is down.
        """
        found = self._accounts.get(subdomain)
        if found is None and self.monotonic() - self._accounts_loaded_at > _ACCOUNT_REFRESH_SECONDS:
            try:
                self.refresh_accounts()
            except StoreError as exc:
                # asked again in a second, not by every request while the store is down
                self._accounts_loaded_at = self.monotonic()
                self._accounts_error = exc
                raise
            found = self._accounts.get(subdomain)
        elif found is None and self._accounts_error is not None:
            raise self._accounts_error  # unknown while the store cannot be asked
        return found

    def default_account(self) -> Account | None:
        if self.settings.default_account:
            return self.account(self.settings.default_account.lower())
        try:
            self.account("")  # refresh the cache if it is stale
        except StoreError as exc:  # the store is down: the accounts known so far still answer
            log.warning("the list of accounts could not be refreshed: %s", exc)
        if len(self._accounts) == 1:
            return next(iter(self._accounts.values()))
        return None

    def resolve_account(self, host: str | None) -> Account | None:
        """The account a request's Host header names.

        The first label of the host names the account (``acme.stats.example`` ->
        ``acme``). A bare host (an IP address, ``localhost``, a name without a dot)
        that names none is served by the default account; so is any other host that
        names none, unless ``strict_hosts`` is set (then: None, a 404).
        """
        name = _host_name(host)
        if name is None:
            return self.default_account()
        ip = _is_ip(name)
        if not ip:
            found = self.account(name.split(".", 1)[0])
            if found is not None:
                return found
        if ip or "." not in name or not self.settings.strict_hosts:
            return self.default_account()
        return None

    # --- projections ------------------------------------------------------------------

    def projection(self, account: Account) -> AccountProjection:
        """The account's projection, loaded first if need be (blocking: CLI and tests)."""
        return self.runtimes.load(account).projection

    def loaded(self, account: Account) -> AccountProjection | None:
        """The account's projection if it is loaded; never touches the store."""
        runtime = self.runtimes.get(account.id)
        return None if runtime is None else runtime.projection

    def ever_loaded(self, account: Account) -> bool:
        """Whether the account's projection was loaded once (it may be rebuilding now:
        after another process appended during a batch, say)."""
        return self.runtimes.ever_loaded(account.id)

    def require_loaded(self, account: Account) -> AccountProjection:
        """The loaded projection, or Loading (with how far the load has come)."""
        runtime = self.runtimes.get(account.id)
        if runtime is None:
            progress = self.runtimes.progress(account.id)
            raise Loading(account.subdomain, progress.events_left if progress else None)
        return runtime.projection

    def readable_day(
        self, account: Account, day: date | None, phone_number_ids: Sequence[int] | None = None
    ) -> None:
        """Load a sealed past day back for a read with these filters, if it is one (under
        the account's lock; service/sealer.py). Raises Loading if not loaded."""
        if day is None:
            return
        runtime = self.runtimes.get(account.id)
        if runtime is None:
            self.require_loaded(account)
            return
        timelines = phone_number_ids is not None and len(set(phone_number_ids)) > 1
        self.runtimes.sealer.readable(account, runtime.projection, day, timelines=timelines)

    # --- call and leg records (incremental exports, exports.py) -------------------------

    def flush_records(self, account: Account) -> int:
        """Bring the account's record tables up to its log; how many entries were folded.

        A server does it in its background rounds; an export read does it first, so a
        page never lags what was acknowledged before it was asked for.
        """
        with self._counting_store_errors("records"):
            return self._records_follower(account).catch_up()

    def records_behind(self, account: Account) -> bool:
        """Whether the log holds entries the record tables do not cover yet."""
        with self._counting_store_errors("records"):
            return self._records_follower(account).behind()

    def _records_follower(self, account: Account) -> exports.RecordsFollower:
        version = snapshot_version(account)
        follower = self._followers.get(account.id)
        if follower is None or follower.version != version:
            follower = self._followers[account.id] = exports.RecordsFollower(
                self.store, account, version
            )
        return follower

    def export_page(
        self, account: Account, kind: str, start_time: int, after: int | None = None
    ) -> exports.Page:
        """One incremental-export page of ``kind`` (calls | legs), records written first."""
        self.flush_records(account)
        return exports.page(self.store, account, kind, start_time, after)

    def export_days(
        self, account: Account, kind: str, first: date, last: date
    ) -> tuple[int, Iterator[list[dict[str, Any]]]]:
        """(how many, chunks of records) of ``kind`` for calls started on days first..last
        (local), records written first; for `talkstats export`."""
        self.flush_records(account)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        total = exports.day_count(self.store, account, kind, first, last)
        return total, exports.by_day(self.store, account, kind, days)

    def load(self, account: Account) -> None:
        """Build the account's projection from its snapshot and log (off the event loop)."""
        with self._counting_store_errors("load"):
            self.runtimes.load(account)

    def loading(self) -> list[LoadProgress]:
        """The accounts whose projections are being built right now."""
        return self.runtimes.loading()

    def behind(self, account: Account, head: int | None = None) -> bool:
        """Whether another process wrote events or reference data this one lacks
        (``head``: the account's log head, if read already)."""
        with self._counting_store_errors("follow"):
            return self.runtimes.behind(account, head)

    def log_heads(self) -> dict[int, int]:
        """account id -> the head of its log, every account in one store query."""
        with self._counting_store_errors("follow"):
            return self.store.log_heads()

    def change_mark(self) -> int | None:
        """Moves when anything was committed to the store (None: the store cannot tell)."""
        with self._counting_store_errors("follow"):
            return self.store.change_mark()

    def watch(self, wake: Callable[[int], None]) -> Callable[[], None]:
        """Have ``wake(account_id)`` called when any process appends; returns the stop."""
        return self.store.watch(wake)

    def lag(self) -> dict[str, int]:
        """subdomain -> events the account's loaded projection has not folded yet (only
        accounts behind): how far this process trails the log."""
        with self._counting_store_errors("follow"):
            behind = self.runtimes.lag(self.store.log_heads())
        names = {a.id: a.subdomain for a in self._accounts.values()}
        return {names.get(i, str(i)): n for i, n in sorted(behind.items())}

    def follow(self, account: Account) -> bool:
        """Fold what other processes wrote into the account's projection."""
        with self._counting_store_errors("follow"):
            return self.runtimes.follow(account)

    def now(self, account: Account) -> int:
        """*now* for the account's statistics: the clock, or its latest event if later."""
        return self.projection(account).effective_now(self.clock())

    # --- snapshots ----------------------------------------------------------------------

    def snapshot_due(self, account: Account) -> bool:
        return self.runtimes.snapshot_due(account.id)

    def take_snapshot(self, account: Account) -> Snapshot | None:
        """Pickle the projection; the caller holds the account's lock."""
        return self.runtimes.take_snapshot(account)

    def save_snapshot(self, account: Account, snapshot: Snapshot) -> bool:
        """Store a taken snapshot (no lock needed); failures are logged, never raised."""
        saved = self.runtimes.save_snapshot(account, snapshot)
        if not saved:
            self.telemetry.database_error("snapshot")
        return saved

    def snapshot(self, account: Account) -> bool:
        """Take and save a snapshot now, if anything changed since the last one."""
        taken = self.runtimes.take_snapshot(account)
        return taken is not None and self.save_snapshot(account, taken)

    def snapshot_all(self) -> bool:
        """Snapshot every changed projection; whether every one was saved."""
        saved = True
        for account in self.store.list_accounts():
            taken = self.runtimes.take_snapshot(account)
            if taken is not None and not self.save_snapshot(account, taken):
                saved = False
        return saved

    def close(self) -> bool:
        """Snapshot every loaded projection (best effort), then close the store.

        Whether every snapshot was saved (a lost one only costs a longer replay).
        """
        saved = False
        try:
            saved = self.snapshot_all()
        except StoreError as exc:
            log.warning("could not snapshot on close: %s", exc)
        finally:
            self.store.close()
            if self._redis is not None:
                self._redis.close()
        return saved

    async def aclose_event_loop_clients(self) -> None:
        """Close what the running event loop holds open (the server's lifespan ends)."""
        if self._redis is not None:
            await self._redis.aclose()

    # --- the store's health -------------------------------------------------------------

    def check_store(self) -> None:
        """StoreError (StoreLost, logged loudly once) unless the store is usable."""
        try:
            self.store.check()
        except StoreError as exc:
            self.telemetry.database_error("check")
            if isinstance(exc, StoreLost) and not self._store_lost_logged:
                self._store_lost_logged = True
                log.critical("%s: every write now fails until talkstats is restarted", exc)
            raise

    @contextmanager
    def _counting_store_errors(self, operation: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            self.telemetry.database_error(operation)
            raise

    # --- reference data ---------------------------------------------------------------------

    def create_user(
        self,
        account: Account,
        *,
        name: str,
        email: str,
        role: str,
        id: int | None = None,
        password: str | None = None,
        avatar_url: str | None = None,
    ) -> User:
        password_hash = hash_secret(password, hasher=self.hasher) if password else None
        with _naming(account):
            user = self.store.create_user(
                account.id, NewUser(id, name, email, role, password_hash, avatar_url)
            )
        projection = self.loaded(account)
        if projection is not None and user.role in AGENT_ROLES:
            projection.directory.add_agent(AgentInfo(user.id, user.name, user.avatar_url))
        return user

    def create_group(self, account: Account, *, name: str, id: int | None = None) -> Group:
        with _naming(account):
            group = self.store.create_group(account.id, id, name)
        projection = self.loaded(account)
        if projection is not None:
            projection.directory.add_group(group.id)
        return group

    def add_membership(self, account: Account, *, group_id: int, user_id: int) -> Membership:
        with _naming(account):
            membership = self.store.add_membership(account.id, group_id, user_id)
        projection = self.loaded(account)
        if projection is not None:
            projection.directory.add_member(group_id, user_id)
        return membership

    def create_phone_number(
        self, account: Account, *, number: str, name: str, id: int | None = None
    ) -> PhoneNumber:
        with _naming(account):
            phone_number = self.store.create_phone_number(account.id, id, number, name)
        projection = self.loaded(account)
        if projection is not None:
            projection.directory.add_phone_number(phone_number.id)
        return phone_number

    def create_api_token(
        self, account: Account, *, user_id: int, description: str = ""
    ) -> tuple[ApiToken, str]:
        """A new API token for the user; the plain token is returned only here."""
        token = new_api_token()
        with _naming(account):
            record = self.store.create_api_token(
                account.id,
                user_id,
                token_prefix(token),
                hash_secret(token, hasher=self.hasher),
                description,
            )
        return record, token

    # --- who calls --------------------------------------------------------------------------

    def authenticate(self, account: Account, authorization: str | None) -> User | None:
        """The user the Authorization header proves, within this account only."""
        user_id = self.authenticator.authenticate(account.id, authorization, self.monotonic())
        if user_id is None:
            return None
        return self.store.get_user(account.id, user_id)

    # --- events -------------------------------------------------------------------------------

    def ingest(self, account: Account, objs: Sequence[object]) -> BatchOutcome:
        """Validate, append (one durable transaction) and acknowledge a batch of events.

        Raises Unavailable, with nothing acknowledged, when the store cannot be used.
        An unexpected failure of one event rejects that event only (ingest.py).
        """
        started = self.monotonic()
        try:
            outcome = ingestion.ingest(self.runtimes, account, objs, self.clock())
        except Unavailable as exc:
            if exc.__cause__ is not None:  # the store failed (not: the log kept moving)
                self.telemetry.database_error("ingest")
            raise
        self.telemetry.batch(
            account.subdomain,
            outcome.accepted,
            outcome.duplicates,
            outcome.rejected_by_reason,
            self.monotonic() - started,
        )
        if self.inline_snapshots and self.runtimes.snapshot_due(account.id):
            self.snapshot(account)
        return outcome

    def set_availability(
        self, account: Account, agent_id: int, *, agent_state: str, via: str | None = None
    ) -> BatchOutcome:
        """Record an agent.state_changed at the current time (PUT availabilities)."""
        event: dict[str, object] = {
            "id": f"availability-{uuid.uuid4()}",
            "type": "agent.state_changed",
            "time": format_instant(self.now(account)),
            "agent_id": agent_id,
            "state": agent_state,
        }
        if via is not None:
            event["via"] = via
        return self.ingest(account, [event])


def _host_name(host: str | None) -> str | None:
    """The host of a Host header without its port, lowercase, or None if empty."""
    if not host:
        return None
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        end = host.find("]")
        return host[1:end] if end > 0 else None
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    return host or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
