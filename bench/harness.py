"""Building the service under test: a fixed clock, lifted rate limits, one account.

The service gets ``clock=lambda: dataset.clock_ns`` (the end of the simulated day), so
the day's events are "today" and every figure is reproducible.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from talkstats import gctune
from talkstats.config import Settings
from talkstats.service import Talkstats
from talkstats.simulator import Scenario, reference_data
from talkstats.simulator.driver import basic_authorization, create_reference_data
from talkstats.store.sqlite import SQLiteStore

from .data import ZONE

SUBDOMAIN = "bench"
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-password"
PLAN = "enterprise"  # every field, professional ones included


def settings(db: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{db}",
        rate_limit_talk=0,
        rate_limit_queue_activity=0,
        rate_limit_incremental_exports=0,
        log_level="warning",
    )


def open_service(db: Path, clock_ns: int) -> Talkstats:
    gctune.tune()  # as talkstats' composition root does for every command
    return Talkstats(
        SQLiteStore(db, create=True), settings(db), clock=lambda: clock_ns, monotonic=time.monotonic
    )


@dataclass(frozen=True)
class Prepared:
    db: Path
    authorization: str  # Basic email/token:TOKEN of the admin


def prepare(db: Path, scenario: Scenario, clock_ns: int) -> Prepared:
    """A fresh database with the account, the scenario's reference data and a token."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    service = open_service(db, clock_ns)
    try:
        account = service.create_account(
            SUBDOMAIN, ZONE, PLAN, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        )
        create_reference_data(service, account, reference_data(scenario))
        admin = service.store.find_user_by_email(account.id, ADMIN_EMAIL)
        assert admin is not None
        _, token = service.create_api_token(account, user_id=admin.id, description="bench")
    finally:
        service.close()
    return Prepared(db, basic_authorization(ADMIN_EMAIL, token=token))


@dataclass
class IngestResult:
    events: int
    seconds: float  # time inside Talkstats.ingest only (JSON decoding of the input excluded)
    rejected: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def ingest_in_process(
    db: Path,
    clock_ns: int,
    batches: object,
    *,
    close: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> IngestResult:
    """Feed decoded batches through ``Talkstats.ingest`` (durable: one fsync per batch)."""
    service = open_service(db, clock_ns)
    account = service.account(SUBDOMAIN)
    assert account is not None
    service.projection(account)  # load before timing
    total = rejected = duplicates = 0
    spent = 0.0
    perf = time.perf_counter
    first_error = None
    for lines in batches:  # type: ignore[attr-defined]
        objs = [orjson.loads(line) for line in lines]
        t0 = perf()
        outcome = service.ingest(account, objs)
        spent += perf() - t0
        total += len(objs)
        rejected += outcome.rejected
        duplicates += outcome.duplicates
        if outcome.rejected and first_error is None:
            first_error = next(r for r in outcome.results if r.status == "rejected").error
            print(f"  !! rejected: {first_error}")
        if on_batch is not None:
            on_batch(total)
    if close:
        service.close()
    else:
        service.store.close()  # as after a crash: no final snapshot
    return IngestResult(total, spent, rejected, duplicates)


def drop_snapshots(db: Path) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM snapshots")
    conn.close()
