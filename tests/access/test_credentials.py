"""Credentials: hashing, tokens, Authorization parsing, the verified cache, Authenticator."""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from talkstats.access import credentials
from talkstats.access.credentials import (
    Authenticator,
    BearerCredential,
    Credential,
    PasswordCredential,
    TokenCredential,
    VerifiedCache,
    hash_secret,
    new_api_token,
    parse_authorization,
    token_prefix,
    verify_secret,
)

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


# --------------------------------------------------------------------------- hashing


def test_hash_round_trip_and_salted() -> None:
    h1 = hash_secret("s3cret", hasher=CHEAP)
    h2 = hash_secret("s3cret", hasher=CHEAP)
    assert h1.startswith("$argon2id$")
    assert h1 != h2  # salted
    assert "s3cret" not in h1
    assert verify_secret(h1, "s3cret", hasher=CHEAP)
    assert not verify_secret(h1, "S3cret", hasher=CHEAP)


@pytest.mark.parametrize(
    "bad", ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$xx$yy", "$2b$12$abc"]
)
def test_verify_unreadable_hash_is_false(bad: str) -> None:
    assert verify_secret(bad, "anything", hasher=CHEAP) is False


def test_default_parameters_are_argon2_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    default, reference = credentials._DEFAULT_HASHER, PasswordHasher()
    for attr in ("time_cost", "memory_cost", "parallelism", "hash_len", "salt_len", "type"):
        assert getattr(default, attr) == getattr(reference, attr)
    # hash_secret/verify_secret without hasher= use it (swapped for a cheap one here)
    monkeypatch.setattr(credentials, "_DEFAULT_HASHER", CHEAP)
    h = hash_secret("x")
    assert "$m=8,t=1,p=1$" in h
    assert verify_secret(h, "x")


def test_verification_uses_cost_recorded_in_hash() -> None:
    h = hash_secret("x", hasher=CHEAP)
    assert verify_secret(h, "x", hasher=PasswordHasher())


# --------------------------------------------------------------------------- tokens


def test_new_api_token_shape() -> None:
    tokens = {new_api_token() for _ in range(200)}
    assert len(tokens) == 200
    alphabet = set(string.ascii_letters + string.digits + "-_")
    for t in tokens:
        assert len(t) == 40
        assert set(t) <= alphabet
        assert token_prefix(t) == t[:12]
        assert len(token_prefix(t)) == 12


# --------------------------------------------------------------------------- parsing


def test_parse_password() -> None:
    assert parse_authorization(basic("Alice@Example.com", "pw")) == PasswordCredential(
        "alice@example.com", "pw"
    )


def test_parse_password_may_contain_colons_and_unicode() -> None:
    assert parse_authorization(basic("a@x.io", "p:w:ü")) == PasswordCredential("a@x.io", "p:w:ü")


def test_parse_token() -> None:
    assert parse_authorization(basic("Bob@X.io/token", "TOK")) == TokenCredential("bob@x.io", "TOK")
    assert parse_authorization(basic("bob@x.io/TOKEN", "TOK")) == TokenCredential("bob@x.io", "TOK")


def test_parse_bearer() -> None:
    assert parse_authorization("Bearer abc_DEF-123") == BearerCredential("abc_DEF-123")


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_basic_scheme_case_insensitive(scheme: str) -> None:
    header = basic("a@x.io", "pw").replace("Basic", scheme, 1)
    assert parse_authorization(header) == PasswordCredential("a@x.io", "pw")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_bearer_scheme_case_insensitive(scheme: str) -> None:
    assert parse_authorization(f"{scheme} tok") == BearerCredential("tok")


def test_parse_tolerates_surrounding_whitespace_and_missing_padding() -> None:
    encoded = base64.b64encode(b"a@x.io:pw1").decode()
    assert encoded.endswith("=")
    assert parse_authorization(f"  Basic   {encoded.rstrip('=')}  ") == PasswordCredential(
        "a@x.io", "pw1"
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Basic",
        "Basic ",
        "Basic !!!notbase64!!!",
        "Basic " + b64(b"no-colon-here"),
        "Basic " + b64(b":password-without-user"),
        "Basic " + b64(b"user-without-password@x.io:"),
        "Basic " + b64(b"/token:TOK"),
        "Basic " + b64(b"\xff\xfe:\xff"),  # not UTF-8
        "Basic " + b64(b"a@x.io:pw") + " extra",
        "Bearer",
        "Bearer ",
        "Bearer two words",
        "Digest username=a",
        "Token abc",
        "abc",
    ],
)
def test_malformed_headers(header: str | None) -> None:
    assert parse_authorization(header) is None


def test_credential_repr_hides_secrets() -> None:
    for cred in (
        PasswordCredential("a@x.io", "hunter2"),
        TokenCredential("a@x.io", "hunter2"),
        BearerCredential("hunter2"),
    ):
        assert "hunter2" not in repr(cred)


# --------------------------------------------------------------------------- cache

PW = PasswordCredential("a@x.io", "hunter2-secret")


def test_cache_get_put() -> None:
    cache = VerifiedCache()
    assert cache.get(1, PW, now=0.0) is None
    cache.put(1, PW, 7, now=0.0)
    assert cache.get(1, PW, now=1.0) == 7
    assert cache.get(2, PW, now=1.0) is None  # other account
    assert cache.get(1, PasswordCredential("a@x.io", "other"), now=1.0) is None
    assert cache.get(1, TokenCredential("a@x.io", "hunter2-secret"), now=1.0) is None


def test_cache_ttl_expiry_is_not_extended_by_reads() -> None:
    cache = VerifiedCache(ttl=300)
    cache.put(1, PW, 7, now=1000.0)
    assert cache.get(1, PW, now=1299.9) == 7
    assert cache.get(1, PW, now=1300.0) is None
    assert len(cache) == 0  # expired entry dropped on read


def test_cache_evicts_least_recently_used() -> None:
    cache = VerifiedCache(maxsize=2)
    a, b, c = (BearerCredential(t) for t in ("ta", "tb", "tc"))
    cache.put(1, a, 1, now=0)
    cache.put(1, b, 2, now=0)
    assert cache.get(1, a, now=1) == 1  # a is now the most recent
    cache.put(1, c, 3, now=2)
    assert len(cache) == 2
    assert cache.get(1, b, now=3) is None
    assert cache.get(1, a, now=3) == 1
    assert cache.get(1, c, now=3) == 3


def test_cache_default_bound() -> None:
    cache = VerifiedCache()
    for i in range(10_050):
        cache.put(1, BearerCredential(f"t{i}"), i, now=0)
    assert len(cache) == 10_000
    assert cache.get(1, BearerCredential("t0"), now=0) is None
    assert cache.get(1, BearerCredential("t10049"), now=0) == 10_049


def test_cache_maxsize_zero_disables() -> None:
    cache = VerifiedCache(maxsize=0)
    cache.put(1, PW, 7, now=0)
    assert cache.get(1, PW, now=0) is None


def test_invalidate_user() -> None:
    cache = VerifiedCache()
    cache.put(1, PW, 7, now=0)
    cache.put(1, BearerCredential("t7"), 7, now=0)
    cache.put(1, BearerCredential("t8"), 8, now=0)
    cache.put(2, PW, 7, now=0)  # same user id in another account
    assert cache.invalidate_user(1, 7) == 2
    assert cache.get(1, PW, now=0) is None
    assert cache.get(1, BearerCredential("t8"), now=0) == 8
    assert cache.get(2, PW, now=0) == 7


def test_cache_key_is_keyed_hmac_not_the_secret() -> None:
    cache = VerifiedCache()
    cache.put(1, PW, 7, now=0)
    (stored,) = list(cache._entries)
    key = cache.key(1, PW)
    assert stored == key
    assert isinstance(key, bytes) and len(key) == 32
    assert b"hunter2-secret" not in key
    assert b"hunter2-secret".hex().encode() not in key
    # Not a plain (guessable) hash of the secret or of the credential...
    for plain in (b"hunter2-secret", b"a@x.io:hunter2-secret", b"1:a@x.io:hunter2-secret"):
        assert key != hashlib.sha256(plain).digest()
    # ...but keyed per process: another cache derives a different key.
    assert VerifiedCache().key(1, PW) != key
    # and nothing the cache holds shows the secret
    assert "hunter2-secret" not in repr(cache._entries)


def test_cache_keys_distinguish_account_and_kind() -> None:
    cache = VerifiedCache(key=b"k" * 32)
    keys = {
        cache.key(1, PW),
        cache.key(2, PW),
        cache.key(1, TokenCredential(PW.email, PW.password)),
        cache.key(1, BearerCredential(PW.password)),
        cache.key(11, PasswordCredential("", "a@x.io")),  # no ambiguity by concatenation
    }
    assert len(keys) == 5
    assert VerifiedCache(key=b"k" * 32).key(1, PW) == cache.key(1, PW)


def test_cache_rejects_bad_config() -> None:
    with pytest.raises(ValueError):
        VerifiedCache(maxsize=-1)
    with pytest.raises(ValueError):
        VerifiedCache(ttl=-1)


# --------------------------------------------------------------------------- authenticator


@dataclass(frozen=True, slots=True)
class User:  # the store's record shape
    id: int
    account_id: int
    name: str
    email: str
    role: str
    password_hash: str | None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:  # the store's record shape
    id: int
    account_id: int
    user_id: int
    prefix: str
    token_hash: str
    description: str = ""


class FakeStore:
    def __init__(self) -> None:
        self.users: list[User] = []
        self.tokens: list[ApiToken] = []
        self.calls = 0

    def add_user(self, account_id: int, user_id: int, email: str, password: str | None) -> User:
        h = hash_secret(password, hasher=CHEAP) if password is not None else None
        user = User(user_id, account_id, email.split("@")[0], email, "agent", h)
        self.users.append(user)
        return user

    def add_token(self, account_id: int, user_id: int, token: str | None = None) -> str:
        token = token or new_api_token()
        h = hash_secret(token, hasher=CHEAP)
        self.tokens.append(
            ApiToken(len(self.tokens) + 1, account_id, user_id, token_prefix(token), h)
        )
        return token

    def find_user_by_email(self, account_id: int, email: str) -> User | None:
        self.calls += 1
        return next(
            (u for u in self.users if u.account_id == account_id and u.email.lower() == email),
            None,
        )

    def list_api_tokens(self, account_id: int, user_id: int) -> list[ApiToken]:
        self.calls += 1
        return [t for t in self.tokens if t.account_id == account_id and t.user_id == user_id]

    def find_token_by_prefix(self, prefix: str) -> list[ApiToken]:
        self.calls += 1
        return [t for t in self.tokens if t.prefix == prefix]


class CountingVerifier:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, hash: str, secret: str) -> bool:
        self.calls += 1
        return verify_secret(hash, secret, hasher=CHEAP)


@dataclass
class World:
    store: FakeStore
    verify: CountingVerifier
    auth: Authenticator
    alice_token: str
    bob_token: str


@pytest.fixture
def world() -> World:
    store = FakeStore()
    store.add_user(1, 10, "alice@acme.io", "alice-pw")
    store.add_user(1, 11, "carol@acme.io", None)  # no password: token-only
    store.add_user(2, 20, "bob@other.io", "bob-pw")
    store.add_user(2, 21, "alice@acme.io", "alice-pw-in-2")  # same email, other account
    alice_token = store.add_token(1, 10)
    store.add_token(1, 10)
    store.add_token(1, 10)
    bob_token = store.add_token(2, 20)
    verify = CountingVerifier()
    auth = Authenticator(store, hasher=CHEAP, verify=verify)
    return World(store, verify, auth, alice_token, bob_token)


def test_password_auth(world: World) -> None:
    assert world.auth.authenticate(1, basic("Alice@ACME.io", "alice-pw"), now=0) == 10
    assert world.auth.authenticate(1, basic("alice@acme.io", "wrong"), now=0) is None
    assert world.auth.authenticate(2, basic("alice@acme.io", "alice-pw-in-2"), now=0) == 21


def test_basic_token_auth(world: World) -> None:
    header = basic("alice@acme.io/token", world.alice_token)
    assert world.auth.authenticate(1, header, now=0) == 10
    # only the token with the matching prefix is hashed, not all three of alice's
    assert world.verify.calls == 1


def test_basic_token_must_belong_to_the_named_user(world: World) -> None:
    assert world.auth.authenticate(1, basic("carol@acme.io/token", world.alice_token), 0) is None


def test_password_is_not_a_token_and_vice_versa(world: World) -> None:
    assert world.auth.authenticate(1, basic("alice@acme.io/token", "alice-pw"), 0) is None
    assert world.auth.authenticate(1, basic("alice@acme.io", world.alice_token), 0) is None


def test_bearer_auth(world: World) -> None:
    assert world.auth.authenticate(1, f"Bearer {world.alice_token}", now=0) == 10
    assert world.auth.authenticate(2, f"Bearer {world.bob_token}", now=0) == 20
    last = "y" if world.alice_token.endswith("x") else "x"  # always a different token
    assert world.auth.authenticate(1, f"Bearer {world.alice_token[:-1]}{last}", now=0) is None


def test_wrong_account_never_authenticates(world: World) -> None:
    assert world.auth.authenticate(1, f"Bearer {world.bob_token}", now=0) is None
    assert world.auth.authenticate(2, f"Bearer {world.alice_token}", now=0) is None
    assert world.auth.authenticate(1, basic("bob@other.io", "bob-pw"), now=0) is None
    assert world.auth.authenticate(1, basic("bob@other.io/token", world.bob_token), 0) is None
    assert world.auth.authenticate(2, basic("alice@acme.io", "alice-pw"), now=0) is None
    assert world.auth.authenticate(3, basic("alice@acme.io", "alice-pw"), now=0) is None


def test_wrong_account_is_not_served_from_cache(world: World) -> None:
    assert world.auth.authenticate(1, f"Bearer {world.alice_token}", now=0) == 10
    assert world.auth.authenticate(2, f"Bearer {world.alice_token}", now=1) is None


@pytest.mark.parametrize(
    "make_header",
    [
        lambda w: basic("nobody@acme.io", "pw"),
        lambda w: basic("nobody@acme.io/token", w.alice_token),
        lambda w: basic("carol@acme.io", "pw"),  # user without a password
        lambda w: basic("carol@acme.io/token", "x" * 40),  # user without tokens
        lambda w: "Bearer " + "y" * 40,
        lambda w: f"Bearer {w.bob_token}",  # exists, but in another account
    ],
)
def test_a_miss_costs_one_hash_like_a_wrong_secret(
    world: World, make_header: Callable[[World], str]
) -> None:
    assert world.auth.authenticate(1, make_header(world), now=0) is None
    assert world.verify.calls == 1


def test_malformed_header_costs_nothing(world: World) -> None:
    assert world.auth.authenticate(1, "Basic %%%", now=0) is None
    assert world.auth.authenticate(1, None, now=0) is None
    assert world.verify.calls == 0
    assert world.store.calls == 0


@pytest.mark.parametrize("form", ["password", "token", "bearer"])
def test_cache_hit_avoids_hashing_and_lookups(world: World, form: str) -> None:
    header = {
        "password": basic("alice@acme.io", "alice-pw"),
        "token": basic("alice@acme.io/token", world.alice_token),
        "bearer": f"Bearer {world.alice_token}",
    }[form]
    assert world.auth.authenticate(1, header, now=0) == 10
    hashes, lookups = world.verify.calls, world.store.calls
    for t in range(1, 100):
        assert world.auth.authenticate(1, header, now=float(t)) == 10
    assert world.verify.calls == hashes
    assert world.store.calls == lookups


def test_failures_are_not_cached(world: World) -> None:
    header = basic("alice@acme.io", "wrong")
    for _ in range(3):
        assert world.auth.authenticate(1, header, now=0) is None
    assert world.verify.calls == 3
    assert len(world.auth.cache) == 0


def test_cache_ttl_expiry_forces_a_new_hash(world: World) -> None:
    header = basic("alice@acme.io", "alice-pw")
    assert world.auth.authenticate(1, header, now=1000.0) == 10
    assert world.auth.authenticate(1, header, now=1299.0) == 10
    assert world.verify.calls == 1
    assert world.auth.authenticate(1, header, now=1300.0) == 10
    assert world.verify.calls == 2


def test_password_change_with_invalidation(world: World) -> None:
    header = basic("alice@acme.io", "alice-pw")
    assert world.auth.authenticate(1, header, now=0) == 10
    old = next(u for u in world.store.users if u.id == 10)
    world.store.users.remove(old)
    world.store.add_user(1, 10, "alice@acme.io", "new-pw")
    world.auth.cache.invalidate_user(1, 10)
    assert world.auth.authenticate(1, header, now=1) is None
    assert world.auth.authenticate(1, basic("alice@acme.io", "new-pw"), now=1) == 10


def test_real_argon2_end_to_end_without_injected_verifier() -> None:
    store = FakeStore()
    store.add_user(1, 10, "alice@acme.io", "alice-pw")
    token = store.add_token(1, 10)
    auth = Authenticator(store, hasher=CHEAP)
    assert auth.authenticate(1, basic("alice@acme.io", "alice-pw"), now=0) == 10
    assert auth.authenticate(1, f"bearer {token}", now=0) == 10
    assert auth.authenticate(1, basic("nobody@acme.io", "alice-pw"), now=0) is None
    assert auth.authenticate(1, basic("alice@acme.io", "nope"), now=0) is None


def test_verify_credential_accepts_parsed_credentials(world: World) -> None:
    cred: Credential = PasswordCredential("alice@acme.io", "alice-pw")
    assert world.auth.verify_credential(1, cred, now=0) == 10
