"""The composition of store, projections and credentials that the API and CLI share.

One ``Talkstats`` per process. It keeps one projection per account in memory, loaded
from the latest snapshot plus the log tail, and is the only place where events are
ingested: validate against the live state, append the accepted ones to the log in one
durable transaction, then acknowledge.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from argon2 import PasswordHasher

import talkstats.domain as domain_package
from talkstats.access.credentials import (
    Authenticator,
    hash_secret,
    new_api_token,
    token_prefix,
)
from talkstats.access.ratelimit import CURRENT_QUEUE_ACTIVITY, TALK, RateLimiter
from talkstats.config import Settings
from talkstats.domain.decoding import parse_batch
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import Event, EventRejected, parse_event
from talkstats.domain.projection import AccountProjection
from talkstats.domain.stats import PLANS
from talkstats.domain.timeutil import format_instant, load_zone
from talkstats.store.base import (
    Account,
    ApiToken,
    Group,
    Membership,
    NewUser,
    PhoneNumber,
    Store,
    StoreError,
    User,
)

log = logging.getLogger("talkstats")

Clock = Callable[[], int]
Monotonic = Callable[[], float]


def _domain_fingerprint() -> str:
    """A digest of the domain's source: snapshots of another version are not trusted.

    A snapshot is a pickle of domain objects; after any change to the domain code the
    projection is rebuilt from the log instead (the log is the truth).
    """
    digest = hashlib.sha256()
    for path in sorted(Path(domain_package.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SNAPSHOT_FORMAT = f"projection-{_domain_fingerprint()}"
AGENT_ROLES = ("agent", "admin")
_REPLAY_NOW = 2**62  # replayed events were checked against the clock when accepted
_SUBDOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ACCOUNT_REFRESH_SECONDS = 1.0
_LOG_CHECK_SECONDS = 1.0


class Unavailable(Exception):
    """The log could not be written; nothing of the batch was acknowledged."""


@dataclass(slots=True)
class EventOutcome:
    """What happened to one event of a batch (not frozen: one is built per event)."""

    index: int
    id: str | None
    status: str  # "accepted" | "duplicate" | "rejected"
    error: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Every event's outcome, in order, and the counts."""

    results: list[EventOutcome]
    accepted: int
    duplicates: int
    rejected: int


@dataclass(slots=True)
class _Runtime:
    projection: AccountProjection
    seq: int = 0  # last log position folded into the projection
    since_snapshot: int = 0
    checked_at: float = field(default=float("-inf"))
    reference: tuple[int, ...] = ()  # store.reference_version when the directory was built


def _snapshot_version(account: Account) -> str:
    return f"{SNAPSHOT_FORMAT}:{account.timezone}"


def _body(obj: object) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()


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
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.hasher = hasher
        self.authenticator = Authenticator(store, hasher=hasher)
        limits = {
            TALK: settings.rate_limit_talk or None,
            CURRENT_QUEUE_ACTIVITY: settings.rate_limit_queue_activity or None,
        }
        self.rate_limiter = RateLimiter(limits, window=float(settings.rate_limit_window_seconds))
        self._runtimes: dict[int, _Runtime] = {}
        self._accounts: dict[str, Account] = {}
        self._accounts_loaded_at = float("-inf")

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
        subdomain = subdomain.strip().lower()
        if not _SUBDOMAIN.fullmatch(subdomain):
            raise ValueError(f"invalid subdomain {subdomain!r}: use letters, digits and hyphens")
        load_zone(timezone)
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}: use one of {', '.join(PLANS)}")
        if not admin_password:
            raise ValueError("the admin password must not be empty")
        account = self.store.create_account(subdomain, timezone, plan)
        self.create_user(
            account, name=admin_name, email=admin_email, role="admin", password=admin_password
        )
        self._accounts[account.subdomain] = account
        return account

    def accounts(self) -> list[Account]:
        return self.store.list_accounts()

    def account(self, subdomain: str) -> Account | None:
        """The account with this subdomain (cached; the store is asked at most once a second)."""
        found = self._accounts.get(subdomain)
        if found is None and self.monotonic() - self._accounts_loaded_at > _ACCOUNT_REFRESH_SECONDS:
            self._accounts = {a.subdomain: a for a in self.store.list_accounts()}
            self._accounts_loaded_at = self.monotonic()
            found = self._accounts.get(subdomain)
        return found

    def default_account(self) -> Account | None:
        if self.settings.default_account:
            return self.account(self.settings.default_account.lower())
        self.account("")  # refresh the cache if it is stale
        if len(self._accounts) == 1:
            return next(iter(self._accounts.values()))
        return None

    def resolve_account(self, host: str | None) -> Account | None:
        """The account named by the Host header's first label, else the default account."""
        if host:
            label = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            label = label.split(".", 1)[0].lower()
            found = self.account(label)
            if found is not None:
                return found
        return self.default_account()

    # --- projections ----------------------------------------------------------------------

    def _directory(self, account: Account) -> Directory:
        directory = Directory()
        for user in self.store.list_users(account.id):
            if user.role in AGENT_ROLES:
                directory.add_agent(AgentInfo(user.id, user.name, user.avatar_url))
        for group in self.store.list_groups(account.id):
            directory.add_group(group.id)
        for membership in self.store.list_memberships(account.id):
            directory.add_member(membership.group_id, membership.user_id)
        for number in self.store.list_phone_numbers(account.id):
            directory.add_phone_number(number.id)
        return directory

    def _load(self, account: Account) -> _Runtime:
        reference = self.store.reference_version(account.id)
        directory = self._directory(account)
        snapshot = self.store.load_snapshot(account.id, _snapshot_version(account))
        runtime: _Runtime | None = None
        if snapshot is not None:
            seq, blob = snapshot
            try:
                projection = pickle.loads(blob)
                projection.directory = directory
                runtime = _Runtime(projection, seq)
            except Exception:  # an unreadable snapshot is only a lost shortcut
                log.warning("snapshot of account %s unreadable; replaying the log", account.id)
        if runtime is None:
            runtime = _Runtime(AccountProjection(account.timezone, directory))
        runtime.reference = reference
        self._catch_up(account, runtime)
        return runtime

    def _catch_up(self, account: Account, runtime: _Runtime) -> None:
        """Fold log entries written after the runtime's position (by us or another process)."""
        while True:
            rows = self.store.read_events(account.id, runtime.seq, 10_000)
            if not rows:
                break
            apply = runtime.projection.apply
            events = parse_batch([orjson.loads(body) for _, body in rows])
            for (seq, _), event in zip(rows, events, strict=True):
                try:
                    if isinstance(event, EventRejected):
                        raise event
                    apply(event, _REPLAY_NOW)
                except EventRejected as exc:
                    log.error(
                        "log entry %s of account %s no longer applies: %s", seq, account.id, exc
                    )
            runtime.seq = rows[-1][0]
            runtime.since_snapshot += len(rows)
        runtime.checked_at = self.monotonic()

    def _runtime(self, account: Account, *, fresh: bool = False) -> _Runtime:
        runtime = self._runtimes.get(account.id)
        if runtime is None:
            runtime = self._runtimes[account.id] = self._load(account)
        elif fresh or self.monotonic() - runtime.checked_at > _LOG_CHECK_SECONDS:
            # Another process (the CLI, another server) may have added reference data
            # or events since we last looked.
            reference = self.store.reference_version(account.id)
            if reference != runtime.reference:
                runtime.projection.directory = self._directory(account)
                runtime.reference = reference
            if self.store.log_head(account.id) > runtime.seq:
                self._catch_up(account, runtime)
            runtime.checked_at = self.monotonic()
        return runtime

    def projection(self, account: Account) -> AccountProjection:
        """The account's live projection, caught up with the log."""
        return self._runtime(account).projection

    def now(self, account: Account) -> int:
        """*now* for the account's statistics: the clock, or its latest event if later."""
        return self.projection(account).effective_now(self.clock())

    def snapshot(self, account: Account) -> None:
        runtime = self._runtimes.get(account.id)
        if runtime is None or runtime.since_snapshot == 0:
            return
        blob = pickle.dumps(runtime.projection, protocol=pickle.HIGHEST_PROTOCOL)
        self.store.save_snapshot(account.id, runtime.seq, _snapshot_version(account), blob)
        runtime.since_snapshot = 0

    def snapshot_all(self) -> None:
        for account in self.store.list_accounts():
            self.snapshot(account)

    def close(self) -> None:
        """Snapshot every loaded projection (best effort), then close the store."""
        try:
            self.snapshot_all()
        except StoreError as exc:  # a lost snapshot only costs a longer replay
            log.warning("could not snapshot on close: %s", exc)
        finally:
            self.store.close()

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
        user = self.store.create_user(
            account.id, NewUser(id, name, email, role, password_hash, avatar_url)
        )
        runtime = self._runtimes.get(account.id)
        if runtime is not None and user.role in AGENT_ROLES:
            runtime.projection.directory.add_agent(AgentInfo(user.id, user.name, user.avatar_url))
        return user

    def create_group(self, account: Account, *, name: str, id: int | None = None) -> Group:
        group = self.store.create_group(account.id, id, name)
        runtime = self._runtimes.get(account.id)
        if runtime is not None:
            runtime.projection.directory.add_group(group.id)
        return group

    def add_membership(self, account: Account, *, group_id: int, user_id: int) -> Membership:
        membership = self.store.add_membership(account.id, group_id, user_id)
        runtime = self._runtimes.get(account.id)
        if runtime is not None:
            runtime.projection.directory.add_member(group_id, user_id)
        return membership

    def create_phone_number(
        self, account: Account, *, number: str, name: str, id: int | None = None
    ) -> PhoneNumber:
        phone_number = self.store.create_phone_number(account.id, id, number, name)
        runtime = self._runtimes.get(account.id)
        if runtime is not None:
            runtime.projection.directory.add_phone_number(phone_number.id)
        return phone_number

    def create_api_token(
        self, account: Account, *, user_id: int, description: str = ""
    ) -> tuple[ApiToken, str]:
        """A new API token for the user; the plain token is returned only here."""
        token = new_api_token()
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
        """
        try:
            runtime = self._runtime(account, fresh=True)
        except StoreError as exc:
            log.error("the store of account %s cannot be read: %s", account.id, exc)
            raise Unavailable("the event log cannot be read; retry later") from exc
        projection = runtime.projection
        server_now = self.clock()
        parsed = parse_batch(objs)
        ids = [item.id for item in parsed if type(item) is Event]
        try:
            stored = self.store.find_events(account.id, ids) if ids else {}
        except StoreError as exc:
            raise Unavailable("the event log cannot be read; retry later") from exc
        in_batch: dict[str, Event] = {}
        rows: list[tuple[str, str]] = []
        results: list[EventOutcome] = []
        accepted = duplicates = rejected = 0
        for index, item in enumerate(parsed):
            if isinstance(item, EventRejected):
                results.append(
                    EventOutcome(index, item.event_id, "rejected", item.message, item.field)
                )
                rejected += 1
                continue
            earlier = in_batch.get(item.id)
            if earlier is None and item.id in stored:
                earlier = parse_event(orjson.loads(stored[item.id]))
            if earlier is not None:
                if earlier == item:
                    results.append(EventOutcome(index, item.id, "duplicate"))
                    duplicates += 1
                else:
                    message = (
                        f"event {item.id!r}: field 'id': was already used by an event "
                        "with different content"
                    )
                    results.append(EventOutcome(index, item.id, "rejected", message, "id"))
                    rejected += 1
                continue
            try:
                projection.apply(item, server_now)
            except EventRejected as exc:
                results.append(EventOutcome(index, item.id, "rejected", exc.message, exc.field))
                rejected += 1
                continue
            in_batch[item.id] = item
            rows.append((item.id, _body(objs[index])))
            results.append(EventOutcome(index, item.id, "accepted"))
            accepted += 1
        if rows:
            try:
                runtime.seq = self.store.append_events(account.id, rows)
            except StoreError as exc:
                # The projection already folded events that are not in the log: drop it,
                # the next access rebuilds it from the snapshot and the log.
                self._runtimes.pop(account.id, None)
                log.error("append to the log of account %s failed: %s", account.id, exc)
                raise Unavailable("the event log could not be written; retry later") from exc
            runtime.since_snapshot += len(rows)
            if runtime.since_snapshot >= self.settings.snapshot_every_events:
                self.snapshot(account)
        return BatchOutcome(results, accepted, duplicates, rejected)

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
