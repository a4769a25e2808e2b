"""Sources without a server: the file tail across rotations and restarts, records from
table rows, and the mapping file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from talkstats.connectors.asterisk.filetail import FileTail
from talkstats.connectors.asterisk.lines import MalformedLine, line_from_row, parse_line
from talkstats.connectors.asterisk.mapping import (
    KnownReference,
    Mapping,
    MappingError,
    Resolver,
    member_number,
)
from talkstats.connectors.asterisk.table import parse_table_url

NS = 1_000_000_000


@pytest.fixture(autouse=True)
def close_tails(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every FileTail a test opens is closed at its end (warnings are errors)."""
    opened: list[FileTail] = []
    init = FileTail.__init__

    def tracked(self: FileTail, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(FileTail, "__init__", tracked)
    yield
    for tail in opened:
        tail.close()


def append(path: Path, *lines: str, end: str = "\n") -> None:
    with path.open("a") as f:
        f.write("\n".join(lines) + end)


# --- the file tail ------------------------------------------------------------------------


def test_complete_lines_only_and_nothing_twice(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    append(log, "1|a|q|NONE|X", "2|b|q|NONE|Y", end="\n3|c|q|N")
    tail = FileTail(log)
    assert tail.read() == ["1|a|q|NONE|X", "2|b|q|NONE|Y"]
    assert tail.read() == []
    append(log, "ONE|Z")
    assert tail.read() == ["3|c|q|NONE|Z"]


def test_rename_rotation_finishes_the_old_file_first(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    append(log, "1|a|q|NONE|X")
    tail = FileTail(log)
    assert tail.read() == ["1|a|q|NONE|X"]
    os.rename(log, tmp_path / "queue_log.1")
    append(tmp_path / "queue_log.1", "2|a|q|NONE|late")  # written before Asterisk reopened
    log.touch()  # logrotate's "create": empty until Asterisk reopens its log
    assert tail.read() == ["2|a|q|NONE|late"]
    assert tail.read() == []
    append(log, "3|a|q|NONE|new")
    assert tail.read() == ["3|a|q|NONE|new"]


def test_copy_truncate_reads_the_rest_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    append(log, "1|a|q|NONE|X")
    tail = FileTail(log)
    assert tail.read() == ["1|a|q|NONE|X"]
    append(log, "2|a|q|NONE|unread")
    shutil.copyfile(log, tmp_path / "queue_log-20261201")
    with log.open("r+") as f:
        f.truncate(0)
    append(log, "3|a|q|NONE|after")
    assert tail.read() == ["2|a|q|NONE|unread", "3|a|q|NONE|after"]


@pytest.mark.parametrize("rotation", ["none", "rename", "copytruncate"])
def test_a_restart_goes_on_from_the_saved_position(tmp_path: Path, rotation: str) -> None:
    log = tmp_path / "queue_log"
    append(log, "1|a|q|NONE|X")
    first = FileTail(log)
    assert first.read() == ["1|a|q|NONE|X"]
    position = first.position()
    first.close()
    append(log, "2|a|q|NONE|while-stopped")
    if rotation == "rename":
        os.rename(log, tmp_path / "queue_log.1")
        append(log, "3|a|q|NONE|new-file")
    elif rotation == "copytruncate":
        shutil.copyfile(log, tmp_path / "queue_log.1")
        with log.open("r+") as f:
            f.truncate(0)
        append(log, "3|a|q|NONE|new-file")
    again = FileTail(log, position)
    expected = ["2|a|q|NONE|while-stopped"] + (
        ["3|a|q|NONE|new-file"] if rotation != "none" else []
    )
    assert again.read() == expected


def test_a_lost_file_is_said_and_reading_starts_over(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    append(log, "1|a|q|NONE|X")
    first = FileTail(log)
    first.read()
    position = first.position()
    log.unlink()
    append(log, "9|z|q|NONE|fresh")
    said: list[str] = []
    assert FileTail(log, position, warn=said.append).read() == ["9|z|q|NONE|fresh"]
    assert "may be lost" in said[0]


# --- records --------------------------------------------------------------------------------


def test_file_lines() -> None:
    line = parse_line("1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000\n")
    assert (line.time, line.callid, line.queue, line.agent) == (
        1366720340 * NS, "1366720340.303267", "MYQUEUE", "SIP/8007",
    )  # fmt: skip
    assert (line.event, line.data, line.field(3)) == ("RINGNOANSWER", ("1000",), "")
    assert parse_line("1.5|a|q|NONE|X").time == 1_500_000_000
    for bad in ("1|a|q|NONE", "x|a|q|NONE|X", "1|a|q|NONE|"):
        with pytest.raises(MalformedLine):
            parse_line(bad)


@pytest.mark.parametrize(
    "stamp",
    [
        "Infinity",
        "NaN",
        "1e30",
        "--5",
        "\u00b2",
        "1.",
        ".5",
        "99999999999999999999",
        "253402300800",
    ],
)
def test_a_time_that_is_no_instant_is_a_malformed_line_not_a_crash(stamp: str) -> None:
    with pytest.raises(MalformedLine, match="time"):
        parse_line(f"{stamp}|a|q|NONE|ENTERQUEUE||+1|1")
    with pytest.raises(MalformedLine, match="time"):
        line_from_row(1, stamp, "a", "q", "NONE", "ENTERQUEUE", ())


def test_the_last_second_of_year_9999_is_still_a_time() -> None:
    assert parse_line("253402300799|a|q|NONE|X").time == 253402300799 * NS
    for value in (float("inf"), float("nan"), 1e30):
        with pytest.raises(MalformedLine):
            line_from_row(1, value, "a", "q", "NONE", "X", ())


def test_table_rows_in_every_schema() -> None:
    paris = ZoneInfo("Europe/Paris")
    naive = datetime(2026, 3, 10, 10, 0, 5, 250000)
    row = line_from_row(7, naive, "c1", "q", "NONE", "ENTERQUEUE", ("", "+49", "1", "", ""), paris)
    assert row.time == int(datetime(2026, 3, 10, 9, 0, 5).timestamp()) * NS + 250_000_000
    assert (row.data, row.key) == (("", "+49", "1"), "queue_log.7")
    # data5 keeps the rest of a longer record; the old single data column splits the same way
    link = ("LINK", "Local/1@x;1", "Local/1@x;2", "20", "60|1")
    assert line_from_row(8, naive, "c", "q", "m", "ATTENDEDTRANSFER", link, paris).data == (
        "LINK", "Local/1@x;1", "Local/1@x;2", "20", "60", "1",
    )  # fmt: skip
    single = line_from_row(9, "2026-03-10 10:00:05.25", "c", "q", "m", "X", ("a|b",), paris)
    assert single.data == ("a", "b") and single.time == row.time
    aware = datetime(2026, 3, 10, 9, 0, 5, 250000, tzinfo=ZoneInfo("UTC"))
    assert line_from_row(10, aware, "c", "q", "m", "X", (), paris).time == row.time


def test_table_urls() -> None:
    url = parse_table_url("mysql://ast:s%40cret@db:3307/asterisk?table=qlog")
    assert (url.kind, url.host, url.port, url.user, url.password, url.database, url.table) == (
        "mysql", "db", 3307, "ast", "s@cret", "asterisk", "qlog",
    )  # fmt: skip
    assert "s@cret" not in url.safe()
    assert parse_table_url("postgresql://u@h/asterisk").table == "queue_log"
    for bad in ("mysql://h/asterisk?table=x;drop", "postgresql://h", "ftp://h/db"):
        with pytest.raises(ValueError):
            parse_table_url(bad)


# --- who is who -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "number"),
    [
        ("PJSIP/400", 400), ("SIP/1001", 1001), ("Local/2004@from-internal/n", 2004),
        ("Agent/1001", 1001), ("1001", 1001), ("IAX2/200-3", 200),
        ("PJSIP/ann", None), ("Ann Lee", None), ("0", None), ("Agent 007", None),
        ("SIP/99999999999999999999999", None), ("\u00b2", None), ("SIP/\u00b2", None),
        ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None),
    ],
)  # fmt: skip
def test_member_numbers(member: str, number: int | None) -> None:
    assert member_number(member) == number


def test_ids_for_members_without_a_number_and_numbers_taken() -> None:

    known = KnownReference(users={1: ("Admin", "admin"), 400: ("Someone", "end-user")})
    resolver = Resolver(Mapping(), known)
    assert resolver.agent("PJSIP/ann") == 401  # the next free id
    assert resolver.agent("PJSIP/400") == 402  # 400 is an end user's
    assert resolver.agent("PJSIP/401") == 403  # 401 was given to PJSIP/ann
    new = resolver.take_new()
    assert [a[0] for a in new.agents] == [401, 402, 403]


def test_names_of_new_records_carry_no_control_characters() -> None:
    resolver = Resolver(Mapping(), KnownReference())
    resolver.group("sa\x00les\t")
    resolver.agent("PJSIP/\x00ann")
    new = resolver.take_new()
    assert [name for _, name in new.groups] == ["sales"]
    assert [name for _, name in new.agents] == ["PJSIP/ann"]


def test_mapping_file_errors_name_the_key() -> None:
    with pytest.raises(MappingError, match="members.'x'"):
        Mapping.from_dict({"members": {"x": 0}})
    with pytest.raises(MappingError, match="pause_reasons.'Lunch'"):
        Mapping.from_dict({"pause_reasons": {"Lunch": "asleep"}})
    with pytest.raises(MappingError, match="unknown section"):
        Mapping.from_dict({"agents": {}})
    with pytest.raises(MappingError, match="not valid TOML"):
        Mapping.from_toml("[members")
