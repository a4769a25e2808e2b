"""GET .../stats/timeline over HTTP: numbers, filters, date, interval, conventions, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Env
from .test_stats import STATS, story

TIMELINE = f"{STATS}/timeline"
FIELDS = {
    "start",
    "calls",
    "offered",
    "answered",
    "abandoned",
    "max_calls_waiting",
    "calls_waiting",
}


def rows(body: dict[str, Any], since: str) -> list[tuple[Any, ...]]:
    return [
        (
            r["start"][11:16],
            r["calls"],
            r["offered"],
            r["answered"],
            r["abandoned"],
            r["max_calls_waiting"],
            r["calls_waiting"],
        )
        for r in body["timeline"]["intervals"]
        if r["start"][11:16] >= since
    ]


def test_the_story_in_quarter_hours(env: Env) -> None:
    story(env)
    r = env.get(TIMELINE)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    t = body["timeline"]
    assert (t["date"], t["interval"], t["timezone"]) == ("2026-11-26", 900, "Europe/Paris")
    assert len(t["intervals"]) == 40  # 00:00 .. 09:45, now is 10:00
    assert all(set(i) == FIELDS for i in t["intervals"])
    assert t["intervals"][36]["start"] == "2026-11-26T09:00:00+01:00"
    assert rows(body, "09:00") == [
        ("09:00", 1, 1, 1, 0, 1, 0),  # c1 answered after 20 s in queue
        ("09:15", 1, 1, 0, 1, 1, 0),  # c2 abandoned
        ("09:30", 2, 1, 0, 0, 0, 0),  # c3 outbound, c4 voicemail
        ("09:45", 1, 1, 0, 0, 1, 1),  # c5 still waiting
    ]
    assert t["totals"] == {
        "calls": 5,
        "offered": 4,
        "answered": 1,
        "abandoned": 1,
        "max_calls_waiting": 1,
    }


def test_filters_and_intervals(env: Env) -> None:
    story(env)
    ten = env.get(f"{TIMELINE}?phone_number_ids=10").json()
    assert rows(ten, "09:00") == [
        ("09:00", 1, 1, 1, 0, 1, 0),
        ("09:15", 0, 0, 0, 0, 0, 0),
        ("09:30", 2, 1, 0, 0, 0, 0),
        ("09:45", 0, 0, 0, 0, 0, 0),
    ]
    both = env.get(TIMELINE, params={"phone_number_ids": "[10,20]"}).json()
    assert both == env.get(TIMELINE).json()
    hourly = env.get(f"{TIMELINE}.json?interval=60m").json()["timeline"]
    assert hourly["interval"] == 3600 and len(hourly["intervals"]) == 10
    assert hourly == env.get(f"{TIMELINE}?interval=1h").json()["timeline"]
    five = env.get(f"{TIMELINE}?interval=5m").json()["timeline"]
    assert len(five["intervals"]) == 120 and five["totals"] == hourly["totals"]


def test_a_past_day(env: Env) -> None:
    story(env)
    env.clock.set("10:00:00", day="2026-11-27")
    past = env.get(f"{TIMELINE}?date=2026-11-26").json()["timeline"]
    assert len(past["intervals"]) == 96 and past["totals"]["calls"] == 5
    today = env.get(f"{TIMELINE}?date=2026-11-27").json()["timeline"]
    assert len(today["intervals"]) == 40 and today["totals"]["calls"] == 0


@pytest.mark.parametrize(
    ("query", "error", "word"),
    [
        ("interval=7m", "InvalidValue", "interval"),
        ("interval=15", "InvalidValue", "interval"),
        ("interval=quarter", "InvalidValue", "interval"),
        ("date=2026-11-27", "InvalidValue", "date"),
        ("date=yesterday", "InvalidValue", "date"),
        ("phone_number_ids=abc", "InvalidValue", "phone_number_ids"),
        ("phone_number_ids=" + ",".join(map(str, range(1, 102))), "TooManyValues", "100"),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(
    env: Env, query: str, error: str, word: str
) -> None:
    r = env.get(f"{TIMELINE}?{query}")
    assert r.status_code == 400 and r.json()["error"] == error
    assert word in r.json()["description"]
    assert "x-rate-limit" in r.headers


def test_who_may_read_it(env: Env) -> None:
    assert env.get(TIMELINE, who="none").status_code == 401
    assert env.get(TIMELINE, who="end_user").status_code == 403
    assert env.get(TIMELINE, who="agent").status_code == 200
    assert env.get(TIMELINE, who="admin").status_code == 200
    r = env.get(TIMELINE, who="other_admin")  # credentials of another account
    assert r.status_code == 401


def test_rate_limited_with_the_other_talk_endpoints(make_env: Any) -> None:
    env = make_env(rate_limit_talk=3)
    assert env.get(f"{STATS}/account_overview").status_code == 200
    first = env.get(TIMELINE)
    assert first.status_code == 200 and first.headers["x-rate-limit-remaining"] == "1"
    assert env.get(TIMELINE).status_code == 200
    refused = env.get(TIMELINE)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_it_is_in_the_openapi_document(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    operation = spec["paths"][TIMELINE]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"interval", "phone_number_ids", "date"}
    assert "extension" in operation["summary"].lower()
