"""Display links: made, listed, revoked and verified against a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from talkstats.access.credentials import TOKEN_LENGTH
from talkstats.access.displays import DisplayLinks
from talkstats.store import Account, NotFound, SQLiteStore

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "talkstats.db", create=True)
    yield opened
    opened.close()


@pytest.fixture
def acme(store: SQLiteStore) -> Account:
    return store.create_account("acme", "UTC", "team")


def test_create_verify_revoke(store: SQLiteStore, acme: Account) -> None:
    links = DisplayLinks(store, hasher=CHEAP)
    record, token = links.create(acme.id, "Lobby TV", 10)
    assert len(token) == TOKEN_LENGTH and token not in record.token_hash
    assert record.description == "Lobby TV" and record.created_at == 10
    opened = links.verify(acme.id, token)
    assert opened is not None and opened.id == record.id
    assert links.verify(acme.id, token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    assert links.verify(acme.id, "") is None
    assert links.active_ids(acme.id) == {record.id}
    links.revoke(acme.id, record.id, 20)
    assert links.verify(acme.id, token) is None
    assert links.active_ids(acme.id) == set()
    assert [r.revoked_at for r in links.list(acme.id)] == [20]


def test_a_link_opens_only_its_own_account(store: SQLiteStore, acme: Account) -> None:
    other = store.create_account("other", "UTC", "team")
    links = DisplayLinks(store, hasher=CHEAP)
    _, token = links.create(acme.id, "", 10)
    assert links.verify(other.id, token) is None
    with pytest.raises(NotFound):
        links.revoke(other.id, 1, 20)


def test_long_description_is_refused(store: SQLiteStore, acme: Account) -> None:
    with pytest.raises(ValueError, match="200"):
        DisplayLinks(store, hasher=CHEAP).create(acme.id, "x" * 201, 10)
