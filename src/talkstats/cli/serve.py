"""`talkstats serve` (the HTTP server) and `talkstats settings`."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from talkstats.cli.root import build_settings, compose, database_option, reports_errors
from talkstats.config import SETTINGS, Settings, load_settings
from talkstats.service import Talkstats

LOG_LEVELS = ("debug", "info", "warning", "error")
# A server runs worker threads (loading projections, ingesting batches) beside its event
# loop. A GIL switch interval of 1 ms (CPython's default: 5 ms) lets the loop answer
# probes and reads promptly while they work: during a 150,000-event replay, /healthz
# p50 went from 8.5 to 3.8 ms and p99 from 49 to 24 ms, the replay taking as long
# (bench/startup.py, a busy 2-core machine).
SWITCH_INTERVAL_SECONDS = 0.001
GRACEFUL_SHUTDOWN_SECONDS = 10
MAX_WORKERS = 64


# --- serve ------------------------------------------------------------------------------


@click.command()
@database_option
@click.option(
    "--host", default=None, help="Listen address [env TALKSTATS_HOST; default 127.0.0.1]."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Listen port, 0 for any free port [env TALKSTATS_PORT; default 8080].",
)
@click.option(
    "--default-account",
    metavar="SUBDOMAIN",
    default=None,
    help="Account serving requests whose Host names none [env TALKSTATS_DEFAULT_ACCOUNT].",
)
@click.option(
    "--strict-hosts/--no-strict-hosts",
    default=None,
    help="404 for a Host naming no account instead of the default account "
    "[env TALKSTATS_STRICT_HOSTS; default off].",
)
@click.option(
    "--redis-url",
    metavar="URL",
    default=None,
    help="Redis holding the rate-limit counters, shared by every process naming it; "
    "without it each process limits on its own [env TALKSTATS_REDIS_URL].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    help="Server processes sharing the socket, each with its own projections "
    "[env TALKSTATS_WORKERS; default 1].",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default=None,
    help="Log level [env TALKSTATS_LOG_LEVEL; default info].",
)
@reports_errors
def serve(
    database_url: str | None,
    host: str | None,
    port: int | None,
    default_account: str | None,
    strict_hosts: bool | None,
    redis_url: str | None,
    workers: int | None,
    log_level: str | None,
) -> None:
    """Run the HTTP server (the statistics live in each server process's memory).

    The database must exist (`talkstats account create` creates it). Projections load
    in the background at start (/readyz says when every account is ready). SIGTERM or
    Ctrl-C stops it gracefully: in-flight requests finish, projections are
    snapshotted, the store is closed. With --workers N, N processes serve one socket,
    each following the log; a worker that dies is restarted.
    """
    settings = build_settings(
        database_url=database_url,
        host=host,
        port=port,
        default_account=default_account,
        strict_hosts=strict_hosts,
        redis_url=redis_url,
        workers=workers,
        log_level=log_level,
    )
    if settings.log_level not in LOG_LEVELS:
        raise click.ClickException(
            f"log level {settings.log_level!r}: use one of {', '.join(LOG_LEVELS)}"
        )
    if not 1 <= settings.workers <= MAX_WORKERS:
        raise click.ClickException(f"workers must be 1 to {MAX_WORKERS}, got {settings.workers}")
    configure_logging(settings)
    from talkstats.api.params import MAX_THRESHOLD

    if not 0 <= settings.metrics_service_level_seconds <= MAX_THRESHOLD:
        raise click.ClickException(
            "metrics_service_level_seconds must be 0 to "
            f"{MAX_THRESHOLD} seconds, got {settings.metrics_service_level_seconds}"
        )
    service = compose(settings)
    if settings.workers > 1:
        # The parent only checks that the store opens (and its schema is known), so a
        # wrong --database fails here, once, instead of in every worker.
        service.close()
        code = run_workers(settings)
        click.echo("talkstats stopped", err=True)
        sys.exit(code)
    saved = False
    try:
        run_server(service, settings)
    finally:
        saved = service.close()
    click.echo(stopped_message(saved), err=True)


def stopped_message(saved: bool, who: str = "talkstats") -> str:
    """The last line of a server: whether its projections were snapshotted."""
    if saved:
        return f"{who} stopped; projections snapshotted"
    return (
        f"{who} stopped; some projections could not be snapshotted (see the log above): "
        "the next start replays their log instead"
    )


def configure_logging(settings: Settings, *, worker: int | None = None) -> None:
    """Log lines on stderr; a worker's carry its number."""
    who = "" if worker is None else f"[worker {worker}]"
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s %(levelname)s %(name)s{who}: %(message)s",
        stream=sys.stderr,
    )


def run_server(service: Talkstats, settings: Settings) -> None:
    """Serve the API on settings.host:settings.port until SIGTERM / SIGINT.

    The socket is bound here (not by uvicorn) so that the printed URL carries the real
    port even for --port 0. One worker: the projections live in this process's memory.
    """
    sock = _listen(settings)
    click.echo(f"talkstats listening on {_url(sock)}")
    sys.stdout.flush()
    serve_socket(service, settings, sock)


def run_workers(settings: Settings) -> int:
    """Bind once, print the URL once, and supervise settings.workers processes."""
    from talkstats.cli.workers import Supervisor

    sock = _listen(settings)
    click.echo(f"talkstats listening on {_url(sock)}")
    sys.stdout.flush()
    click.echo(f"talkstats: {settings.workers} worker processes", err=True)
    try:
        return Supervisor(settings, sock, settings.workers).run()
    finally:
        sock.close()


def _listen(settings: Settings) -> socket.socket:
    try:
        return _bind(settings.host, settings.port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None


def serve_socket(
    service: Talkstats,
    settings: Settings,
    sock: socket.socket,
    *,
    stop_requested: Sequence[int] = (),
) -> None:
    """Serve the API on a listening socket until SIGTERM / SIGINT (a worker's part).

    ``stop_requested``: signals a caller's own handler caught before this one took over
    (non-empty: stop at once, without serving).
    """
    import uvicorn

    from talkstats.web.app import create_app

    app = create_app(service)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        lifespan="on",
        workers=1,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    server = closing_server(config, app)
    with _stop_on_signals(server):
        if stop_requested:
            return
        server.run(sockets=[sock])


def closing_server(config: Any, app: Any) -> Any:
    """A uvicorn server that ends the wallboard's live streams as it starts to shut down.

    uvicorn waits for open responses before it stops, and a Server-Sent Events stream
    never ends by itself; ended first, open screens let go at once and reconnect to the
    next server.
    """
    import uvicorn

    from talkstats.web.app import close_streams

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            close_streams(app)
            await super().shutdown(sockets)

    return Server(config)


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def _stop_on_signals(server: Any) -> Iterator[None]:
    """Our own SIGTERM/SIGINT handlers around uvicorn's.

    uvicorn re-raises a captured signal after its graceful shutdown so the previous
    handler can act on it. With the default handlers that would kill the process
    before the projections are snapshotted, so the previous handler is this one: it
    only asks the server to exit (which also covers a signal arriving during startup,
    before uvicorn installs its own handlers).
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- settings ---------------------------------------------------------------------------


@click.command("settings")
@reports_errors
def settings_command() -> None:
    """Print every setting: environment variable, default, current value and help."""
    current = load_settings()
    for setting in SETTINGS:
        click.echo(setting.name)
        click.echo(f"  env:      {setting.env}")
        click.echo(f"  default:  {_show(setting.default)}")
        value = getattr(current, setting.name)
        shown = "(set, not shown)" if setting.secret and value is not None else _show(value)
        click.echo(f"  current:  {shown}")
        click.echo(f"  help:     {setting.help}")


def _show(value: object) -> str:
    return "(none)" if value is None else str(value)


COMMANDS = (serve, settings_command)
