"""Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 1024

# OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters (upgraded at the next login)."""
    try:
        return bool(_HASHER.check_needs_rehash(stored))
    except InvalidHashError:
        return True


@functools.cache
def _dummy() -> str:
    return _HASHER.hash("no user has this password; it only costs the same time")


def burn_time(password: str) -> None:
    """Spend what a verification costs, so an unknown username answers as slowly as a known one."""
    verify_password(_dummy(), password)
