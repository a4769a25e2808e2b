"""PostgresStore: the Store on PostgreSQL, through psycopg 3 and a connection pool.

Needs the `postgres` extra (`pip install 'talkstats[postgres]'`); nothing else in the
store package imports this module, so SQLite needs no driver.

- Every write is one transaction; an append is acknowledged after its COMMIT, and the
  session runs with `synchronous_commit = on` whatever the server's default, so an
  acknowledged event is on the server's disk.
- Seqs come from one identity sequence, so they increase across all accounts. An
  append first takes its account's row lock (`SELECT ... FOR NO KEY UPDATE`), then
  draws its seqs and holds the lock until COMMIT. Two appends to one account are
  therefore serialized: the later one draws larger seqs and commits after the first
  is visible. A follower reading `seq > last` for an account can never miss a row
  that commits later with a smaller seq (tests/store/test_postgres.py races writers
  against a follower to check it). Appends to different accounts do not wait for
  each other. Other writes for an account (users, groups, ids taken as max + 1) take
  the same lock, as SQLite's single writer serializes them.
- The pool may be used from several threads at once; each call borrows a connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from talkstats.store.accountlocks import LOCK_TIMEOUT_S, AccountLocks, busy
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
    User,
)
from talkstats.store.migrations import LATEST, SchemaError, SchemaState, upgrade
from talkstats.store.pglisten import CHANNEL, Listener
from talkstats.store.pgserver import MIGRATION_LOCK, Server, configure, database_identity, message

POOL_TIMEOUT_S: Final = 5.0
POOL_MAX: Final = 8
# While the server is unreachable, a caller waits this long for a pooled connection
# instead of POOL_TIMEOUT_S: the pool keeps reconnecting in the background, and a
# request answers 503 at once rather than after seconds (some wait on the event loop).
UNREACHABLE_TIMEOUT_S: Final = 0.2
# A pool slot that could not reconnect for this long starts again without backoff at
# the next request, so a server back after a long outage is found within seconds.
RECONNECT_TIMEOUT_S: Final = 5.0
# Writers holding an account's advisory lock: each holds a connection of their own
# (apart from the main pool, which the append inside the lock needs).
LOCK_POOL_MAX: Final = 16
WRITE_LOCK_CLASS: Final = 0x74616C6B  # "talk": pg_advisory_lock(class, account id)
RECORDS_LOCK_CLASS: Final = 0x72656373  # "recs": one writer of an account's records at a time

_USER_COLUMNS: Final = "id, account_id, name, email, role, password_hash, avatar_url"
_TOKEN_COLUMNS: Final = "id, account_id, user_id, prefix, token_hash, description"
_RECORD_TABLES: Final = {"calls": "call_records", "legs": "leg_records"}
_LINK_COLUMNS: Final = "id, account_id, prefix, token_hash, description, created_at, revoked_at"
_LOCK_ACCOUNT: Final = (
    "SELECT to_regclass('schema_version')::oid FROM accounts WHERE id = %s FOR NO KEY UPDATE"
)
_HEAD: Final = "SELECT max(seq) FROM events WHERE account_id = %s"
_NOTIFY: Final = f"SELECT pg_notify('{CHANNEL}', %s)"
_NEW_ID_WHAT: Final = {"users": "user", "agent_groups": "group", "phone_numbers": "phone number"}


def _positive_id(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RECORD_ID:
        raise ValueError(f"{what} must be a positive integer up to {MAX_RECORD_ID}, got {value!r}")
    return value


def _subdomain_key(subdomain: str) -> str:
    key = subdomain.lower()
    if not key or "." in key:
        raise ValueError(f"subdomain must be one non-empty DNS label, got {subdomain!r}")
    return _text(key, "subdomain")


def _record_table(kind: str) -> str:
    table = _RECORD_TABLES.get(kind)
    if table is None:
        raise ValueError(f"kind must be 'calls' or 'legs', got {kind!r}")
    return table


def _text(value: str, what: str) -> str:
    """PostgreSQL's text cannot hold U+0000; say so instead of failing as an outage."""
    if "\x00" in value:
        raise ValueError(f"{what} must not contain the character U+0000")
    return value


def _opt_text(value: str | None, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _unlock(conn: psycopg.Connection[Any], key: tuple[int, int]) -> None:
    """Release an advisory lock; if that fails, end the session, which releases it."""
    try:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    except psycopg.Error:
        conn.close()  # the pool discards a closed connection


def _id_bytes(event_id: str) -> bytes:
    return event_id.encode("utf-8", "surrogatepass")


def _id_text(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


class PostgresStore(Store):
    """The Store on a PostgreSQL database named by a `postgresql://` URL.

    A database that does not exist is created (CREATE DATABASE, which needs the
    CREATEDB privilege) only with ``create``; otherwise StoreMissing. A database with
    no talkstats tables gets the schema on open; one at an older schema version is
    migrated only with ``migrate`` (`talkstats migrate`), otherwise SchemaOutdated says
    what to run; a newer one is refused. Raises StoreError when the server cannot be
    reached.

    The store remembers which database it opened (the database's oid and the oid of
    its `schema_version` table). A database dropped and created again, or restored
    over the tables in use, is noticed by `check()`, by every new connection and by
    every write that locks an account, and the store is then lost for good
    (StoreLost): nothing is acknowledged into a log the process did not load.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = False,
        migrate: bool = False,
        pool_max: int = POOL_MAX,
        timeout: float = POOL_TIMEOUT_S,
    ) -> None:
        self.url = url
        self._server = Server(url)
        self.where = self._server.where
        self._closed = threading.Event()
        self._lost: str | None = None
        self._timeout = timeout
        self._reachable = True  # False from a failed connection until one succeeds
        self._connect_errors = 0  # the pool's count of failed connects, last seen
        self.schema, self._identity = self._open(create=create, migrate=migrate)
        self._pool = self._new_pool("talkstats", 1, pool_max, self._configure_pooled)
        self._writers = AccountLocks()
        self._lock_pool = self._new_pool(
            "talkstats-locks", 0, LOCK_POOL_MAX, self._configure_locking
        )

    def _new_pool(
        self,
        name: str,
        least: int,
        most: int,
        configure: Callable[[psycopg.Connection[Any]], None],
    ) -> ConnectionPool[psycopg.Connection[Any]]:
        """An autocommit pool on the server, opened (connecting in the background)."""
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self._server.conninfo,
            kwargs={"autocommit": True},
            min_size=least,
            max_size=most,
            timeout=self._timeout,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            configure=configure,
            name=name,
            open=False,
        )
        pool.open(wait=False)
        return pool

    # -- setup ---------------------------------------------------------------

    def _open(self, *, create: bool, migrate: bool) -> tuple[SchemaState, tuple[int, int]]:
        """Connect (creating the database if asked), check or migrate the schema."""
        conn = self._server.connect(create=create)
        try:
            with conn:
                configure(conn)
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    state = upgrade(
                        conn, "postgres", migrate=migrate, where=self.where, url=self.where
                    )
                identity = database_identity(conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open PostgreSQL database {self.where!r}: {message(exc)}"
            ) from exc
        if identity is None:
            raise StoreError(f"{self.where}: the schema_version table vanished while opening")
        return state, identity

    def _configure_pooled(self, conn: psycopg.Connection[Any]) -> None:
        """A new pooled connection: durable commits, and still the database we opened."""
        configure(conn)
        self._reachable = True
        if self._lost is None and database_identity(conn) != self._identity:
            self._lost = f"the database {self.where!r} was dropped or replaced while in use"

    @staticmethod
    def _configure_locking(conn: psycopg.Connection[Any]) -> None:
        """A connection that waits for advisory locks, never for long."""
        conn.execute(f"SET lock_timeout = '{int(LOCK_TIMEOUT_S * 1000)}ms'")

    def schema_version(self) -> int:
        """The schema version of the open database."""
        row = self._one("SELECT max(version) FROM schema_version", ())
        return int(row[0] or 0) if row else 0

    # -- health --------------------------------------------------------------

    def check(self) -> None:
        """StoreError unless the server answers with the database and schema we opened.

        Two short queries on a pooled connection (for /readyz). StoreLost (sticky) when
        the database or its tables were replaced; SchemaError when the schema version
        is no longer the one this code runs on.
        """
        if self._lost is not None:
            raise StoreLost(self._lost)
        with self._connection(write=False) as conn:
            if database_identity(conn) != self._identity:
                self._lost = f"the database {self.where!r} was dropped or replaced while in use"
                raise StoreLost(self._lost)
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version = int(row[0] or 0) if row else 0
        if version != LATEST:
            raise SchemaError(
                f"{self.where} now has schema version {version}; this process runs on "
                f"version {LATEST}: restart it (after `talkstats migrate` if the schema is older)",
                found=version,
                known=LATEST,
            )

    # -- plumbing ------------------------------------------------------------

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, in a transaction when writing; driver errors mapped."""
        if self._closed.is_set():
            raise StoreError(f"store {self.where!r} is closed")
        wait = self._timeout if self._reachable else min(self._timeout, UNREACHABLE_TIMEOUT_S)
        try:
            with self._pool.connection(timeout=wait) as conn:
                self._reachable = True
                try:
                    if write and self._lost is not None:
                        raise StoreLost(self._lost)  # sticky, as SQLite's: reads still answer
                    if write:
                        with conn.transaction():
                            yield conn
                    else:
                        yield conn
                except psycopg.OperationalError:
                    if conn.broken:  # the server went away under the connection
                        self._reachable = False
                    raise
        except PoolTimeout as exc:
            errors = self._pool.get_stats().get("connections_errors", 0)
            if errors > self._connect_errors:
                self._reachable = False  # not only busy: connecting has been failing
            self._connect_errors = errors
            raise StoreError(f"{self.where}: {message(exc)}") from exc
        except pg_errors.UniqueViolation as exc:
            # Our code checks uniqueness first and names the collision; this is the
            # backstop (a race with another process).
            raise Conflict(f"{self.where}: {message(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: {message(exc)}") from exc

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any]) -> list[Any]:
        with self._connection(write=False) as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any]) -> Any:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _lock_account(self, conn: psycopg.Connection[Any], account_id: int) -> None:
        """The account's write lock, held until COMMIT; NotFound if there is no account.

        The same round trip tells whether the tables are still the ones we opened.
        """
        row = conn.execute(_LOCK_ACCOUNT, (account_id,)).fetchone()
        if row is None:
            raise NotFound(f"account {account_id} not found")
        if row[0] != self._identity[1]:
            self._lost = f"the tables of {self.where!r} were replaced while in use"
            raise StoreLost(self._lost)

    @staticmethod
    def _require_account(conn: psycopg.Connection[Any], account_id: int) -> None:
        if conn.execute("SELECT 1 FROM accounts WHERE id = %s", (account_id,)).fetchone() is None:
            raise NotFound(f"account {account_id} not found")

    @staticmethod
    def _require_record(
        conn: psycopg.Connection[Any], table: str, what: str, account_id: int, record_id: int
    ) -> None:
        sql = f"SELECT 1 FROM {table} WHERE account_id = %s AND id = %s"
        if conn.execute(sql, (account_id, record_id)).fetchone() is None:
            raise NotFound(f"{what} {record_id} not found")

    @staticmethod
    def _new_id(
        conn: psycopg.Connection[Any], table: str, account_id: int, given: int | None
    ) -> int:
        """The explicit id checked free, or max(id)+1 within the account."""
        if given is None:
            sql = f"SELECT coalesce(max(id), 0) FROM {table} WHERE account_id = %s"
            row = conn.execute(sql, (account_id,)).fetchone()
            assert row is not None
            if int(row[0]) < MAX_RECORD_ID:
                return int(row[0]) + 1
            # Someone chose the largest id there is: take the lowest free one instead.
            taken = conn.execute(
                f"SELECT 1 FROM {table} WHERE account_id = %s AND id = 1", (account_id,)
            ).fetchone()
            if taken is None:
                return 1
            row = conn.execute(
                f"SELECT min(id) + 1 FROM {table} AS a WHERE account_id = %s AND id < %s "
                f"AND NOT EXISTS (SELECT 1 FROM {table} AS b "
                f"WHERE b.account_id = a.account_id AND b.id = a.id + 1)",
                (account_id, MAX_RECORD_ID),
            ).fetchone()
            assert row is not None
            return int(row[0])
        what = _NEW_ID_WHAT[table]
        _positive_id(given, f"{what} id")
        sql = f"SELECT 1 FROM {table} WHERE account_id = %s AND id = %s"
        if conn.execute(sql, (account_id, given)).fetchone() is not None:
            raise Conflict(f"{what} id {given} already exists")
        return given

    # -- accounts ------------------------------------------------------------

    def create_account(self, subdomain: str, timezone: str, plan: str) -> Account:
        """Create an account; the subdomain is stored lowercase. Conflict if taken."""
        key = _subdomain_key(subdomain)
        _text(timezone, "timezone")
        _text(plan, "plan")
        with self._connection(write=True) as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE subdomain = %s", (key,)).fetchone():
                raise Conflict(f"subdomain {key!r} is already taken")
            row = conn.execute(
                "INSERT INTO accounts (subdomain, timezone, plan) VALUES (%s, %s, %s) RETURNING id",
                (key, timezone, plan),
            ).fetchone()
            assert row is not None
            return Account(int(row[0]), key, timezone, plan)

    def get_account(self, subdomain: str) -> Account | None:
        """The account with this subdomain (case-insensitive), or None."""
        if "\x00" in subdomain:
            return None
        row = self._one(
            "SELECT id, subdomain, timezone, plan FROM accounts WHERE subdomain = %s",
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
        _opt_text(timezone, "timezone")
        _opt_text(plan, "plan")
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            row = conn.execute(
                "UPDATE accounts SET timezone = coalesce(%s, timezone), plan = coalesce(%s, plan)"
                " WHERE id = %s RETURNING id, subdomain, timezone, plan",
                (timezone, plan, account_id),
            ).fetchone()
            return Account(*row)  # type: ignore[misc]

    # -- users ---------------------------------------------------------------

    def create_user(self, account_id: int, user: NewUser) -> User:
        """Create a user. Conflict on a duplicate id or email (case-insensitive)."""
        if user.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {user.role!r}")
        _text(user.name, "name")
        _text(user.email, "email")
        _opt_text(user.password_hash, "password hash")
        _opt_text(user.avatar_url, "avatar_url")
        email_key = user.email.lower()
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            user_id = self._new_id(conn, "users", account_id, user.id)
            taken = conn.execute(
                "SELECT id FROM users WHERE account_id = %s AND email_key = %s",
                (account_id, email_key),
            ).fetchone()
            if taken is not None:
                raise Conflict(f"email {user.email!r} is already used by user {taken[0]}")
            conn.execute(
                "INSERT INTO users (account_id, id, name, email, email_key, role,"
                " password_hash, avatar_url) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = %s AND id = %s",
            (account_id, user_id),
        )
        return User(*row) if row else None

    def find_user_by_email(self, account_id: int, email: str) -> User | None:
        """The user with this email in the account (case-insensitive), or None."""
        if "\x00" in email:
            return None
        row = self._one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = %s AND email_key = %s",
            (account_id, email.lower()),
        )
        return User(*row) if row else None

    def list_users(self, account_id: int) -> list[User]:
        """The account's users, ordered by id."""
        rows = self._all(
            f"SELECT {_USER_COLUMNS} FROM users WHERE account_id = %s ORDER BY id", (account_id,)
        )
        return [User(*r) for r in rows]

    # -- groups, memberships, phone numbers ------------------------------------

    def create_group(self, account_id: int, group_id: int | None, name: str) -> Group:
        """Create a group (id None = next free id). Conflict on a duplicate id."""
        _text(name, "name")
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            new_id = self._new_id(conn, "agent_groups", account_id, group_id)
            conn.execute(
                "INSERT INTO agent_groups (account_id, id, name) VALUES (%s, %s, %s)",
                (account_id, new_id, name),
            )
        return Group(new_id, name)

    def list_groups(self, account_id: int) -> list[Group]:
        """The account's groups, ordered by id."""
        rows = self._all(
            "SELECT id, name FROM agent_groups WHERE account_id = %s ORDER BY id", (account_id,)
        )
        return [Group(*r) for r in rows]

    def add_membership(self, account_id: int, group_id: int, user_id: int) -> Membership:
        """Add a user to a group. NotFound for an unknown group or user; Conflict if a member."""
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            self._require_record(conn, "agent_groups", "group", account_id, group_id)
            self._require_record(conn, "users", "user", account_id, user_id)
            if conn.execute(
                "SELECT 1 FROM memberships"
                " WHERE account_id = %s AND group_id = %s AND user_id = %s",
                (account_id, group_id, user_id),
            ).fetchone():
                raise Conflict(f"user {user_id} is already a member of group {group_id}")
            row = conn.execute(
                "INSERT INTO memberships (account_id, id, group_id, user_id)"
                " SELECT %s, coalesce(max(id), 0) + 1, %s, %s FROM memberships"
                " WHERE account_id = %s RETURNING id",
                (account_id, group_id, user_id, account_id),
            ).fetchone()
            assert row is not None
        return Membership(int(row[0]), group_id, user_id)

    def list_memberships(self, account_id: int) -> list[Membership]:
        """The account's memberships, ordered by id."""
        rows = self._all(
            "SELECT id, group_id, user_id FROM memberships WHERE account_id = %s ORDER BY id",
            (account_id,),
        )
        return [Membership(*r) for r in rows]

    def create_phone_number(
        self, account_id: int, phone_number_id: int | None, number: str, name: str
    ) -> PhoneNumber:
        """Create a phone number (id None = next free id). Conflict on a duplicate id."""
        _text(number, "number")
        _text(name, "name")
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            new_id = self._new_id(conn, "phone_numbers", account_id, phone_number_id)
            conn.execute(
                "INSERT INTO phone_numbers (account_id, id, number, name) VALUES (%s, %s, %s, %s)",
                (account_id, new_id, number, name),
            )
        return PhoneNumber(new_id, number, name)

    def list_phone_numbers(self, account_id: int) -> list[PhoneNumber]:
        """The account's phone numbers, ordered by id."""
        rows = self._all(
            "SELECT id, number, name FROM phone_numbers WHERE account_id = %s ORDER BY id",
            (account_id,),
        )
        return [PhoneNumber(*r) for r in rows]

    # -- credentials ---------------------------------------------------------

    def create_api_token(
        self, account_id: int, user_id: int, prefix: str, token_hash: str, description: str
    ) -> ApiToken:
        """Store a token's lookup prefix and hash for a user. NotFound if the user is unknown."""
        _text(prefix, "token prefix")
        _text(token_hash, "token hash")
        _text(description, "description")
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            self._require_record(conn, "users", "user", account_id, user_id)
            row = conn.execute(
                "INSERT INTO api_tokens (account_id, user_id, prefix, token_hash, description)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (account_id, user_id, prefix, token_hash, description),
            ).fetchone()
            assert row is not None
            return ApiToken(int(row[0]), account_id, user_id, prefix, token_hash, description)

    def list_api_tokens(self, account_id: int, user_id: int) -> list[ApiToken]:
        """The user's tokens, ordered by id."""
        rows = self._all(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE account_id = %s AND user_id = %s"
            " ORDER BY id",
            (account_id, user_id),
        )
        return [ApiToken(*r) for r in rows]

    def find_token_by_prefix(self, prefix: str) -> list[ApiToken]:
        """Tokens of any account with this prefix (usually one), for a bearer lookup."""
        if "\x00" in prefix:
            return []
        rows = self._all(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE prefix = %s ORDER BY id", (prefix,)
        )
        return [ApiToken(*r) for r in rows]

    # -- wallboard display links and server secrets ----------------------------

    def create_display_link(
        self, account_id: int, prefix: str, token_hash: str, description: str, created_at: int
    ) -> DisplayLink:
        """Store a display link's lookup prefix and hash. NotFound if the account is unknown."""
        _text(prefix, "link prefix")
        _text(token_hash, "link hash")
        _text(description, "description")
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            row = conn.execute(
                "INSERT INTO display_links (account_id, prefix, token_hash, description,"
                " created_at) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (account_id, prefix, token_hash, description, created_at),
            ).fetchone()
            assert row is not None
            return DisplayLink(
                int(row[0]), account_id, prefix, token_hash, description, created_at, None
            )

    def list_display_links(self, account_id: int) -> list[DisplayLink]:
        """The account's display links, revoked ones included, ordered by id."""
        rows = self._all(
            f"SELECT {_LINK_COLUMNS} FROM display_links WHERE account_id = %s ORDER BY id",
            (account_id,),
        )
        return [DisplayLink(*r) for r in rows]

    def find_display_links_by_prefix(self, prefix: str) -> list[DisplayLink]:
        """Display links of any account with this prefix (usually one), revoked included."""
        if "\x00" in prefix:
            return []
        rows = self._all(
            f"SELECT {_LINK_COLUMNS} FROM display_links WHERE prefix = %s ORDER BY id", (prefix,)
        )
        return [DisplayLink(*r) for r in rows]

    def revoke_display_link(self, account_id: int, link_id: int, revoked_at: int) -> DisplayLink:
        """Mark a link revoked (a second revoke keeps the first time). NotFound if unknown."""
        with self._connection(write=True) as conn:
            row = conn.execute(
                "UPDATE display_links SET revoked_at = coalesce(revoked_at, %s)"
                f" WHERE account_id = %s AND id = %s RETURNING {_LINK_COLUMNS}",
                (revoked_at, account_id, link_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"display link {link_id} not found")
            return DisplayLink(*row)

    def server_secret(self, name: str, candidate: bytes) -> bytes:
        """The secret stored under `name`; `candidate` is stored and returned if none is."""
        _text(name, "secret name")
        with self._connection(write=True) as conn:
            conn.execute(
                "INSERT INTO server_secrets (name, value) VALUES (%s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, bytes(candidate)),
            )
            row = conn.execute("SELECT value FROM server_secrets WHERE name = %s", (name,))
            found = row.fetchone()
            assert found is not None
            return bytes(found[0])

    # -- event log -----------------------------------------------------------

    @contextmanager
    def write_lock(self, account_id: int) -> Iterator[None]:
        """The account's write lock: this process's threads, then a session-level
        advisory lock that every process on the database sees (and that PostgreSQL
        releases by itself if the process or its connection dies)."""
        if self._closed.is_set():
            raise StoreError(f"store {self.where!r} is closed")
        key = (WRITE_LOCK_CLASS, account_id % 2**31)
        wait = self._timeout if self._reachable else min(self._timeout, UNREACHABLE_TIMEOUT_S)
        with self._writers.hold(account_id):
            try:
                with self._lock_pool.connection(timeout=wait) as conn:
                    try:
                        conn.execute("SELECT pg_advisory_lock(%s, %s)", key)
                    except pg_errors.LockNotAvailable as exc:
                        raise busy(account_id, LOCK_TIMEOUT_S) from exc
                    try:
                        yield
                    finally:
                        _unlock(conn, key)
            except PoolTimeout as exc:
                raise StoreError(f"{self.where}: {message(exc)}") from exc
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError):
                    self._reachable = False
                raise StoreError(f"{self.where}: {message(exc)}") from exc

    def append_events(
        self, account_id: int, events: list[tuple[str, str]], *, after_seq: int | None = None
    ) -> int:
        """Append (event_id, body_json) pairs in one durable transaction; return the last seq.

        All or nothing: Conflict if any id is already in the account's log (or repeated
        in the batch), and then nothing of the batch is stored. An empty list stores
        nothing and returns log_head(account_id). With ``after_seq``, StaleLog (and
        nothing stored) unless the account's log still ends at that seq: checked under
        the account's lock, so no other writer can move the head in between.
        """
        if not events:
            return self.log_head(account_id)
        for _, body in events:
            if "\x00" in body:
                raise ValueError("an event body is JSON text and cannot contain U+0000")
        try:
            with self._connection(write=True) as conn:
                self._lock_account(conn, account_id)
                if after_seq is not None:
                    row = conn.execute(_HEAD, (account_id,)).fetchone()
                    head = int(row[0] or 0) if row else 0
                    if head != after_seq:
                        raise StaleLog(
                            f"the log of account {account_id} ends at {head}, not {after_seq}"
                        )
                # Binary COPY: the rows go in batch order, so seqs follow it.
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY events (account_id, event_id, body) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(["int8", "bytea", "text"])
                    for event_id, body in events:
                        copy.write_row((account_id, _id_bytes(event_id), body))
                row = conn.execute(_HEAD, (account_id,)).fetchone()
                assert row is not None
                seq = int(row[0])
                # delivered at COMMIT, to every process that LISTENs (pglisten.py)
                conn.execute(_NOTIFY, (str(account_id),))
        except Conflict as exc:
            raise self._event_conflict(account_id, events) from exc
        return seq

    def _event_conflict(self, account_id: int, events: list[tuple[str, str]]) -> Conflict:
        """Name the event id that made an append fail."""
        ids = [event_id for event_id, _ in events]
        present = self.find_events(account_id, ids)
        for event_id in ids:
            if event_id in present:
                return Conflict(
                    f"event id {event_id!r} is already in the log of account {account_id}"
                )
        repeated = [event_id for event_id, n in Counter(ids).items() if n > 1]
        if repeated:
            return Conflict(f"event id {repeated[0]!r} appears more than once in the batch")
        return Conflict(f"append to the log of account {account_id} violated a constraint")

    def find_events(self, account_id: int, event_ids: list[str]) -> dict[str, str]:
        """event_id -> body_json for those of the ids that are in the account's log."""
        if not event_ids:
            return {}
        keys = [_id_bytes(i) for i in dict.fromkeys(event_ids)]
        # %b: the ids travel as a binary bytea[] (the text form escapes every byte)
        rows = self._all(
            "SELECT event_id, body FROM events WHERE account_id = %s AND event_id = ANY(%b)",
            (account_id, keys),
        )
        return {_id_text(event_id): body for event_id, body in rows}

    def read_events(self, account_id: int, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (seq, body_json) of the account with seq > after_seq, by seq."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if limit == 0:
            return []
        return self._all(
            "SELECT seq, body FROM events WHERE account_id = %s AND seq > %s ORDER BY seq LIMIT %s",
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
        """None: PostgreSQL has no cheap global change counter; appends NOTIFY instead."""
        return None

    def watch(self, wake: Callable[[int], None]) -> Callable[[], None]:
        """LISTEN on a connection of its own, in a thread; the stop function joins it."""
        return Listener(self._server.conninfo, wake, self.where).start().stop

    def count_events(self, account_id: int, after_seq: int) -> int:
        """How many entries of the account's log have seq > after_seq."""
        row = self._one(
            "SELECT count(*) FROM events WHERE account_id = %s AND seq > %s",
            (account_id, after_seq),
        )
        return int(row[0])

    def reference_version(self, account_id: int) -> tuple[int, int, int, int]:
        """Counts of (users, groups, memberships, phone numbers) of the account."""
        row = self._one(
            "SELECT (SELECT count(*) FROM users WHERE account_id = %(a)s),"
            " (SELECT count(*) FROM agent_groups WHERE account_id = %(a)s),"
            " (SELECT count(*) FROM memberships WHERE account_id = %(a)s),"
            " (SELECT count(*) FROM phone_numbers WHERE account_id = %(a)s)",
            {"a": account_id},
        )
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    # -- snapshots -----------------------------------------------------------

    def save_snapshot(self, account_id: int, seq: int, version: str, blob: bytes) -> None:
        """Store the account's projection snapshot covering the log up to seq (replaces)."""
        if seq < 0:
            raise ValueError(f"seq must be >= 0, got {seq}")
        _text(version, "snapshot version")
        with self._connection(write=True) as conn:
            if (
                conn.execute("SELECT 1 FROM accounts WHERE id = %s", (account_id,)).fetchone()
                is None
            ):
                raise NotFound(f"account {account_id} not found")
            conn.execute(
                "INSERT INTO snapshots (account_id, seq, version, blob) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (account_id) DO UPDATE"
                " SET seq = excluded.seq, version = excluded.version, blob = excluded.blob",
                (account_id, seq, version, bytes(blob)),
            )

    def load_snapshot(self, account_id: int, version: str) -> tuple[int, bytes] | None:
        """(seq, blob) of the account's snapshot if it has this version, else None."""
        row = self._one(
            "SELECT seq, blob FROM snapshots WHERE account_id = %s AND version = %s",
            (account_id, version),
        )
        return (int(row[0]), bytes(row[1])) if row else None

    # -- sealed days ------------------------------------------------------------

    def save_sealed_day(
        self, account_id: int, day: str, version: str, blob: bytes, call_ids: Sequence[str]
    ) -> None:
        """Store a sealed day (kept under (day, version); replaces the same version) and
        record its finished call ids as sealed, in one transaction."""
        _text(day, "day")
        _text(version, "sealed day version")
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            conn.execute(
                "INSERT INTO sealed_days (account_id, day, version, blob)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (account_id, day, version)"
                " DO UPDATE SET blob = excluded.blob",
                (account_id, day, version, bytes(blob)),
            )
            if not call_ids:
                return
            # COPY into a scratch table, then one INSERT that skips ids already sealed
            # (a day sealed again after a late event): far faster than row by row.
            conn.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS sealing (call_id bytea) ON COMMIT DELETE ROWS"
            )
            with conn.cursor() as cur, cur.copy("COPY sealing (call_id) FROM STDIN") as copy:
                for call_id in call_ids:
                    copy.write_row((_id_bytes(call_id),))
            conn.execute(
                "INSERT INTO sealed_calls (account_id, call_id)"
                " SELECT %s, call_id FROM sealing ON CONFLICT DO NOTHING",
                (account_id,),
            )

    def load_sealed_day(self, account_id: int, day: str, version: str) -> bytes | None:
        """The blob of a sealed day in this version, or None."""
        row = self._one(
            "SELECT blob FROM sealed_days WHERE account_id = %s AND day = %s AND version = %s",
            (account_id, day, version),
        )
        return bytes(row[0]) if row else None

    def find_sealed_calls(self, account_id: int, call_ids: Sequence[str]) -> set[str]:
        """Those of the call ids that belong to a sealed day of the account."""
        if not call_ids:
            return set()
        keys = [_id_bytes(i) for i in dict.fromkeys(call_ids)]
        rows = self._all(
            "SELECT call_id FROM sealed_calls WHERE account_id = %s AND call_id = ANY(%b)",
            (account_id, keys),
        )
        return {_id_text(row[0]) for row in rows}

    # -- call and leg records (incremental exports) ---------------------------

    def records_mark(self, account_id: int) -> tuple[int, str] | None:
        """(seq, version) the account's records cover, or None if never written."""
        row = self._one(
            "SELECT seq, version FROM record_marks WHERE account_id = %s", (account_id,)
        )
        return (int(row[0]), str(row[1])) if row else None

    def reset_records(self, account_id: int, version: str) -> None:
        """Delete the account's records and mark them as covering nothing, in ``version``."""
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            conn.execute("DELETE FROM call_records WHERE account_id = %s", (account_id,))
            conn.execute("DELETE FROM leg_records WHERE account_id = %s", (account_id,))
            conn.execute(
                "INSERT INTO record_marks (account_id, seq, version, state) VALUES (%s, 0, %s, NULL)"
                " ON CONFLICT (account_id) DO UPDATE SET seq = 0, version = excluded.version,"
                " state = NULL",
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
        with self._connection(write=True) as conn:
            # Processes that fold the same records upsert the same rows, in orders of
            # their own: one at a time per account, or their row locks can deadlock.
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (RECORDS_LOCK_CLASS, account_id % 2**31)
            )
            self._require_account(conn, account_id)
            for table, rows in (("call_records", calls), ("leg_records", legs)):
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany(
                            f"INSERT INTO {table} (account_id, id, day, updated, seq, data)"
                            " VALUES (%s, %s, %s, %s, %s, %s)"
                            " ON CONFLICT (account_id, day, id) DO UPDATE SET"
                            " updated = excluded.updated, seq = excluded.seq,"
                            f" data = excluded.data WHERE {table}.seq <= excluded.seq",
                            [
                                (account_id, i, day, updated, seq, data)
                                for i, day, updated, data in rows
                            ],
                        )
            conn.execute(
                "INSERT INTO record_marks (account_id, seq, version, state)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (account_id) DO UPDATE SET"
                " state = CASE WHEN excluded.seq >= record_marks.seq"
                " THEN excluded.state ELSE record_marks.state END,"
                " seq = GREATEST(record_marks.seq, excluded.seq), version = excluded.version",
                (account_id, seq, version, None if state is None else bytes(state)),
            )

    def records_state(self, account_id: int) -> tuple[int, bytes] | None:
        """(seq, state) stored with the records mark, or None if there is none."""
        row = self._one(
            "SELECT seq, state FROM record_marks WHERE account_id = %s AND state IS NOT NULL",
            (account_id,),
        )
        return (int(row[0]), bytes(row[1])) if row else None

    def read_records(
        self, account_id: int, kind: str, lo: int, hi: int | None, limit: int | None
    ) -> list[tuple[int, int, str]]:
        """(id, updated, data) with lo <= updated < hi (no bound if None), by updated."""
        table = _record_table(kind)
        sql = f"SELECT id, updated, data FROM {table} WHERE account_id = %s AND updated >= %s"
        params: tuple[Any, ...] = (account_id, lo)
        if hi is not None:
            sql += " AND updated < %s"
            params += (hi,)
        sql += " ORDER BY updated"
        if limit is not None:
            sql += " LIMIT %s"
            params += (limit,)
        return [(int(i), int(u), str(d)) for i, u, d in self._all(sql, params)]

    def read_day_records(
        self, account_id: int, kind: str, day: str, after_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, data) of the records of local day ``day`` with id > after_id, by id."""
        rows = self._all(
            f"SELECT id, data FROM {_record_table(kind)}"
            " WHERE account_id = %s AND day = %s AND id > %s ORDER BY id LIMIT %s",
            (account_id, day, after_id, limit),
        )
        return [(int(i), str(d)) for i, d in rows]

    def count_day_records(self, account_id: int, kind: str, first: str, last: str) -> int:
        """How many records the local days first..last (inclusive, YYYY-MM-DD) hold."""
        row = self._one(
            f"SELECT count(*) FROM {_record_table(kind)}"
            " WHERE account_id = %s AND day >= %s AND day <= %s",
            (account_id, first, last),
        )
        return int(row[0])

    def close(self) -> None:
        """Close the pool's connections; calling it twice is harmless."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._pool.close()
        self._lock_pool.close()
