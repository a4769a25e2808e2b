"""GET /metrics: the exposition parses, its numbers are the API's, and who may read it.

The statistics are compared with the Zendesk endpoints and the service_level extension
at the same fake-clock moment, for every phone number and group of a simulated
morning in two accounts (metrics_day.py). The API rounds durations to whole seconds;
the metrics keep the fraction, so a duration is compared after the same rounding.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from talkstats.api.app import create_app
from talkstats.domain.readings import CALL_STATUSES
from talkstats.domain.reasons import REJECTION_REASONS

from .conftest import ADMIN, Env, basic
from .metrics_day import ACCOUNTS, Day, Http, Samples, parse, simulated_day, value

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
OUTCOME_FIELDS = {  # outcome label -> account_overview field
    "abandoned_in_queue": "total_calls_abandoned_in_queue",
    "voicemail": "total_voicemails",
    "voicemail_queue_wait_exceeded": "total_calls_with_exceeded_queue_wait_time",
    "voicemail_requested": "total_calls_with_requested_voicemail",
    "callback_requested": "total_callback_calls",
    "textback_requested": "total_textback_requests",
    "outside_business_hours": "total_calls_outside_business_hours",
}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    yield from simulated_day(tmp_path_factory.mktemp("metrics-day"))


@pytest.fixture(scope="module")
def samples(day: Day) -> Samples:
    return day.scrape()


def whole(seconds: float) -> int:
    """Seconds to whole seconds, halves up: the API's rounding of a positive duration."""
    return math.floor(seconds + 0.5)


def numbers(day: Day, account: str) -> list[int]:
    return sorted(day.service.projection(day.accounts[account]).directory.phone_numbers)


def groups(day: Day, account: str) -> list[int]:
    return sorted(day.service.projection(day.accounts[account]).directory.groups)


def agent_rows(day: Day, account: str, **params: Any) -> list[dict[str, Any]]:
    body = day.api(account, "agents_activity", per_page=100, **params)
    assert body["next_page"] is None
    rows: list[dict[str, Any]] = body["agents_activity"]
    return rows


# --- the exposition ------------------------------------------------------------------


def test_the_morning_has_something_to_show(day: Day, samples: Samples) -> None:
    waiting = samples["talkstats_calls_waiting"]
    assert sum(waiting.values()) > 0, "some caller waits at the scrape"
    assert sum(samples["talkstats_callbacks_waiting"].values()) > 0
    assert set(samples["talkstats_service_level_ratio"]) == {
        (("account", name),) for name in ACCOUNTS
    }
    assert len(numbers(day, "desk")) == 2 and len(groups(day, "desk")) == 2


def test_every_family_is_documented_with_its_labels(day: Day) -> None:
    text = day.http.get("/metrics").text
    documented = OPERATIONS.read_text()
    for family in _families(text):
        assert f"`{family.name}" in documented, f"{family.name} missing from docs/operations.md"
        labels = {k for s in family.samples for k in s.labels} - {"le"}
        row = next(line for line in documented.splitlines() if f"`{family.name}" in line)
        for label in labels:
            assert f"`{label}`" in row, f"label {label} of {family.name} not documented"


def _families(text: str) -> list[Any]:
    return list(text_string_to_metric_families(text))


def test_names_follow_the_prometheus_rules(day: Day) -> None:
    text = day.http.get("/metrics").text
    for family in _families(text):
        name = family.name
        assert re.fullmatch(r"talkstats_[a-z_]+", name), name
        if family.type == "counter":
            assert any(s.name == f"{name}_total" for s in family.samples), name
        else:
            assert not name.endswith("_total"), name
        assert not re.search(r"_(ms|milliseconds|minutes|percent)$", name), name
        for sample in family.samples:
            assert not {"call_id", "caller", "from", "to"} & set(sample.labels), sample


def test_promtool_finds_nothing_to_lint(day: Day) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    text = day.http.get("/metrics").text
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(day: Day) -> None:
    r = day.http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    names = {f.name for f in openmetrics_families(r.text)}
    assert {"talkstats_calls_waiting", "talkstats_events_accepted"} <= names
    plain = day.http.get("/metrics")
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


# --- the numbers are the API's ----------------------------------------------------------


@pytest.mark.parametrize("account", ACCOUNTS)
def test_queues_equal_current_queue_activity(day: Day, samples: Samples, account: str) -> None:
    for number in numbers(day, account):
        api = day.api(account, "current_queue_activity", phone_number_ids=number)[
            "current_queue_activity"
        ]
        labels = {"account": account, "phone_number_id": str(number)}
        assert value(samples, "talkstats_calls_waiting", **labels) == api["calls_waiting"]
        assert value(samples, "talkstats_callbacks_waiting", **labels) == api["callbacks_waiting"]
        longest = value(samples, "talkstats_longest_wait_seconds", **labels)
        assert whole(longest) == api["longest_wait_time"]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_todays_calls_equal_account_overview(day: Day, samples: Samples, account: str) -> None:
    for number in numbers(day, account):
        api = day.api(account, "account_overview", phone_number_ids=number)["account_overview"]
        labels = {"account": account, "phone_number_id": str(number)}

        for direction in ("inbound", "outbound"):
            calls = value(samples, "talkstats_calls_today", direction=direction, **labels)
            assert calls == api[f"total_{direction}_calls"]
        for outcome, field in OUTCOME_FIELDS.items():
            got = value(samples, "talkstats_call_outcomes_today", outcome=outcome, **labels)
            assert got == api[field], (number, outcome)
        count = value(samples, "talkstats_finished_queue_waits_today", **labels)
        total = value(samples, "talkstats_finished_queue_wait_today_seconds", **labels)
        assert (whole(total / count) if count else 0) == api["average_queue_wait_time"]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_answered_equals_a_count_of_the_events(day: Day, samples: Samples, account: str) -> None:
    number_of = {e["call_id"]: e["phone_number_id"] for e in day.events[account]
                 if e["type"] == "call.started"}  # fmt: skip
    answered = Counter(
        number_of[call_id]
        for call_id in {e["call_id"] for e in day.events[account] if e["type"] == "call.answered"}
    )
    for number in numbers(day, account):
        labels = {"account": account, "phone_number_id": str(number), "outcome": "answered"}
        assert value(samples, "talkstats_call_outcomes_today", **labels) == answered[number]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_the_wait_histogram_equals_the_service_level_at_every_bound(
    day: Day, samples: Samples, account: str
) -> None:
    buckets = samples["talkstats_answered_queue_wait_seconds_bucket"]
    for number in numbers(day, account):
        mine = {
            dict(labels)["le"]: n
            for labels, n in buckets.items()
            if dict(labels)["account"] == account and dict(labels)["phone_number_id"] == str(number)
        }
        assert "20.0" in mine and "+Inf" in mine
        finished = value(
            samples,
            "talkstats_finished_queue_waits_today",
            account=account,
            phone_number_id=str(number),
        )
        for le, n in mine.items():
            if le == "+Inf":
                continue
            api = day.api(
                account, "service_level", phone_number_ids=number, threshold=int(float(le))
            )
            assert n == api["service_level"]["answered_within"], (number, le)
            assert finished == api["service_level"]["offered"]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_the_service_level_ratio_equals_the_extension(
    day: Day, samples: Samples, account: str
) -> None:
    api = day.api(account, "service_level")["service_level"]
    assert api["offered"] > 0
    ratio = value(samples, "talkstats_service_level_ratio", account=account)
    assert ratio == pytest.approx(api["answered_within"] / api["offered"], abs=1e-12)
    assert round(1000 * ratio) / 10 == pytest.approx(api["percent"])
    assert value(samples, "talkstats_service_level_threshold_seconds") == api["threshold"] == 20


@pytest.mark.parametrize("account", ACCOUNTS)
def test_agents_equal_agents_activity(day: Day, samples: Samples, account: str) -> None:
    def counted(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
        return Counter((r["agent_state"], r["call_status"] or "none") for r in rows)

    def exposed(name: str, **labels: str) -> Counter[tuple[str, str]]:
        out: Counter[tuple[str, str]] = Counter()
        for key, n in samples[name].items():
            found = dict(key)
            if all(found[k] == v for k, v in labels.items()) and n:
                out[(found["status"], found["call_status"])] += int(n)
        return out

    assert exposed("talkstats_agents", account=account) == counted(agent_rows(day, account))
    for group in groups(day, account):
        rows = agent_rows(day, account, group_ids=group)
        assert exposed("talkstats_group_agents", account=account, group_id=str(group)) == (
            counted(rows)
        )
    online = day.api(account, "current_queue_activity")["current_queue_activity"]["agents_online"]
    statuses = samples["talkstats_agents"]
    assert online == sum(
        n for key, n in statuses.items()
        if dict(key)["account"] == account and dict(key)["status"] != "offline"
    )  # fmt: skip
    assert {dict(k)["call_status"] for k in statuses} == set(CALL_STATUSES)


@pytest.mark.parametrize("account", ACCOUNTS)
def test_ingestion_counters_equal_the_ingestion_responses(
    day: Day, samples: Samples, account: str
) -> None:
    sent = day.sent[account]
    assert value(samples, "talkstats_events_accepted_total", account=account) == sent["accepted"]
    assert value(samples, "talkstats_events_duplicate_total", account=account) == 0
    for reason in REJECTION_REASONS:
        assert (
            value(samples, "talkstats_events_rejected_total", account=account, reason=reason) == 0
        )
    assert value(samples, "talkstats_projection_loaded", account=account) == 1


# --- the service's health, with the small API test account ----------------------------


def scrape(env: Env) -> Samples:
    r = env.client.get("/metrics")
    assert r.status_code == 200, r.text
    return parse(r.text)


def test_rejections_duplicates_and_bad_ndjson_lines_are_counted(env: Env) -> None:
    events = "/api/v2/channels/voice/events"
    good = {"id": "a1", "type": "agent.state_changed", "time": "2026-11-26T07:00:00Z",
            "agent_id": 2, "state": "online"}  # fmt: skip
    first = env.post(events, json={"events": [good, {**good, "id": "a2", "agent_id": 99}]}).json()
    ndjson = b'{"id": "a1", "type": "agent.state_changed", "time": "2026-11-26T07:00:00Z", ' + (
        b'"agent_id": 2, "state": "online"}\nnot json\n{"id": "a3"}\n'
    )
    second = env.post(
        events, content=ndjson, headers={"Content-Type": "application/x-ndjson"}
    ).json()
    assert (first["accepted"], first["rejected"]) == (1, 1)
    assert (second["duplicates"], second["rejected"]) == (1, 2)
    s = scrape(env)

    def rejected(reason: str) -> float:
        return value(s, "talkstats_events_rejected_total", account="acme", reason=reason)

    assert value(s, "talkstats_events_accepted_total", account="acme") == 1
    assert value(s, "talkstats_events_duplicate_total", account="acme") == 1
    assert (rejected("unknown_reference"), rejected("malformed")) == (1, 2)
    assert sum(rejected(r) for r in REJECTION_REASONS) == first["rejected"] + second["rejected"]
    assert value(s, "talkstats_events_accepted_total", account="other") == 0
    assert value(s, "talkstats_ingest_batch_duration_seconds_count") == 2


def test_requests_are_counted_by_route_template_method_and_status(env: Env) -> None:
    overview = "/api/v2/channels/voice/stats/account_overview"
    for _ in range(3):
        assert env.get(overview).status_code == 200
    assert env.get(overview + ".json").status_code == 200  # the same route
    assert env.get(overview, who="none").status_code == 401
    assert env.get("/api/v2/channels/voice/availabilities/2").status_code == 200
    assert env.client.get("/no/such/path").status_code == 404
    assert env.client.request("BREW", "/healthz").status_code == 405
    s = scrape(env)

    def count(route: str, method: str, status: int) -> float:
        return value(
            s,
            "talkstats_http_request_duration_seconds_count",
            route=route,
            method=method,
            status=str(status),
        )

    assert count(overview, "GET", 200) == 4
    assert count(overview, "GET", 401) == 1
    assert count("/api/v2/channels/voice/availabilities/{agent_id}", "GET", 200) == 1
    assert count("unmatched", "GET", 404) == 1
    assert count("/healthz", "other", 405) == 1


def test_a_request_the_gate_refuses_is_counted_under_its_route(make_env: Any) -> None:
    env = make_env(rate_limit_talk=1)
    overview = "/api/v2/channels/voice/stats/account_overview"
    assert env.get(overview).status_code == 200
    assert env.get(overview).status_code == 429
    s = scrape(env)
    labels = {"route": overview, "method": "GET", "status": "429"}
    assert value(s, "talkstats_http_request_duration_seconds_count", **labels) == 1


def test_latency_is_read_from_the_injected_monotonic_clock(env: Env) -> None:
    real = env.service.rate_limiter.hit_async

    async def slow_hit(*args: Any, **kwargs: Any) -> Any:
        env.clock.mono += 0.003  # the request "takes" 3 ms of the fake clock
        return await real(*args, **kwargs)

    env.service.rate_limiter.hit_async = slow_hit  # type: ignore[method-assign]
    assert env.get("/api/v2/channels/voice/stats/agents_overview").status_code == 200
    s = scrape(env)
    labels = {"route": "/api/v2/channels/voice/stats/agents_overview", "method": "GET",
              "status": "200"}  # fmt: skip
    assert value(s, "talkstats_http_request_duration_seconds_sum", **labels) == pytest.approx(0.003)
    assert value(s, "talkstats_http_request_duration_seconds_bucket", le="0.0025", **labels) == 0
    assert value(s, "talkstats_http_request_duration_seconds_bucket", le="0.005", **labels) == 1


def test_snapshot_age_and_loading_follow_the_injected_clock(env: Env) -> None:
    env.ingest([{"id": "s1", "type": "agent.state_changed", "time": "2026-11-26T07:00:00Z",
                 "agent_id": 2, "state": "online"}])  # fmt: skip
    env.clock.advance(42)
    s = scrape(env)
    assert value(s, "talkstats_snapshot_age_seconds", account="acme") == 42
    assert value(s, "talkstats_events_since_snapshot", account="acme") == 1
    assert env.service.snapshot(env.acme)
    env.clock.advance(5)
    s = scrape(env)
    assert value(s, "talkstats_snapshot_age_seconds", account="acme") == 5
    assert value(s, "talkstats_events_since_snapshot", account="acme") == 0
    env.service.runtimes.drop(env.acme.id)  # as if it were loading again
    s = scrape(env)
    assert value(s, "talkstats_projection_loaded", account="acme") == 0
    assert ("account", "acme") not in {k for key in s["talkstats_agents"] for k in key}
    assert value(s, "talkstats_projection_loaded", account="other") == 1


def test_database_errors_start_at_zero_for_every_operation(env: Env) -> None:
    s = scrape(env)
    errors = s["talkstats_database_errors_total"]
    assert {dict(k)["operation"]: n for k, n in errors.items()} == {
        "ingest": 0, "load": 0, "follow": 0, "snapshot": 0, "check": 0, "records": 0
    }  # fmt: skip


# --- who may read /metrics ----------------------------------------------------------------


@pytest.fixture
def open_http(env: Env) -> Iterator[Any]:
    opened: list[Http] = []

    def make(address: str) -> Http:
        http = Http(create_app(env.service), client=(address, 40000))
        opened.append(http)
        return http

    yield make
    for http in opened:
        http.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_loopback_may_read(open_http: Any, address: str) -> None:
    assert open_http(address).get("/metrics").status_code == 200


@pytest.mark.parametrize("address", ["192.0.2.7", "10.0.0.1", "2001:db8::1", "localhost"])
def test_without_a_token_any_other_address_gets_403(open_http: Any, address: str) -> None:
    r = open_http(address).get("/metrics")
    assert r.status_code == 403
    assert r.json()["error"] == "Forbidden" and "metrics_token" in r.json()["description"]


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"])
def test_without_a_token_a_request_a_proxy_forwarded_gets_403(open_http: Any, header: str) -> None:
    r = open_http("127.0.0.1").get("/metrics", headers={header: "for=203.0.113.9"})
    assert r.status_code == 403


@pytest.fixture
def token_env(make_env: Any) -> Env:
    env: Env = make_env(metrics_token="s3cret-metrics-token")
    return env


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Bearer s3cret-metrics-token", 200),
        ("bearer s3cret-metrics-token", 200),
        (None, 401),
        ("Bearer wrong", 401),
        ("Bearer s3cret-metrics-token-and-more", 401),
        ("Basic czNjcmV0LW1ldHJpY3MtdG9rZW4=", 401),
    ],
)
def test_with_a_token_the_bearer_header_decides(
    token_env: Env, authorization: str | None, status: int
) -> None:
    http = Http(create_app(token_env.service), client=("192.0.2.7", 40000))
    try:
        headers = {} if authorization is None else {"Authorization": authorization}
        r = http.get("/metrics", headers=headers)
    finally:
        http.close()
    assert r.status_code == status
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "metrics_token" in r.json()["description"]


def test_with_a_token_loopback_needs_it_too(token_env: Env) -> None:
    assert token_env.client.get("/metrics").status_code == 401
    user_credentials = token_env.client.get("/metrics", headers=basic(*ADMIN))
    assert user_credentials.status_code == 401, "an API user is not a metrics reader"


def test_metrics_is_in_the_openapi_document(env: Env) -> None:
    operation = env.client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert {"401", "403"} <= set(operation["responses"])
