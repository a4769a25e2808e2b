"""Settings: declared once as data, built once at start-up.

Precedence: explicit overrides (command-line flags) > ``TALKSTATS_<NAME>`` environment
variables > defaults. Nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, default and the help shown in docs and --help.

    A ``secret`` setting's value is never printed (``talkstats settings``).
    """

    name: str
    default: Any
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "TALKSTATS_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///./talkstats.db",
        "Where the event log lives (sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE).",
    ),
    Setting("host", "127.0.0.1", "Address the HTTP server listens on."),
    Setting("port", 8080, "Port the HTTP server listens on."),
    Setting(
        "workers",
        1,
        "Server processes sharing the listening socket on this machine; each holds its "
        "own projections and follows the log (1: a single process).",
    ),
    Setting(
        "default_account",
        None,
        "Subdomain that serves requests whose Host names no account "
        "(default: the only account, if there is exactly one).",
    ),
    Setting(
        "strict_hosts",
        False,
        "Answer 404 when the Host header names an account that does not exist, instead "
        "of serving the default account (bare hosts still get the default account).",
    ),
    Setting(
        "forwarded_allow_ips",
        "127.0.0.1",
        "Reverse proxies whose X-Forwarded-Proto and X-Forwarded-For headers are trusted: "
        "comma-separated addresses or networks, or * for any (only behind a proxy that "
        "sets both headers on every request).",
    ),
    Setting("max_request_bytes", 32 * 1024 * 1024, "Largest request body accepted (413 above)."),
    Setting("max_batch_events", 10_000, "Most events accepted in one ingestion request."),
    Setting(
        "rate_limit_talk",
        15_000,
        "Requests per window to all Talk endpoints together, per account (0 lifts the limit).",
    ),
    Setting(
        "rate_limit_queue_activity",
        2_500,
        "Requests per window to current_queue_activity, per account (0 lifts the limit).",
    ),
    Setting("rate_limit_window_seconds", 300, "Length of the rate-limit window in seconds."),
    Setting(
        "rate_limit_incremental_exports",
        10,
        "Requests per minute to the incremental exports (calls, legs), per account "
        "(0 lifts the limit).",
    ),
    Setting(
        "redis_url",
        None,
        "Redis that holds the rate-limit counters, shared by every process that names it "
        "(redis://[:PASSWORD@]HOST:PORT/DB); without one each process counts on its own.",
    ),
    Setting(
        "redis_key_prefix",
        "talkstats:ratelimit:",
        "Prefix of the rate-limit keys in Redis (separates talkstats installations that "
        "share one Redis database).",
    ),
    Setting(
        "snapshot_every_events",
        200_000,
        "Accepted events between projection snapshots (restart replays at most this many).",
    ),
    Setting(
        "readyz_max_events_behind",
        25_000,
        "/readyz answers 503 when this process's projections are more than this many "
        "events behind the log, summed over accounts (0: never for lag).",
    ),
    Setting(
        "seal_past_days",
        True,
        "Move past days that can no longer change out of memory into the database "
        "(read back on demand), so memory does not grow by the day.",
    ),
    Setting(
        "sealed_days_cached",
        4,
        "Sealed past days kept in memory after a read (least recently read go first).",
    ),
    Setting("log_level", "info", "Server log level (debug, info, warning, error)."),
    Setting(
        "metrics_token",
        None,
        "Bearer token that GET /metrics requires; without one, /metrics answers only "
        "requests from the loopback address that no proxy forwarded.",
        secret=True,
    ),
    Setting(
        "metrics_service_level_seconds",
        20,
        "Service-level threshold in seconds of /metrics' talkstats_service_level_ratio "
        "(also a bucket of the queue-wait histogram).",
    ),
    Setting(
        "wallboard_session_hours",
        12,
        "How long a wallboard sign-in lasts before the screen asks for the password again.",
    ),
    Setting(
        "wallboard_display_days",
        30,
        "How long a screen opened by a display link stays signed in without being used "
        "(renewed while it is on).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The typed settings object handed to the service and the API."""

    database_url: str = "sqlite:///./talkstats.db"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    default_account: str | None = None
    strict_hosts: bool = False
    max_request_bytes: int = 32 * 1024 * 1024
    max_batch_events: int = 10_000
    rate_limit_talk: int = 15_000
    rate_limit_queue_activity: int = 2_500
    rate_limit_window_seconds: int = 300
    rate_limit_incremental_exports: int = 10
    forwarded_allow_ips: str = "127.0.0.1"
    redis_url: str | None = None
    redis_key_prefix: str = "talkstats:ratelimit:"
    snapshot_every_events: int = 200_000
    readyz_max_events_behind: int = 25_000
    seal_past_days: bool = True
    sealed_days_cached: int = 4
    log_level: str = "info"
    metrics_token: str | None = None
    metrics_service_level_seconds: int = 20
    wallboard_session_hours: int = 12
    wallboard_display_days: int = 30


def _convert(name: str, raw: str, like: Any) -> Any:
    if isinstance(like, bool):
        word = raw.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{_BY_NAME[name].env} must be true or false, got {raw!r}")
    if isinstance(like, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{_BY_NAME[name].env} must be an integer, got {raw!r}") from None
    return raw or None if like is None else raw


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from overrides (None values ignored), the environment and defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _convert(setting.name, env[setting.env], setting.default)
    for name, value in (overrides or {}).items():
        if name not in _BY_NAME:
            raise ValueError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    return Settings(**values)


assert {f.name for f in fields(Settings)} == set(_BY_NAME), "every setting is declared once"
