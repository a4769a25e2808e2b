"""Wallboard sessions: signed, expiring, tamper-evident cookie values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkstats.access.sessions import DISPLAY, USER, Session, SessionSigner

SECRET = b"k" * 32


def test_round_trip() -> None:
    signer = SessionSigner(SECRET)
    session = Session(3, USER, 7, 1_000, 2_000)
    value = signer.issue(session)
    assert value.startswith("1.3.u.7.1000.2000.")
    assert signer.read(value, 1_500) == session
    display = Session(3, DISPLAY, 12, 1_000, 2_000)
    assert signer.read(signer.issue(display), 1_000) == display


def test_expired_at_the_expiry_second() -> None:
    signer = SessionSigner(SECRET)
    value = signer.issue(Session(1, USER, 1, 0, 100))
    assert signer.read(value, 99) is not None
    assert signer.read(value, 100) is None


def test_another_secret_does_not_read_it() -> None:
    value = SessionSigner(SECRET).issue(Session(1, USER, 1, 0, 100))
    assert SessionSigner(b"x" * 32).read(value, 1) is None
    assert SessionSigner(SECRET).read(value, 1) is not None  # the same secret after a restart


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.replace("1.1.u.", "1.2.u.", 1),  # another account
        lambda v: v.replace(".u.", ".d.", 1),  # a user session made a display session
        lambda v: v.replace(".100.", ".999999.", 1),  # a later expiry
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # the signature
        lambda v: v.rsplit(".", 1)[0],  # no signature
        lambda v: "",
        lambda v: v + "." + v,
    ],
)
def test_any_change_is_refused(change: object) -> None:
    signer = SessionSigner(SECRET)
    value = signer.issue(Session(1, USER, 1, 0, 100))
    assert signer.read(change(value), 1) is None  # type: ignore[operator]


@given(st.text(max_size=300))
def test_garbage_never_raises(value: str) -> None:
    assert SessionSigner(SECRET).read(value, 1) is None


def test_short_secret_and_unknown_kind_are_refused() -> None:
    with pytest.raises(ValueError):
        SessionSigner(b"short")
    with pytest.raises(ValueError):
        Session(1, "admin", 1, 0, 1)
