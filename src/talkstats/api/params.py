"""Query parameters as Zendesk clients send them: id lists, paging, date, thresholds.

Each parser takes the raw string (or None when absent) and returns a value or raises
InvalidValue / TooManyValues; unknown parameters are never looked at (Zendesk ignores
them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar
from urllib.parse import unquote, urlencode

from starlette.requests import Request

from ..domain import timeline
from .errors import InvalidValue, TooManyValues
from .text import is_blank, strip

T = TypeVar("T")

MAX_IDS = 100
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100
MAX_THRESHOLD = 86_400
INTERVALS = {f"{m}m": m for m in timeline.INTERVALS} | {"1h": 60}

_INT = re.compile(r"[0-9]{1,18}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ORIGINAL_PATH = "talkstats.original_path"  # scope key: the path as the client sent it


def id_list(name: str, raw: str | None) -> list[int] | None:
    """``1,2,3`` or ``[1,2,3]`` (also double url-encoded) -> ids; empty -> None (no filter)."""
    if raw is None:
        return None
    text = strip(raw)
    if "%" in text:  # a client that encoded an already encoded value (axios sample)
        text = strip(unquote(text))
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    items = [strip(strip(item).strip('"')) for item in text.split(",")]
    items = [item for item in items if item]
    if not items:
        return None
    if len(items) > MAX_IDS:
        raise TooManyValues(f"{name}: at most {MAX_IDS} ids are allowed, got {len(items)}")
    ids = []
    for item in items:
        if not _INT.fullmatch(item) or int(item) == 0:
            raise InvalidValue(f"{name}: {item!r} is not a positive integer id")
        ids.append(int(item))
    return ids


def positive_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or is_blank(raw):
        return default
    text = strip(raw)
    if not _INT.fullmatch(text) or int(text) == 0:
        raise InvalidValue(f"{name}: {raw!r} is not a positive integer")
    return int(text)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an offset-paginated list (1-based ``number``)."""

    number: int
    size: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    def slice(self, items: list[T]) -> list[T]:
        return items[self.start : self.start + self.size]


def page(request: Request) -> Page:
    """``page`` (default 1) and ``per_page`` (default 100; above 100 is clamped to 100)."""
    q = request.query_params
    number = positive_int("page", q.get("page"), 1)
    size = min(positive_int("per_page", q.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    return Page(number, size)


def page_url(request: Request, number: int) -> str:
    """Full URL of another page: same path (as sent) and every other query parameter."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(number)))
    path = request.scope.get(ORIGINAL_PATH, request.url.path)
    return str(request.url.replace(path=path, query=urlencode(pairs)))


def paginated(
    request: Request, key: str, rows: Sequence[object], count: int, p: Page
) -> dict[str, object]:
    """``{key: rows, "count", "next_page", "previous_page"}`` for page ``p`` of ``count``."""
    last = max(1, -(-count // p.size))
    return {
        key: rows,
        "count": count,
        "next_page": page_url(request, p.number + 1) if p.number < last else None,
        "previous_page": page_url(request, min(p.number - 1, last)) if p.number > 1 else None,
    }


def day(raw: str | None) -> date | None:
    """Extension ``date=YYYY-MM-DD``; whether it is in the future is the domain's check."""
    if raw is None or is_blank(raw):
        return None
    if not _DAY.fullmatch(raw):
        raise InvalidValue(f"date: {raw!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(f"date: {raw!r} is not a date (YYYY-MM-DD)") from None


def threshold(raw: str | None, default: int = 20, *, name: str = "threshold") -> int:
    """Service-level threshold in whole seconds, 0..86400 (``name``: the parameter's)."""
    if raw is None or is_blank(raw):
        return default
    text = strip(raw)
    if not _INT.fullmatch(text) or int(text) > MAX_THRESHOLD:
        raise InvalidValue(f"{name}: {raw!r} is not a number of seconds (0-{MAX_THRESHOLD})")
    return int(text)


def interval(raw: str | None, default: int = 15) -> int:
    """Timeline interval ``5m``, ``15m``, ``30m`` or ``60m`` (also ``1h``) -> minutes."""
    if raw is None or is_blank(raw):
        return default
    minutes = INTERVALS.get(strip(raw).lower())
    if minutes is None:
        allowed = ", ".join(f"{m}m" for m in timeline.INTERVALS)
        raise InvalidValue(f"interval: {raw!r} is not one of {allowed}")
    return minutes
