"""Display links: read-only wallboard links for a screen nobody can type on.

A display link is a random token (240 bits) of one account. Like an API token it is
stored only as a lookup prefix and an argon2 hash, and shown once, when it is made.
It opens the wallboard and nothing else: the API authenticates against users and
API tokens only, so a display token there is a 401. A link can be revoked; screens
that opened it are signed out within seconds (the wallboard re-checks open links).

Nothing here is HTTP or reads the clock (``now`` is an argument); the store is reached
through :class:`DisplayLinkStore`, which the Store satisfies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from argon2 import PasswordHasher

from .credentials import hash_secret, new_api_token, token_prefix, verify_secret

__all__ = ["DisplayLinkRecord", "DisplayLinkStore", "DisplayLinks"]

MAX_DESCRIPTION = 200


class DisplayLinkRecord(Protocol):
    """What is read of a stored display link (the store's ``DisplayLink`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def account_id(self) -> int: ...
    @property
    def prefix(self) -> str: ...
    @property
    def token_hash(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def revoked_at(self) -> int | None: ...


class DisplayLinkStore(Protocol):
    """The store methods display links need; names match the Store protocol."""

    def create_display_link(
        self, account_id: int, prefix: str, token_hash: str, description: str, created_at: int
    ) -> DisplayLinkRecord: ...
    def list_display_links(self, account_id: int) -> Sequence[DisplayLinkRecord]: ...
    def find_display_links_by_prefix(self, prefix: str) -> Sequence[DisplayLinkRecord]: ...
    def revoke_display_link(
        self, account_id: int, link_id: int, revoked_at: int
    ) -> DisplayLinkRecord: ...


class DisplayLinks:
    """Create, list, revoke and verify an account's display links."""

    def __init__(
        self,
        store: DisplayLinkStore,
        *,
        hasher: PasswordHasher | None = None,
        verify: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._verify = verify or (lambda h, s: verify_secret(h, s, hasher=self._hasher))

    def create(self, account_id: int, description: str, now: int) -> tuple[DisplayLinkRecord, str]:
        """A new link and its token (shown only here). ValueError for a long description."""
        if len(description) > MAX_DESCRIPTION:
            raise ValueError(f"the description is longer than {MAX_DESCRIPTION} characters")
        token = new_api_token()
        record = self._store.create_display_link(
            account_id, token_prefix(token), hash_secret(token, hasher=self._hasher),
            description, now,
        )  # fmt: skip
        return record, token

    def list(self, account_id: int) -> list[DisplayLinkRecord]:
        return list(self._store.list_display_links(account_id))

    def revoke(self, account_id: int, link_id: int, now: int) -> DisplayLinkRecord:
        """Revoke a link (the store's NotFound if it is not one of the account's)."""
        return self._store.revoke_display_link(account_id, link_id, now)

    def active_ids(self, account_id: int) -> set[int]:
        return {r.id for r in self._store.list_display_links(account_id) if r.revoked_at is None}

    def verify(self, account_id: int, token: str) -> DisplayLinkRecord | None:
        """The account's active link this token opens, or None. Slow (argon2): off the loop."""
        if not token or len(token) > 200:
            return None
        prefix = token_prefix(token)
        for record in self._store.find_display_links_by_prefix(prefix):
            if (
                record.account_id == account_id
                and record.revoked_at is None
                and record.prefix == prefix
                and self._verify(record.token_hash, token)
            ):
                return record
        return None
