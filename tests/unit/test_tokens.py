"""Access tokens and password hashes, without any AWS: a fixed key and a fake clock."""

from __future__ import annotations

import jwt
import pytest

from chalicelib.auth import passwords
from chalicelib.auth.identity import Identity, Role
from chalicelib.auth.tokens import ALGORITHM, TokenError, Tokens
from tests.fakes.clock import ManualClock

KEY = b"k" * 64


class FixedKey:
    def key(self) -> bytes:
        return KEY


def test_a_token_verifies_until_it_expires() -> None:
    tokens = Tokens(FixedKey(), 900, clock=ManualClock(1_000_000_000))
    token = tokens.issue("user-1", "alice", "session-1", "user")
    claims = jwt.decode(token, KEY, algorithms=[ALGORITHM], audience="haul-api", options={"verify_exp": False})
    assert (claims["sub"], claims["name"], claims["sid"], claims["exp"] - claims["iat"]) == (
        "user-1",
        "alice",
        "session-1",
        900,
    )
    with pytest.raises(TokenError):  # issued at a fake time long past: expired now
        tokens.verify(token)
    fresh = Tokens(FixedKey(), 900).issue("user-1", "alice", "session-1", "user")
    assert Tokens(FixedKey(), 900).verify(fresh).session_id == "session-1"


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_only_hs256_is_accepted(alg: str) -> None:
    good = jwt.decode(Tokens(FixedKey(), 900).issue("u", "n", "s", "user"), options={"verify_signature": False})
    with pytest.raises(TokenError):
        Tokens(FixedKey(), 900).verify(jwt.encode(good, KEY, algorithm=alg))


def test_passwords() -> None:
    stored = passwords.hash_password("pässwörd with spaces ")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, "pässwörd with spaces ")
    assert not passwords.verify_password(stored, "pässwörd with spaces")
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")


def test_roles_are_ordered() -> None:
    viewer, user, admin = (Identity("i", "n", r) for r in (Role.VIEWER, Role.USER, Role.ADMIN))
    assert viewer.at_least(Role.VIEWER) and not viewer.at_least(Role.USER)
    assert user.at_least(Role.USER) and not user.at_least(Role.ADMIN)
    assert admin.at_least(Role.ADMIN) and admin.sees("someone else")
    assert user.sees("i") and not user.sees("someone else")
