"""Keeping past days out of memory: sealing, reading back, unsealing (domain/sealing.py).

After each batch (and each chunk of a replay) the projection's days that can no longer
change are pickled into the store with their finished call ids, then dropped from
memory. A read with ``date=`` of a sealed day loads it back read-only (mounted); each
projection keeps at most ``sealed_days_cached`` mounted days, the least recently read
going first; a mounted day holds each phone number's waiting timeline only if a read
filtered on several numbers (merging them) needed it, else only their peaks. An event that falls on a sealed day unseals it (from the store) before it
is applied. Call ids of sealed days are looked up in the store, once per batch for all
of its events: a new call never reuses one.

Callers hold the account's guard (service/runtimes.py) or, for reads, its lock:
everything here touches one projection. Sealing and reading back write and read the
store inside it, once a day or once a read of a past day.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from datetime import date

from talkstats.config import Settings
from talkstats.domain import sealing
from talkstats.domain.events import Event
from talkstats.domain.projection import AccountProjection
from talkstats.gctune import release_free_memory
from talkstats.store.base import Account, Store, StoreError

log = logging.getLogger("talkstats")

CHECK_EVENTS = 1000  # events between two checks that found nothing to seal
# A day a late event unsealed stays live for this many more events of the account:
# a backfill of a past day in batches must not seal and unseal it at every batch.
UNSEAL_GRACE_EVENTS = 100_000


def _never(call_id: str) -> bool:
    return False


class Sealer:
    """Seals, mounts and unseals the past days of projections against one store."""

    def __init__(self, store: Store, settings: Settings, fmt: str) -> None:
        self.store = store
        self.enabled = settings.seal_past_days
        self.capacity = max(0, settings.sealed_days_cached)
        self.format = fmt  # pickles of another domain version are never read
        self._next_check: dict[int, tuple[int, int]] = {}  # account -> (event count, day)
        self._unsealed: dict[tuple[int, date], int] = {}  # (account, day) -> event count

    # --- sealing --------------------------------------------------------------------

    def seal_due(
        self, account: Account, p: AccountProjection, now: int, *, force: bool = False
    ) -> list[date]:
        """Seal the days that can be sealed at ``now``; the days sealed.

        A day a late event unsealed waits ``UNSEAL_GRACE_EVENTS`` more events of the
        account (unless ``force``). A failure to store is logged and the day stays in memory (tried again later).
        """
        if not self.enabled:
            return []
        today = p.calendar.day_of(now).toordinal()
        skip = self._next_check.get(account.id)
        if not force and skip is not None and p.event_count < skip[0] and today == skip[1]:
            return []
        days = [
            day
            for day in sealing.sealable_days(p, now)
            if force
            or p.event_count - self._unsealed.get((account.id, day), -UNSEAL_GRACE_EVENTS)
            >= UNSEAL_GRACE_EVENTS
        ]
        sealed: list[date] = []
        for day in days:
            found, call_ids = sealing.take(p, day)
            version = f"{self.format}:{p.event_count}"
            blob = pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                self.store.save_sealed_day(account.id, day.isoformat(), version, blob, call_ids)
            except StoreError as exc:
                log.warning("sealing %s of account %s failed: %s", day, account.subdomain, exc)
                break
            sealing.drop(p, day, version)
            self._unsealed.pop((account.id, day), None)
            sealed.append(day)
            log.info(
                "account %s: sealed %s (%s finished calls, %s bytes)",
                account.subdomain,
                day,
                f"{len(call_ids):,}",
                f"{len(blob):,}",
            )
        if sealed:
            release_free_memory()  # the day's objects are gone: so are their pages
        else:
            self._next_check[account.id] = (p.event_count + CHECK_EVENTS, today)
        return sealed

    # --- reading back ---------------------------------------------------------------

    def readable(
        self, account: Account, p: AccountProjection, day: date, *, timelines: bool = False
    ) -> None:
        """Make a sealed day readable (load it if it is not mounted); a no-op otherwise.

        ``timelines``: the read filters on several phone numbers, so it merges their
        waiting timelines; other reads need only each number's peak.
        """
        if day not in p.sealed:
            return
        if day in p.mounted and (p.mounted[day] or not timelines):
            sealing.touch(p, day)
            return
        sealing.mount(p, self._load(account, p, day), timelines=timelines)
        while len(p.mounted) > max(1, self.capacity):
            sealing.unmount(p, next(iter(p.mounted)))
        # the stored form was read whole (tens of MB for a large day) and mostly dropped
        release_free_memory()

    def unseal(self, account: Account, p: AccountProjection, day: date) -> None:
        """Make a sealed day live again (an event falls on it)."""
        sealing.unseal(p, self._load(account, p, day))
        self._unsealed[(account.id, day)] = p.event_count
        log.info("account %s: unsealed %s for a late event", account.subdomain, day)

    def _load(self, account: Account, p: AccountProjection, day: date) -> sealing.SealedDay:
        blob = self.store.load_sealed_day(account.id, day.isoformat(), p.sealed[day])
        if blob is None:
            raise StoreError(
                f"sealed day {day} of account {account.subdomain} is missing from the database"
            )
        found = pickle.loads(blob)
        assert isinstance(found, sealing.SealedDay)
        return found

    # --- call ids of sealed days ----------------------------------------------------

    def sealed_calls(
        self, account: Account, p: AccountProjection, events: Sequence[Event]
    ) -> set[str]:
        """Which call ids of a batch belong to sealed days: one store query, and no
        change to the projection (callable outside the account's guard)."""
        if not p.sealed:
            return set()
        calls, finished = p.calls, p.finished_calls
        ids = [
            e.call_id
            for e in events
            if e.call_id is not None and e.call_id not in calls and e.call_id not in finished
        ]
        return self.store.find_sealed_calls(account.id, ids) if ids else set()

    def use_sealed_calls(self, p: AccountProjection, found: set[str]) -> None:
        """Answer the batch's sealed call ids from what ``sealed_calls`` found."""
        p.sealed_call = found.__contains__ if p.sealed else _never

    def direct(self, account: Account, p: AccountProjection) -> None:
        """Answer sealed call ids with one store query each (outside batches)."""
        store = self.store

        def sealed_call(call_id: str) -> bool:
            return bool(store.find_sealed_calls(account.id, [call_id]))

        p.sealed_call = sealed_call if p.sealed else _never

    def replaying(self, p: AccountProjection) -> None:
        """Events from the log were checked when accepted: no lookups while replaying."""
        p.sealed_call = _never
