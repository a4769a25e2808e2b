"""The one Store contract suite; each store's test module subclasses StoreContract.

A subclass provides one fixture, `store_url`: a URL that `open_store` opens, naming
a fresh, empty store for each test that can be opened again (by this process or
another) to see the same data.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from talkstats.store import (
    Account,
    ApiToken,
    Conflict,
    DisplayLink,
    Group,
    Membership,
    NewUser,
    NotFound,
    PhoneNumber,
    StaleLog,
    Store,
    StoreError,
    User,
    open_store,
)
from talkstats.store.base import MAX_RECORD_ID


def new_user(user_id: int | None, email: str, role: str = "agent", name: str = "Agent") -> NewUser:
    return NewUser(
        id=user_id, name=name, email=email, role=role, password_hash=None, avatar_url=None
    )


def events(*ids: str) -> list[tuple[str, str]]:
    return [(i, json.dumps({"id": i, "type": "agent.state_changed"})) for i in ids]


# Run in a child process: take an account's write lock, say so, then block until killed.
LOCK_THEN_WAIT = """
import sys
from talkstats.store import open_store
url, account_id = sys.argv[1], int(sys.argv[2])
store = open_store(url)
with store.write_lock(account_id):
    print("held", flush=True)
    sys.stdin.read()
"""

# Run in a child process: append a batch, report the seq, then block until killed.
APPEND_THEN_WAIT = """
import sys
from talkstats.store import open_store
url, account_id, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url, create=True)
seq = store.append_events(account_id, [(f"k{i}", '{"i": %d}' % i) for i in range(n)])
print(seq, flush=True)
sys.stdin.read()
"""


class StoreContract:
    """Every behaviour of the Store protocol; subclass and provide `store_url`."""

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError("a store's test class provides the store_url fixture")

    @pytest.fixture
    def reopen(self, store_url: str) -> Iterator[Callable[[], Store]]:
        """Open another handle on the same store; all are closed after the test."""
        opened: list[Store] = []

        def _open() -> Store:
            opened.append(open_store(store_url, create=True))
            return opened[-1]

        yield _open
        for s in opened:
            s.close()

    @pytest.fixture
    def store(self, reopen: Callable[[], Store]) -> Store:
        return reopen()

    @pytest.fixture
    def acme(self, store: Store) -> Account:
        return store.create_account("acme", "Europe/Paris", "professional")

    @pytest.fixture
    def other(self, store: Store) -> Account:
        return store.create_account("other", "UTC", "team")

    # -- accounts ------------------------------------------------------------

    def test_create_and_get_account(self, store: Store) -> None:
        created = store.create_account("Acme", "Europe/Paris", "team")
        assert created == Account(created.id, "acme", "Europe/Paris", "team")
        assert store.get_account("acme") == created
        assert store.get_account("ACME") == created

    def test_get_unknown_account_is_none(self, store: Store) -> None:
        assert store.get_account("nobody") is None

    def test_subdomains_are_unique_case_insensitively(self, store: Store, acme: Account) -> None:
        with pytest.raises(Conflict, match="acme"):
            store.create_account("ACME", "UTC", "team")
        assert store.list_accounts() == [acme]

    def test_empty_subdomain_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError):
            store.create_account("", "UTC", "team")

    def test_list_accounts_by_id(self, store: Store) -> None:
        b = store.create_account("b", "UTC", "team")
        a = store.create_account("a", "UTC", "team")
        assert store.list_accounts() == [b, a]
        assert b.id < a.id

    def test_update_account(self, store: Store, acme: Account) -> None:
        assert store.update_account(acme.id, plan="team").plan == "team"
        updated = store.update_account(acme.id, timezone="America/New_York")
        assert updated == Account(acme.id, "acme", "America/New_York", "team")
        assert store.update_account(acme.id) == updated
        assert store.get_account("acme") == updated

    def test_update_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound, match="account 404"):
            store.update_account(404, plan="team")

    # -- users ---------------------------------------------------------------

    def test_create_and_get_user(self, store: Store, acme: Account) -> None:
        new = NewUser(7, "Ann", "ann@acme.test", "admin", "$argon2id$x", "https://a/ann.png")
        user = store.create_user(acme.id, new)
        assert user == User(
            7, acme.id, "Ann", "ann@acme.test", "admin", "$argon2id$x", "https://a/ann.png"
        )
        assert store.get_user(acme.id, 7) == user
        assert store.get_user(acme.id, 8) is None

    def test_user_ids_are_assigned_from_one_then_max_plus_one(
        self, store: Store, acme: Account
    ) -> None:
        assert store.create_user(acme.id, new_user(None, "a@x.test")).id == 1
        assert store.create_user(acme.id, new_user(10, "b@x.test")).id == 10
        assert store.create_user(acme.id, new_user(None, "c@x.test")).id == 11

    def test_duplicate_user_id_conflicts(self, store: Store, acme: Account) -> None:
        store.create_user(acme.id, new_user(5, "a@x.test"))
        with pytest.raises(Conflict, match="user id 5"):
            store.create_user(acme.id, new_user(5, "b@x.test"))
        assert store.find_user_by_email(acme.id, "b@x.test") is None

    def test_duplicate_email_conflicts_case_insensitively(
        self, store: Store, acme: Account
    ) -> None:
        store.create_user(acme.id, new_user(None, "Ann@X.test"))
        with pytest.raises(Conflict, match="ann@x.TEST"):
            store.create_user(acme.id, new_user(None, "ann@x.TEST"))
        assert len(store.list_users(acme.id)) == 1

    def test_find_user_by_email(self, store: Store, acme: Account) -> None:
        user = store.create_user(acme.id, new_user(None, "Ann@X.test"))
        assert user.email == "Ann@X.test"
        assert store.find_user_by_email(acme.id, "ann@x.test") == user
        assert store.find_user_by_email(acme.id, "ANN@X.TEST") == user
        assert store.find_user_by_email(acme.id, "bob@x.test") is None

    def test_list_users_by_id(self, store: Store, acme: Account) -> None:
        for user_id in (5, 2, 9):
            store.create_user(acme.id, new_user(user_id, f"u{user_id}@x.test"))
        assert [u.id for u in store.list_users(acme.id)] == [2, 5, 9]

    def test_user_in_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound, match="account 404"):
            store.create_user(404, new_user(None, "a@x.test"))

    def test_invalid_users_are_refused(self, store: Store, acme: Account) -> None:
        with pytest.raises(ValueError, match="role"):
            store.create_user(acme.id, new_user(None, "a@x.test", role="owner"))
        with pytest.raises(ValueError, match="positive"):
            store.create_user(acme.id, new_user(0, "a@x.test"))
        assert store.list_users(acme.id) == []

    def test_users_are_per_account(self, store: Store, acme: Account, other: Account) -> None:
        a = store.create_user(acme.id, new_user(1, "same@x.test", name="A"))
        b = store.create_user(other.id, new_user(1, "same@x.test", name="B"))
        assert store.list_users(acme.id) == [a]
        assert store.list_users(other.id) == [b]
        assert store.get_user(other.id, 1) == b
        assert store.find_user_by_email(acme.id, "same@x.test") == a
        assert store.create_user(other.id, new_user(None, "c@x.test")).id == 2

    def test_the_largest_id_leaves_new_ids_assignable(self, store: Store, acme: Account) -> None:
        """After someone takes id 2**63-1, a record without an id gets the lowest free one."""
        top = store.create_group(acme.id, MAX_RECORD_ID, "Top")
        assert store.create_group(acme.id, None, "First").id == 1
        assert store.create_group(acme.id, None, "Second").id == 2
        assert store.create_phone_number(acme.id, MAX_RECORD_ID, "+1", "").id == MAX_RECORD_ID
        assert store.create_phone_number(acme.id, None, "+2", "").id == 1
        assert store.create_user(acme.id, new_user(MAX_RECORD_ID, "top@x.test")).id == top.id
        assert store.create_user(acme.id, new_user(None, "next@x.test")).id == 1
        with pytest.raises(ValueError, match="positive"):
            store.create_group(acme.id, MAX_RECORD_ID + 1, "Past")

    # -- groups, memberships, phone numbers ------------------------------------

    def test_groups(self, store: Store, acme: Account, other: Account) -> None:
        assert store.create_group(acme.id, None, "Support") == Group(1, "Support")
        assert store.create_group(acme.id, 20, "Sales") == Group(20, "Sales")
        assert store.create_group(acme.id, None, "Billing") == Group(21, "Billing")
        with pytest.raises(Conflict, match="group id 20"):
            store.create_group(acme.id, 20, "Again")
        assert store.create_group(other.id, 20, "Theirs") == Group(20, "Theirs")
        assert [g.id for g in store.list_groups(acme.id)] == [1, 20, 21]
        assert store.list_groups(other.id) == [Group(20, "Theirs")]
        with pytest.raises(NotFound):
            store.create_group(404, None, "x")

    def test_reference_version_counts_what_was_added(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        assert store.reference_version(acme.id) == (0, 0, 0, 0)
        store.create_user(acme.id, new_user(7, "a@x.test"))
        assert store.reference_version(acme.id) == (1, 0, 0, 0)
        store.create_group(acme.id, 3, "Support")
        store.add_membership(acme.id, 3, 7)
        store.create_phone_number(acme.id, 9, "+15550000", "Main")
        assert store.reference_version(acme.id) == (1, 1, 1, 1)
        assert store.reference_version(other.id) == (0, 0, 0, 0)

    def test_memberships(self, store: Store, acme: Account) -> None:
        store.create_group(acme.id, 3, "Support")
        store.create_group(acme.id, 4, "Sales")
        store.create_user(acme.id, new_user(9, "a@x.test"))
        first = store.add_membership(acme.id, 3, 9)
        second = store.add_membership(acme.id, 4, 9)
        assert first == Membership(1, 3, 9)
        assert second == Membership(2, 4, 9)
        assert store.list_memberships(acme.id) == [first, second]

    def test_membership_of_unknown_group_or_user(self, store: Store, acme: Account) -> None:
        store.create_group(acme.id, 3, "Support")
        store.create_user(acme.id, new_user(9, "a@x.test"))
        with pytest.raises(NotFound, match="group 4"):
            store.add_membership(acme.id, 4, 9)
        with pytest.raises(NotFound, match="user 8"):
            store.add_membership(acme.id, 3, 8)
        assert store.list_memberships(acme.id) == []

    def test_membership_across_accounts_is_not_found(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        store.create_group(acme.id, 3, "Support")
        store.create_user(other.id, new_user(9, "a@x.test"))
        with pytest.raises(NotFound, match="user 9"):
            store.add_membership(acme.id, 3, 9)

    def test_duplicate_membership_conflicts(self, store: Store, acme: Account) -> None:
        store.create_group(acme.id, 3, "Support")
        store.create_user(acme.id, new_user(9, "a@x.test"))
        store.add_membership(acme.id, 3, 9)
        with pytest.raises(Conflict, match="user 9 .* group 3"):
            store.add_membership(acme.id, 3, 9)
        assert len(store.list_memberships(acme.id)) == 1

    def test_phone_numbers(self, store: Store, acme: Account, other: Account) -> None:
        main = store.create_phone_number(acme.id, None, "+15550100", "Main")
        assert main == PhoneNumber(1, "+15550100", "Main")
        assert store.create_phone_number(acme.id, 7, "+15550107", "Sales").id == 7
        assert store.create_phone_number(acme.id, None, "+15550108", "Billing").id == 8
        with pytest.raises(Conflict, match="phone number id 7"):
            store.create_phone_number(acme.id, 7, "+15550199", "Dup")
        assert [p.id for p in store.list_phone_numbers(acme.id)] == [1, 7, 8]
        assert store.list_phone_numbers(other.id) == []

    # -- credentials ---------------------------------------------------------

    def test_api_tokens(self, store: Store, acme: Account) -> None:
        store.create_user(acme.id, new_user(9, "a@x.test", role="admin"))
        token = store.create_api_token(acme.id, 9, "ts_abcdefghi", "$argon2id$h", "ingest")
        assert token == ApiToken(token.id, acme.id, 9, "ts_abcdefghi", "$argon2id$h", "ingest")
        second = store.create_api_token(acme.id, 9, "ts_zzzzzzzzz", "$argon2id$i", "")
        assert store.list_api_tokens(acme.id, 9) == [token, second]
        assert store.find_token_by_prefix("ts_abcdefghi") == [token]
        assert store.find_token_by_prefix("ts_nothing00") == []

    def test_token_for_unknown_user(self, store: Store, acme: Account) -> None:
        with pytest.raises(NotFound, match="user 9"):
            store.create_api_token(acme.id, 9, "ts_abcdefghi", "h", "")

    def test_tokens_are_per_account(self, store: Store, acme: Account, other: Account) -> None:
        store.create_user(acme.id, new_user(9, "a@x.test"))
        store.create_user(other.id, new_user(9, "a@x.test"))
        mine = store.create_api_token(acme.id, 9, "ts_samesame00", "h1", "")
        theirs = store.create_api_token(other.id, 9, "ts_samesame00", "h2", "")
        assert store.list_api_tokens(acme.id, 9) == [mine]
        assert store.list_api_tokens(other.id, 9) == [theirs]
        # a prefix lookup spans accounts; the caller checks account and hash
        assert store.find_token_by_prefix("ts_samesame00") == [mine, theirs]

    # -- wallboard display links and server secrets ---------------------------

    def test_display_links(self, store: Store, acme: Account, other: Account) -> None:
        first = store.create_display_link(acme.id, "abcdefghijkl", "$argon2id$a", "Lobby TV", 5)
        assert first == DisplayLink(
            first.id, acme.id, "abcdefghijkl", "$argon2id$a", "Lobby TV", 5, None
        )
        assert first.active
        second = store.create_display_link(acme.id, "mnopqrstuvwx", "$argon2id$b", "", 6)
        theirs = store.create_display_link(other.id, "abcdefghijkl", "$argon2id$c", "", 7)
        assert store.list_display_links(acme.id) == [first, second]
        assert store.list_display_links(other.id) == [theirs]
        # a prefix lookup spans accounts; the caller checks account and hash
        assert store.find_display_links_by_prefix("abcdefghijkl") == [first, theirs]
        assert store.find_display_links_by_prefix("nothing00000") == []

    def test_revoking_a_display_link(self, store: Store, acme: Account, other: Account) -> None:
        link = store.create_display_link(acme.id, "abcdefghijkl", "h", "", 5)
        revoked = store.revoke_display_link(acme.id, link.id, 9)
        assert revoked.revoked_at == 9 and not revoked.active
        assert store.revoke_display_link(acme.id, link.id, 12).revoked_at == 9
        assert store.list_display_links(acme.id) == [revoked]
        assert store.find_display_links_by_prefix("abcdefghijkl") == [revoked]
        with pytest.raises(NotFound, match=f"display link {link.id}"):
            store.revoke_display_link(other.id, link.id, 9)
        with pytest.raises(NotFound):
            store.revoke_display_link(acme.id, 999, 9)

    def test_display_link_of_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound, match="account 404"):
            store.create_display_link(404, "abcdefghijkl", "h", "", 5)

    def test_server_secret_is_kept(self, reopen: Callable[[], Store]) -> None:
        first = reopen()
        assert first.server_secret("session", b"one") == b"one"
        assert first.server_secret("session", b"two") == b"one"
        assert first.server_secret("other", b"three") == b"three"
        assert reopen().server_secret("session", b"four") == b"one"

    # -- event log -----------------------------------------------------------

    def test_append_and_read(self, store: Store, acme: Account) -> None:
        assert store.log_head(acme.id) == 0
        batch = events("e1", "e2", "e3")
        last = store.append_events(acme.id, batch)
        assert store.log_head(acme.id) == last
        read = store.read_events(acme.id, 0, 100)
        assert [body for _, body in read] == [body for _, body in batch]
        seqs = [seq for seq, _ in read]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3 and seqs[-1] == last

    def test_seq_is_global_and_increasing(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        a1 = store.append_events(acme.id, events("e1"))
        b1 = store.append_events(other.id, events("e1"))
        a2 = store.append_events(acme.id, events("e2", "e3"))
        assert a1 < b1 < a2
        assert store.log_head(acme.id) == a2
        assert store.log_head(other.id) == b1

    def test_bodies_round_trip_exactly(self, store: Store, acme: Account) -> None:
        body = '{"id":"é","note":"\\u2603 ☃ \\"q\\"","n":1.50}'
        store.append_events(acme.id, [("é", body)])
        assert store.read_events(acme.id, 0, 1)[0][1] == body
        assert store.find_events(acme.id, ["é"]) == {"é": body}

    def test_empty_append_returns_head(self, store: Store, acme: Account) -> None:
        assert store.append_events(acme.id, []) == 0
        last = store.append_events(acme.id, events("e1"))
        assert store.append_events(acme.id, []) == last

    def test_append_to_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound, match="account 404"):
            store.append_events(404, events("e1"))

    def test_append_with_logged_id_stores_nothing(self, store: Store, acme: Account) -> None:
        head = store.append_events(acme.id, events("e1", "e2"))
        with pytest.raises(Conflict, match="'e2'"):
            store.append_events(acme.id, events("e3", "e4", "e2", "e5"))
        assert store.log_head(acme.id) == head
        assert store.find_events(acme.id, ["e3", "e4", "e5"]) == {}
        assert len(store.read_events(acme.id, 0, 100)) == 2
        # the store is still usable after the failed transaction
        assert store.append_events(acme.id, events("e3")) > head

    def test_append_with_repeated_id_stores_nothing(self, store: Store, acme: Account) -> None:
        with pytest.raises(Conflict, match="'x'"):
            store.append_events(acme.id, events("w", "x", "y", "x"))
        assert store.log_head(acme.id) == 0
        assert store.read_events(acme.id, 0, 10) == []

    def test_append_after_seq_checks_the_head_in_the_transaction(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        first = store.append_events(acme.id, events("e1"), after_seq=0)
        store.append_events(other.id, events("o1"))  # another account moves nothing here
        second = store.append_events(acme.id, events("e2"), after_seq=first)
        with pytest.raises(StaleLog):
            store.append_events(acme.id, events("e3"), after_seq=first)
        with pytest.raises(StaleLog):
            store.append_events(acme.id, events("e3"), after_seq=0)
        assert store.log_head(acme.id) == second
        assert store.find_events(acme.id, ["e3"]) == {}

    def test_count_events(self, store: Store, acme: Account, other: Account) -> None:
        assert store.count_events(acme.id, 0) == 0
        first = store.append_events(acme.id, events("e1", "e2"))
        store.append_events(other.id, events("o1"))
        store.append_events(acme.id, events("e3"))
        assert store.count_events(acme.id, 0) == 3
        assert store.count_events(acme.id, first) == 1
        assert store.count_events(other.id, 0) == 1

    def test_log_heads_of_every_account_in_one_call(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        assert store.log_heads() == {acme.id: 0, other.id: 0}
        a = store.append_events(acme.id, events("a1", "a2"))
        b = store.append_events(other.id, events("b1"))
        store.append_events(acme.id, [])
        heads = store.log_heads()
        assert heads == {acme.id: a, other.id: b}
        assert heads == {x.id: store.log_head(x.id) for x in (acme, other)}
        third = store.create_account("third", "UTC", "team")
        assert store.log_heads()[third.id] == 0

    def test_the_change_mark_moves_with_every_commit(self, reopen: Callable[[], Store]) -> None:
        follower, writer = reopen(), reopen()
        acme = writer.create_account("acme", "UTC", "team")
        mark = follower.change_mark()
        if mark is None:  # a store that cannot tell: callers look at everything
            writer.append_events(acme.id, events("e1"))
            assert follower.change_mark() is None
            return
        assert follower.change_mark() == mark  # nothing committed in between
        writer.append_events(acme.id, events("e1"))
        moved = follower.change_mark()
        assert moved != mark
        assert follower.change_mark() == moved
        follower.append_events(acme.id, events("e2"))  # its own commits count too
        assert follower.change_mark() != moved
        latest = follower.change_mark()
        writer.create_user(acme.id, new_user(None, "new@acme.test"))  # not only the log
        assert follower.change_mark() != latest

    def test_watch_wakes_on_another_handles_append(self, reopen: Callable[[], Store]) -> None:
        follower, writer = reopen(), reopen()
        acme = writer.create_account("acme", "UTC", "team")
        woken: queue.Queue[int] = queue.Queue()
        stop = follower.watch(woken.put)
        try:
            # The watcher starts in the background: append until it hears one.
            # (Other tests on the same PostgreSQL database may be heard too: its
            # schemas share their notification channels.)
            deadline = time.monotonic() + 20
            heard: set[int] = set()
            n = 0
            while acme.id not in heard and time.monotonic() < deadline:
                n += 1
                writer.append_events(acme.id, events(f"e{n}"))
                with contextlib.suppress(queue.Empty):
                    heard.add(woken.get(timeout=0.2))
            assert acme.id in heard, "no notification within 20 s"
        finally:
            stop()
            stop()  # harmless twice

    def test_check_passes_on_a_healthy_store(self, store: Store) -> None:
        store.check()

    def test_event_ids_are_per_account(self, store: Store, acme: Account, other: Account) -> None:
        store.append_events(acme.id, [("e1", '"a"')])
        store.append_events(other.id, [("e1", '"b"')])
        assert store.find_events(acme.id, ["e1"]) == {"e1": '"a"'}
        assert store.find_events(other.id, ["e1"]) == {"e1": '"b"'}
        assert [b for _, b in store.read_events(acme.id, 0, 10)] == ['"a"']
        assert [b for _, b in store.read_events(other.id, 0, 10)] == ['"b"']

    def test_find_events(self, store: Store, acme: Account) -> None:
        store.append_events(acme.id, events("e1", "e2"))
        found = store.find_events(acme.id, ["e2", "nope", "e2"])
        assert found == {"e2": dict(events("e2"))["e2"]}
        assert store.find_events(acme.id, []) == {}

    def test_find_many_events(self, store: Store, acme: Account) -> None:
        ids = [f"e{i}" for i in range(2500)]
        store.append_events(acme.id, events(*ids))
        wanted = ids[::2] + [f"missing{i}" for i in range(1000)]
        assert set(store.find_events(acme.id, wanted)) == set(ids[::2])

    def test_read_events_pages_by_seq(self, store: Store, acme: Account, other: Account) -> None:
        for i in range(5):
            store.append_events(acme.id, events(f"a{i}"))
            store.append_events(other.id, events(f"b{i}"))
        page1 = store.read_events(acme.id, 0, 2)
        page2 = store.read_events(acme.id, page1[-1][0], 2)
        page3 = store.read_events(acme.id, page2[-1][0], 2)
        assert [len(p) for p in (page1, page2, page3)] == [2, 2, 1]
        everything = store.read_events(acme.id, 0, 100)
        assert page1 + page2 + page3 == everything
        assert [json.loads(b)["id"] for _, b in everything] == [f"a{i}" for i in range(5)]
        assert store.read_events(acme.id, everything[-1][0], 100) == []
        assert store.read_events(acme.id, 0, 0) == []

    def test_event_ids_keep_every_character(self, store: Store, acme: Account) -> None:
        ids = ["nul\x00inside", "é", "emoji \U0001f600", " spaced ", "x" * 200]
        store.append_events(acme.id, events(*ids))
        assert set(store.find_events(acme.id, ids)) == set(ids)
        with pytest.raises(Conflict):
            store.append_events(acme.id, events("nul\x00inside"))
        assert store.find_events(acme.id, ["nul"]) == {}

    def test_concurrent_appenders_and_a_follower(self, reopen: Callable[[], Store]) -> None:
        """Writers on separate handles race; a follower reading seq > last misses nothing.

        A store whose seqs could become visible out of order (a smaller seq committing
        after a larger one was read) would make the follower skip rows here.
        """
        setup = reopen()
        account = setup.create_account("acme", "UTC", "team")
        writers, batches = 4, 60
        handles = [reopen() for _ in range(writers)]
        follower = reopen()
        done = threading.Event()
        errors: list[BaseException] = []
        followed: list[tuple[int, str]] = []

        def write(n: int) -> None:
            try:
                for b in range(batches):
                    size = 1 + (b + n) % 4
                    handles[n].append_events(
                        account.id, events(*(f"w{n}-b{b}-{i}" for i in range(size)))
                    )
            except BaseException as exc:
                errors.append(exc)

        def follow() -> None:
            last = 0
            try:
                while True:
                    finished = done.is_set()
                    rows = follower.read_events(account.id, last, 50)
                    followed.extend(rows)
                    if rows:
                        last = rows[-1][0]
                    elif finished:
                        return
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        reader = threading.Thread(target=follow)
        reader.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        reader.join()
        assert errors == []
        logged = setup.read_events(account.id, 0, 100_000)
        assert len(logged) == sum(1 + (b + n) % 4 for n in range(writers) for b in range(batches))
        assert followed == logged
        seqs = [seq for seq, _ in logged]
        assert seqs == sorted(set(seqs))
        # each writer's events are in the log in the order it appended them
        for n in range(writers):
            mine = [
                json.loads(b)["id"] for _, b in logged if json.loads(b)["id"].startswith(f"w{n}-")
            ]
            expected = [f"w{n}-b{b}-{i}" for b in range(batches) for i in range(1 + (b + n) % 4)]
            assert mine == expected

    def test_racing_appends_of_one_id_store_it_once(self, reopen: Callable[[], Store]) -> None:
        setup = reopen()
        account = setup.create_account("acme", "UTC", "team")
        handles = [reopen() for _ in range(4)]
        start = threading.Barrier(len(handles))
        outcomes: list[str] = []

        def append(n: int) -> None:
            start.wait()
            try:
                handles[n].append_events(account.id, events(f"mine{n}", "shared"))
                outcomes.append("stored")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=append, args=(n,)) for n in range(len(handles))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict"] * 3 + ["stored"]
        logged = [json.loads(b)["id"] for _, b in setup.read_events(account.id, 0, 100)]
        assert len(logged) == 2 and logged[1] == "shared"

    # -- snapshots -----------------------------------------------------------

    def test_snapshot_round_trip(self, store: Store, acme: Account, other: Account) -> None:
        assert store.load_snapshot(acme.id, "v1") is None
        store.save_snapshot(acme.id, 42, "v1", b"\x00blob\xff")
        assert store.load_snapshot(acme.id, "v1") == (42, b"\x00blob\xff")
        assert store.load_snapshot(other.id, "v1") is None

    def test_snapshot_of_another_version_is_none(self, store: Store, acme: Account) -> None:
        store.save_snapshot(acme.id, 42, "v1", b"old")
        assert store.load_snapshot(acme.id, "v2") is None

    def test_snapshot_is_replaced(self, store: Store, acme: Account) -> None:
        store.save_snapshot(acme.id, 42, "v1", b"old")
        store.save_snapshot(acme.id, 50, "v2", b"new")
        assert store.load_snapshot(acme.id, "v2") == (50, b"new")
        assert store.load_snapshot(acme.id, "v1") is None

    def test_snapshot_of_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.save_snapshot(404, 1, "v1", b"x")

    # -- call and leg records (incremental exports) -----------------------------

    # -- sealed days ------------------------------------------------------------

    def test_sealed_day_round_trip(self, store: Store, acme: Account, other: Account) -> None:
        assert store.load_sealed_day(acme.id, "2026-11-26", "v:10") is None
        store.save_sealed_day(acme.id, "2026-11-26", "v:10", b"\x00day\xff", ["c1", "c2"])
        assert store.load_sealed_day(acme.id, "2026-11-26", "v:10") == b"\x00day\xff"
        assert store.load_sealed_day(acme.id, "2026-11-26", "v:11") is None
        assert store.load_sealed_day(acme.id, "2026-11-27", "v:10") is None
        assert store.load_sealed_day(other.id, "2026-11-26", "v:10") is None

    def test_sealed_day_versions_are_kept_and_a_version_is_replaced(
        self, store: Store, acme: Account
    ) -> None:
        store.save_sealed_day(acme.id, "2026-11-26", "v:10", b"first", ["c1"])
        store.save_sealed_day(acme.id, "2026-11-26", "v:20", b"second", ["c1", "c3"])
        store.save_sealed_day(acme.id, "2026-11-26", "v:20", b"again", ["c3"])
        assert store.load_sealed_day(acme.id, "2026-11-26", "v:10") == b"first"
        assert store.load_sealed_day(acme.id, "2026-11-26", "v:20") == b"again"
        assert store.find_sealed_calls(acme.id, ["c1", "c3"]) == {"c1", "c3"}

    def test_sealed_calls_are_per_account(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        ids = [f"call-{i}" for i in range(1_200)] + ["\u00e9t\u00e9 \U0001f4de"]
        store.save_sealed_day(acme.id, "2026-11-26", "v:1", b"x", ids)
        store.save_sealed_day(acme.id, "2026-11-27", "v:2", b"y", [])
        asked = [*ids[::2], "nope", ids[-1], ids[-1]]
        assert store.find_sealed_calls(acme.id, asked) == {*ids[::2], ids[-1]}
        assert store.find_sealed_calls(acme.id, []) == set()
        assert store.find_sealed_calls(other.id, ids) == set()

    def test_sealed_day_of_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.save_sealed_day(999, "2026-11-26", "v:1", b"x", ["c1"])
        assert store.load_sealed_day(999, "2026-11-26", "v:1") is None
        assert store.find_sealed_calls(999, ["c1"]) == set()

    def test_records_start_unmarked_and_reset_marks_them(self, store: Store, acme: Account) -> None:
        assert store.records_mark(acme.id) is None
        store.reset_records(acme.id, "v1")
        assert store.records_mark(acme.id) == (0, "v1")
        with pytest.raises(NotFound):
            store.reset_records(404, "v1")

    def test_save_and_read_records_by_updated(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        store.reset_records(acme.id, "v1")
        calls = [(1, "2026-03-10", 300, "[1]"), (2, "2026-03-10", 100, "[2]")]
        legs = [(1, "2026-03-10", 200, "[3]")]
        store.save_records(acme.id, "v1", 7, calls, legs)
        store.save_records(other.id, "v1", 9, [(1, "2026-03-10", 150, "[9]")], [])
        assert store.records_mark(acme.id) == (7, "v1")
        assert store.read_records(acme.id, "calls", 0, None, None) == [
            (2, 100, "[2]"),
            (1, 300, "[1]"),
        ]
        assert store.read_records(acme.id, "calls", 101, None, 10) == [(1, 300, "[1]")]
        assert store.read_records(acme.id, "calls", 0, 300, None) == [(2, 100, "[2]")]
        assert store.read_records(acme.id, "calls", 0, None, 1) == [(2, 100, "[2]")]
        assert store.read_records(acme.id, "legs", 0, None, None) == [(1, 200, "[3]")]
        assert store.read_records(other.id, "calls", 0, None, None) == [(1, 150, "[9]")]
        with pytest.raises(ValueError):
            store.read_records(acme.id, "tickets", 0, None, None)

    def test_records_are_upserted_and_a_later_position_wins(
        self, store: Store, acme: Account
    ) -> None:
        store.reset_records(acme.id, "v1")
        store.save_records(acme.id, "v1", 10, [(1, "2026-03-10", 100, "[10]")], [])
        store.save_records(acme.id, "v1", 12, [(1, "2026-03-10", 120, "[12]")], [])
        # another process, behind: its older row and its mark do not win
        store.save_records(acme.id, "v1", 11, [(1, "2026-03-10", 110, "[11]")], [])
        assert store.read_records(acme.id, "calls", 0, None, None) == [(1, 120, "[12]")]
        assert store.records_mark(acme.id) == (12, "v1")
        assert store.records_state(acme.id) is None
        store.save_records(acme.id, "v1", 13, [], [], state=b"at 13")
        store.save_records(acme.id, "v1", 12, [], [], state=b"at 12")  # behind: kept out
        assert store.records_state(acme.id) == (13, b"at 13")
        store.save_records(acme.id, "v1", 14, [], [])  # no state at 14: none to go on from
        assert store.records_state(acme.id) is None
        store.reset_records(acme.id, "v2")
        assert store.records_state(acme.id) is None
        assert store.read_records(acme.id, "calls", 0, None, None) == []
        assert store.records_mark(acme.id) == (0, "v2")

    def test_records_by_day(self, store: Store, acme: Account) -> None:
        store.reset_records(acme.id, "v1")
        rows = [
            (n, "2026-03-10" if n < 4 else "2026-03-11", 100 + n, f"[{n}]") for n in range(1, 6)
        ]
        store.save_records(acme.id, "v1", 1, [], rows)
        assert store.read_day_records(acme.id, "legs", "2026-03-10", 0, 2) == [
            (1, "[1]"),
            (2, "[2]"),
        ]
        assert store.read_day_records(acme.id, "legs", "2026-03-10", 2, 10) == [(3, "[3]")]
        assert store.count_day_records(acme.id, "legs", "2026-03-10", "2026-03-11") == 5
        assert store.count_day_records(acme.id, "legs", "2026-03-11", "2026-03-11") == 2
        assert store.count_day_records(acme.id, "calls", "2026-03-10", "2026-03-11") == 0

    def test_records_of_unknown_account(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.save_records(404, "v1", 1, [(1, "2026-03-10", 1, "[]")], [])

    # -- lifecycle -----------------------------------------------------------

    def test_reopen_finds_everything(self, reopen: Callable[[], Store]) -> None:
        store = reopen()
        acme = store.create_account("acme", "Europe/Paris", "professional")
        user = store.create_user(acme.id, new_user(None, "a@x.test"))
        group = store.create_group(acme.id, None, "Support")
        membership = store.add_membership(acme.id, group.id, user.id)
        number = store.create_phone_number(acme.id, None, "+15550100", "Main")
        token = store.create_api_token(acme.id, user.id, "ts_abcdefghi", "h", "d")
        head = store.append_events(acme.id, events("e1", "e2"))
        store.save_snapshot(acme.id, head, "v1", b"snap")
        logged = store.read_events(acme.id, 0, 10)
        store.close()

        again = reopen()
        assert again.list_accounts() == [acme]
        assert again.list_users(acme.id) == [user]
        assert again.list_groups(acme.id) == [group]
        assert again.list_memberships(acme.id) == [membership]
        assert again.list_phone_numbers(acme.id) == [number]
        assert again.find_token_by_prefix("ts_abcdefghi") == [token]
        assert again.read_events(acme.id, 0, 10) == logged
        assert again.log_head(acme.id) == head
        assert again.load_snapshot(acme.id, "v1") == (head, b"snap")
        assert again.create_user(acme.id, new_user(None, "b@x.test")).id == user.id + 1
        assert again.append_events(acme.id, events("e3")) > head

    def test_two_handles_see_each_other(self, reopen: Callable[[], Store]) -> None:
        writer, reader = reopen(), reopen()
        acme = writer.create_account("acme", "UTC", "team")
        head = writer.append_events(acme.id, events("e1"))
        assert reader.log_head(acme.id) == head
        with pytest.raises(Conflict):
            reader.append_events(acme.id, events("e1"))

    def test_close_twice_and_use_after_close(self, store: Store) -> None:
        store.close()
        store.close()
        with pytest.raises(StoreError):
            store.list_accounts()

    def test_the_write_lock_excludes_other_threads_per_account(
        self, store: Store, acme: Account, other: Account
    ) -> None:
        taken = threading.Event()

        def writer() -> None:
            with store.write_lock(acme.id):
                taken.set()

        with store.write_lock(acme.id):
            thread = threading.Thread(target=writer)
            thread.start()
            assert not taken.wait(0.3), "a second thread took a held lock"
            with store.write_lock(other.id):  # another account is free meanwhile
                pass
        thread.join(timeout=30)
        assert taken.is_set()
        with store.write_lock(acme.id), store.write_lock(other.id):
            pass  # released after use, whatever the order

    def test_the_write_lock_excludes_other_processes_until_they_die(
        self, store_url: str, reopen: Callable[[], Store]
    ) -> None:
        store = reopen()
        account = store.create_account("acme", "UTC", "team")
        argv = [sys.executable, "-c", LOCK_THEN_WAIT, store_url, str(account.id)]
        taken = threading.Event()

        def writer() -> None:
            with store.write_lock(account.id):
                taken.set()

        with subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "held"
            thread = threading.Thread(target=writer)
            thread.start()
            assert not taken.wait(0.5), "a lock another process holds was taken"
            child.send_signal(signal.SIGKILL)  # its lock goes with it
            child.wait()
        thread.join(timeout=30)
        assert taken.is_set()

    def test_acknowledged_append_survives_sigkill(
        self, store_url: str, reopen: Callable[[], Store]
    ) -> None:
        setup = reopen()
        account = setup.create_account("acme", "UTC", "team")
        setup.close()
        argv = [sys.executable, "-c", APPEND_THEN_WAIT, store_url, str(account.id), "500"]
        with subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            acknowledged = child.stdout.readline()
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        assert acknowledged.strip(), "the child died before append_events returned"
        store = reopen()
        assert store.log_head(account.id) == int(acknowledged)
        logged = store.read_events(account.id, 0, 1000)
        assert [json.loads(body)["i"] for _, body in logged] == list(range(500))
