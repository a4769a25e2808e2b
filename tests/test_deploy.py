"""deploy/: the Grafana dashboard reads only metrics the exporter exposes, its queries
are PromQL that Prometheus accepts, and the Prometheus config is valid; the production
stack (compose.production.yaml, Caddyfile) runs real commands with real settings, and
its backup restores every answer.

The exposed names come from a real scrape of a simulated morning (tests/api/metrics_day.py);
promtool (Debian package prometheus) checks the queries and the config where installed,
caddy (Debian package caddy) the Caddyfile, and `docker compose config` the compose file
where Docker's compose plugin is installed; without them those checks skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


# --- the production deployment: deploy/compose.production.yaml and deploy/Caddyfile --------

PRODUCTION = ROOT / "deploy" / "compose.production.yaml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
ENV_EXAMPLE = ROOT / "deploy" / "production.env.example"
_REFERENCE = re.compile(r"\$\{([A-Z_]+)(:?[-?])?([^}]*)\}")
SERVICES = {"postgres", "redis", "migrate", "talkstats-a", "talkstats-b", "caddy", "backup"}
REPLICAS = ("talkstats-a", "talkstats-b")
# what a backup may leave out: caches the servers rebuild from the log
REBUILT = {"snapshots", "sealed_days", "sealed_calls", "call_records", "leg_records",
           "record_marks"}  # fmt: skip


def _example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))  # fmt: skip
    return {key.strip(): value.strip() for key, value in pairs}


def _substituted(value: str) -> str:
    """A value as compose hands it to the container, with the example's variables."""
    example = _example()
    return _REFERENCE.sub(lambda m: example.get(m.group(1), ""), value).replace("$$", "$")


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text())
    return loaded


def _talkstats_services(production: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in production["services"].items()
            if s.get("image", "").startswith("talkstats")}  # fmt: skip


def test_the_production_stack_has_its_parts(production: dict[str, Any]) -> None:
    services = production["services"]
    assert set(services) == SERVICES
    ours = _talkstats_services(production)
    assert set(ours) == {"migrate", *REPLICAS}
    for name, service in ours.items():
        context = (PRODUCTION.parent / service["build"]["context"]).resolve()
        assert (context / "Dockerfile").is_file(), name  # built from this repository
        assert "ports" not in service, f"{name}: only the load balancer is published"
    assert services["backup"]["profiles"] == ["backup"]  # run on demand, not by `up`
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for replica in REPLICAS:
        needs = services[replica]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(services[replica]["healthcheck"]["test"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_production_commands_are_talkstats_commands(production: dict[str, Any]) -> None:
    """Each command parses as the CLI would parse it (options, their types and ranges)."""
    from talkstats.cli import cli

    commands = {n: s["command"] for n, s in _talkstats_services(production).items()}
    assert commands["migrate"] == ["talkstats", "migrate"]
    for name, argv in commands.items():
        assert argv[0] == "talkstats", name
        command = cli.commands[argv[1]]
        command.make_context(f"talkstats {argv[1]}", list(argv[2:]))  # raises on a bad option
    for replica in REPLICAS:
        assert commands[replica][:2] == ["talkstats", "serve"]
        assert "--workers" in commands[replica]


def test_the_production_environment_names_real_settings(production: dict[str, Any]) -> None:
    from talkstats.config import SETTINGS, load_settings

    known = {s.env for s in SETTINGS}
    for name, service in _talkstats_services(production).items():
        env = {k: _substituted(str(v)) for k, v in service["environment"].items()}
        ours = {k for k in env if k.startswith("TALKSTATS_")}
        assert ours <= known, f"{name}: not settings: {sorted(ours - known)}"
        assert set(env) == ours  # nothing but talkstats' settings
        settings = load_settings(environ=env)  # every value converts
        database = urlsplit(settings.database_url)
        assert (database.scheme, database.hostname, database.path) == (
            "postgresql", "postgres", "/talkstats")  # fmt: skip
        assert database.username == production["services"]["postgres"]["environment"][
            "POSTGRES_USER"]  # fmt: skip
        assert settings.redis_url is not None
        assert urlsplit(settings.redis_url).hostname == "redis"
        assert (settings.host, settings.port) == ("0.0.0.0", 8080)
        assert settings.metrics_token and settings.strict_hosts
        assert settings.forwarded_allow_ips == "*"  # Caddy is in another container


def test_every_variable_of_the_stack_is_in_the_example() -> None:
    example = _example()
    for match in _REFERENCE.finditer(PRODUCTION.read_text()):
        variable, kind, _ = match.groups()
        assert variable in example, f"${{{variable}}} is not in {ENV_EXAMPLE.name}"
        if kind == ":?":  # required: the example gives it a value
            assert example[variable], variable
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_load_balancer_health_checks_readyz_on_every_replica(
    production: dict[str, Any],
) -> None:
    text = CADDYFILE.read_text()
    upstreams = re.search(r"^\s*reverse_proxy ([^{]+)\{", text, re.M)
    assert upstreams is not None
    assert upstreams.group(1).split() == [f"{r}:8080" for r in REPLICAS]
    assert re.search(r"^\s*health_uri /readyz$", text, re.M)
    assert re.search(r"^\s*flush_interval -1$", text, re.M)  # the wallboard's live stream
    assert "max_size 32MB" in text  # = the default max_request_bytes
    mounted = production["services"]["caddy"]["volumes"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in mounted


def test_the_caddyfile_is_valid() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy not installed (Debian package caddy)")
    env = {**os.environ, **_example()}
    done = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config",
                           str(CADDYFILE)], capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_accepts_the_production_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        check=False).returncode != 0:  # fmt: skip
        pytest.skip("docker compose not installed")
    env = {**os.environ, **_example()}
    done = subprocess.run([docker, "compose", "-f", str(PRODUCTION), "config", "--quiet"],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_has_the_production_extras() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]  # fmt: skip
    assert {"postgres", "redis"} <= set(extras)
    assert "pip install '/build[postgres,redis]'" in (ROOT / "Dockerfile").read_text()


def _backup_exclusions(production: dict[str, Any]) -> list[str]:
    command = " ".join(production["services"]["backup"]["command"])
    return re.findall(r"--exclude-table-data=(\w+)", command)


def test_the_backup_leaves_out_only_caches(production: dict[str, Any]) -> None:
    from talkstats.store.migrations.versions import MIGRATIONS

    tables = {m for v in MIGRATIONS for s in v.postgres
              for m in re.findall(r"CREATE TABLE (\w+)", s)}  # fmt: skip
    left_out = set(_backup_exclusions(production))
    assert left_out == REBUILT and left_out <= tables
    assert "events" in tables - left_out


def test_a_backup_without_the_caches_restores_the_same_answers(
    production: dict[str, Any], postgres_server: str, tmp_path: Path
) -> None:
    """The backup service's pg_dump, restored: every read and export page as before."""
    from talkstats.simulator import Simulator
    from tests.api.conftest import FakeClock
    from tests.api.test_store_parity import (
        DAY,
        HOUR,
        SCENARIO,
        TODAY,
        Side,
        answers,
        assert_identical,
        local,
        setup_account,
    )
    from tests.servers import fresh_database

    tools = {name: shutil.which(name) for name in ("pg_dump", "pg_restore")}
    if None in tools.values():
        pytest.skip("pg_dump / pg_restore not installed (Debian package postgresql-client)")
    since = local(DAY, "00:00:00") // 1_000_000_000
    exports = [f"/api/v2/channels/voice/stats/incremental/{kind}?start_time={since}"
               for kind in ("calls", "legs")]  # fmt: skip
    clock = FakeClock(local(TODAY, "11:30:00"))  # the day and the next morning
    dump = tmp_path / "talkstats.dump"
    with fresh_database(postgres_server) as original, fresh_database(postgres_server) as copy:
        side = Side(original, clock)
        try:
            setup_account(side)
            account = side.service.account("parity")
            assert account is not None
            sim = Simulator(SCENARIO, 3, local(DAY, "00:00:00"), id_prefix="backup")
            for hour in range(1, 36):
                outcome = side.service.ingest(
                    account, sim.advance(local(DAY, "00:00:00") + hour * HOUR)
                )
                assert outcome.rejected == 0
            before = answers(side) | {path: side.get(path) for path in exports}
            assert b'"calls":[{' in before[exports[0]]  # the record tables were filled
        finally:
            side.close()  # snapshots written; the export reads filled the record tables
        excluded = [f"--exclude-table-data={t}" for t in _backup_exclusions(production)]
        subprocess.run([tools["pg_dump"], "--format=custom", *excluded, f"--file={dump}",
                        original], check=True)  # fmt: skip
        subprocess.run([tools["pg_restore"], "--no-owner", f"--dbname={copy}", str(dump)],
                       check=True)  # fmt: skip
        import psycopg

        with psycopg.connect(copy) as conn:
            for table in REBUILT:
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
            events = conn.execute("SELECT count(*) FROM events").fetchone()
            assert events is not None and events[0] > 1_000
        restored = Side(copy, clock)
        try:
            after = answers(restored) | {path: restored.get(path) for path in exports}
        finally:
            restored.close()
    assert_identical(before, after, "after a restore")
