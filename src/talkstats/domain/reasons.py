"""Why an event was rejected, in a small fixed set of classes (for monitoring).

A rejection's message names the event, the field and the rule in free text; counting
rejections by message would make an unbounded set of series. Ingestion files each
rejection under one of these classes instead:

- ``malformed``: not an event at all, or a field missing or of the wrong shape
  (decoding: ``parse_event``, a NDJSON line that is not JSON);
- ``id_conflict``: an id already used by an event with different content;
- ``unknown_reference``: an agent, phone number, group or call the account does not know;
- ``time``: the time rules (older than the last accepted event of its agent or call,
  too far ahead of the server clock);
- ``state``: any other rule of the state machine (a busy agent, a call that is not
  waiting, has ended, ...);
- ``internal_error``: the server failed on it (logged with a traceback).
"""

from __future__ import annotations

from .events import EventRejected

MALFORMED = "malformed"
ID_CONFLICT = "id_conflict"
UNKNOWN_REFERENCE = "unknown_reference"
TIME = "time"
STATE = "state"
INTERNAL_ERROR = "internal_error"
REJECTION_REASONS = (MALFORMED, ID_CONFLICT, UNKNOWN_REFERENCE, TIME, STATE, INTERNAL_ERROR)


def rule_broken(exc: EventRejected) -> str:
    """The class of a rejection raised by the projection's rules (``apply``)."""
    if exc.field == "time":
        return TIME
    if exc.reason.startswith("unknown "):
        return UNKNOWN_REFERENCE
    return STATE
