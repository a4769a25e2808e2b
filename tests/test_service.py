"""The service across processes: two Talkstats over one SQLite file see each other's work.

A server and the CLI (or two servers) share a database; reference data and events
written by one are picked up by the other when it follows the log (a server's upkeep
does it every half second; the tests call it), and always before it ingests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from talkstats.config import load_settings
from talkstats.domain import stats
from talkstats.service import Talkstats, Unavailable
from talkstats.store import SQLiteStore, StoreError

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)
T0 = 1_795_680_000 * 10**9  # 2026-11-26T05:20:00Z


class Clocks:
    def __init__(self) -> None:
        self.ns = T0
        self.mono = 100.0

    def wall(self) -> int:
        return self.ns

    def monotonic(self) -> float:
        return self.mono


def service(path: Path, clocks: Clocks) -> Talkstats:
    return Talkstats(
        SQLiteStore(path, create=True),
        load_settings({}, environ={}),
        clock=clocks.wall,
        monotonic=clocks.monotonic,
        hasher=CHEAP,
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Talkstats, Talkstats, Clocks]:
    clocks = Clocks()
    server = service(tmp_path / "t.db", clocks)
    server.create_account(
        "acme", "UTC", "professional", admin_email="a@acme.test", admin_password="pw"
    )
    cli = service(tmp_path / "t.db", clocks)
    return server, cli, clocks


def state_changed(event_id: str, agent_id: int) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "agent.state_changed",
        "time": "2026-11-26T05:00:00Z",
        "agent_id": agent_id,
        "state": "online",
    }


def test_reference_data_added_elsewhere_is_seen_after_the_check_interval(
    pair: tuple[Talkstats, Talkstats, Clocks],
) -> None:
    server, cli, clocks = pair
    account = server.account("acme")
    assert account is not None
    server.projection(account)  # loaded before the agent exists
    cli.create_user(account, id=7, name="Ada", email="ada@acme.test", role="agent")

    outcome = server.ingest(account, [state_changed("e1", 7)])

    assert outcome.accepted == 1  # ingestion always checks the store first
    rows = stats.agents_activity(
        server.projection(account), server.now(account), plan="professional", agent_ids=[7]
    )
    assert rows[0]["agent_state"] == "online"


def test_events_appended_elsewhere_are_folded_when_the_server_follows_the_log(
    pair: tuple[Talkstats, Talkstats, Clocks],
) -> None:
    server, cli, clocks = pair
    account = server.account("acme")
    assert account is not None
    server.create_user(account, id=7, name="Ada", email="ada@acme.test", role="agent")
    server.projection(account)
    assert cli.ingest(account, [state_changed("e1", 7)]).accepted == 1

    assert server.projection(account).agents_online == 0  # reads never touch the store
    assert server.behind(account)
    assert server.follow(account)
    assert not server.behind(account)
    assert server.projection(account).agents_online == 1
    assert server.ingest(account, [state_changed("e1", 7)]).duplicates == 1


class DiskFullStore(SQLiteStore):
    """A real SQLite store whose appends fail while ``full`` is set (fault injection)."""

    full = False

    def append_events(
        self, account_id: int, events: list[tuple[str, str]], *, after_seq: int | None = None
    ) -> int:
        if self.full:
            raise StoreError("database or disk is full")
        return super().append_events(account_id, events, after_seq=after_seq)


def test_a_failed_append_acknowledges_nothing_and_the_projection_is_rebuilt(
    tmp_path: Path,
) -> None:
    clocks = Clocks()
    store = DiskFullStore(tmp_path / "t.db", create=True)
    server = Talkstats(
        store,
        load_settings({}, environ={}),
        clock=clocks.wall,
        monotonic=clocks.monotonic,
        hasher=CHEAP,
    )
    account = server.create_account(
        "acme", "UTC", "professional", admin_email="a@acme.test", admin_password="pw"
    )
    server.create_user(account, id=7, name="Ada", email="ada@acme.test", role="agent")
    store.full = True

    with pytest.raises(Unavailable):
        server.ingest(account, [state_changed("e1", 7)])

    assert server.projection(account).agents_online == 0  # folded, then thrown away
    store.full = False
    assert server.ingest(account, [state_changed("e1", 7)]).accepted == 1
    assert server.projection(account).agents_online == 1


def test_a_store_that_cannot_be_read_is_unavailable(
    pair: tuple[Talkstats, Talkstats, Clocks],
) -> None:
    server, _, _ = pair
    account = server.account("acme")
    assert account is not None
    server.store.close()

    with pytest.raises(Unavailable):
        server.ingest(account, [state_changed("e1", 7)])


def test_store_errors_name_the_account_by_subdomain_never_by_id(tmp_path: Path) -> None:
    """The store knows accounts by internal id; what users read names the subdomain."""
    from talkstats.store.base import Conflict, NotFound

    talkstats = service(tmp_path / "n.db", Clocks())
    for name in ("first", "second", "acme"):  # acme gets internal id 3
        talkstats.create_account(
            name, "UTC", "team", admin_email=f"a@{name}.test", admin_password="pw"
        )
    acme = talkstats.account("acme")
    assert acme is not None and acme.id == 3
    talkstats.create_group(acme, name="Support", id=5)
    cases = [
        (Conflict, "group id 5 already exists in account acme",
         lambda: talkstats.create_group(acme, name="Again", id=5)),
        (Conflict, "email 'A@acme.test' is already used by user 1 in account acme",
         lambda: talkstats.create_user(acme, name="X", email="A@acme.test", role="agent")),
        (NotFound, "user 99 not found in account acme",
         lambda: talkstats.add_membership(acme, group_id=5, user_id=99)),
        (NotFound, "group 6 not found in account acme",
         lambda: talkstats.add_membership(acme, group_id=6, user_id=1)),
        (Conflict, "phone number id 1 already exists in account acme",
         lambda: [talkstats.create_phone_number(acme, number="+1", name="", id=1)
                  for _ in range(2)]),
    ]  # fmt: skip
    for error, message, act in cases:
        with pytest.raises(error) as caught:
            act()
        assert str(caught.value) == message
    talkstats.close()
