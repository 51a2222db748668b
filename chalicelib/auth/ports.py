"""What the accounts side needs from storage, named for what it does.

The DynamoDB implementations live in chalicelib/persistence/ (``ratelimits.py``,
``sessions.py``, ``apikeys.py``, ``signingkey.py``, ``users.py``), the
in-memory fakes in tests/fakes/auth.py, and a contract suite
(tests/functional/test_auth_store_contract.py) holds the two together. The composition root
(chalicelib/container.py) builds the implementations and passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class RateCounters(Protocol):
    """Counters that every process shares, each with an expiry (epoch seconds; the table's TTL
    removes them some time after it)."""

    def add(self, key: str, cost: int, expires_s: int) -> int:
        """Add ``cost`` to ``key`` (made when missing) and set its expiry; the count now."""

    def add_if_open(self, key: str, open_after_s: float) -> int | None:
        """Add one to ``key`` if it exists and expires after ``open_after_s``; the count now,
        or None (nothing added) when it does not."""

    def open(self, key: str, expires_s: int, open_after_s: float) -> bool:
        """Start ``key`` at 1 with this expiry unless it exists and expires after
        ``open_after_s``; False (nothing written) when it does."""

    def take_back(self, key: str) -> None:
        """Subtract one from ``key`` if it is above zero (nothing otherwise)."""

    def put(self, key: str, count: int, expires_s: int) -> None:
        """Write ``key`` as ``count`` with this expiry, whatever was there."""

    def expiry(self, key: str) -> float | None:
        """When ``key`` expires (epoch seconds), None when there is no such counter."""

    def drop(self, key: str) -> None:
        """Remove ``key`` (nothing when there is none)."""


class StoreUnavailable(Exception):
    """The store did not answer (throttled, unavailable): nothing is known to have happened.
    Not a refused condition, which each method reports in its own answer."""


@dataclass(frozen=True)
class LoginSession:
    """A login session as kept (chalicelib/auth/sessions.py)."""

    id: str
    user_id: str
    username: str
    current: str  # the SHA-256 of the refresh secret valid now
    created_at: int  # ms
    expires: int  # epoch seconds
    used: frozenset[str] = frozenset()  # the SHA-256 of every secret it replaced
    revoked: bool = False


class SessionRecords(Protocol):
    def create(self, session: LoginSession) -> None:
        """Keep a new session (its id is new)."""

    def get(self, session_id: str) -> LoginSession | None:
        """The session as kept now (a consistent read), revoked or expired or not."""

    def rotate(self, session_id: str, presented: str, new_current: str, now_ms: int) -> bool:
        """Swap ``presented`` (the current secret's hash) for ``new_current`` and remember it as
        used; False (nothing written) when ``presented`` is not current any more or the session
        is revoked or gone; StoreUnavailable when the store did not answer."""

    def revoke(self, session_id: str, reason: str) -> None:
        """Mark the session revoked; nothing when it does not exist; StoreUnavailable when the
        store did not answer."""


@dataclass(frozen=True)
class ApiKey:
    """A personal API key as kept (only the hash of its secret; chalicelib/auth/apikeys.py)."""

    id: str
    user_id: str
    username: str
    name: str
    secret_hash: str
    created_at: int  # ms
    last_used_at: int | None = None  # ms
    expires: int | None = None  # epoch seconds; None: never


class KeyRecords(Protocol):
    def create(self, key: ApiKey) -> None:
        """Keep a new key (its id is new)."""

    def get(self, key_id: str) -> ApiKey | None:
        """The key as kept now (a consistent read), expired or not."""

    def of_user(self, user_id: str) -> list[ApiKey]:
        """The user's keys, oldest first, expired or not."""

    def count(self, user_id: str) -> int:
        """How many keys the user has, expired or not."""

    def touch(self, key_id: str, now_ms: int) -> bool:
        """Record a use; False when the key is gone (revoked meanwhile)."""

    def delete(self, key_id: str) -> None:
        """Remove the key (nothing when there is none)."""


class SigningKeyItem(Protocol):
    """The local stage's token signing key, kept once per stage (chalicelib/auth/tokens.py)."""

    def load(self) -> Any | None:
        """What was kept (a dict with ``key``), None when nothing is."""

    def create(self, data: dict[str, Any]) -> bool:
        """Keep ``data`` unless something is kept already; False when it was."""


@dataclass(frozen=True)
class User:
    """An account as kept (chalicelib/auth/accounts.py)."""

    id: str
    username: str
    role: str
    password_hash: str
    disabled: bool
    created_at: int  # ms
    updated_at: int  # ms
    last_login: int | None = None  # ms
    valid_after: int = 0  # ms: sessions that began before this are over


@dataclass(frozen=True)
class UserChange:
    """What an update sets (None: left as it is)."""

    updated_at: int | None = None
    role: str | None = None
    disabled: bool | None = None
    password_hash: str | None = None
    valid_after: int | None = None
    last_login: int | None = None


class StoreBusy(Exception):
    """The store kept handing back keys it could not read yet: try again later."""


class AdminChangeRefused(Exception):
    """A change to who the enabled admins are did not happen: ``reason`` is ``last_admin`` (it
    would leave none), ``changed`` (the user changed since it was read) or ``unavailable``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UserRecords(Protocol):
    """The accounts and the roster of enabled admins (one item: "at least one admin remains" is
    a condition on it, written in the same transaction as the user)."""

    def get(self, username: str) -> User | None:
        """The user as kept now (a consistent read)."""

    def username_of(self, user_id: str) -> str | None:
        """The username a user id had last (an index: eventually consistent)."""

    def any(self) -> bool:
        """Whether any user exists."""

    def count(self) -> int: ...

    def page(self, limit: int, after: dict[str, Any] | None) -> tuple[list[User], dict[str, Any] | None]:
        """Users oldest first, from after the key ``after``; the key to go on from, None at the end."""

    def session_and_user(self, session_id: str, username: str) -> tuple[LoginSession | None, User | None]:
        """The session and the account an access token names, read together; StoreBusy when
        the store keeps not answering."""

    def create(self, user: User, admin: bool) -> bool:
        """Keep a new user (an enabled admin joins the roster in the same transaction); False
        when the username is taken."""

    def create_first(self, user: User, setup_item: str) -> bool:
        """The first-run setup: mark setup done (``setup_item``), keep the admin and start the
        roster, all or nothing; False when setup was done already."""

    def update(self, user: User, change: UserChange) -> User | None:
        """Apply ``change`` to ``user`` (unconditional but for the user's id); the user after,
        None when it is gone or another user has the name now."""

    def update_admin(self, user: User, change: UserChange, joins: bool) -> None:
        """Apply ``change`` if the user is as read (id, role, disabled) and, in the same
        transaction, join (``joins``) or leave the roster; AdminChangeRefused otherwise."""

    def delete(self, user: User) -> bool:
        """Remove the user (if it is still the one read); False when it was gone."""

    def delete_admin(self, user: User) -> None:
        """Remove an enabled admin as read and leave the roster; AdminChangeRefused otherwise."""
