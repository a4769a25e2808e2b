"""The storage port: the Store protocol, its record types and its errors.

Every store (SQLite now, PostgreSQL later) implements `Store` and passes the one
contract suite in tests/store/contract.py. Records are frozen dataclasses; callers
never see driver rows or driver exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Protocol

ROLES: Final = ("admin", "agent", "end-user")
MAX_RECORD_ID: Final = 2**63 - 1  # record ids are signed 64-bit integers in every store

RECORD_KINDS: Final = ("calls", "legs")

RecordRow = tuple[int, str, int, str]
"""A stored call or leg record: (id, local day YYYY-MM-DD, updated ns, data JSON text)."""


# Every account's log head in one query (one index probe each), the same SQL for both
# stores: Store.log_heads and the SQLite watcher (sqlitewatch.py) run it.
LOG_HEADS_SQL = (
    "SELECT id, (SELECT max(seq) FROM events WHERE account_id = accounts.id)"
    " FROM accounts ORDER BY id"
)


class StoreError(Exception):
    """Any failure of the store (I/O, corruption, a closed store, a constraint)."""


class Conflict(StoreError):
    """Something unique already exists: an id, an email, a subdomain, an event id."""


class NotFound(StoreError):
    """A referenced record does not exist (an account, a group, a user)."""


class StoreMissing(StoreError):
    """The database does not exist and the store was not asked to create it."""


class StoreLost(StoreError):
    """The database the store opened was removed or replaced under it.

    Sticky: once noticed, every write and every check fails with it, so nothing is
    acknowledged into a file nobody will read again.
    """


class StaleLog(StoreError):
    """An append expected the account's log to end at a seq, and it had moved on.

    Another writer (another process) appended to the account since the caller last
    read its log; the caller must catch up and validate again.
    """


@dataclass(frozen=True, slots=True)
class Account:
    """A tenant, addressed by its lowercase subdomain."""

    id: int
    subdomain: str
    timezone: str
    plan: str


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create; `id=None` lets the store assign max(id)+1 in the account."""

    id: int | None
    name: str
    email: str
    role: str
    password_hash: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A user of one account (an agent is a user with role agent or admin)."""

    id: int
    account_id: int
    name: str
    email: str
    role: str
    password_hash: str | None
    avatar_url: str | None


@dataclass(frozen=True, slots=True)
class Group:
    """A group of agents; ids are unique within an account."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership of a group; ids are unique within an account."""

    id: int
    group_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number of the account; ids are unique within an account."""

    id: int
    number: str
    name: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored API token: a non-secret lookup `prefix` and a slow hash, never the token."""

    id: int
    account_id: int
    user_id: int
    prefix: str
    token_hash: str
    description: str


@dataclass(frozen=True, slots=True)
class DisplayLink:
    """A read-only wallboard link of one account: a lookup `prefix` and a slow hash.

    Instants are integer nanoseconds since the epoch; `revoked_at` is None while the
    link works. Display tokens open the wallboard only, never the API.
    """

    id: int
    account_id: int
    prefix: str
    token_hash: str
    description: str
    created_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Store(Protocol):
    """Accounts, reference data, credentials (hashes only), the event log and snapshots.

    Every method is synchronous and may be called from several threads (the store
    serializes what must be). Methods raise `Conflict`, `NotFound` or `StoreError`, and
    `ValueError` for arguments that can never be valid (a non-positive id, an unknown
    role). Opening a store that does not exist raises `StoreMissing` unless it is asked
    to create it.
    Messages name the records, not the account: account ids are internal, and the
    caller, which scoped the call to one account, names it by subdomain.
    """

    # accounts
    def create_account(self, subdomain: str, timezone: str, plan: str) -> Account:
        """Create an account; the subdomain is stored lowercase. Conflict if taken."""
        ...

    def get_account(self, subdomain: str) -> Account | None:
        """The account with this subdomain (case-insensitive), or None."""
        ...

    def list_accounts(self) -> list[Account]:
        """All accounts, ordered by id."""
        ...

    def update_account(
        self, account_id: int, *, timezone: str | None = None, plan: str | None = None
    ) -> Account:
        """Change the given fields and return the account. NotFound if unknown."""
        ...

    # users
    def create_user(self, account_id: int, user: NewUser) -> User:
        """Create a user. Conflict on a duplicate id or email (case-insensitive)."""
        ...

    def get_user(self, account_id: int, user_id: int) -> User | None:
        """The user with this id in the account, or None."""
        ...

    def find_user_by_email(self, account_id: int, email: str) -> User | None:
        """The user with this email in the account (case-insensitive), or None."""
        ...

    def list_users(self, account_id: int) -> list[User]:
        """The account's users, ordered by id."""
        ...

    # groups, memberships, phone numbers
    def create_group(self, account_id: int, group_id: int | None, name: str) -> Group:
        """Create a group (id None = next free id). Conflict on a duplicate id."""
        ...

    def list_groups(self, account_id: int) -> list[Group]:
        """The account's groups, ordered by id."""
        ...

    def add_membership(self, account_id: int, group_id: int, user_id: int) -> Membership:
        """Add a user to a group. NotFound for an unknown group or user; Conflict if a member."""
        ...

    def list_memberships(self, account_id: int) -> list[Membership]:
        """The account's memberships, ordered by id."""
        ...

    def create_phone_number(
        self, account_id: int, phone_number_id: int | None, number: str, name: str
    ) -> PhoneNumber:
        """Create a phone number (id None = next free id). Conflict on a duplicate id."""
        ...

    def list_phone_numbers(self, account_id: int) -> list[PhoneNumber]:
        """The account's phone numbers, ordered by id."""
        ...

    # credentials
    def create_api_token(
        self, account_id: int, user_id: int, prefix: str, token_hash: str, description: str
    ) -> ApiToken:
        """Store a token's lookup prefix and hash for a user. NotFound if the user is unknown."""
        ...

    def list_api_tokens(self, account_id: int, user_id: int) -> list[ApiToken]:
        """The user's tokens, ordered by id."""
        ...

    def find_token_by_prefix(self, prefix: str) -> list[ApiToken]:
        """Tokens of any account with this prefix (usually one), for a bearer lookup."""
        ...

    # wallboard display links and server secrets
    def create_display_link(
        self, account_id: int, prefix: str, token_hash: str, description: str, created_at: int
    ) -> DisplayLink:
        """Store a display link's lookup prefix and hash. NotFound if the account is unknown."""
        ...

    def list_display_links(self, account_id: int) -> list[DisplayLink]:
        """The account's display links, revoked ones included, ordered by id."""
        ...

    def find_display_links_by_prefix(self, prefix: str) -> list[DisplayLink]:
        """Display links of any account with this prefix (usually one), revoked included."""
        ...

    def revoke_display_link(self, account_id: int, link_id: int, revoked_at: int) -> DisplayLink:
        """Mark a link revoked (a second revoke keeps the first time). NotFound if unknown."""
        ...

    def server_secret(self, name: str, candidate: bytes) -> bytes:
        """The secret stored under `name`; `candidate` is stored and returned if none is.

        Two processes asking at once get the same secret: the first write wins.
        """
        ...

    # event log
    def append_events(
        self, account_id: int, events: list[tuple[str, str]], *, after_seq: int | None = None
    ) -> int:
        """Append (event_id, body_json) pairs in one durable transaction; return the last seq.

        All or nothing: Conflict if any id is already in the account's log (or repeated
        in the batch), and then nothing of the batch is stored. An empty list stores
        nothing and returns log_head(account_id). With ``after_seq``, the append happens
        only if the account's log still ends at that seq (0: empty), checked inside the
        transaction; otherwise StaleLog and nothing is stored.
        """
        ...

    def find_events(self, account_id: int, event_ids: list[str]) -> dict[str, str]:
        """event_id -> body_json for those of the ids that are in the account's log."""
        ...

    def read_events(self, account_id: int, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (seq, body_json) of the account with seq > after_seq, by seq."""
        ...

    def log_head(self, account_id: int) -> int:
        """The highest seq of the account's log; 0 when empty."""
        ...

    def log_heads(self) -> dict[int, int]:
        """account id -> log_head, for every account (0 for an empty log), in one query."""
        ...

    def change_mark(self) -> int | None:
        """A number that differs from the previous call's whenever anything was committed
        to the store in between, by this process or another; None if the store cannot
        tell cheaply (callers then look at everything they follow)."""
        ...

    def write_lock(self, account_id: int) -> AbstractContextManager[None]:
        """Hold the account's write lock, across threads and processes, for the block.

        A writer takes it before it catches up with the log and validates, and keeps it
        until its append commits: another writer of the account, in any process, waits
        meanwhile instead of appending under it (the append's ``after_seq`` check stays
        as the backstop). StoreError if it cannot be had within a few seconds.
        """
        ...

    def watch(self, wake: Callable[[int], None]) -> Callable[[], None]:
        """Call ``wake(account_id)`` (from another thread) soon after any process appends
        to an account's log; return a function that stops watching.

        Best effort: a notification may be lost (a dropped connection), so callers keep
        polling as the fallback. A store that cannot notify returns a no-op. This
        process's own appends may be announced too.
        """
        ...

    def count_events(self, account_id: int, after_seq: int) -> int:
        """How many entries of the account's log have seq > after_seq."""
        ...

    def reference_version(self, account_id: int) -> tuple[int, int, int, int]:
        """Counts of (users, groups, memberships, phone numbers): changes when any is added.

        Reference data is only ever added, so this tells another process (a server)
        cheaply that it must reload what it validates events against.
        """
        ...

    # snapshots
    def save_snapshot(self, account_id: int, seq: int, version: str, blob: bytes) -> None:
        """Store the account's projection snapshot covering the log up to seq (replaces)."""
        ...

    def load_snapshot(self, account_id: int, version: str) -> tuple[int, bytes] | None:
        """(seq, blob) of the account's snapshot if it has this version, else None."""
        ...

    # sealed days (service/sealing.py): past days kept out of memory
    def save_sealed_day(
        self, account_id: int, day: str, version: str, blob: bytes, call_ids: Sequence[str]
    ) -> None:
        """Store a sealed day (kept under (day, version); replaces the same version) and
        record its finished call ids as sealed, in one transaction."""
        ...

    def load_sealed_day(self, account_id: int, day: str, version: str) -> bytes | None:
        """The blob of a sealed day in this version, or None."""
        ...

    def find_sealed_calls(self, account_id: int, call_ids: Sequence[str]) -> set[str]:
        """Those of the call ids that belong to a sealed day of the account."""
        ...

    # call and leg records (incremental exports): a projection of the log, kind
    # "calls" or "legs"; rows are upserted per (account, id)
    def records_mark(self, account_id: int) -> tuple[int, str] | None:
        """(seq, version) the account's records cover, or None if never written."""
        ...

    def reset_records(self, account_id: int, version: str) -> None:
        """Delete the account's records; the mark becomes (0, version). NotFound if unknown."""
        ...

    def save_records(
        self,
        account_id: int,
        version: str,
        seq: int,
        calls: list[RecordRow],
        legs: list[RecordRow],
        *,
        state: bytes | None = None,
    ) -> None:
        """Upsert records as of log position ``seq`` in one transaction, and mark seq.

        A stored row written at a later position than ``seq`` is kept; the mark's seq
        becomes max(mark, seq) and its version ``version``; ``state`` (the fold's state
        at ``seq``, or None for none) replaces the stored one unless the mark was
        already further.
        NotFound if unknown.
        """
        ...

    def records_state(self, account_id: int) -> tuple[int, bytes] | None:
        """(seq, state) stored with the records mark, or None if there is none."""
        ...

    def read_records(
        self, account_id: int, kind: str, lo: int, hi: int | None, limit: int | None
    ) -> list[tuple[int, int, str]]:
        """(id, updated, data) with lo <= updated < hi (no bound if None), by updated."""
        ...

    def read_day_records(
        self, account_id: int, kind: str, day: str, after_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, data) of the records of local day ``day`` with id > after_id, by id."""
        ...

    def count_day_records(self, account_id: int, kind: str, first: str, last: str) -> int:
        """How many records the local days first..last (inclusive) hold."""

    # health
    def check(self) -> None:
        """Raise StoreError (StoreLost when it was removed or replaced) unless usable."""
        ...

    def close(self) -> None:
        """Release the store's resources; calling it twice is harmless."""
        ...
