"""Every schema migration of both stores, in order: the one place to add one.

To change the schema, append a `Migration` at the end of `MIGRATIONS` with the next
version number, its statements for SQLite and for PostgreSQL, and a short name. Never
edit or reorder a migration that has been released: databases in the field already
ran it. `talkstats migrate` applies what a database lacks; `serve` and every other
command refuse to run on a database that lacks any of them (docs/architecture.md).

Each migration runs in one transaction with the statements of its store's dialect.
SQLite's seq is a plain INTEGER PRIMARY KEY (no AUTOINCREMENT, which costs ~10 % on
append): seqs only ever grow because the log is append-only; never delete the newest
row of the log, or its seq could be handed out again. PostgreSQL's seq comes from one
identity sequence; an append takes the account's row lock before it draws seqs, so an
account's seqs become visible in increasing order (postgres.py). PostgreSQL keeps
event ids as UTF-8 bytes (bytea): an id may hold any character the event contract
allows, U+0000 included, which PostgreSQL's text type refuses.
"""

from __future__ import annotations

from typing import Final

from talkstats.store.migrations.schema import Migration

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        version=1,
        name="accounts, reference data, credentials, the event log and snapshots",
        sqlite=(
            """CREATE TABLE accounts (
                id INTEGER PRIMARY KEY,
                subdomain TEXT NOT NULL UNIQUE,
                timezone TEXT NOT NULL,
                plan TEXT NOT NULL
            )""",
            """CREATE TABLE users (
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                id INTEGER NOT NULL,
                name TEXT NOT NULL,
                email TEXT NOT NULL,
                email_key TEXT NOT NULL,
                role TEXT NOT NULL,
                password_hash TEXT,
                avatar_url TEXT,
                PRIMARY KEY (account_id, id),
                UNIQUE (account_id, email_key)
            )""",
            """CREATE TABLE agent_groups (
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                id INTEGER NOT NULL,
                name TEXT NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            """CREATE TABLE memberships (
                account_id INTEGER NOT NULL,
                id INTEGER NOT NULL,
                group_id INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                PRIMARY KEY (account_id, id),
                UNIQUE (account_id, group_id, user_id),
                FOREIGN KEY (account_id, group_id) REFERENCES agent_groups (account_id, id),
                FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id)
            )""",
            """CREATE TABLE phone_numbers (
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                id INTEGER NOT NULL,
                number TEXT NOT NULL,
                name TEXT NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            """CREATE TABLE api_tokens (
                id INTEGER PRIMARY KEY,
                account_id INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                prefix TEXT NOT NULL,
                token_hash TEXT NOT NULL,
                description TEXT NOT NULL,
                FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id)
            )""",
            "CREATE INDEX api_tokens_prefix ON api_tokens (prefix)",
            "CREATE INDEX api_tokens_user ON api_tokens (account_id, user_id)",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY,
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                event_id TEXT NOT NULL,
                body TEXT NOT NULL,
                UNIQUE (account_id, event_id)
            )""",
            "CREATE INDEX events_account_seq ON events (account_id, seq)",
            """CREATE TABLE snapshots (
                account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
                seq INTEGER NOT NULL,
                version TEXT NOT NULL,
                blob BLOB NOT NULL
            )""",
        ),
        postgres=(
            """CREATE TABLE accounts (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                subdomain text NOT NULL UNIQUE,
                timezone text NOT NULL,
                plan text NOT NULL
            )""",
            """CREATE TABLE users (
                account_id bigint NOT NULL REFERENCES accounts (id),
                id bigint NOT NULL,
                name text NOT NULL,
                email text NOT NULL,
                email_key text NOT NULL,
                role text NOT NULL,
                password_hash text,
                avatar_url text,
                PRIMARY KEY (account_id, id),
                UNIQUE (account_id, email_key)
            )""",
            """CREATE TABLE agent_groups (
                account_id bigint NOT NULL REFERENCES accounts (id),
                id bigint NOT NULL,
                name text NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            """CREATE TABLE memberships (
                account_id bigint NOT NULL,
                id bigint NOT NULL,
                group_id bigint NOT NULL,
                user_id bigint NOT NULL,
                PRIMARY KEY (account_id, id),
                UNIQUE (account_id, group_id, user_id),
                FOREIGN KEY (account_id, group_id) REFERENCES agent_groups (account_id, id),
                FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id)
            )""",
            """CREATE TABLE phone_numbers (
                account_id bigint NOT NULL REFERENCES accounts (id),
                id bigint NOT NULL,
                number text NOT NULL,
                name text NOT NULL,
                PRIMARY KEY (account_id, id)
            )""",
            """CREATE TABLE api_tokens (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                account_id bigint NOT NULL,
                user_id bigint NOT NULL,
                prefix text NOT NULL,
                token_hash text NOT NULL,
                description text NOT NULL,
                FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id)
            )""",
            "CREATE INDEX api_tokens_prefix ON api_tokens (prefix)",
            "CREATE INDEX api_tokens_user ON api_tokens (account_id, user_id)",
            # (account_id, seq) is both the key and the order a follower reads in; seq
            # alone is unique too (one sequence), so no second index is kept for it.
            # No foreign key to accounts: an append holds the account's row lock, which
            # proves the account exists, and accounts are never deleted; the per-row
            # check would halve the append rate (bench/RESULTS.md).
            """CREATE TABLE events (
                seq bigint GENERATED ALWAYS AS IDENTITY,
                account_id bigint NOT NULL,
                event_id bytea NOT NULL,
                body text NOT NULL,
                PRIMARY KEY (account_id, seq),
                UNIQUE (account_id, event_id)
            )""",
            """CREATE TABLE snapshots (
                account_id bigint PRIMARY KEY REFERENCES accounts (id),
                seq bigint NOT NULL,
                version text NOT NULL,
                blob bytea NOT NULL
            )""",
        ),
    ),
    Migration(
        version=2,
        name="wallboard display links; secrets the server keeps across restarts",
        sqlite=(
            """CREATE TABLE display_links (
                id INTEGER PRIMARY KEY,
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                prefix TEXT NOT NULL,
                token_hash TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            )""",
            "CREATE INDEX display_links_prefix ON display_links (prefix)",
            "CREATE INDEX display_links_account ON display_links (account_id)",
            """CREATE TABLE server_secrets (
                name TEXT PRIMARY KEY,
                value BLOB NOT NULL
            )""",
        ),
        postgres=(
            """CREATE TABLE display_links (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                account_id bigint NOT NULL REFERENCES accounts (id),
                prefix text NOT NULL,
                token_hash text NOT NULL,
                description text NOT NULL,
                created_at bigint NOT NULL,
                revoked_at bigint
            )""",
            "CREATE INDEX display_links_prefix ON display_links (prefix)",
            "CREATE INDEX display_links_account ON display_links (account_id)",
            """CREATE TABLE server_secrets (
                name text PRIMARY KEY,
                value bytea NOT NULL
            )""",
        ),
    ),
    # Call and leg records of the incremental exports: a projection of the log. `seq`
    # is the log position a row reflects, record_marks the position the tables cover
    # and the fold's state there (its unfinished calls, pickled) to go on from;
    # `data` is the record's values as a JSON array (domain/records.py). Clustered by
    # (account, day, id): a record's day never changes and a day's records are one
    # range (SQLite: 2.5 us an upsert, 3.8 with a rowid table and a separate index).
    Migration(
        version=3,
        name="call and leg records of the incremental exports",
        sqlite=(
            """CREATE TABLE call_records (
                account_id INTEGER NOT NULL,
                day TEXT NOT NULL,
                id INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (account_id, day, id)
            ) WITHOUT ROWID""",
            "CREATE INDEX call_records_updated ON call_records (account_id, updated)",
            """CREATE TABLE leg_records (
                account_id INTEGER NOT NULL,
                day TEXT NOT NULL,
                id INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (account_id, day, id)
            ) WITHOUT ROWID""",
            "CREATE INDEX leg_records_updated ON leg_records (account_id, updated)",
            """CREATE TABLE record_marks (
                account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
                seq INTEGER NOT NULL,
                version TEXT NOT NULL,
                state BLOB
            )""",
        ),
        postgres=(
            """CREATE TABLE call_records (
                account_id bigint NOT NULL,
                day text NOT NULL,
                id bigint NOT NULL,
                updated bigint NOT NULL,
                seq bigint NOT NULL,
                data text NOT NULL,
                PRIMARY KEY (account_id, day, id)
            )""",
            "CREATE INDEX call_records_updated ON call_records (account_id, updated)",
            """CREATE TABLE leg_records (
                account_id bigint NOT NULL,
                day text NOT NULL,
                id bigint NOT NULL,
                updated bigint NOT NULL,
                seq bigint NOT NULL,
                data text NOT NULL,
                PRIMARY KEY (account_id, day, id)
            )""",
            "CREATE INDEX leg_records_updated ON leg_records (account_id, updated)",
            """CREATE TABLE record_marks (
                account_id bigint PRIMARY KEY REFERENCES accounts (id),
                seq bigint NOT NULL,
                version text NOT NULL,
                state bytea
            )""",
        ),
    ),
    # Sealed days (docs/architecture.md, "Bounded memory"): a past day that can no
    # longer change is kept here instead of in memory, as the pickle of what its reads
    # need, one row per sealing (`version` names the projection state it was taken
    # from, so a snapshot taken before a later re-sealing still finds its own); and the
    # call ids of its finished calls, which no new call may reuse.
    Migration(
        version=4,
        name="sealed days and their finished call ids",
        sqlite=(
            """CREATE TABLE sealed_days (
                account_id INTEGER NOT NULL REFERENCES accounts (id),
                day TEXT NOT NULL,
                version TEXT NOT NULL,
                blob BLOB NOT NULL,
                PRIMARY KEY (account_id, day, version)
            )""",
            """CREATE TABLE sealed_calls (
                account_id INTEGER NOT NULL,
                call_id TEXT NOT NULL,
                PRIMARY KEY (account_id, call_id)
            ) WITHOUT ROWID""",
        ),
        postgres=(
            """CREATE TABLE sealed_days (
                account_id bigint NOT NULL REFERENCES accounts (id),
                day text NOT NULL,
                version text NOT NULL,
                blob bytea NOT NULL,
                PRIMARY KEY (account_id, day, version)
            )""",
            """CREATE TABLE sealed_calls (
                account_id bigint NOT NULL,
                call_id bytea NOT NULL,
                PRIMARY KEY (account_id, call_id)
            )""",
        ),
    ),
)
