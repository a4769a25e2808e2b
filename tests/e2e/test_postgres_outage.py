"""PostgreSQL stopped under a server that is ingesting, then started again.

The test makes a PostgreSQL cluster of its own (tests/pgcluster.py), so the
shared server is never stopped. A client streams batches and sends each one again
after a 503, as a client must. While PostgreSQL is down, every write answers 503 with
Retry-After (never a 500, never a hang: each request is bounded by a timeout), /readyz
answers 503 and /healthz 200, and statistics reads answer 200 or 503. When it is
back, the server recovers by itself, and every event any response called accepted is
in the log and counted in the statistics.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e import fleet
from tests.e2e.conftest import ADMIN, create_acme
from tests.e2e.fleet import CALLS_PER_BATCH, Clock, Event, Reference, complete_calls
from tests.e2e.harness import Server
from tests.pgcluster import Cluster

psycopg = pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[test]'")

pytestmark = pytest.mark.e2e

BATCHES = 60
DOWN_AFTER = 10  # acknowledged batches before PostgreSQL stops
REFUSALS = 3  # 503s seen before PostgreSQL starts again
REQUEST_TIMEOUT_S = 30  # a request that takes longer is a hang


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


class Client(threading.Thread):
    """Posts the batches in order; a batch answered 503 is sent again."""

    def __init__(self, url: str, batches: list[list[Event]]) -> None:
        super().__init__(daemon=True)
        self.url, self.batches = url, batches
        self.accepted: set[str] = set()
        self.acknowledged = 0
        self.refused = 0
        self.failure: str | None = None
        self.changed = threading.Condition()

    def run(self) -> None:
        s = fleet.session()
        try:
            for batch in self.batches:
                while True:
                    response = s.post(
                        f"{self.url}{fleet.EVENTS}",
                        json={"events": batch},
                        timeout=REQUEST_TIMEOUT_S,
                    )
                    if response.status_code == 503:
                        assert response.json()["error"] == "ServiceUnavailable", response.text
                        assert int(response.headers["Retry-After"]) > 0
                        self._count(refused=1)
                        continue
                    assert response.status_code == 200, response.text
                    results = response.json()["results"]
                    # a batch committed just as the server went away is a duplicate
                    assert {r["status"] for r in results} <= {"accepted", "duplicate"}, results
                    self.accepted |= {r["id"] for r in results if r["status"] == "accepted"}
                    self._count(acknowledged=1)
                    break
        except Exception as exc:  # reported by the test
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            with self.changed:
                self.changed.notify_all()

    def _count(self, *, refused: int = 0, acknowledged: int = 0) -> None:
        with self.changed:
            self.refused += refused
            self.acknowledged += acknowledged
            self.changed.notify_all()

    def await_count(self, what: str, at_least: int) -> None:
        with self.changed:
            reached = self.changed.wait_for(
                lambda: getattr(self, what) >= at_least or not self.is_alive(), timeout=60
            )
        assert reached and self.failure is None, (what, self.failure)
        assert getattr(self, what) >= at_least, (what, getattr(self, what))


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_stopped_during_ingestion(cluster: Cluster, tmp_path: Path, mode: str) -> None:
    """PostgreSQL stopped during ingestion: 503s, then recovery, nothing acknowledged lost."""
    create_acme(cluster.url)
    server = Server(cluster.url, tmp_path, env=fleet.UNLIMITED)
    server.start()
    try:
        ref = Reference(server.url, 3)
        clock = Clock(10)
        client = Client(server.url, complete_calls(ref.agents, ref.numbers[0], clock, "b", BATCHES))
        client.start()
        client.await_count("acknowledged", DOWN_AFTER)

        cluster.stop(mode)
        client.await_count("refused", REFUSALS)
        ready = requests.get(f"{server.url}/readyz", timeout=REQUEST_TIMEOUT_S)
        assert ready.status_code == 503 and "retry-after" in ready.headers, ready.text
        assert ready.json()["status"] == "unavailable"
        assert requests.get(f"{server.url}/healthz", timeout=REQUEST_TIMEOUT_S).status_code == 200
        overview = f"{fleet.STATS}/account_overview?date={clock.day}"
        read = requests.get(f"{server.url}{overview}", auth=ADMIN, timeout=REQUEST_TIMEOUT_S)
        # from memory; or 503 if a failed append dropped the projection (it may hold
        # events the log does not), which is rebuilt when PostgreSQL is back
        assert read.status_code in (200, 503), read.text
        assert read.status_code == 200 or "retry-after" in read.headers
        acknowledged_while_down = client.acknowledged

        cluster.start()
        client.join(timeout=120)
        assert not client.is_alive() and client.failure is None, client.failure
        assert client.acknowledged == BATCHES
        fleet.wait_for(
            lambda: requests.get(f"{server.url}/readyz", timeout=10).status_code == 200,
            "/readyz to answer 200 again",
        )

        with psycopg.connect(cluster.url, autocommit=True) as conn:
            logged = {bytes(i).decode() for (i,) in conn.execute("SELECT event_id FROM events")}
        assert client.accepted <= logged, "an accepted event is missing from the log"
        sent = {e["id"] for batch in client.batches for e in batch}
        assert logged == sent
        read = requests.get(f"{server.url}{overview}", auth=ADMIN, timeout=REQUEST_TIMEOUT_S)
        assert read.json()["account_overview"]["total_calls"] == BATCHES * CALLS_PER_BATCH
        assert acknowledged_while_down >= DOWN_AFTER
        assert "Traceback" not in server.stderr(), server.stderr()[-3000:]
    finally:
        server.close()
