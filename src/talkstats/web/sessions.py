"""The wallboard's session cookie: who a screen is, set at sign-in, read on every request.

The cookie (``talkstats_wallboard``) is signed and expiring (``access.sessions``),
``HttpOnly`` (page scripts cannot read it), ``SameSite=Lax`` (never sent with a
cross-site POST), ``Secure`` when the page came over HTTPS, and scoped to
``/wallboard``: it is never sent to the API, which knows nothing of it. A sign-in
lasts ``wallboard_session_hours``; a screen opened by a display link stays signed
in for ``wallboard_display_days`` after it was last used, and is signed out within
seconds once its link is revoked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..access.sessions import DISPLAY, USER, Session, SessionSigner
from ..service import Talkstats
from ..store.base import Account

COOKIE = "talkstats_wallboard"
PATH = "/wallboard"
NS = 1_000_000_000
RENEW_AFTER = 3600  # seconds: a display session older than this is re-issued when used


class SessionCookies:
    """Issue, read, renew and clear the wallboard cookie (the clock is the service's)."""

    def __init__(self, service: Talkstats, signer: SessionSigner) -> None:
        self.service = service
        self.signer = signer

    def now(self) -> int:
        """Wall-clock seconds (the service's injected clock)."""
        return self.service.clock() // NS

    def read(self, request: Request, account: Account) -> Session | None:
        """The request's valid session for this account, if any (signature, expiry)."""
        session = self.signer.read(request.cookies.get(COOKIE), self.now())
        if session is None or session.account_id != account.id:
            return None
        return session

    def for_user(self, account: Account, user_id: int) -> Session:
        now = self.now()
        hours = self.service.settings.wallboard_session_hours
        return Session(account.id, USER, user_id, now, now + hours * 3600)

    def for_display(self, account: Account, link_id: int) -> Session:
        now = self.now()
        days = self.service.settings.wallboard_display_days
        return Session(account.id, DISPLAY, link_id, now, now + days * 86_400)

    def renewed(self, session: Session) -> Session | None:
        """A fresh display session to send back if this one is old enough; else None."""
        if session.kind != DISPLAY or self.now() - session.issued_at < RENEW_AFTER:
            return None
        return Session(
            session.account_id,
            DISPLAY,
            session.subject,
            self.now(),
            self.now() + self.service.settings.wallboard_display_days * 86_400,
        )

    def attach(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.signer.issue(session),
            max_age=max(0, session.expires_at - self.now()),
            path=PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            COOKIE,
            path=PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
