"""deploy/: the Grafana dashboard reads only metrics the exporter exposes, its queries
are PromQL that Prometheus accepts, and the Prometheus config is valid.

The exposed names come from a real scrape of a simulated morning (tests/api/metrics_day.py);
promtool (Debian package prometheus) checks the queries and the config where installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.metrics_day import Day, simulated_day

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "talkstats.json"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"
_METRIC = re.compile(r"\btalkstats_[a-z_]+\b")
# What the dashboard's variables stand for when its queries are checked.
_VARIABLES = {
    "$__rate_interval": "1m",
    "$account": "desk",
    "$phone_number": ".*",
    "$threshold": "20.0",
}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    yield from simulated_day(tmp_path_factory.mktemp("deploy-day"))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard) for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def promql(expr: str) -> str:
    for name, value in _VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def test_the_dashboard_is_a_dashboard_with_a_datasource_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "talkstats" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
    used = {m for e in expressions(dashboard) for m in re.findall(r"\$\{?(\w+)", e)}
    assert used <= {*variables, "__rate_interval"}, "every variable a query uses is defined"


def test_the_dashboard_covers_queue_agents_service_level_and_health(
    dashboard: dict[str, Any],
) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Queue", "Calls today", "Service level", "Agents", "Service health"]


def test_the_dashboard_reads_only_metrics_the_exporter_exposes(
    day: Day, dashboard: dict[str, Any]
) -> None:
    exposed = set(day.scrape())  # sample names: with _total, _bucket, _sum, _count
    used = {m for e in expressions(dashboard) for m in _METRIC.findall(e)}
    assert used, "the dashboard queries talkstats metrics"
    assert used <= exposed, f"not exposed: {sorted(used - exposed)}"


def test_the_dashboard_queries_are_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    promtool = _promtool()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": promql(e)}
                    for i, e in enumerate(expressions(dashboard))
                    if not e.startswith("label_values(")
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prometheus_config_is_valid(tmp_path: Path) -> None:
    promtool = _promtool()
    token = tmp_path / "talkstats-metrics.token"
    token.write_text("a-token\n")
    text = PROMETHEUS.read_text()
    assert "/etc/prometheus/talkstats-metrics.token" in text
    assert "type: Bearer" in text and "metrics_path: /metrics" in text
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/talkstats-metrics.token", str(token)))
    done = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    return found
