"""Credentials: secret hashing, API tokens, Authorization parsing and verification.

Everything here is pure apart from argon2 and the random source: no clock reads
(``now`` is an argument, monotonic seconds) and no store access (the store is reached
through the small :class:`CredentialLookup` protocol, which the Store satisfies).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

__all__ = [
    "TOKEN_LENGTH",
    "TOKEN_PREFIX_LENGTH",
    "Authenticator",
    "BearerCredential",
    "Credential",
    "CredentialLookup",
    "PasswordCredential",
    "TokenCredential",
    "TokenRecord",
    "UserRecord",
    "VerifiedCache",
    "hash_secret",
    "new_api_token",
    "parse_authorization",
    "token_prefix",
    "verify_secret",
]

TOKEN_LENGTH = 40
TOKEN_PREFIX_LENGTH = 12

# argon2-cffi's defaults (RFC 9106 "low memory" profile). Stateless, so sharing it is safe;
# every function that uses it takes ``hasher=`` so tests can pass cheap parameters.
_DEFAULT_HASHER = PasswordHasher()


# --------------------------------------------------------------------------- hashing


def hash_secret(secret: str, *, hasher: PasswordHasher | None = None) -> str:
    """Salted, slow argon2id hash of a password or API token, in PHC string form."""
    return (hasher or _DEFAULT_HASHER).hash(secret)


def verify_secret(hash: str, secret: str, *, hasher: PasswordHasher | None = None) -> bool:
    """True if ``secret`` matches ``hash``; False on mismatch or an unreadable hash.

    The cost is the one encoded in ``hash``, not the hasher's, so old hashes keep
    verifying after the parameters change.
    """
    try:
        return (hasher or _DEFAULT_HASHER).verify(hash, secret)
    except (VerificationError, ValueError):  # ValueError covers InvalidHashError
        return False


# --------------------------------------------------------------------------- tokens


def new_api_token() -> str:
    """A fresh random API token: 40 URL-safe characters (240 bits)."""
    token = secrets.token_urlsafe(TOKEN_LENGTH * 3 // 4)
    assert len(token) == TOKEN_LENGTH
    return token


def token_prefix(token: str) -> str:
    """The token's first 12 characters: a non-secret lookup key stored next to its hash."""
    return token[:TOKEN_PREFIX_LENGTH]


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class PasswordCredential:
    """Basic ``email:password``. The email is lowercased."""

    email: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenCredential:
    """Basic ``email/token:API_TOKEN``. The email is lowercased."""

    email: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BearerCredential:
    """``Authorization: Bearer TOKEN``; the token is an API token of the account."""

    token: str = field(repr=False)


Credential = PasswordCredential | TokenCredential | BearerCredential

_TOKEN_SUFFIX = "/token"


def parse_authorization(header: str | None) -> Credential | None:
    """Parse an Authorization header into a credential; None if absent or malformed.

    Scheme names are case-insensitive. Basic's user part ending in ``/token`` makes a
    token credential (the suffix is matched after lowercasing). The password is split
    at the first colon, so passwords may contain colons.
    """
    if not header:
        return None
    parts = header.split(None, 1)
    if len(parts) != 2:
        return None
    scheme, param = parts[0].lower(), parts[1].strip()
    if scheme == "bearer":
        if not param or any(c.isspace() for c in param):
            return None
        return BearerCredential(param)
    if scheme != "basic":
        return None
    try:
        raw = base64.b64decode(param + "=" * (-len(param) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, secret = decoded.partition(":")
    if not colon or not user or not secret:
        return None
    user = user.lower()
    if user.endswith(_TOKEN_SUFFIX):
        email = user[: -len(_TOKEN_SUFFIX)]
        return TokenCredential(email, secret) if email else None
    return PasswordCredential(user, secret)


# --------------------------------------------------------------------------- cache


def _encode(*parts: str) -> bytes:
    """Unambiguous byte encoding of several strings (length-prefixed)."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        out += len(data).to_bytes(4, "big")
        out += data
    return bytes(out)


@dataclass(slots=True)
class _Entry:
    account_id: int
    user_id: int
    expires_at: float


class VerifiedCache:
    """Bounded LRU of recently verified credentials -> user id, with a TTL.

    Keys are HMAC-SHA256 of (account id, the whole credential) under a random
    per-process key, so the cache never holds a secret or an offline-guessable hash
    of one. The TTL runs from ``put`` (reads do not extend it): it bounds how long a
    changed secret keeps working where ``invalidate_user`` was not called (e.g. on
    another replica). Thread-safe.
    """

    def __init__(
        self, *, maxsize: int = 10_000, ttl: float = 300.0, key: bytes | None = None
    ) -> None:
        if maxsize < 0 or ttl < 0:
            raise ValueError("maxsize and ttl must be >= 0")
        self._maxsize = maxsize
        self._ttl = ttl
        self._key = key if key is not None else secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, account_id: int, credential: Credential) -> bytes:
        """The cache key of a credential for an account (an HMAC digest)."""
        match credential:
            case PasswordCredential(email, password):
                msg = _encode(str(account_id), "password", email, password)
            case TokenCredential(email, token):
                msg = _encode(str(account_id), "token", email, token)
            case BearerCredential(token):
                msg = _encode(str(account_id), "bearer", token)
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def get(self, account_id: int, credential: Credential, now: float) -> int | None:
        """The user id this credential verified as, if cached and not expired."""
        k = self.key(account_id, credential)
        with self._lock:
            entry = self._entries.get(k)
            if entry is None:
                return None
            if now >= entry.expires_at:
                del self._entries[k]
                return None
            self._entries.move_to_end(k)
            return entry.user_id

    def put(self, account_id: int, credential: Credential, user_id: int, now: float) -> None:
        """Remember a credential that just verified; evicts the least recently used."""
        if self._maxsize == 0:
            return
        k = self.key(account_id, credential)
        with self._lock:
            self._entries[k] = _Entry(account_id, user_id, now + self._ttl)
            self._entries.move_to_end(k)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def invalidate_user(self, account_id: int, user_id: int) -> int:
        """Forget every cached credential of a user; returns how many were dropped.

        Call it when the user's password, email or tokens change, or the user goes.
        """
        with self._lock:
            stale = [
                k
                for k, e in self._entries.items()
                if e.account_id == account_id and e.user_id == user_id
            ]
            for k in stale:
                del self._entries[k]
            return len(stale)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- verification


class UserRecord(Protocol):
    """What the authenticator reads of a user (the store's ``User`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def account_id(self) -> int: ...
    @property
    def password_hash(self) -> str | None: ...


class TokenRecord(Protocol):
    """What the authenticator reads of an API token (the store's ``ApiToken`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def account_id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def prefix(self) -> str: ...
    @property
    def token_hash(self) -> str: ...


class CredentialLookup(Protocol):
    """The store reads the authenticator needs; method names match the Store protocol."""

    def find_user_by_email(self, account_id: int, email: str) -> UserRecord | None: ...
    def list_api_tokens(self, account_id: int, user_id: int) -> Sequence[TokenRecord]: ...
    def find_token_by_prefix(self, prefix: str) -> Sequence[TokenRecord]: ...


class Authenticator:
    """Turns an Authorization header into a user id of one account, or None.

    Credentials of another account never authenticate. A credential verified within
    the cache TTL costs no hash; failures are never cached. When the email or token
    is unknown, a dummy hash is verified anyway so response time does not tell
    whether an email exists.
    """

    def __init__(
        self,
        lookup: CredentialLookup,
        *,
        hasher: PasswordHasher | None = None,
        verify: Callable[[str, str], bool] | None = None,
        cache: VerifiedCache | None = None,
    ) -> None:
        self._lookup = lookup
        self._hasher = hasher or _DEFAULT_HASHER
        self._verify = verify or self._verify_with_hasher
        self._cache = cache if cache is not None else VerifiedCache()
        self._dummy_hash: str | None = None

    @property
    def cache(self) -> VerifiedCache:
        return self._cache

    def authenticate(self, account_id: int, header: str | None, now: float) -> int | None:
        """The user id the header authenticates as in ``account_id``, or None (401)."""
        credential = parse_authorization(header)
        if credential is None:
            return None
        return self.verify_credential(account_id, credential, now)

    def verify_credential(self, account_id: int, credential: Credential, now: float) -> int | None:
        """As :meth:`authenticate`, for an already parsed credential."""
        user_id = self._cache.get(account_id, credential, now)
        if user_id is not None:
            return user_id
        match credential:
            case PasswordCredential(email, password):
                user_id = self._check_password(account_id, email, password)
            case TokenCredential(email, token):
                user_id = self._check_user_token(account_id, email, token)
            case BearerCredential(token):
                user_id = self._check_bearer(account_id, token)
        if user_id is not None:
            self._cache.put(account_id, credential, user_id, now)
        return user_id

    def _check_password(self, account_id: int, email: str, password: str) -> int | None:
        user = self._lookup.find_user_by_email(account_id, email)
        if user is None or user.account_id != account_id or not user.password_hash:
            self._spend_dummy(password)
            return None
        return user.id if self._verify(user.password_hash, password) else None

    def _check_user_token(self, account_id: int, email: str, token: str) -> int | None:
        user = self._lookup.find_user_by_email(account_id, email)
        if user is None or user.account_id != account_id:
            self._spend_dummy(token)
            return None
        candidates = [
            t
            for t in self._lookup.list_api_tokens(account_id, user.id)
            if t.account_id == account_id and t.user_id == user.id
        ]
        return self._match_token(candidates, token)

    def _check_bearer(self, account_id: int, token: str) -> int | None:
        candidates = [
            t
            for t in self._lookup.find_token_by_prefix(token_prefix(token))
            if t.account_id == account_id
        ]
        return self._match_token(candidates, token)

    def _match_token(self, candidates: Sequence[TokenRecord], token: str) -> int | None:
        prefix = token_prefix(token)
        tried = False
        for record in candidates:
            if record.prefix != prefix:
                continue
            tried = True
            if self._verify(record.token_hash, token):
                return record.user_id
        if not tried:
            self._spend_dummy(token)
        return None

    def _spend_dummy(self, secret: str) -> None:
        """Verify against a throwaway hash so a miss costs what a wrong secret costs."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        self._verify(self._dummy_hash, secret)

    def _verify_with_hasher(self, hash: str, secret: str) -> bool:
        return verify_secret(hash, secret, hasher=self._hasher)
