"""Per-account projections in memory: loading, following the log, snapshots.

A projection is loaded from the account's newest snapshot plus the log after it, and
only published once complete, so a reader never sees a half-built one. After that it
follows the log: `follow` folds what other processes appended and reloads reference
data that changed. Snapshots are taken in two steps (`take` under the caller's lock,
`save` without it) so that writing a large blob never holds up the account; a failed
save is logged and tried again later, with a growing pause.

Who may touch a projection: every change to a published projection happens inside
``guard(account_id)``. What a change must first read from the store is read outside
it where it can be (the log's next chunk, a batch's known ids); the store's work of
sealing, unsealing and long catch-ups happens inside. The API sets the guard to the
account's read lock (api/context.py), so a read waits for changes to be applied, not
for a batch's store reads or another process's batch; the CLI is one thread and needs
none (the default). Writers of one account take the store's write lock first and the
guard second, never the other way round. A `Runtimes` object never blocks one account
for another.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import orjson

import talkstats.domain as domain_package
from talkstats.config import Settings
from talkstats.domain.decoding import parse_batch
from talkstats.domain.directory import AgentInfo, Directory
from talkstats.domain.events import Event, EventRejected, parse_event
from talkstats.domain.projection import AccountProjection, DaySealed
from talkstats.store.base import Account, Store

from .sealer import Sealer

log = logging.getLogger("talkstats")

AGENT_ROLES = ("agent", "admin")
REPLAY_NOW = 2**62  # replayed events were checked against the clock when accepted
READ_CHUNK = 10_000
SNAPSHOT_RETRY_FIRST = 30.0  # seconds before a failed snapshot is tried again
SNAPSHOT_RETRY_MOST = 600.0
INTERNAL_ERROR = (
    "could not be processed because of an internal error (logged on the server); "
    "nothing of it was stored or counted"
)


def _domain_fingerprint() -> str:
    """A digest of the domain's source: snapshots of another version are not trusted.

    A snapshot is a pickle of domain objects; after any change to the domain code the
    projection is rebuilt from the log instead (the log is the truth).
    """
    digest = hashlib.sha256()
    for path in sorted(Path(domain_package.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SNAPSHOT_FORMAT = f"projection-{_domain_fingerprint()}"


def snapshot_version(account: Account) -> str:
    return f"{SNAPSHOT_FORMAT}:{account.timezone}"


def decode_batch(objs: Sequence[object]) -> list[Event | EventRejected]:
    """``parse_batch``, never raising: an unexpected failure costs one event, not a batch."""
    try:
        return parse_batch(objs)
    except Exception:
        log.exception("decoding a batch of %d events failed; decoding them one by one", len(objs))
        return [_decode_one(obj) for obj in objs]


def _decode_one(obj: object) -> Event | EventRejected:
    try:
        return parse_event(obj)
    except EventRejected as exc:
        return exc
    except Exception:
        raw = obj.get("id") if isinstance(obj, dict) else None
        event_id = raw if isinstance(raw, str) and 0 < len(raw) <= 200 else None
        log.exception("event %r could not be decoded", event_id)
        return EventRejected(event_id, None, INTERNAL_ERROR)


@dataclass(slots=True)
class Runtime:
    """One account's projection and where it stands in the log."""

    projection: AccountProjection
    seq: int = 0  # the last seq of the account's log folded into the projection
    reference: tuple[int, ...] = ()  # store.reference_version when the directory was built
    folded: int = 0  # events folded since this runtime was built
    snapshot_folded: int = 0  # `folded` when the newest saved snapshot was taken
    snapshot_retry_at: float = float("-inf")
    snapshot_backoff: float = SNAPSHOT_RETRY_FIRST
    # monotonic time of the newest snapshot saved by this process, or of the load
    # before any (/metrics: talkstats_snapshot_age_seconds)
    snapshot_at: float = 0.0
    load_seconds: float = 0.0  # how long building this runtime took


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A projection pickled at a log position, waiting to be saved."""

    seq: int
    blob: bytes
    folded: int


@dataclass(slots=True)
class LoadProgress:
    """An account whose projection is being built; ``events_left`` once counted."""

    subdomain: str
    events_left: int | None = None


Guard = Callable[[int], AbstractContextManager[object]]


def unguarded(account_id: int) -> AbstractContextManager[object]:
    """The guard of a single-threaded caller (the CLI, tests): nothing to exclude."""
    return nullcontext()


class Runtimes:
    """The loaded projections of every account, and the work of keeping them current."""

    def __init__(self, store: Store, settings: Settings, monotonic: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.monotonic = monotonic
        # Entered (from the thread doing the work) around every change to a published
        # projection; re-entrant for that thread. See the module's docstring.
        self.guard: Guard = unguarded
        self._loaded: dict[int, Runtime] = {}
        self._ever_loaded: set[int] = set()  # loaded once, even if dropped since
        self._loading: dict[int, LoadProgress] = {}
        self.sealer = Sealer(store, settings, SNAPSHOT_FORMAT)

    # --- which are loaded -----------------------------------------------------------

    def get(self, account_id: int) -> Runtime | None:
        return self._loaded.get(account_id)

    def ever_loaded(self, account_id: int) -> bool:
        """Whether the account was loaded before (a drop since then means a rebuild)."""
        return account_id in self._ever_loaded

    def loading(self) -> list[LoadProgress]:
        return list(self._loading.values())

    def progress(self, account_id: int) -> LoadProgress | None:
        return self._loading.get(account_id)

    def drop(self, account_id: int) -> None:
        """Forget a projection; the next use rebuilds it from the snapshot and the log."""
        self._loaded.pop(account_id, None)

    def install_empty(self, account: Account) -> Runtime:
        """A new account has an empty log: its projection is ready at once."""
        runtime = Runtime(AccountProjection(account.timezone, self.directory(account)))
        runtime.reference = self.store.reference_version(account.id)
        runtime.snapshot_at = self.monotonic()
        self._loaded[account.id] = runtime
        self._ever_loaded.add(account.id)
        return runtime

    # --- loading --------------------------------------------------------------------

    def load(self, account: Account) -> Runtime:
        """The account's runtime, built from its snapshot and log first if need be."""
        runtime = self._loaded.get(account.id)
        if runtime is not None:
            return runtime
        progress = self._loading.setdefault(account.id, LoadProgress(account.subdomain))
        began = self.monotonic()
        try:
            runtime = self._build(account, progress)
        finally:
            self._loading.pop(account.id, None)
        runtime.snapshot_at = self.monotonic()
        runtime.load_seconds = runtime.snapshot_at - began
        published = self._loaded.setdefault(account.id, runtime)
        self._ever_loaded.add(account.id)
        # Two builds may race (a writer rebuilding after a drop, the server's loader
        # for a read that found nothing loaded): the first published wins, since a
        # batch may already be folded into it; the other is dropped.
        return published

    def _build(self, account: Account, progress: LoadProgress) -> Runtime:
        reference = self.store.reference_version(account.id)
        directory = self.directory(account)
        runtime: Runtime | None = None
        snapshot = self.store.load_snapshot(account.id, snapshot_version(account))
        if snapshot is not None:
            seq, blob = snapshot
            try:
                projection = pickle.loads(blob)
                projection.directory = directory
                runtime = Runtime(projection, seq)
            except Exception:  # an unreadable snapshot is only a lost shortcut
                log.warning(
                    "snapshot of account %s unreadable; replaying its log", account.subdomain
                )
        if runtime is None:
            runtime = Runtime(AccountProjection(account.timezone, directory))
        runtime.reference = reference
        progress.events_left = self.store.count_events(account.id, runtime.seq)
        started = self.monotonic()
        self.catch_up(account, runtime, progress)
        log.info(
            "account %s loaded (%s events replayed in %.2f s)",
            account.subdomain,
            f"{runtime.folded:,}",
            self.monotonic() - started,
        )
        return runtime

    def directory(self, account: Account) -> Directory:
        """The account's reference data as the core validates against it."""
        directory = Directory()
        for user in self.store.list_users(account.id):
            if user.role in AGENT_ROLES:
                directory.add_agent(AgentInfo(user.id, user.name, user.avatar_url))
        for group in self.store.list_groups(account.id):
            directory.add_group(group.id)
        for membership in self.store.list_memberships(account.id):
            directory.add_member(membership.group_id, membership.user_id)
        for number in self.store.list_phone_numbers(account.id):
            directory.add_phone_number(number.id)
        return directory

    # --- following the log ----------------------------------------------------------

    def catch_up(
        self, account: Account, runtime: Runtime, progress: LoadProgress | None = None
    ) -> int:
        """Fold the log entries after the runtime's position; how many were folded.

        For a published runtime the first chunk is read from the store outside the
        guard, so the usual catch-up (a batch another process appended) never holds
        the reads for the database; if there is more than a chunk to fold, the next
        chunks are read inside it, so that no read sees part of a batch. Another
        thread of this process (ingestion catching up, say) may fold some of a chunk
        first: what it folded is skipped. A runtime dropped meanwhile (rebuilt from
        the log by a writer) is left alone.
        """
        read = 0
        projection = runtime.projection
        published = self._loaded.get(account.id) is runtime
        guard = self.guard if published else unguarded
        rows = self.store.read_events(account.id, runtime.seq, READ_CHUNK)
        with guard(account.id):
            while True:
                if published and self._loaded.get(account.id) is not runtime:
                    return read  # dropped: its replacement follows the log itself
                more = len(rows) == READ_CHUNK  # a whole chunk: the log may hold more
                if rows and rows[0][0] <= runtime.seq:  # folded meanwhile by another thread
                    rows = [row for row in rows if row[0] > runtime.seq]
                if rows:
                    self.sealer.replaying(projection)
                    self._replay(account, projection, rows)
                    # a long replay seals as it goes, so it never holds more than a few days
                    self.sealer.seal_due(account, projection, projection.latest_time)
                    runtime.seq = rows[-1][0]
                    runtime.folded += len(rows)
                    read += len(rows)
                    if progress is not None and progress.events_left is not None:
                        progress.events_left = max(0, progress.events_left - len(rows))
                self.sealer.direct(account, projection)
                if not more:
                    return read
                rows = self.store.read_events(account.id, runtime.seq, READ_CHUNK)

    def _replay(
        self, account: Account, projection: AccountProjection, rows: list[tuple[int, str]]
    ) -> None:
        apply = projection.apply
        objs: list[object] = []
        for seq, body in rows:
            try:
                objs.append(orjson.loads(body))
            except orjson.JSONDecodeError:
                log.error("log entry %s of account %s is not JSON", seq, account.subdomain)
                objs.append(None)
        for (seq, _), event in zip(rows, decode_batch(objs), strict=True):
            try:
                if isinstance(event, EventRejected):
                    raise event
                try:
                    apply(event, REPLAY_NOW)
                except DaySealed as sealed:
                    self.sealer.unseal(account, projection, sealed.day)
                    apply(event, REPLAY_NOW)
            except EventRejected as exc:
                log.error(
                    "log entry %s of account %s no longer applies: %s", seq, account.subdomain, exc
                )
            except Exception:
                log.exception("log entry %s of account %s failed to replay", seq, account.subdomain)

    def behind(self, account: Account, head: int | None = None) -> bool:
        """Whether the store holds events or reference data the projection lacks.

        ``head``: the account's log head if the caller read it already (log_heads).
        Store reads only: callable without the account's lock.
        """
        runtime = self._loaded.get(account.id)
        if runtime is None:
            return False
        if head is None:
            head = self.store.log_head(account.id)
        return head > runtime.seq or self.store.reference_version(account.id) != runtime.reference

    def lag(self, heads: dict[int, int]) -> dict[int, int]:
        """account id -> how many log entries its loaded projection has not folded yet,
        for the loaded accounts that lack any (``heads``: store.log_heads()).

        Seqs increase across all accounts, so the gap is counted, not subtracted; only
        accounts whose head moved past their position cost a (short) count.
        """
        behind: dict[int, int] = {}
        for account_id, head in heads.items():
            runtime = self._loaded.get(account_id)
            if runtime is not None and head > runtime.seq:
                seq = runtime.seq  # read once: a follower may move it meanwhile
                missing = self.store.count_events(account_id, seq)
                if missing:
                    behind[account_id] = missing
        return behind

    def follow(self, account: Account) -> bool:
        """Catch up with what other processes wrote; whether anything changed."""
        runtime = self._loaded.get(account.id)
        if runtime is None:
            return False
        changed = False
        reference = self.store.reference_version(account.id)
        if reference != runtime.reference:
            # built inside the guard: reference data created through this process
            # (which holds the same lock) cannot slip between the build and the swap
            with self.guard(account.id):
                if self._loaded.get(account.id) is runtime:
                    runtime.projection.directory = self.directory(account)
                    runtime.reference = reference
                    changed = True
        if self.store.log_head(account.id) > runtime.seq:
            changed = self.catch_up(account, runtime) > 0 or changed
        return changed

    # --- snapshots --------------------------------------------------------------------

    def snapshot_due(self, account_id: int) -> bool:
        runtime = self._loaded.get(account_id)
        return (
            runtime is not None
            and runtime.folded - runtime.snapshot_folded >= self.settings.snapshot_every_events
            and self.monotonic() >= runtime.snapshot_retry_at
        )

    def take_snapshot(self, account: Account) -> Snapshot | None:
        """Pickle the projection (the caller holds the account's lock); None if current."""
        runtime = self._loaded.get(account.id)
        if runtime is None or runtime.folded == runtime.snapshot_folded:
            return None
        blob = pickle.dumps(runtime.projection, protocol=pickle.HIGHEST_PROTOCOL)
        return Snapshot(runtime.seq, blob, runtime.folded)

    def save_snapshot(self, account: Account, snapshot: Snapshot) -> bool:
        """Store a taken snapshot; a failure is logged and retried later, never raised."""
        runtime = self._loaded.get(account.id)
        try:
            self.store.save_snapshot(
                account.id, snapshot.seq, snapshot_version(account), snapshot.blob
            )
        except Exception as exc:
            if runtime is not None:
                runtime.snapshot_retry_at = self.monotonic() + runtime.snapshot_backoff
                pause = runtime.snapshot_backoff
                runtime.snapshot_backoff = min(SNAPSHOT_RETRY_MOST, 2 * pause)
            else:
                pause = SNAPSHOT_RETRY_FIRST
            log.warning(
                "snapshot of account %s failed (%s); retrying in %.0f s",
                account.subdomain,
                exc,
                pause,
            )
            return False
        if runtime is not None:
            runtime.snapshot_folded = max(runtime.snapshot_folded, snapshot.folded)
            runtime.snapshot_at = self.monotonic()
            runtime.snapshot_backoff = SNAPSHOT_RETRY_FIRST
            runtime.snapshot_retry_at = float("-inf")
        return True
