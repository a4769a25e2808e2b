"""Signed, expiring wallboard sessions: what the cookie carries, and its signature.

A session names an account and who opened it: a user who signed in with the API
credentials, or a display link. The cookie holds only that, an issue time and an
expiry, signed with HMAC-SHA256 under a key derived from a server secret that the
store keeps (so sessions survive a restart, and every process of one store shares
it). Nothing here reads the clock: ``now`` (whole seconds) is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

__all__ = ["DISPLAY", "SECRET_NAME", "USER", "Session", "SessionSigner"]

SECRET_NAME = "wallboard-session"  # the name the signing secret is kept under in the store
USER = "user"
DISPLAY = "display"
_KINDS = {"u": USER, "d": DISPLAY}
_VERSION = "1"
_SHAPE = re.compile(r"1\.([0-9]{1,18})\.([ud])\.([0-9]{1,18})\.([0-9]{1,12})\.([0-9]{1,12})")
_SIGNATURE_LENGTH = 43  # base64url of 32 bytes, unpadded


@dataclass(frozen=True, slots=True)
class Session:
    """Who a wallboard cookie stands for: a user (``subject`` = user id) or a display link
    (``subject`` = link id) of one account, between two instants in whole seconds."""

    account_id: int
    kind: str
    subject: int
    issued_at: int
    expires_at: int

    def __post_init__(self) -> None:
        if self.kind not in (USER, DISPLAY):
            raise ValueError(f"session kind must be {USER!r} or {DISPLAY!r}, got {self.kind!r}")

    def expired(self, now: int) -> bool:
        return now >= self.expires_at


class SessionSigner:
    """Turns sessions into cookie values and back; a tampered or expired value is None."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._key = hmac.new(secret, b"talkstats wallboard session v1", hashlib.sha256).digest()

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, session: Session) -> str:
        """The cookie value: ``1.account.kind.subject.issued.expires.signature``."""
        payload = ".".join(
            (
                _VERSION,
                str(session.account_id),
                session.kind[0],
                str(session.subject),
                str(session.issued_at),
                str(session.expires_at),
            )
        )
        return f"{payload}.{self._sign(payload)}"

    def read(self, value: str | None, now: int) -> Session | None:
        """The session a cookie value carries, if its signature holds and it has not expired."""
        if not value or len(value) > 200:
            return None
        payload, _, signature = value.rpartition(".")
        m = _SHAPE.fullmatch(payload)
        if m is None or len(signature) != _SIGNATURE_LENGTH:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        account, kind, subject, issued, expires = m.groups()
        session = Session(int(account), _KINDS[kind], int(subject), int(issued), int(expires))
        return None if session.expired(now) else session
