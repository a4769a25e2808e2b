"""Sending simulated events: into a `Talkstats` service in-process, or to a server over HTTP.

A `Driver` cuts events into batches, hands each batch to a sink and counts what came
back (accepted, duplicate, rejected). Every rejection is reported through the
``warn`` callback as it happens, with the event's id, type, time and the server's
reason: a simulator that emits an event the contract rejects is a bug, and nobody
should have to dig for it.

Sinks:

- `ServiceSink` ingests into a `Talkstats` (the embedded store). The service's clock
  is the caller's (the real clock in the CLI, a fake one in tests).
- `HttpSink` POSTs ``{"events": [...]}`` to ``/api/v2/channels/voice/events`` with
  Basic credentials (``email/token:TOKEN`` or ``email:password``). Re-sending a batch
  is safe (events already accepted come back as duplicates), so connection errors,
  429 and 503 are retried after a pause.

`create_reference_data` / `HttpAdmin.create_reference_data` create a scenario's
agents, groups, memberships and phone numbers, skipping those that already exist, and
say which were created and which were already there (`ReferenceTally`).

A run that goes wrong can reject every event it sends; the driver reports the first
``show_rejections`` (20) through ``warn`` and only counts the rest.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from talkstats.simulator.reference import ReferenceData

__all__ = [
    "BatchResult",
    "Driver",
    "DriverError",
    "HttpAdmin",
    "HttpSink",
    "ReferenceTally",
    "Rejection",
    "SendReport",
    "ServiceSink",
    "Sink",
    "basic_authorization",
    "close_open_calls",
    "create_reference_data",
]

Event = dict[str, Any]
Warn = Callable[[str], None]

DEFAULT_BATCH = 1_000
SHOWN_REJECTIONS = 20
EVENTS_PATH = "/api/v2/channels/voice/events"


class DriverError(Exception):
    """Sending could not go on (authentication, an unreachable server, a bad response)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected event and the server's reason."""

    event_id: str | None
    event_type: str | None
    time: str | None
    error: str

    def __str__(self) -> str:
        return f"REJECTED {self.event_type} {self.event_id!r} at {self.time}: {self.error}"


@dataclass(slots=True)
class BatchResult:
    """A batch's counts and its rejections (with the events they concern)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(slots=True)
class SendReport:
    """Running totals of a `Driver`; ``rejections`` holds the first ones only."""

    sent: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def unshown(self) -> int:
        """Rejections counted but not kept (nor reported) one by one."""
        return self.rejected - len(self.rejections)

    def summary(self) -> str:
        text = (
            f"sent {self.sent} events in {self.batches} batches: {self.accepted} accepted, "
            f"{self.duplicates} duplicates, {self.rejected} rejected"
        )
        if self.unshown:
            text += f" (the first {len(self.rejections)} shown)"
        return text


class Sink(Protocol):
    def send(self, events: Sequence[Event]) -> BatchResult: ...


def _rejection(event: Event | None, error: str | None, fallback_id: str | None) -> Rejection:
    event = event or {}
    return Rejection(
        event_id=str(event.get("id", fallback_id)),
        event_type=event.get("type"),
        time=event.get("time"),
        error=error or "rejected (no reason given)",
    )


class ServiceSink:
    """Ingest into a `Talkstats` service, in this process (the embedded store)."""

    def __init__(self, service: Any, account: Any) -> None:
        self.service = service
        self.account = account

    def send(self, events: Sequence[Event]) -> BatchResult:
        outcome = self.service.ingest(self.account, events)
        result = BatchResult(outcome.accepted, outcome.duplicates, outcome.rejected)
        for r in outcome.results:
            if r.status == "rejected":
                result.rejections.append(_rejection(events[r.index], r.error, r.id))
        return result


def basic_authorization(
    email: str, *, token: str | None = None, password: str | None = None
) -> str:
    """``Basic base64(email/token:TOKEN)`` or ``Basic base64(email:password)``."""
    if (token is None) == (password is None):
        raise ValueError("give exactly one of token and password")
    user = f"{email}/token:{token}" if token is not None else f"{email}:{password}"
    return "Basic " + base64.b64encode(user.encode()).decode()


class _Http:
    """A tiny JSON client on urllib (no extra dependency), with retries for 429/503."""

    def __init__(
        self,
        base_url: str,
        authorization: str,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        warn: Warn | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.authorization = authorization
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.warn = warn or (lambda _msg: None)

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body); raises DriverError when retries run out."""
        data = None if body is None else json.dumps(body).encode()
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Authorization", self.authorization)
            req.add_header("Accept", "application/json")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.status, _decode(resp.read())
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, _decode(exc.read())
                if status in (429, 503) and attempt < self.retries:
                    pause = _retry_after(exc.headers.get("Retry-After"), attempt)
                    self.warn(f"{method} {path}: HTTP {status}; retrying in {pause:g} s")
                    self.sleep(pause)
                    continue
                if status == 401:
                    raise DriverError(f"{url}: 401 authentication failed: {payload}") from None
                return status, payload
            except (urllib.error.URLError, OSError) as exc:
                if attempt < self.retries:
                    pause = _retry_after(None, attempt)
                    self.warn(f"{method} {path}: {exc}; retrying in {pause:g} s")
                    self.sleep(pause)
                    continue
                raise DriverError(f"{url}: {exc}") from None
        raise DriverError(f"{url}: gave up after {self.retries + 1} attempts")  # pragma: no cover


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")[:500]


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return max(1.0, float(header)) if header else float(min(2**attempt, 30))
    except ValueError:
        return float(min(2**attempt, 30))


class HttpSink:
    """POST batches to a running server's ingestion endpoint."""

    def __init__(self, http: _Http) -> None:
        self.http = http

    @classmethod
    def connect(cls, base_url: str, authorization: str, **kwargs: Any) -> HttpSink:
        return cls(_Http(base_url, authorization, **kwargs))

    def send(self, events: Sequence[Event]) -> BatchResult:
        status, body = self.http.request("POST", EVENTS_PATH, {"events": list(events)})
        if status != 200 or not isinstance(body, dict) or "results" not in body:
            raise DriverError(f"POST {EVENTS_PATH}: HTTP {status}: {body}")
        result = BatchResult(
            int(body.get("accepted", 0)),
            int(body.get("duplicates", 0)),
            int(body.get("rejected", 0)),
        )
        for r in body["results"]:
            if r.get("status") == "rejected":
                index = r.get("index")
                event = (
                    events[index] if isinstance(index, int) and 0 <= index < len(events) else None
                )
                result.rejections.append(_rejection(event, r.get("error"), r.get("id")))
        return result


class Driver:
    """Send events in batches through a sink; count outcomes; report rejections loudly."""

    def __init__(
        self,
        sink: Sink,
        *,
        batch_size: int = DEFAULT_BATCH,
        warn: Warn | None = None,
        show_rejections: int = SHOWN_REJECTIONS,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.sink = sink
        self.batch_size = batch_size
        self.warn = warn or (lambda _msg: None)
        self.show_rejections = show_rejections
        self.on_batch = on_batch
        self.report = SendReport()

    def probe(self, events: Sequence[Event]) -> BatchResult:
        """Send one batch without counting it: the caller looks at the result first.

        For a batch whose rejections may mean something else than a bug (a run that
        starts before the account's latest events); `record` counts it afterwards.
        """
        return self.sink.send(events)

    def record(self, batch: Sequence[Event], result: BatchResult) -> None:
        """Count a batch's outcome; report its rejections while fewer than the limit."""
        r = self.report
        r.sent += len(batch)
        r.batches += 1
        r.accepted += result.accepted
        r.duplicates += result.duplicates
        before = r.rejected
        r.rejected += result.rejected
        for n, rejection in enumerate(result.rejections, start=before + 1):
            if n <= self.show_rejections:
                r.rejections.append(rejection)
                self.warn(str(rejection))
            elif n == self.show_rejections + 1:
                self.warn(
                    f"more rejections: only the first {self.show_rejections} are shown, "
                    "the rest are counted"
                )
        if self.on_batch is not None:
            self.on_batch(len(batch))

    def send(self, events: Sequence[Event]) -> SendReport:
        """Send all of ``events`` (in order, in batches); returns the running report.

        The first ``show_rejections`` rejections go to ``warn`` as they happen; the
        next one is followed by a note that the rest are only counted.
        """
        for i in range(0, len(events), self.batch_size):
            batch = events[i : i + self.batch_size]
            self.record(batch, self.sink.send(batch))
        return self.report


# --- reference data --------------------------------------------------------------------

_KINDS = ("agents", "groups", "memberships", "phone_numbers")


def _zeros() -> dict[str, int]:
    return dict.fromkeys(_KINDS, 0)


def _plural(n: int, kind: str) -> str:
    word = kind.replace("_", " ")
    return f"{n} {word[:-1] if n == 1 else word}"


@dataclass(slots=True)
class ReferenceTally:
    """Reference records created, and those the account already had, by kind."""

    created: dict[str, int] = field(default_factory=_zeros)
    existing: dict[str, int] = field(default_factory=_zeros)

    def __str__(self) -> str:
        made = ", ".join(_plural(n, k) for k, n in self.created.items() if n) or "nothing"
        text = f"created {made}"
        there = ", ".join(_plural(n, k) for k, n in self.existing.items() if n)
        return f"{text}; already there: {there}" if there else text


def create_reference_data(
    service: Any, account: Any, ref: ReferenceData, *, note: Warn | None = None
) -> ReferenceTally:
    """Create the scenario's agents, groups, memberships and phone numbers in-store.

    Existing records with the scenario's ids are kept (a re-run creates nothing), and
    a group that exists gets the scenario's members it lacks. An
    id taken by an agent or admin with another email is used as is (admins are agents,
    so the erlang scenarios' agent 1 may be the account's admin); an id taken by an
    end user is an error, since events could not name it.
    """
    note = note or (lambda _msg: None)
    store = service.store
    tally = ReferenceTally()
    created, already = tally.created, tally.existing
    users = {u.id: u for u in store.list_users(account.id)}
    for agent in ref.agents:
        existing = users.get(agent.id)
        if existing is None:
            service.create_user(
                account, id=agent.id, name=agent.name, email=agent.email, role=agent.role
            )
            created["agents"] += 1
            continue
        already["agents"] += 1
        if existing.role == "end-user":
            raise DriverError(
                f"user id {agent.id} ({existing.email}) is an end user; the scenario needs an "
                "agent there (choose other ids with --set agents.first_id=N)"
            )
        elif existing.email.lower() != agent.email.lower():
            note(f"agent id {agent.id} exists as {existing.email} ({existing.role}); using it")
    groups = {g.id for g in store.list_groups(account.id)}
    members = {(m.group_id, m.user_id) for m in store.list_memberships(account.id)}
    for group in ref.groups:
        if group.id not in groups:
            service.create_group(account, id=group.id, name=group.name)
            created["groups"] += 1
        else:
            already["groups"] += 1
        for member in group.members:
            if (group.id, member) not in members:
                service.add_membership(account, group_id=group.id, user_id=member)
                created["memberships"] += 1
            else:
                already["memberships"] += 1
    numbers = {p.id for p in store.list_phone_numbers(account.id)}
    for number in ref.phone_numbers:
        if number.id not in numbers:
            service.create_phone_number(
                account, id=number.id, number=number.number, name=number.name
            )
            created["phone_numbers"] += 1
        else:
            already["phone_numbers"] += 1
    return tally


def _list_all(http: _Http, path: str, key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = path + ("&" if "?" in path else "?") + "per_page=100"
    while url:
        status, body = http.request("GET", url)
        if status != 200 or not isinstance(body, dict):
            raise DriverError(f"GET {url}: HTTP {status}: {body}")
        out.extend(body.get(key) or [])
        nxt = body.get("next_page")
        url = None
        if nxt:
            parts = urllib.parse.urlsplit(nxt)
            url = parts.path + ("?" + parts.query if parts.query else "")
    return out


class HttpAdmin:
    """Reference data through a running server's admin API (Zendesk-shaped bodies)."""

    def __init__(self, http: _Http) -> None:
        self.http = http

    @classmethod
    def connect(cls, base_url: str, authorization: str, **kwargs: Any) -> HttpAdmin:
        return cls(_Http(base_url, authorization, **kwargs))

    def _create(self, path: str, key: str, record: dict[str, Any]) -> dict[str, Any]:
        status, body = self.http.request("POST", path, {key: record})
        if (
            status not in (200, 201)
            or not isinstance(body, dict)
            or not isinstance(body.get(key), dict)
        ):
            raise DriverError(f"POST {path} {record}: HTTP {status}: {body}")
        made: dict[str, Any] = body[key]
        if "id" in record and made.get("id") != record["id"]:
            raise DriverError(
                f"POST {path}: the server assigned id {made.get('id')} where the scenario "
                f"needs {record['id']}; the admin API must accept explicit ids"
            )
        return made

    def create_reference_data(
        self, ref: ReferenceData, *, note: Warn | None = None
    ) -> ReferenceTally:
        """As `create_reference_data`, over HTTP: lists what exists, creates the rest."""
        note = note or (lambda _msg: None)
        tally = ReferenceTally()
        created, already = tally.created, tally.existing
        users = {u["id"]: u for u in _list_all(self.http, "/api/v2/users", "users")}
        for agent in ref.agents:
            existing = users.get(agent.id)
            if existing is None:
                self._create(
                    "/api/v2/users",
                    "user",
                    {"id": agent.id, "name": agent.name, "email": agent.email, "role": agent.role},
                )
                created["agents"] += 1
                continue
            already["agents"] += 1
            if existing.get("role") == "end-user":
                raise DriverError(f"user id {agent.id} is an end user; the scenario needs an agent")
            if str(existing.get("email", "")).lower() != agent.email.lower():
                note(f"agent id {agent.id} exists as {existing.get('email')}; using it")
        groups = {g["id"] for g in _list_all(self.http, "/api/v2/groups", "groups")}
        members = {
            (m["group_id"], m["user_id"])
            for m in _list_all(self.http, "/api/v2/group_memberships", "group_memberships")
        }
        for group in ref.groups:
            if group.id not in groups:
                self._create("/api/v2/groups", "group", {"id": group.id, "name": group.name})
                created["groups"] += 1
            else:
                already["groups"] += 1
            for member in group.members:
                if (group.id, member) in members:
                    already["memberships"] += 1
                    continue
                self._create(
                    "/api/v2/group_memberships",
                    "group_membership",
                    {"group_id": group.id, "user_id": member},
                )
                created["memberships"] += 1
        path = "/api/v2/channels/voice/phone_numbers"
        numbers = {p["id"] for p in _list_all(self.http, path, "phone_numbers")}
        for number in ref.phone_numbers:
            if number.id not in numbers:
                self._create(
                    path,
                    "phone_number",
                    {"id": number.id, "number": number.number, "name": number.name},
                )
                created["phone_numbers"] += 1
            else:
                already["phone_numbers"] += 1
        return tally


# --- tidying up after an unclean stop -------------------------------------------------------


def close_open_calls(projection: Any, at_ns: int, id_prefix: str) -> list[Event]:
    """Events that end every call still open in ``projection`` and every open wrap-up.

    A run that was killed (no `Simulator.finish`) leaves calls open and agents busy; a
    new run's offers to those agents would be rejected. Ending them at ``at_ns`` (which
    must not be before the account's latest event) lets a new run start cleanly.
    """
    from talkstats.domain.timeutil import format_instant

    when = format_instant(at_ns)
    out: list[Event] = []

    def emit(etype: str, **fields: Any) -> None:
        out.append({"id": f"{id_prefix}-{len(out) + 1}", "type": etype, "time": when, **fields})

    for call in sorted(projection.calls.values(), key=lambda c: c.started):
        in_wrap = set(call.wrap_ups)
        if not call.ended:
            emit("call.ended", call_id=call.id)
            if call.agent_id is not None:
                in_wrap.add(call.agent_id)
        for agent_id in sorted(in_wrap):
            emit("call.wrap_up_ended", call_id=call.id, agent_id=agent_id)
    return out
