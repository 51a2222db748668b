"""Login sessions and their refresh tokens: rotated on every use, a replay revokes the session.

A refresh token is ``<session id>.<secret>``; the session keeps the SHA-256 of the secret
that is valid now and of every secret it replaced. Refreshing with the current one swaps in a
new one (a conditional write: of two concurrent refreshes with the same token, one wins and
the other counts as a replay). Presenting a replaced one means it was copied: the whole
session is revoked, the thief's and the user's tokens alike. A session lives at most
``lifetime_seconds`` from its login, however often it is refreshed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

from ..domain.clock import SYSTEM_CLOCK, Clock
from .dynamo import unavailable
from .ports import LoginSession, SessionRecords, StoreUnavailable

_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{20,128})$")


class SessionError(Exception):
    """A refresh token that cannot be used; ``reused`` when it was a replay."""

    def __init__(self, message: str, reused: bool = False, session: LoginSession | None = None) -> None:
        super().__init__(message)
        self.reused = reused
        self.session = session  # the session a replay revoked


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(self, records: SessionRecords, lifetime_seconds: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self.lifetime = lifetime_seconds
        self._clock = clock

    def _now(self) -> float:
        return self._clock.now_ms() / 1000

    def start(self, user_id: str, username: str) -> tuple[LoginSession, str]:
        """A new session for the user, and its first refresh token."""
        now_ms = self._clock.now_ms()
        sid = uuid.uuid4().hex
        secret = secrets.token_urlsafe(32)
        session = LoginSession(sid, user_id, username, _digest(secret), now_ms, now_ms // 1000 + self.lifetime)
        self.records.create(session)
        return session, f"{sid}.{secret}"

    def rotate(self, refresh_token: str) -> tuple[LoginSession, str]:
        """The session ``refresh_token`` belongs to, and the token that replaces it."""
        match = _TOKEN.match(refresh_token)
        if not match:
            raise SessionError("not a refresh token")
        sid, secret = match.groups()
        session = self.active(sid)
        if session is None:
            raise SessionError("the session has ended (logged out, revoked or expired)")
        presented = _digest(secret)
        if presented in session.used:
            self.revoke(sid, "a refresh token was used twice")
            raise SessionError("this refresh token was already used: the session is revoked", True, session)
        if not hmac.compare_digest(presented, session.current):
            raise SessionError("not a refresh token of this session")
        new_secret = secrets.token_urlsafe(32)
        try:
            rotated = self.records.rotate(sid, presented, _digest(new_secret), self._clock.now_ms())
        except StoreUnavailable:
            # DynamoDB did not answer (throttled, unavailable): nothing happened to the
            # session, and the token still works once the store answers again.
            raise unavailable("the refresh") from None
        if not rotated:
            # Someone refreshed with this very token a moment ago: one of the two is a copy.
            self.revoke(sid, "a refresh token was used twice")
            raise SessionError("this refresh token was already used: the session is revoked", True, session)
        return session, f"{sid}.{new_secret}"

    def active(self, session_id: str) -> LoginSession | None:
        """The session, unless it is revoked or expired (TTL deletion lags; expiry is checked here)."""
        return self.usable(self.records.get(session_id))

    def usable(self, session: LoginSession | None) -> LoginSession | None:
        """``session`` (as read), unless it is missing, revoked or expired."""
        if session is None or session.revoked or session.expires <= self._now():
            return None
        return session

    def revoke(self, session_id: str, reason: str) -> None:
        """End the session. Only a session that no longer exists is taken as ended already: any
        other failure raises (503), so a logout that did not happen is never answered as done."""
        try:
            self.records.revoke(session_id, reason)
        except StoreUnavailable:
            raise unavailable("ending the session") from None
