"""`talkstats export calls|legs`: days, formats, output file, progress lines, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from talkstats.domain.records import CALL_FIELDS, LEG_FIELDS
from tests.cli.conftest import Run
from tests.cli.test_ingest import answered_call, ndjson


def seed(run: Run, tmp_path: Path) -> None:
    events = [
        *answered_call("a", "2026-03-09T23:58:00+01:00", "2026-03-09T23:58:30+01:00",
                       "2026-03-10T00:03:00+01:00"),
        *answered_call("b", "2026-03-10T09:00:00+01:00", "2026-03-10T09:00:10+01:00",
                       "2026-03-10T09:05:10+01:00"),
        *answered_call("c", "2026-03-11T09:00:00+01:00", "2026-03-11T09:00:10+01:00",
                       "2026-03-11T09:01:10+01:00"),
    ]  # fmt: skip
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(*events))
    result = run("ingest", str(path), "--account", "acme")
    assert result.exit_code == 0, result.output


def test_csv_of_one_day(run: Run, acme: str, tmp_path: Path) -> None:
    seed(run, tmp_path)
    result = run("export", "calls", "--from", "2026-03-10", "--to", "2026-03-10")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CALL_FIELDS
    assert len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["external_id"] == "b-call" and record["duration"] == "310"
    assert record["call_charge"] == "" and record["voicemail"] == "false"
    assert record["quality_issues"] == "[]" and record["id"] == "2"
    assert "exported 1 of 1 calls" in result.stderr


def test_ndjson_legs_to_a_file(run: Run, acme: str, tmp_path: Path) -> None:
    seed(run, tmp_path)
    out = tmp_path / "legs.ndjson"
    result = run(
        "export", "legs", "--from", "2026-03-09", "--to", "2026-03-11",
        "--format", "ndjson", "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    legs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [leg["call_id"] for leg in legs] == [1, 2, 3]  # by day, then id
    assert all(tuple(leg) == LEG_FIELDS for leg in legs)
    assert legs[0]["talk_time"] == 270  # the call across midnight belongs to the 9th
    assert result.stdout == ""


def test_a_day_without_calls_and_bad_ranges(run: Run, acme: str, tmp_path: Path) -> None:
    seed(run, tmp_path)
    result = run("export", "calls", "--from", "2026-04-01", "--to", "2026-04-02")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [",".join(CALL_FIELDS)]
    bad = run("export", "calls", "--from", "2026-03-10", "--to", "2026-03-09")
    assert bad.exit_code == 2 and "--to is before --from" in bad.output
    bad = run("export", "calls", "--from", "10/03/2026", "--to", "2026-03-09")
    assert bad.exit_code == 2 and "is not a date" in bad.output
    bad = run("export", "calls", "--from", "2026-03-10", "--to", "2026-03-10", "--account", "x")
    assert bad.exit_code == 1 and "no account" in bad.output
