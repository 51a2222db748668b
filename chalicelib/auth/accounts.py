"""What the API does with accounts: first-run setup, logins, users, API keys, and who a
request's credentials belong to."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..api.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    SetupDone,
    TooManyRequests,
    Unauthenticated,
    field_error,
)
from ..api.schemas import parse
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.task import iso
from . import passwords
from .admins import is_enabled_admin
from .apikeys import MAX_KEYS_PER_USER, ApiKeys
from .dynamo import unavailable
from .identity import Identity, Role
from .ports import AdminChangeRefused, StoreBusy, User, UserChange, UserRecords
from .ratelimit import RateLimiter
from .schemas import ChangePassword, CreateApiKey, CreateUser, Login, PatchUser, Setup, UserListQuery
from .sessions import SessionError, Sessions
from .setuptoken import OpenSetup, SetupGate
from .tokens import TokenError, Tokens

log = logging.getLogger("haul.auth")


SETUP_ITEM = "auth#setup-done"
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
BAD_LOGIN = "wrong username or password"


@dataclass(frozen=True)
class Grant:
    """What a login, a setup or a refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_at: int  # epoch seconds
    user: User

    def view(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_expires_at": iso(self.refresh_expires_at * 1000),
            "user": user_view(self.user),
        }


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": bool(user.disabled),
        "created_at": iso(int(user.created_at)),
        "updated_at": iso(int(user.updated_at)),
        "last_login": iso(int(user.last_login)) if user.last_login is not None else None,
    }


def key_view(key: Any, secret: str | None = None) -> dict[str, Any]:
    out = {
        "id": key.id,
        "name": key.name,
        "prefix": f"haul_{key.id[:8]}",
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "expires_at": iso(key.expires * 1000) if key.expires is not None else None,
    }
    if secret is not None:
        out["key"] = secret
    return out


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=") if key else None


def _decode_user_cursor(cursor: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, TypeError):
        value = None
    ok = (
        isinstance(value, dict)
        and set(value) == {"username", "kind", "created_key"}
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in value.values())
        and value["kind"]["S"] == "user"
    )
    if not ok:
        raise field_error("cursor", "is not a cursor this API issued for this list")
    assert isinstance(value, dict)
    return value


class ActivityRecorder(Protocol):
    """Where failed logins are recorded (chalicelib/activity/log.py ``ActivityLog``)."""

    def record(self, *, owner: str | None, actor: str, kind: str, level: str, message: str) -> Any: ...


# (user id or None, username, client) of a failed login
LoginFailed = Callable[[str | None, str, str], None]


def login_failure_recorder(activity: ActivityRecorder) -> LoginFailed:
    """A failed login in the activity log, as a warning (the user's own log, or the engine's)."""

    def record(user_id: str | None, username: str, client: str) -> None:
        try:
            activity.record(owner=user_id, actor=username[:64], kind="auth.login_failed", level="warning",
                            message=f"failed login for {username[:64]!r} from {client[:64]}")
        except Exception:  # the log never fails a login
            log.debug("could not record a failed login", exc_info=True)

    return record


class Accounts:
    def __init__(
        self, users: UserRecords, tokens: Tokens, sessions: Sessions, keys: ApiKeys, limiter: RateLimiter,
        rate_limit_per_minute: int, clock: Clock = SYSTEM_CLOCK,
        key_days: Callable[[], int] = lambda: 90, setup_gate: SetupGate | None = None,
        on_session_end: Callable[[str, str | None], None] = lambda user_id, session_id: None,
        on_login_failed: LoginFailed = lambda user_id, username, client: None,
    ) -> None:
        self._login_failed = on_login_failed
        self.users = users
        self.tokens = tokens
        self.sessions = sessions
        self.keys = keys
        self.limiter = limiter
        self.rate_limit_per_minute = rate_limit_per_minute
        self._clock = clock
        self.setup_gate: SetupGate = setup_gate or OpenSetup()
        # Called with (user id, session id) when a login session ends, or (user id, None) when
        # all of a user's do: the composition root closes their WebSocket connections.
        self.on_session_end = on_session_end
        self._key_days = key_days  # a new API key's default lifetime (the settings' security.api_key_days)

    # -- who is calling ---------------------------------------------------------------------
    def resolve(self, authorization: str | None, api_key: str | None) -> Identity | None:
        """The identity the credentials belong to; None without credentials.

        Raises Unauthenticated for credentials that are present but not good.
        """
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
            return self.from_access_token(value.strip())
        if api_key:
            return self.from_api_key(api_key.strip())
        return None

    def from_access_token(self, token: str) -> Identity:
        try:
            claims = self.tokens.verify(token)
        except TokenError as exc:
            log.info("access token refused: %s", exc)
            raise Unauthenticated("the access token is invalid or has expired") from None
        try:
            found_session, found_user = self.users.session_and_user(claims.session_id, claims.username)
        except StoreBusy:
            raise TooManyRequests("the accounts table is busy; try again", retry_after=1) from None
        session = self.sessions.usable(found_session)
        if session is None or session.user_id != claims.user_id:
            raise Unauthenticated("the session has ended (logged out, revoked or expired); log in again")
        user = self._check_user(found_user, claims.user_id, session.created_at)
        return Identity(user.id, user.username, Role(user.role), "token", session_id=session.id)

    def from_api_key(self, value: str) -> Identity:
        key = self.keys.verify(value)
        if key is None:
            raise Unauthenticated("the API key is invalid, expired or revoked")
        # A key ends with the sessions of its time: a new password, or disabling the user,
        # ends the keys made before it too.
        user = self._usable(key.username, key.user_id, key.created_at)
        return Identity(user.id, user.username, Role(user.role), "api_key", key_id=key.id)

    def _usable(self, username: str, user_id: str, session_started: float | None) -> User:
        return self._check_user(self._by_name(username), user_id, session_started)

    @staticmethod
    def _check_user(user: User | None, user_id: str, session_started: float | None) -> User:
        if user is None or user.id != user_id or user.disabled:
            raise Unauthenticated("the account does not exist or is disabled")
        if session_started is not None and session_started < (user.valid_after or 0):
            raise Unauthenticated("the session has ended (the password changed); log in again")
        return user

    def rate(self, who: Identity) -> Any:
        """Count one request of ``who``; the verdict (None when there is no limit)."""
        if self.rate_limit_per_minute <= 0:
            return None
        return self.limiter.hit("requests", who.user_id, self.rate_limit_per_minute)

    # -- first run --------------------------------------------------------------------------
    def setup_required(self) -> bool:
        return not self.users.any()

    def setup(self, req: Setup) -> Grant:
        if not self.setup_required():
            raise SetupDone("setup is done: an admin exists; log in instead")
        self.setup_gate.check(req.setup_token)  # a deployed stage: the one-time token
        user = self._new_user(req.username, req.password, Role.ADMIN)
        if not self.users.create_first(user, SETUP_ITEM):
            raise SetupDone("setup is done: an admin exists; log in instead")
        log.info("first-run setup: created admin %s", user.username)
        return self._start(user)

    def ensure_admin(self, username: str, password: str) -> str:
        """The local runtime's scripted setup (HAUL_ADMIN_USER / HAUL_ADMIN_PASSWORD); what it did."""
        req = parse(Setup, {"username": username, "password": password})
        if self.setup_required():
            try:
                self.setup(req)
                return f"admin {req.username!r} created from HAUL_ADMIN_USER"
            except SetupDone:
                pass
        user = self._by_name(req.username)
        if user is not None and user.role == Role.ADMIN:
            return f"admin {req.username!r} (from HAUL_ADMIN_USER) exists"
        return f"setup was done before; HAUL_ADMIN_USER {req.username!r} is not an admin here and was left alone"

    # -- sessions ---------------------------------------------------------------------------
    def login(self, req: Login, client: str) -> Grant:
        user = self._check_password(req.username, req.password, client)
        rehash = passwords.hash_password(req.password) if passwords.needs_rehash(user.password_hash) else None
        updated = self.users.update(user, UserChange(last_login=self._now_ms(), password_hash=rehash))
        if updated is None:  # deleted (or renamed) since the password was checked
            raise Unauthenticated(BAD_LOGIN)
        return self._start(updated)

    def _check_password(self, username: str, password: str, client: str) -> User:
        """The enabled user whose password this is. The attempt is counted before the password
        is checked (ratelimit.py): over the limit, 429 without checking it at all."""
        wait = self.limiter.login_attempt(username, client)
        if wait:
            raise TooManyRequests(f"too many failed logins; try again in {wait} s", wait)
        user = self._by_name(username)
        if user is None:
            passwords.burn_time(password)
            good = False
        else:
            good = passwords.verify_password(user.password_hash, password) and not user.disabled
        if not good or user is None:
            self._login_failed(user.id if user is not None else None, username, client)
            raise Unauthenticated(BAD_LOGIN)
        self.limiter.login_succeeded(username, client)
        return user

    def refresh(self, refresh_token: str) -> Grant:
        try:
            session, token = self.sessions.rotate(refresh_token)
        except SessionError as exc:
            if exc.reused:
                log.warning("refresh token replayed: session revoked")
                if exc.session is not None:
                    self.on_session_end(exc.session.user_id, exc.session.id)
            raise Unauthenticated(f"the refresh token cannot be used: {exc}") from None
        try:
            user = self._usable(session.username, session.user_id, session.created_at)
        except Unauthenticated:
            self.sessions.revoke(session.id, "the user is gone or disabled")
            self.on_session_end(session.user_id, session.id)
            raise
        access = self.tokens.issue(user.id, user.username, session.id, user.role)
        return Grant(access, token, self.tokens.lifetime, session.expires, user)

    def logout(self, who: Identity) -> None:
        if who.session_id is None:
            raise BadRequest(
                "logout ends a login session; an API key is revoked with DELETE /api/v1/auth/api-keys/{id}"
            )
        self.sessions.revoke(who.session_id, "logged out")
        self.on_session_end(who.user_id, who.session_id)

    def _start(self, user: User) -> Grant:
        session, refresh = self.sessions.start(user.id, user.username)
        access = self.tokens.issue(user.id, user.username, session.id, user.role)
        return Grant(access, refresh, self.tokens.lifetime, session.expires, user)

    def change_password(self, who: Identity, req: ChangePassword, client: str) -> Grant:
        """The caller's own new password: the current one first (counted like a login attempt);
        every session and API key made before it ends; a new session for the caller."""
        try:
            user = self._check_password(who.username, req.current_password, client)
        except Unauthenticated:
            raise Forbidden("the current password is wrong",
                            [{"field": "current_password", "message": "is wrong"}]) from None
        if req.new_password == req.current_password:
            raise field_error("new_password", "must differ from the current password")
        changed = self._now_ms()
        change = UserChange(password_hash=passwords.hash_password(req.new_password), valid_after=changed,
                            updated_at=changed)
        updated = self.users.update(user, change) if user.id == who.user_id else None
        if updated is None:
            raise Unauthenticated("the account does not exist or is disabled")
        user = updated
        log.info("user %s changed their password", user.username)
        self.on_session_end(user.id, None)  # before the new session: no connection of it exists yet
        return self._start(user)

    # -- users ------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return self._clock.now_ms()

    def _by_name(self, username: str) -> User | None:
        return self.users.get(username)

    def user(self, user_id: str) -> User:
        if _ID.match(user_id):
            username = self.users.username_of(user_id)
            user = self._by_name(username) if username is not None else None
            if user is not None and user.id == user_id:
                return user
        raise NotFound(f"no user with id {user_id}")

    def list_users(self, q: UserListQuery) -> tuple[list[User], str | None]:
        start = _decode_user_cursor(q.cursor) if q.cursor else None
        users, last = self.users.page(q.per_page, start)
        return users, _encode_cursor(last)

    def count_users(self) -> int:
        return self.users.count()

    def _new_user(self, username: str, password: str, role: Role) -> User:
        created = self._now_ms()
        return User(
            id=str(uuid.uuid4()), username=username, role=role.value, password_hash=passwords.hash_password(password),
            disabled=False, created_at=created, updated_at=created, valid_after=0,
        )

    def create_user(self, req: CreateUser) -> User:
        user = self._new_user(req.username, req.password, req.role)
        if not self.users.create(user, admin=req.role == Role.ADMIN):
            raise Conflict(f"the username {req.username!r} is taken")
        log.info("user %s created (%s)", user.username, user.role)
        return user

    def update_user(self, actor: Identity, user_id: str, req: PatchUser) -> User:
        user = self.user(user_id)
        now = self._now_ms()
        change = UserChange(
            updated_at=now,
            role=req.role.value if req.role is not None else None,
            disabled=req.disabled,
            password_hash=passwords.hash_password(req.password) if req.password is not None else None,
            valid_after=now if req.password is not None or req.disabled else None,  # ends the user's sessions
        )
        was = is_enabled_admin(user.role, user.disabled)
        will = is_enabled_admin(req.role.value if req.role else user.role,
                                req.disabled if req.disabled is not None else user.disabled)
        if was == will:
            updated = self.users.update(user, change)
            if updated is None:
                raise NotFound(f"no user with id {user_id}")
            user = updated
        else:
            # The user as read (id, role, disabled) and the roster change in one transaction.
            self._admin_change(lambda: self.users.update_admin(user, change, joins=will))
            user = self.user(user_id)
        if req.password is not None or req.disabled:
            self.on_session_end(user.id, None)
        log.info("user %s updated by %s", user.username, actor.username)
        return user

    def delete_user(self, actor: Identity, user_id: str) -> None:
        user = self.user(user_id)
        if is_enabled_admin(user.role, user.disabled):
            self._admin_change(lambda: self.users.delete_admin(user))
        elif not self.users.delete(user):
            raise NotFound(f"no user with id {user_id}")
        for key in self.keys.of_user(user.id):
            self.keys.delete(key.id)
        self.on_session_end(user.id, None)
        log.info("user %s deleted by %s (their downloads are kept)", user.username, actor.username)

    @staticmethod
    def _admin_change(write: Callable[[], None]) -> None:
        """``write`` the user and the roster of enabled admins (one transaction); 409 when the
        user leaves the roster as its last member, or changed since it was read."""
        try:
            write()
        except AdminChangeRefused as exc:
            if exc.reason == "last_admin":
                raise Conflict("at least one enabled admin must remain") from None
            if exc.reason == "changed":
                raise Conflict("the user was changed at the same moment; read it again and retry") from None
            raise unavailable("the change") from None

    # -- API keys ---------------------------------------------------------------------------
    def create_key(self, who: Identity, req: CreateApiKey, client: str) -> dict[str, Any]:
        if who.via != "token":
            raise Forbidden("API keys are created from a login session, not with another API key")
        if req.never_expires and not who.is_admin:
            raise Forbidden("only admins may create a key that never expires (expires_in_days: null)",
                            [{"field": "expires_in_days", "message": "must be a number of days (1 to 3650)"}])
        try:  # re-authentication: the password again, counted like a login attempt
            self._check_password(who.username, req.password, client)
        except Unauthenticated:
            raise Forbidden("the password is wrong", [{"field": "password", "message": "is wrong"}]) from None
        if self.keys.count(who.user_id) >= MAX_KEYS_PER_USER:
            raise Conflict(f"at most {MAX_KEYS_PER_USER} API keys per user; revoke one first")
        days = None if req.never_expires else (req.expires_in_days or self._key_days())
        key, secret = self.keys.create(who.user_id, who.username, req.name, days)
        return key_view(key, secret)

    def list_keys(self, who: Identity) -> list[dict[str, Any]]:
        return [key_view(k) for k in self.keys.of_user(who.user_id)]

    def revoke_key(self, who: Identity, key_id: str) -> None:
        key = self.keys.get(key_id) if _KEY_ID.match(key_id) else None
        if key is None or key.user_id != who.user_id:
            raise NotFound(f"no API key with id {key_id}")
        self.keys.delete(key.id)
