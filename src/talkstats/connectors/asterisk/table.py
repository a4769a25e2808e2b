"""Reading a realtime queue_log table (``queue_log => mysql,...`` in extconfig.conf).

SOURCE is ``mysql://USER:PASSWORD@HOST:3306/DATABASE`` (also ``mariadb://``) or
``postgresql://USER:PASSWORD@HOST:5432/DATABASE`` (also ``postgres://``), with
``?table=NAME`` for another table than ``queue_log``. The drivers are the optional
``asterisk`` extra: PyMySQL and psycopg 3.

The table is read by its ``id`` column, in order. Asterisk's own schema has one
(contrib/ast-db-manage); an older table without it needs one added (docs/asterisk.md).
Two inserts may commit out of id order, so each poll looks again at the last ids
(`WINDOW`) and passes on only rows it has not passed on before.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from talkstats.connectors.asterisk.lines import MalformedLine, QueueLogLine, line_from_row

__all__ = ["TableSource", "TableUrl", "is_table_url", "parse_table_url"]

WINDOW = 100
_SCHEMES = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


class TableError(Exception):
    """The table cannot be read (driver missing, no such table, no id column...)."""


@dataclass(frozen=True, slots=True)
class TableUrl:
    kind: str  # "mysql" | "postgresql"
    host: str
    port: int | None
    user: str | None
    password: str | None
    database: str
    table: str
    options: dict[str, str]

    def safe(self) -> str:
        """The URL without its password, for messages."""
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.kind}://{who}{self.host}{port}/{self.database}?table={self.table}"


def is_table_url(source: str) -> bool:
    return source.split("://", 1)[0].lower() in _SCHEMES and "://" in source


def parse_table_url(source: str) -> TableUrl:
    parts = urllib.parse.urlsplit(source)
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise ValueError(f"{source!r} is not a mysql:// or postgresql:// URL")
    query = dict(urllib.parse.parse_qsl(parts.query))
    table = query.pop("table", "queue_log")
    if not table.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"table name {table!r}: use letters, digits, _ and . only")
    database = parts.path.lstrip("/")
    if not database:
        raise ValueError(f"{source!r} names no database (…/DATABASE)")
    return TableUrl(
        kind,
        parts.hostname or "localhost",
        parts.port,
        urllib.parse.unquote(parts.username) if parts.username else None,
        urllib.parse.unquote(parts.password) if parts.password else None,
        database,
        table,
        query,
    )


def _quote(kind: str, table: str) -> str:
    q = "`" if kind == "mysql" else '"'
    return ".".join(f"{q}{part}{q}" for part in table.split("."))


class TableSource:
    """Rows of a realtime queue_log table with ids above a position, as lines."""

    def __init__(
        self,
        url: TableUrl,
        zone: tzinfo,
        position: dict[str, Any] | None = None,
        *,
        connect: Callable[[TableUrl], Any] | None = None,
    ) -> None:
        self.url = url
        self.zone = zone
        self._connect = connect or _connect
        self._conn: Any = None
        self._columns: list[str] = []
        self._watermark = int(position.get("watermark", 0)) if position else 0
        self._seen: set[int] = set(position.get("seen", ())) if position else set()
        self.malformed: list[str] = []

    def position(self) -> dict[str, Any]:
        return {"table": self.url.table, "watermark": self._watermark, "seen": sorted(self._seen)}

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._connect(self.url)
            self._columns = self._describe()
        return self._conn

    def _describe(self) -> list[str]:
        name = _quote(self.url.kind, self.url.table)
        try:
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {name} WHERE 1 = 0")
                columns = [d[0].lower() for d in cur.description]
        except Exception as exc:
            self.close()
            raise TableError(f"{self.url.safe()}: cannot read the table: {exc}") from None
        missing = {"id", "time", "callid", "queuename", "agent", "event"} - set(columns)
        if missing:
            hint = (
                " (add one: see docs/asterisk.md, 'A table without an id column')"
                if "id" in missing
                else ""
            )
            raise TableError(
                f"{self.url.safe()}: the table has no column(s) {', '.join(sorted(missing))}{hint}"
            )
        data = [c for c in ("data1", "data2", "data3", "data4", "data5") if c in columns]
        if not data:
            if "data" not in columns:
                raise TableError(f"{self.url.safe()}: the table has neither data1..data5 nor data")
            data = ["data"]
        return ["id", "time", "callid", "queuename", "agent", "event", *data]

    def read(self, limit: int = 10_000) -> list[QueueLogLine]:
        """Rows not passed on yet, in id order (at most ``limit``)."""
        conn = self._connection()
        columns = ", ".join(_quote(self.url.kind, c) for c in self._columns)
        name = _quote(self.url.kind, self.url.table)
        start = max(0, self._watermark - WINDOW) if self._seen else self._watermark
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {columns} FROM {name} WHERE id > %s ORDER BY id LIMIT %s",
                (start, limit + len(self._seen)),
            )
            rows = cur.fetchall()
        conn.commit()  # end the snapshot: the next poll sees rows committed since
        lines: list[QueueLogLine] = []
        for row in rows:
            row_id = int(row[0])
            if row_id <= self._watermark - WINDOW or row_id in self._seen:
                continue
            self._seen.add(row_id)
            try:
                lines.append(
                    line_from_row(
                        row_id, row[1], row[2], row[3], row[4], row[5], tuple(row[6:]),
                        self.zone, table=self.url.table,
                    )
                )  # fmt: skip
            except MalformedLine as exc:
                self.malformed.append(f"row {row_id}: {exc}")
            if len(lines) >= limit:
                break
        if self._seen:
            self._watermark = max(self._watermark, max(self._seen))
            floor = self._watermark - WINDOW
            self._seen = {i for i in self._seen if i > floor}
        return lines

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _connect(url: TableUrl) -> Any:
    """A DB-API connection through the optional driver for the URL's kind."""
    if url.kind == "mysql":
        try:
            import pymysql  # type: ignore[import-untyped]
        except ImportError:
            raise TableError(
                "reading a MySQL/MariaDB table needs PyMySQL: pip install 'talkstats[asterisk]'"
            ) from None
        try:
            return pymysql.connect(
                host=url.host,
                port=url.port or 3306,
                user=url.user or "root",
                password=url.password or "",
                database=url.database,
                charset="utf8mb4",
                connect_timeout=10,
            )
        except pymysql.MySQLError as exc:
            raise TableError(f"{url.safe()}: {exc}") from None
    try:
        import psycopg
    except ImportError:
        raise TableError(
            "reading a PostgreSQL table needs psycopg: pip install 'talkstats[asterisk]'"
        ) from None
    try:
        from psycopg.conninfo import make_conninfo

        conninfo = make_conninfo(
            "",
            host=url.host,
            port=url.port or 5432,
            user=url.user,
            password=url.password,
            dbname=url.database,
            connect_timeout=10,
            **url.options,
        )
        return psycopg.connect(conninfo)
    except psycopg.Error as exc:
        raise TableError(f"{url.safe()}: {exc}") from None
