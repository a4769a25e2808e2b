"""What counts as blank in what the API reads: one explicit set of whitespace.

Python's ``str.strip()``, Python's ``\\s``, Rust's and ECMA-262's ``\\s`` disagree at
the edges (U+001C-U+001F, U+0085, U+FEFF). The OpenAPI document's patterns use
``SPACE_CLASS`` and the parsers strip ``SPACE``, the same characters: ECMA-262's
``\\s``, the regex dialect JSON Schema names. So a value the document calls blank is
blank to the server, whichever library reads the document.
"""

from __future__ import annotations

SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
SPACE_CLASS = r"\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def strip(value: str) -> str:
    """``value`` without the whitespace around it."""
    return value.strip(SPACE)


def is_blank(value: str) -> bool:
    return not value.strip(SPACE)
