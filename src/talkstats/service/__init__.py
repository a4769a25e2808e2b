"""The service: accounts, their projections, ingestion and authentication.

- ``talkstats.py``: ``Talkstats``, the one object the API and the CLI use;
- ``runtimes.py``: projections in memory (loading, following the log, snapshots);
- ``ingest.py``: a batch validated, appended and acknowledged, atomically per event;
- ``outcomes.py``: what ingestion answers, and the service's errors;
- ``telemetry.py``: the service's own health (batches, requests, store failures).
"""

from talkstats.service.outcomes import BatchOutcome, EventOutcome, Loading, Unavailable
from talkstats.service.runtimes import AGENT_ROLES, SNAPSHOT_FORMAT, LoadProgress, Snapshot
from talkstats.service.talkstats import Talkstats, check_new_account
from talkstats.service.telemetry import Telemetry

__all__ = [
    "AGENT_ROLES",
    "SNAPSHOT_FORMAT",
    "BatchOutcome",
    "EventOutcome",
    "LoadProgress",
    "Loading",
    "Snapshot",
    "Talkstats",
    "Telemetry",
    "Unavailable",
    "check_new_account",
]
