"""What the service answers for a batch, and the errors it raises to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field


class Unavailable(Exception):
    """The log could not be read or written; nothing the caller was not told is lost.

    The message is meant for the client (no paths, no driver text): every event of the
    batch that it does not call accepted must be sent again.
    """


class Loading(Exception):
    """An account's statistics are still being loaded (snapshot and log replay)."""

    def __init__(self, subdomain: str, events_left: int | None) -> None:
        self.subdomain = subdomain
        self.events_left = events_left
        left = "" if events_left is None else f" ({events_left:,} events left to replay)"
        super().__init__(f"account {subdomain!r} is still loading its statistics{left}")


@dataclass(slots=True)
class EventOutcome:
    """What happened to one event of a batch (not frozen: one is built per event)."""

    index: int
    id: str | None
    status: str  # "accepted" | "duplicate" | "rejected"
    error: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Every event's outcome, in order, and the counts.

    ``rejected_by_reason`` files the rejections under domain/reasons.py's classes.
    """

    results: list[EventOutcome]
    accepted: int
    duplicates: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
