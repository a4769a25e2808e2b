"""SQLiteStore: the embedded store, one file in WAL mode with durable commits.

Two connections, owned by the store: one writer and one reader, each behind its own
lock, so that reads (a follower's change check, a login, a replay) never wait behind
a write transaction's fsync (WAL lets readers run beside the writer). `synchronous=
FULL` in WAL mode fsyncs the WAL on every commit, so an acknowledged append survives
a crash or a power loss.

The store remembers the file it opened (device and inode) and checks it before every
write transaction and in `check()`: a database removed or replaced under a running
process is noticed (StoreLost) instead of acknowledging writes into a file that no
longer has a name.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from talkstats.store.accountlocks import AccountLocks, FileLocks
from talkstats.store.base import (
    LOG_HEADS_SQL,
    MAX_RECORD_ID,
    ROLES,
    Account,
    ApiToken,
    Conflict,
    DisplayLink,
    Group,
    Membership,
    NewUser,
    NotFound,
    PhoneNumber,
    RecordRow,
    StaleLog,
    Store,
    StoreError,
    StoreLost,
    StoreMissing,
    User,
)
from talkstats.store.migrations import LATEST, SchemaState, upgrade
from talkstats.store.migrations.runner import read_version
from talkstats.store.sqlitewatch import Watcher

BUSY_TIMEOUT_S: Final = 5.0
# Ids per `IN (...)` query in find_events: below SQLite's historic limit of 999
# bound variables, which some system builds still have.
FIND_CHUNK: Final = 500
# SQLite's own page cache per connection. The writer's keeps the log's and indexes'
# hot pages; the reader's serves lookups and reads of sealed days and records, which
# the operating system's file cache serves nearly as fast: a large one would only add
# a sealed day's pages to the process's memory after each read of a past day.
WRITER_CACHE_KIB: Final = 65536
READER_CACHE_KIB: Final = 8192

# The schema and its versions live in store/migrations (versions.py), shared with
# the PostgreSQL store.
SCHEMA_VERSION: Final = LATEST

_USER_COLUMNS: Final = "id, account_id, name, email, role, password_hash, avatar_url"
_TOKEN_COLUMNS: Final = "id, account_id, user_id, prefix, token_hash, description"
_LINK_COLUMNS: Final = "id, account_id, prefix, token_hash, description, created_at, revoked_at"
_ACCOUNT_EXISTS: Final = "SELECT 1 FROM accounts WHERE id = ?"
_HEAD: Final = "SELECT max(seq) FROM events WHERE account_id = ?"
_RECORD_TABLES: Final = {"calls": "call_records", "legs": "leg_records"}
_UNIQUENESS_ERRORS: Final = ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def _positive_id(value: int, what: str) -> int:
    """An explicit record id: a positive integer (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RECORD_ID:
        raise ValueError(f"{what} must be a positive integer up to {MAX_RECORD_ID}, got {value!r}")
    return value


def _record_table(kind: str) -> str:
    table = _RECORD_TABLES.get(kind)
    if table is None:
        raise ValueError(f"kind must be 'calls' or 'legs', got {kind!r}")
    return table


def _subdomain_key(subdomain: str) -> str:
    key = subdomain.lower()
    if not key or "." in key:
        raise ValueError(f"subdomain must be one non-empty DNS label, got {subdomain!r}")
    return key


class SQLiteStore(Store):
    """The Store on one SQLite file (or ":memory:"); schema created on open.

    Raises StoreMissing if the file does not exist and ``create`` is false, and
    StoreError if it cannot be opened, is not a talkstats database of a version this
    code knows, or WAL mode is unavailable (e.g. on a network share). A database at an
    older schema version is migrated only with `migrate=True` (`talkstats migrate`);
    otherwise SchemaOutdated says what to run.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = False, migrate: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.schema: SchemaState | None = None
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._memory = self.path in (":memory:", "")
        self._lost: str | None = None
        self._identity: tuple[int, int] | None = None
        self._writers = AccountLocks()
        # other processes on the file: a byte per account of "<database>-lock"
        self._file_locks = None if self._memory else FileLocks(f"{self.path}-lock")
        if not self._memory:
            self._require_file(create)
        conn = self._open()
        self._conn: sqlite3.Connection | None = conn
        self._reader: sqlite3.Connection | None = None
        try:
            self._configure(conn)
            self._identity = self._stat()
            self._migrate(migrate)
            # ":memory:" is private to its connection: the writer reads too.
            self._reader = conn if self._memory else self._open()
            if self._reader is not conn:
                self._configure(self._reader, READER_CACHE_KIB)
                self._reader.execute("PRAGMA query_only = ON")
        except BaseException:
            self.close()
            raise

    # -- setup ---------------------------------------------------------------

    def _require_file(self, create: bool) -> None:
        if os.path.exists(self.path):
            return
        if not create:
            raise StoreMissing(f"database {self.path!r} does not exist")
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot create database {self.path!r}: the directory {directory!r} does not exist"
            )

    def _open(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=False,  # thread handoff allowed; calls hold a lock
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    def _stat(self) -> tuple[int, int] | None:
        """(device, inode) of the database file; None for ":memory:"."""
        if self._memory:
            return None
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise StoreError(f"cannot stat {self.path!r}: {exc}") from exc
        return st.st_dev, st.st_ino

    def _check_identity(self) -> None:
        """StoreLost if the file was removed or replaced since it was opened (sticky)."""
        if self._lost is None and not self._memory:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._lost = f"the database file {self.path!r} was removed while in use"
            except OSError as exc:
                raise StoreError(f"cannot stat {self.path!r}: {exc}") from exc
            else:
                if (st.st_dev, st.st_ino) != self._identity:
                    self._lost = f"the database file {self.path!r} was replaced while in use"
        if self._lost is not None:
            raise StoreLost(self._lost)

    def _configure(self, conn: sqlite3.Connection, cache_kib: int = WRITER_CACHE_KIB) -> None:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal" and not self._memory:
                raise StoreError(f"{self.path!r}: WAL journal mode unavailable (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA fullfsync = ON")  # macOS: flush the drive cache too
            conn.execute(f"PRAGMA cache_size = -{cache_kib}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot configure SQLite database {self.path!r}: {exc}") from exc

    def _migrate(self, migrate: bool) -> None:
        with self._write() as c:
            self.schema = upgrade(
                c, "sqlite", migrate=migrate, where=repr(self.path), url=f"sqlite:///{self.path}"
            )

    def pragmas(self) -> dict[str, Any]:
        """The connection's durability settings, for diagnostics and tests."""
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "fullfsync")
        with self._lock:
            conn = self._connection()
            try:
                return {n: conn.execute(f"PRAGMA {n}").fetchone()[0] for n in names}
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    def schema_version(self) -> int:
        """The schema version of the open database."""
        row = self._one("SELECT max(version) FROM schema_version", ())
        return int(row[0]) if row else 0

    # -- plumbing ------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path!r} is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE, commit (fsync) or roll back."""
        with self._lock:
            conn = self._connection()
            self._check_identity()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
            except sqlite3.IntegrityError as exc:
                # Our code checks uniqueness first and names the collision; this is the
                # backstop. NOT NULL or foreign-key failures are bugs, not conflicts.
                if getattr(exc, "sqlite_errorname", "") in _UNIQUENESS_ERRORS:
                    raise Conflict(f"{self.path!r}: {exc}") from exc
                raise StoreError(f"{self.path!r}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path!r}: {exc}") from exc

    def _reading(self) -> sqlite3.Connection:
        if self._reader is None:
            raise StoreError(f"store {self.path!r} is closed")
        return self._reader

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        lock = self._lock if self._reader is self._conn else self._read_lock
        with lock:
            try:
                return self._reading().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path!r}: {exc}") from exc

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @staticmethod
    def _require_account(conn: sqlite3.Connection, account_id: int) -> None:
        if conn.execute(_ACCOUNT_EXISTS, (account_id,)).fetchone() is None:
            raise NotFound(f"account {account_id} not found")

    @staticmethod
    def _require_record(
        conn: sqlite3.Connection, table: str, what: str, account_id: int, record_id: int
    ) -> None:
        sql = f"SELECT 1 FROM {table} WHERE account_id = ? AND id = ?"
        if conn.execute(sql, (account_id, record_id)).fetchone() is None:
            raise NotFound(f"{what} {record_id} not found")

    @staticmethod
    def _new_id(conn: sqlite3.Connection, table: str, account_id: int, given: int | None) -> int:
        """The explicit id checked free, or max(id)+1 within the account."""
        if given is None:
            sql = f"SELECT coalesce(max(id), 0) FROM {table} WHERE account_id = ?"
            largest = int(conn.execute(sql, (account_id,)).fetchone()[0])
            if largest < MAX_RECORD_ID:
                return largest + 1
            # Someone chose the largest id there is: take the lowest free one instead.
            sql = (
                f"SELECT min(id) + 1 FROM {table} AS a WHERE account_id = ? AND id < ? "
                f"AND NOT EXISTS (SELECT 1 FROM {table} AS b "
                f"WHERE b.account_id = a.account_id AND b.id = a.id + 1)"
            )
            after = conn.execute(sql, (account_id, MAX_RECORD_ID)).fetchone()[0]
            taken = conn.execute(
                f"SELECT 1 FROM {table} WHERE account_id = ? AND id = 1", (account_id,)
            ).fetchone()
            return 1 if taken is None else int(after)
        what = {"users": "user", "agent_groups": "group", "phone_numbers": "phone number"}[table]
        _positive_id(given, f"{what} id")
        sql = f"SELECT 1 FROM {table} WHERE account_id = ? AND id = ?"
        if conn.execute(sql, (account_id, given)).fetchone() is not None:
            raise Conflict(f"{what} id {given} already exists")
        return given

    # -- accounts ------------------------------------------------------------

    def create_account(self, subdomain: str, timezone: str, plan: str) -> Account:
        """Create an account; the subdomain is stored lowercase. Conflict if taken."""
        key = _subdomain_key(subdomain)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE subdomain = ?", (key,)).fetchone():
                raise Conflict(f"subdomain {key!r} is already taken")
            cur = conn.execute(
                "INSERT INTO accounts (subdomain, timezone, plan) VALUES (?, ?, ?)",
                (key, timezone, plan),
            )
            assert cur.lastrowid is not None
            return Account(cur.lastrowid, key, timezone, plan)

    def get_account(self, subdomain: str) -> Account | None:
        """The account with this subdomain (case-insensitive), or None."""
        row = self._one(
            "SELECT id, subdomain, timezone, plan FROM accounts WHERE subdomain = ?",
            (subdomain.lower(),),
        )
        return Account(*row) if row else None

    def list_accounts(self) -> list[Account]:
        """All accounts, ordered by id."""
        rows = self._all("SELECT id, subdomain, timezone, plan FROM accounts ORDER BY id", ())
        return [Account(*r) for r in rows]

    def update_account(
        self, account_id: int, *, timezone: str | None = None, plan: str | None = None
    ) -> Account:
        """Change the given fields and return the account. NotFound if unknown."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            if timezone is not None:
                conn.execute(
                    "UPDATE accounts SET timezone = ? WHERE id = ?", (timezone, account_id)
                )
            if plan is not None:
                conn.execute("UPDATE accounts SET plan = ? WHERE id = ?", (plan, account_id))
            row = conn.execute(
                "SELECT id, subdomain, timezone, plan FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
            return Account(*row)

    # -- users ---------------------------------------------------------------

    def create_user(self, account_id: int, user: NewUser) -> User:
        """Create a user. Conflict on a duplicate id or email (case-insensitive)."""
        if user.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {user.role!r}")
        email_key = user.email.lower()
        with self._write() as conn:
            self._require_account(conn, account_id)
            user_id = self._new_id(conn, "users", account_id, user.id)
            taken = conn.execute(
                "SELECT id FROM users WHERE account_id = ? AND email_key = ?",
                (account_id, email_key),
            ).fetchone()
            if taken is not None:
                raise Conflict(f"email {user.email!r} is already used by user {taken[0]}")
            conn.execute(
                "INSERT INTO users (account_id, id, name, email, email_key, role,"
                " password_hash, avatar_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    user_id,
                    user.name,
                    user.email,
                    email_key,
                    user.role,
                    user.password_hash,
                    user.avatar_url,
                ),
            )
        return User(
            user_id,
            account_id,
            user.name,
            user.email,
            user.role,
            user.password_hash,
            user.avatar_url,
        )

    def get_user(self, account_id: int, user_id: int) -> User | None:
        """The user with this id in the account, or None."""
        row = self._one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = ? AND id = ?",
            (account_id, user_id),
        )
        return User(*row) if row else None

    def find_user_by_email(self, account_id: int, email: str) -> User | None:
        """The user with this email in the account (case-insensitive), or None."""
        row = self._one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = ? AND email_key = ?",
            (account_id, email.lower()),
        )
        return User(*row) if row else None

    def list_users(self, account_id: int) -> list[User]:
        """The account's users, ordered by id."""
        rows = self._all(
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = ? ORDER BY id", (account_id,)
        )
        return [User(*r) for r in rows]

    # -- groups, memberships, phone numbers ------------------------------------

    def create_group(self, account_id: int, group_id: int | None, name: str) -> Group:
        """Create a group (id None = next free id). Conflict on a duplicate id."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            new_id = self._new_id(conn, "agent_groups", account_id, group_id)
            conn.execute(
                "INSERT INTO agent_groups (account_id, id, name) VALUES (?, ?, ?)",
                (account_id, new_id, name),
            )
        return Group(new_id, name)

    def list_groups(self, account_id: int) -> list[Group]:
        """The account's groups, ordered by id."""
        rows = self._all(
            "SELECT id, name FROM agent_groups WHERE account_id = ? ORDER BY id", (account_id,)
        )
        return [Group(*r) for r in rows]

    def add_membership(self, account_id: int, group_id: int, user_id: int) -> Membership:
        """Add a user to a group. NotFound for an unknown group or user; Conflict if a member."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            self._require_record(conn, "agent_groups", "group", account_id, group_id)
            self._require_record(conn, "users", "user", account_id, user_id)
            if conn.execute(
                "SELECT 1 FROM memberships WHERE account_id = ? AND group_id = ? AND user_id = ?",
                (account_id, group_id, user_id),
            ).fetchone():
                raise Conflict(f"user {user_id} is already a member of group {group_id}")
            new_id = int(
                conn.execute(
                    "SELECT coalesce(max(id), 0) + 1 FROM memberships WHERE account_id = ?",
                    (account_id,),
                ).fetchone()[0]
            )
            conn.execute(
                "INSERT INTO memberships (account_id, id, group_id, user_id) VALUES (?, ?, ?, ?)",
                (account_id, new_id, group_id, user_id),
            )
        return Membership(new_id, group_id, user_id)

    def list_memberships(self, account_id: int) -> list[Membership]:
        """The account's memberships, ordered by id."""
        rows = self._all(
            "SELECT id, group_id, user_id FROM memberships WHERE account_id = ? ORDER BY id",
            (account_id,),
        )
        return [Membership(*r) for r in rows]

    def create_phone_number(
        self, account_id: int, phone_number_id: int | None, number: str, name: str
    ) -> PhoneNumber:
        """Create a phone number (id None = next free id). Conflict on a duplicate id."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            new_id = self._new_id(conn, "phone_numbers", account_id, phone_number_id)
            conn.execute(
                "INSERT INTO phone_numbers (account_id, id, number, name) VALUES (?, ?, ?, ?)",
                (account_id, new_id, number, name),
            )
        return PhoneNumber(new_id, number, name)

    def list_phone_numbers(self, account_id: int) -> list[PhoneNumber]:
        """The account's phone numbers, ordered by id."""
        rows = self._all(
            "SELECT id, number, name FROM phone_numbers WHERE account_id = ? ORDER BY id",
            (account_id,),
        )
        return [PhoneNumber(*r) for r in rows]

    # -- credentials ---------------------------------------------------------

    def create_api_token(
        self, account_id: int, user_id: int, prefix: str, token_hash: str, description: str
    ) -> ApiToken:
        """Store a token's lookup prefix and hash for a user. NotFound if the user is unknown."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            self._require_record(conn, "users", "user", account_id, user_id)
            cur = conn.execute(
                "INSERT INTO api_tokens (account_id, user_id, prefix, token_hash, description)"
                " VALUES (?, ?, ?, ?, ?)",
                (account_id, user_id, prefix, token_hash, description),
            )
            assert cur.lastrowid is not None
            return ApiToken(cur.lastrowid, account_id, user_id, prefix, token_hash, description)

    def list_api_tokens(self, account_id: int, user_id: int) -> list[ApiToken]:
        """The user's tokens, ordered by id."""
        rows = self._all(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE account_id = ? AND user_id = ?"
            " ORDER BY id",
            (account_id, user_id),
        )
        return [ApiToken(*r) for r in rows]

    def find_token_by_prefix(self, prefix: str) -> list[ApiToken]:
        """Tokens of any account with this prefix (usually one), for a bearer lookup."""
        rows = self._all(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE prefix = ? ORDER BY id", (prefix,)
        )
        return [ApiToken(*r) for r in rows]

    # -- wallboard display links and server secrets ---------------------------

    def create_display_link(
        self, account_id: int, prefix: str, token_hash: str, description: str, created_at: int
    ) -> DisplayLink:
        """Store a display link's lookup prefix and hash. NotFound if the account is unknown."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            cur = conn.execute(
                "INSERT INTO display_links (account_id, prefix, token_hash, description,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (account_id, prefix, token_hash, description, created_at),
            )
            assert cur.lastrowid is not None
            return DisplayLink(
                cur.lastrowid, account_id, prefix, token_hash, description, created_at, None
            )

    def list_display_links(self, account_id: int) -> list[DisplayLink]:
        """The account's display links, revoked ones included, ordered by id."""
        rows = self._all(
            f"SELECT {_LINK_COLUMNS} FROM display_links WHERE account_id = ? ORDER BY id",
            (account_id,),
        )
        return [DisplayLink(*r) for r in rows]

    def find_display_links_by_prefix(self, prefix: str) -> list[DisplayLink]:
        """Display links of any account with this prefix (usually one), revoked included."""
        rows = self._all(
            f"SELECT {_LINK_COLUMNS} FROM display_links WHERE prefix = ? ORDER BY id", (prefix,)
        )
        return [DisplayLink(*r) for r in rows]

    def revoke_display_link(self, account_id: int, link_id: int, revoked_at: int) -> DisplayLink:
        """Mark a link revoked (a second revoke keeps the first time). NotFound if unknown."""
        with self._write() as conn:
            conn.execute(
                "UPDATE display_links SET revoked_at = coalesce(revoked_at, ?)"
                " WHERE account_id = ? AND id = ?",
                (revoked_at, account_id, link_id),
            )
            row = conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM display_links WHERE account_id = ? AND id = ?",
                (account_id, link_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"display link {link_id} not found")
            return DisplayLink(*row)

    def server_secret(self, name: str, candidate: bytes) -> bytes:
        """The secret stored under `name`; `candidate` is stored and returned if none is."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)",
                (name, bytes(candidate)),
            )
            row = conn.execute("SELECT value FROM server_secrets WHERE name = ?", (name,))
            return bytes(row.fetchone()[0])

    # -- event log -----------------------------------------------------------

    @contextmanager
    def write_lock(self, account_id: int) -> Iterator[None]:
        """The account's write lock: this process's threads, then other processes."""
        with self._writers.hold(account_id):
            if self._file_locks is None:
                yield
            else:
                with self._file_locks.hold(account_id):
                    yield

    def append_events(
        self, account_id: int, events: list[tuple[str, str]], *, after_seq: int | None = None
    ) -> int:
        """Append (event_id, body_json) pairs in one durable transaction; return the last seq.

        All or nothing: Conflict if any id is already in the account's log (or repeated
        in the batch), and then nothing of the batch is stored. An empty list stores
        nothing and returns log_head(account_id). With ``after_seq``, StaleLog (and
        nothing stored) unless the account's log still ends at that seq.
        """
        # The account id is an int (operator.index), so writing it into the SQL is
        # safe; it lets executemany take the caller's tuples as they are, with no
        # per-row Python work (~20% faster than building (account, id, body) rows).
        account = operator.index(account_id)
        if not events:
            return self.log_head(account)
        insert = f"INSERT INTO events (account_id, event_id, body) VALUES ({account}, ?, ?)"
        try:
            with self._write() as conn:
                self._require_account(conn, account)
                if after_seq is not None:
                    head = conn.execute(_HEAD, (account,)).fetchone()[0] or 0
                    if head != after_seq:
                        raise StaleLog(
                            f"the log of account {account} ends at {head}, not {after_seq}"
                        )
                conn.executemany(insert, events)
                seq: int = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        except Conflict as exc:
            raise self._event_conflict(account, events) from exc
        return seq

    def _event_conflict(self, account_id: int, events: list[tuple[str, str]]) -> Conflict:
        """Name the event id that made an append fail."""
        ids = [event_id for event_id, _ in events]
        present = self.find_events(account_id, ids)
        for event_id in ids:
            if event_id in present:
                return Conflict(f"event id {event_id!r} is already in the account's log")
        repeated = [event_id for event_id, n in Counter(ids).items() if n > 1]
        if repeated:
            return Conflict(f"event id {repeated[0]!r} appears more than once in the batch")
        return Conflict("an append to the account's log violated a constraint")

    def find_events(self, account_id: int, event_ids: list[str]) -> dict[str, str]:
        """event_id -> body_json for those of the ids that are in the account's log."""
        ids = list(dict.fromkeys(event_ids))
        found: dict[str, str] = {}
        with self._lock if self._reader is self._conn else self._read_lock:
            conn = self._reading()
            try:
                for start in range(0, len(ids), FIND_CHUNK):
                    chunk = ids[start : start + FIND_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    found.update(
                        conn.execute(
                            "SELECT event_id, body FROM events"
                            f" WHERE account_id = ? AND event_id IN ({marks})",
                            (account_id, *chunk),
                        ).fetchall()
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path!r}: {exc}") from exc
        return found

    def read_events(self, account_id: int, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (seq, body_json) of the account with seq > after_seq, by seq."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        return self._all(
            "SELECT seq, body FROM events WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (account_id, after_seq, limit),
        )

    def log_head(self, account_id: int) -> int:
        """The highest seq of the account's log; 0 when empty."""
        row = self._one(_HEAD, (account_id,))
        return int(row[0] or 0)

    def log_heads(self) -> dict[int, int]:
        """account id -> log_head, for every account, in one query (one index probe each)."""
        rows = self._all(LOG_HEADS_SQL, ())
        return {int(account): int(head or 0) for account, head in rows}

    def change_mark(self) -> int | None:
        """SQLite's data_version on the reader connection: it moves when any other
        connection (this process's writer, or another process) commits. Reading it looks
        at the shared-memory WAL index, not the database pages: nearly free."""
        if self._memory:
            return None  # one connection: its own commits do not move its data_version
        row = self._one("PRAGMA data_version", ())
        return int(row[0])

    def watch(self, wake: Callable[[int], None]) -> Callable[[], None]:
        """A thread that watches the file's change counter (sqlitewatch.py); a no-op
        for ":memory:", which no other connection can write."""
        if self._memory:
            return _no_op
        return Watcher(self.path, wake).start().stop

    def count_events(self, account_id: int, after_seq: int) -> int:
        """How many entries of the account's log have seq > after_seq."""
        row = self._one(
            "SELECT count(*) FROM events WHERE account_id = ? AND seq > ?", (account_id, after_seq)
        )
        return int(row[0])

    def reference_version(self, account_id: int) -> tuple[int, int, int, int]:
        """Counts of (users, groups, memberships, phone numbers) of the account."""
        row = self._one(
            "SELECT (SELECT count(*) FROM users WHERE account_id = ?1),"
            " (SELECT count(*) FROM agent_groups WHERE account_id = ?1),"
            " (SELECT count(*) FROM memberships WHERE account_id = ?1),"
            " (SELECT count(*) FROM phone_numbers WHERE account_id = ?1)",
            (account_id,),
        )
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    # -- snapshots -----------------------------------------------------------

    def save_snapshot(self, account_id: int, seq: int, version: str, blob: bytes) -> None:
        """Store the account's projection snapshot covering the log up to seq (replaces)."""
        if seq < 0:
            raise ValueError(f"seq must be >= 0, got {seq}")
        with self._write() as conn:
            self._require_account(conn, account_id)
            conn.execute(
                "INSERT OR REPLACE INTO snapshots (account_id, seq, version, blob)"
                " VALUES (?, ?, ?, ?)",
                (account_id, seq, version, bytes(blob)),
            )

    def load_snapshot(self, account_id: int, version: str) -> tuple[int, bytes] | None:
        """(seq, blob) of the account's snapshot if it has this version, else None."""
        row = self._one(
            "SELECT seq, blob FROM snapshots WHERE account_id = ? AND version = ?",
            (account_id, version),
        )
        return (int(row[0]), bytes(row[1])) if row else None

    # -- sealed days ------------------------------------------------------------

    def save_sealed_day(
        self, account_id: int, day: str, version: str, blob: bytes, call_ids: Sequence[str]
    ) -> None:
        """Store a sealed day (kept under (day, version); replaces the same version) and
        record its finished call ids as sealed, in one transaction."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            conn.execute(
                "INSERT OR REPLACE INTO sealed_days (account_id, day, version, blob)"
                " VALUES (?, ?, ?, ?)",
                (account_id, day, version, bytes(blob)),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO sealed_calls (account_id, call_id) VALUES (?, ?)",
                ((account_id, call_id) for call_id in call_ids),
            )

    def load_sealed_day(self, account_id: int, day: str, version: str) -> bytes | None:
        """The blob of a sealed day in this version, or None."""
        row = self._one(
            "SELECT blob FROM sealed_days WHERE account_id = ? AND day = ? AND version = ?",
            (account_id, day, version),
        )
        return bytes(row[0]) if row else None

    def find_sealed_calls(self, account_id: int, call_ids: Sequence[str]) -> set[str]:
        """Those of the call ids that belong to a sealed day of the account."""
        ids = list(dict.fromkeys(call_ids))
        found: set[str] = set()
        for start in range(0, len(ids), FIND_CHUNK):
            chunk = ids[start : start + FIND_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._all(
                f"SELECT call_id FROM sealed_calls WHERE account_id = ? AND call_id IN ({marks})",
                (account_id, *chunk),
            )
            found.update(str(row[0]) for row in rows)
        return found

    # -- call and leg records (incremental exports) ---------------------------

    def records_mark(self, account_id: int) -> tuple[int, str] | None:
        """(seq, version) the account's records cover, or None if never written."""
        row = self._one("SELECT seq, version FROM record_marks WHERE account_id = ?", (account_id,))
        return (int(row[0]), str(row[1])) if row else None

    def reset_records(self, account_id: int, version: str) -> None:
        """Delete the account's records and mark them as covering nothing, in ``version``."""
        with self._write() as conn:
            self._require_account(conn, account_id)
            conn.execute("DELETE FROM call_records WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM leg_records WHERE account_id = ?", (account_id,))
            conn.execute(
                "INSERT OR REPLACE INTO record_marks (account_id, seq, version, state)"
                " VALUES (?, 0, ?, NULL)",
                (account_id, version),
            )

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
        """Upsert records as of log position ``seq``, in one transaction; mark covers seq.

        A row already stored from a later position is kept (two processes may write
        the same records); the mark becomes the larger of its position and ``seq``.
        """
        account = operator.index(account_id)
        with self._write() as conn:
            self._require_account(conn, account)
            for table, rows in (("call_records", calls), ("leg_records", legs)):
                if rows:
                    conn.executemany(
                        f"INSERT INTO {table} (account_id, id, day, updated, seq, data)"
                        f" VALUES ({account}, ?, ?, ?, {int(seq)}, ?)"
                        " ON CONFLICT (account_id, day, id) DO UPDATE SET"
                        " updated = excluded.updated, seq = excluded.seq, data = excluded.data"
                        f" WHERE {table}.seq <= excluded.seq",
                        rows,
                    )
            conn.execute(
                "INSERT INTO record_marks (account_id, seq, version, state) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account_id) DO UPDATE SET"
                " state = CASE WHEN excluded.seq >= record_marks.seq"
                " THEN excluded.state ELSE record_marks.state END,"
                " seq = max(record_marks.seq, excluded.seq), version = excluded.version",
                (account, seq, version, None if state is None else bytes(state)),
            )

    def records_state(self, account_id: int) -> tuple[int, bytes] | None:
        """(seq, state) stored with the records mark, or None if there is none."""
        row = self._one(
            "SELECT seq, state FROM record_marks WHERE account_id = ? AND state IS NOT NULL",
            (account_id,),
        )
        return (int(row[0]), bytes(row[1])) if row else None

    def read_records(
        self, account_id: int, kind: str, lo: int, hi: int | None, limit: int | None
    ) -> list[tuple[int, int, str]]:
        """(id, updated, data) with lo <= updated < hi (no bound if None), by updated."""
        table = _record_table(kind)
        sql = f"SELECT id, updated, data FROM {table} WHERE account_id = ? AND updated >= ?"
        params: tuple[Any, ...] = (account_id, lo)
        if hi is not None:
            sql += " AND updated < ?"
            params += (hi,)
        sql += " ORDER BY updated"
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return self._all(sql, params)

    def read_day_records(
        self, account_id: int, kind: str, day: str, after_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, data) of the records of local day ``day`` with id > after_id, by id."""
        return self._all(
            f"SELECT id, data FROM {_record_table(kind)}"
            " WHERE account_id = ? AND day = ? AND id > ? ORDER BY id LIMIT ?",
            (account_id, day, after_id, limit),
        )

    def count_day_records(self, account_id: int, kind: str, first: str, last: str) -> int:
        """How many records the local days first..last (inclusive, YYYY-MM-DD) hold."""
        row = self._one(
            f"SELECT count(*) FROM {_record_table(kind)}"
            " WHERE account_id = ? AND day >= ? AND day <= ?",
            (account_id, first, last),
        )
        return int(row[0])

    # -- health --------------------------------------------------------------

    def check(self) -> None:
        """StoreLost if the file was removed or replaced; StoreError if it cannot be read."""
        with self._lock:
            self._connection()
            self._check_identity()
        self._one("SELECT max(version) FROM schema_version", ())

    def close(self) -> None:
        """Close the connections (SQLite checkpoints the WAL); calling it twice is harmless."""
        with self._read_lock:
            reader, self._reader = self._reader, None
        with self._lock:
            conn, self._conn = self._conn, None
        if self._file_locks is not None:
            self._file_locks.close()
        for c in (reader, conn) if reader is not conn else (conn,):
            if c is not None:
                try:
                    c.close()
                except sqlite3.Error as exc:
                    raise StoreError(f"{self.path!r}: {exc}") from exc


def _no_op() -> None:
    return None


def read_schema_version(path: str) -> int:
    """The file's schema version (0: no schema), opened read-only; StoreMissing if none."""
    if path in (":memory:", ""):
        return 0
    if not os.path.exists(path):
        raise StoreMissing(f"database {path!r} does not exist")
    try:
        conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
        try:
            return read_version(conn, "sqlite")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read SQLite database {path!r}: {exc}") from exc
