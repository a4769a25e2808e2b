"""`talkstats ingest`: stable time sort across offsets, batches, duplicates, rejections, stdin."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from talkstats.domain import stats
from tests.cli.conftest import Run

DAY = date(2026, 3, 10)


def ndjson(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def state(eid: str, time: str, value: str, agent: int = 7) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "agent.state_changed",
        "time": time,
        "agent_id": agent,
        "state": value,
    }


def answered_call(prefix: str, start: str, answer: str, end: str) -> list[dict[str, Any]]:
    """An inbound call on number 3 answered by agent 7 after queueing; wrap-up at the end."""
    call = f"{prefix}-call"
    return [
        {
            "id": f"{prefix}-1",
            "type": "call.started",
            "time": start,
            "call_id": call,
            "direction": "inbound",
            "phone_number_id": 3,
        },
        {"id": f"{prefix}-2", "type": "call.queued", "time": start, "call_id": call, "group_id": 5},
        {
            "id": f"{prefix}-3",
            "type": "call.answered",
            "time": answer,
            "call_id": call,
            "agent_id": 7,
        },
        {"id": f"{prefix}-4", "type": "call.ended", "time": end, "call_id": call},
        {
            "id": f"{prefix}-5",
            "type": "call.wrap_up_ended",
            "time": end,
            "call_id": call,
            "agent_id": 7,
        },
    ]


def overview(open_service) -> dict[str, Any]:
    with open_service() as service:
        account = service.account("acme")
        p = service.projection(account)
        return stats.account_overview(p, service.now(account), plan=account.plan, date=DAY)


def agent_state(open_service, agent: int = 7) -> str:
    with open_service() as service:
        account = service.account("acme")
        return str(stats.availability(service.projection(account), agent)["agent_state"])


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "events.ndjson"
    path.write_text(text)
    return str(path)


def test_sorts_by_instant_not_by_string(run: Run, acme: str, tmp_path: Path, open_service) -> None:
    # In the file: away at 08:30Z, then online at 10:00+02:00 (= 08:00Z). As strings
    # "08:30Z" < "10:00+02:00", so a string sort (or no sort) applies "away" first and
    # then rejects "online" as out of order for agent 7.
    text = ndjson(
        state("s2", "2026-03-10T08:30:00Z", "away"),
        state("s1", "2026-03-10T10:00:00+02:00", "online"),
    )
    result = run("ingest", write(tmp_path, text), "--account", "acme")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "accepted 2, duplicate 0, rejected 0"
    assert agent_state(open_service) == "away"


def test_sort_is_stable_for_equal_instants(
    run: Run, acme: str, tmp_path: Path, open_service
) -> None:
    # call.started and call.queued share an instant written in two offsets; the later
    # call (in time) comes first in the file. Equal instants must keep file order.
    late = answered_call(
        "b", "2026-03-10T10:00:00Z", "2026-03-10T10:00:30Z", "2026-03-10T10:02:00Z"
    )
    early = answered_call(
        "a", "2026-03-10T09:00:00Z", "2026-03-10T09:00:20Z", "2026-03-10T09:05:00Z"
    )
    early[1]["time"] = "2026-03-10T10:00:00+01:00"  # same instant as early[0]
    late[1]["time"] = "2026-03-10T05:00:00-05:00"  # same instant as late[0]
    lines = [state("s1", "2026-03-10T08:00:00Z", "online"), *late, *early]
    result = run("ingest", write(tmp_path, ndjson(*lines)), "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "accepted 11, duplicate 0, rejected 0"
    numbers = overview(open_service)
    assert numbers["total_calls"] == 2
    assert numbers["total_inbound_calls"] == 2
    assert numbers["average_queue_wait_time"] == 25  # (20 + 30) / 2
    assert numbers["total_call_duration"] == 300 + 120


def test_rerun_counts_duplicates_and_changes_nothing(
    run: Run, acme: str, tmp_path: Path, open_service
) -> None:
    events = [
        state("s1", "2026-03-10T08:00:00Z", "online"),
        *answered_call("a", "2026-03-10T09:00:00Z", "2026-03-10T09:00:20Z", "2026-03-10T09:05:00Z"),
    ]
    path = write(tmp_path, ndjson(*events))
    assert run("ingest", path).exit_code == 0
    before = overview(open_service)
    again = run("ingest", path, "--batch-size", "2")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "accepted 0, duplicate 6, rejected 0"
    assert overview(open_service) == before


def test_duplicate_lines_within_one_file(run: Run, acme: str, tmp_path: Path) -> None:
    event = state("s1", "2026-03-10T08:00:00Z", "online")
    for batch_size in ("1000", "1"):  # same batch, then across batches
        path = write(tmp_path, ndjson(event, event))
        result = run("ingest", path, "--batch-size", batch_size)
        assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "accepted 0, duplicate 2, rejected 0"


def test_rejections_are_reported_with_line_and_reason(
    run: Run, acme: str, tmp_path: Path, open_service
) -> None:
    text = (
        json.dumps(state("s1", "2026-03-10T08:00:00Z", "online")) + "\n"  # line 1: ok
        "{not json\n"  # line 2
        "\n"  # line 3: blank, skipped
        "[1, 2]\n"  # line 4: JSON but not an object
        + json.dumps(state("s2", "2026-03-10T08:10:00Z", "online", agent=99))
        + "\n"  # 5
        + json.dumps(state("s1", "2026-03-10T08:00:00Z", "away"))
        + "\n"  # 6: id reused
        + json.dumps({"id": "s3", "type": "agent.danced", "time": "2026-03-10T08:20:00Z"})
        + "\n"  # line 7
        + json.dumps(state("s4", "2026-03-10T08:30:00Z", "away"))
        + "\n"  # line 8: ok
        + json.dumps({"id": "s5", "type": "agent.state_changed", "time": "yesterday"})
        + "\n"  # line 9: unreadable time
    )
    result = run("ingest", write(tmp_path, text))
    assert result.exit_code == 2, result.output
    assert result.stdout.strip() == "accepted 2, duplicate 0, rejected 6"
    errors = result.stderr.strip().splitlines()
    assert [e.split(":", 1)[0] for e in errors] == [
        "line 2",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 9",
    ]
    assert "not valid JSON" in errors[0]
    assert "not a JSON object" in errors[1]
    assert "'s2'" in errors[2] and "agent_id" in errors[2]
    assert "'s1'" in errors[3] and "different content" in errors[3]
    assert "'s3'" in errors[4] and "agent.danced" in errors[4]
    assert "'s5'" in errors[5] and "time" in errors[5]
    assert "Traceback" not in result.output
    assert agent_state(open_service) == "away"  # the accepted ones are stored


def test_out_of_order_and_future_events_are_rejected(run: Run, acme: str, tmp_path: Path) -> None:
    text = ndjson(
        state("s1", "2026-03-10T08:00:00Z", "online"),
        state("s2", "2999-01-01T00:00:00Z", "away"),
    )
    result = run("ingest", write(tmp_path, text))
    assert result.exit_code == 2
    assert result.stdout.strip() == "accepted 1, duplicate 0, rejected 1"
    assert result.stderr.startswith("line 2: event 's2'")


def test_reads_stdin(run: Run, acme: str, open_service) -> None:
    text = ndjson(
        state("s2", "2026-03-10T08:30:00Z", "away"), state("s1", "2026-03-10T08:00:00Z", "online")
    )
    result = run("ingest", "-", "--account", "acme", input=text)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "accepted 2, duplicate 0, rejected 0"
    assert agent_state(open_service) == "away"


def test_empty_input(run: Run, acme: str) -> None:
    result = run("ingest", "-", input="\n\n")
    assert result.exit_code == 0
    assert result.stdout.strip() == "accepted 0, duplicate 0, rejected 0"


def test_no_progress_bar_off_a_terminal(run: Run, acme: str, tmp_path: Path) -> None:
    text = ndjson(state("s1", "2026-03-10T08:00:00Z", "online"))
    result = run("ingest", write(tmp_path, text))
    assert "ingesting" not in result.output


def test_only_the_first_20_rejections_are_printed(run: Run, acme: str, tmp_path: Path) -> None:
    text = "".join(f"not json {n}\n" for n in range(1, 36))
    result = run("ingest", write(tmp_path, text))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("line 1: not valid JSON") and lines[19].startswith("line 20:")
    assert lines[20:] == ["... and 15 more rejected lines (only the first 20 are shown)"]
    assert result.stdout.strip() == "accepted 0, duplicate 0, rejected 35"


def test_ingest_errors(run: Run, acme: str, tmp_path: Path) -> None:
    path = write(tmp_path, ndjson(state("s1", "2026-03-10T08:00:00Z", "online")))
    unknown = run("ingest", path, "--account", "globex")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "Error: no account with subdomain 'globex'"
    missing = run("ingest", str(tmp_path / "nope.ndjson"))
    assert missing.exit_code == 2  # click's usage error: the file does not exist
    zero = run("ingest", path, "--batch-size", "0")
    assert zero.exit_code == 2


def test_snapshot_written_at_the_end(run: Run, acme: str, tmp_path: Path, database: str) -> None:
    from talkstats.service import SNAPSHOT_FORMAT
    from talkstats.store import open_store

    run("ingest", write(tmp_path, ndjson(state("s1", "2026-03-10T08:00:00Z", "online"))))
    store = open_store(database, create=True)
    try:
        account = store.get_account("acme")
        assert account is not None
        snapshot = store.load_snapshot(account.id, f"{SNAPSHOT_FORMAT}:{account.timezone}")
        assert snapshot is not None and snapshot[0] == store.log_head(account.id)
    finally:
        store.close()
