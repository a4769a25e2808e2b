"""The wallboard's words, kept in one JSON catalog per language (static/text/*.json).

English (``en.json``) is complete and the fallback for any key another catalog lacks.
A screen gets the language named by ``?lang=`` if there is a catalog for it, else the
first one its browser's Accept-Language names, else English. The server's pages and
the browser code read the same catalog.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

FALLBACK = "en"
_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every catalog in the package, by language tag (lowercase), merged over English."""
    found: dict[str, dict[str, str]] = {}
    folder = resources.files("talkstats.web") / "static" / "text"
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json").lower()] = json.loads(entry.read_text("utf-8"))
    english = found[FALLBACK]
    return {tag: {**english, **words} for tag, words in found.items()}


def choose(asked: str | None, accept_language: str | None) -> str:
    """The language tag to use: ``?lang=``, then Accept-Language, then English."""
    available = catalogs()
    wanted = [asked or ""]
    for part in (accept_language or "").split(","):
        wanted.append(part.split(";", 1)[0].strip())
    for tag in wanted:
        tag = tag.lower()
        if not _TAG.fullmatch(tag):
            continue
        if tag in available:
            return tag
        if tag.split("-", 1)[0] in available:
            return tag.split("-", 1)[0]
    return FALLBACK


def words(tag: str) -> dict[str, str]:
    return catalogs().get(tag, catalogs()[FALLBACK])


def fill(template: str, **values: object) -> str:
    """``"{n} s"`` with n=5 -> ``"5 s"`` (placeholders in braces; unknown ones stay)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)
