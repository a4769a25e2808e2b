"""A member's presence in Asterisk's queues, as a talkstats status.

Asterisk says where a member is (ADDMEMBER / REMOVEMEMBER per queue, AGENTLOGIN /
AGENTLOGOFF for agents) and whether it takes calls (PAUSE / UNPAUSE per queue,
PAUSEALL / UNPAUSEALL everywhere). talkstats wants one status per agent:

- ``offline`` while the member is in no queue (and, for agents that log in, not
  logged in);
- ``away`` (or the status the mapping file gives the pause reason) while it is
  paused everywhere it is a member;
- ``online`` otherwise: unpaused in at least one queue.

A member that takes part in a call in a queue it was never added to is a static
member of that queue (queues.conf ``member =>``): it counts as a member from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Presence"]


@dataclass(slots=True)
class Presence:
    """Queues (each paused with a reason, or not), an agent login, the last pause reason."""

    queues: dict[str, str | None] = field(default_factory=dict)
    all_paused: str | None = None
    uses_login: bool = False
    logged_in: bool = False
    reason: str = ""

    def added(self, queue: str, paused: bool) -> None:
        self.queues[queue] = "" if paused else None
        if paused:
            self.reason = ""
        else:
            self.all_paused = None

    def removed(self, queue: str) -> None:
        self.queues.pop(queue, None)

    def seen_in(self, queue: str) -> bool:
        """A call line in ``queue``: a static member is in it. True if that is news."""
        if queue and queue != "NONE" and queue not in self.queues:
            self.queues[queue] = self.all_paused
            return True
        return False

    def paused(self, queue: str | None, reason: str) -> None:
        self.reason = reason
        if queue is None:
            self.all_paused = reason
            for name in self.queues:
                self.queues[name] = reason
        else:
            self.queues[queue] = reason

    def unpaused(self, queue: str | None) -> None:
        self.all_paused = None
        if queue is None:
            for name in self.queues:
                self.queues[name] = None
        else:
            self.queues[queue] = None

    def login(self, logged_in: bool) -> None:
        self.uses_login = True
        self.logged_in = logged_in

    def status(self, pause_state: Any) -> str:
        """The talkstats status; ``pause_state(reason)`` maps a pause reason."""
        present = self.logged_in if self.uses_login else bool(self.queues)
        if not present:
            return "offline"
        if self.all_paused is not None:
            return str(pause_state(self.all_paused))
        if self.queues and all(v is not None for v in self.queues.values()):
            return str(pause_state(self.reason))
        return "online"

    def to_json(self) -> list[Any]:
        return [self.queues, self.all_paused, self.uses_login, self.logged_in, self.reason]

    @classmethod
    def from_json(cls, data: list[Any]) -> Presence:
        queues, all_paused, uses_login, logged_in, reason = data
        return cls(dict(queues), all_paused, bool(uses_login), bool(logged_in), str(reason))
