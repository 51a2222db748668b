"""What the API does with accounts: first-run setup, logins, users, API keys, and who a
request's credentials belong to."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

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
from ..domain.task import iso
from ..persistence.conditions import failed_conditions
from ..persistence.models import ControlModel, SessionModel, UserModel
from ..persistence.sessions import to_session
from . import passwords
from .admins import AdminRoster, is_enabled_admin
from .apikeys import MAX_KEYS_PER_USER, ApiKeys
from .dynamo import unavailable
from .identity import Identity, Role
from .ports import LoginSession
from .ratelimit import RateLimiter
from .schemas import ChangePassword, CreateApiKey, CreateUser, Login, PatchUser, Setup, UserListQuery
from .sessions import SessionError, Sessions
from .setuptoken import OpenSetup, SetupGate
from .tokens import TokenError, Tokens

log = logging.getLogger("haul.auth")


def _session_and_user(session_id: str, username: str) -> tuple[LoginSession | None, UserModel | None]:
    """The session and the account an access token names, read together (consistently) in one
    BatchGetItem over the two tables: every authenticated request makes this read, and one
    round trip costs half of two."""
    client = SessionModel._get_connection().connection.client
    pending: dict[str, Any] = {
        SessionModel.Meta.table_name: {"Keys": [{"id": {"S": session_id}}], "ConsistentRead": True},
        UserModel.Meta.table_name: {"Keys": [{"username": {"S": username}}], "ConsistentRead": True},
    }
    session: LoginSession | None = None
    user: UserModel | None = None
    for attempt in range(5):
        answer = client.batch_get_item(RequestItems=pending)
        for item in answer.get("Responses", {}).get(SessionModel.Meta.table_name, []):
            session = to_session(SessionModel.from_raw_data(item))
        for item in answer.get("Responses", {}).get(UserModel.Meta.table_name, []):
            user = UserModel.from_raw_data(item)
        pending = answer.get("UnprocessedKeys") or {}
        if not pending:
            return session, user
        time.sleep(0.05 * 2**attempt)  # DynamoDB hands back keys it could not read yet: ask again
    raise TooManyRequests("the accounts table is busy; try again", retry_after=1)

SETUP_ITEM = "auth#setup-done"
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
BAD_LOGIN = "wrong username or password"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Grant:
    """What a login, a setup or a refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_at: int  # epoch seconds
    user: UserModel

    def view(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_expires_at": iso(self.refresh_expires_at * 1000),
            "user": user_view(self.user),
        }


def user_view(user: UserModel) -> dict[str, Any]:
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
        self, tokens: Tokens, sessions: Sessions, keys: ApiKeys, limiter: RateLimiter,
        rate_limit_per_minute: int, clock: Callable[[], float] = time.time,
        key_days: Callable[[], int] = lambda: 90, setup_gate: SetupGate | None = None,
        on_session_end: Callable[[str, str | None], None] = lambda user_id, session_id: None,
        on_login_failed: LoginFailed = lambda user_id, username, client: None,
    ) -> None:
        self._login_failed = on_login_failed
        self.tokens = tokens
        self.sessions = sessions
        self.keys = keys
        self.limiter = limiter
        self.rate_limit_per_minute = rate_limit_per_minute
        self._clock = clock
        self.roster = AdminRoster()
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
        found_session, found_user = _session_and_user(claims.session_id, claims.username)
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

    def _usable(self, username: str, user_id: str, session_started: float | None) -> UserModel:
        return self._check_user(self._by_name(username), user_id, session_started)

    @staticmethod
    def _check_user(user: UserModel | None, user_id: str, session_started: float | None) -> UserModel:
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
        return next(iter(UserModel.by_created.query("user", limit=1)), None) is None

    def setup(self, req: Setup) -> Grant:
        if not self.setup_required():
            raise SetupDone("setup is done: an admin exists; log in instead")
        self.setup_gate.check(req.setup_token)  # a deployed stage: the one-time token
        user = self._new_user(req.username, req.password, Role.ADMIN)
        try:
            self.roster.ensure()
            with self._transaction() as tx:
                tx.save(ControlModel(SETUP_ITEM, updated_at=now_ms()), condition=ControlModel.pk.does_not_exist())
                tx.save(user, condition=UserModel.username.does_not_exist())
                self.roster.join(tx, user.username)
        except TransactWriteError:
            raise SetupDone("setup is done: an admin exists; log in instead") from None
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
        actions: list[Any] = [UserModel.last_login.set(now_ms())]
        if passwords.needs_rehash(user.password_hash):
            actions.append(UserModel.password_hash.set(passwords.hash_password(req.password)))
        user.update(actions=actions)
        return self._start(user)

    def _check_password(self, username: str, password: str, client: str) -> UserModel:
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

    def _start(self, user: UserModel) -> Grant:
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
        changed = now_ms()
        try:
            user.update(actions=[UserModel.password_hash.set(passwords.hash_password(req.new_password)),
                                 UserModel.valid_after.set(changed), UserModel.updated_at.set(changed)],
                        condition=UserModel.id == who.user_id)
        except UpdateError:
            raise Unauthenticated("the account does not exist or is disabled") from None
        log.info("user %s changed their password", user.username)
        self.on_session_end(user.id, None)  # before the new session: no connection of it exists yet
        return self._start(user)

    # -- users ------------------------------------------------------------------------------
    def _by_name(self, username: str) -> UserModel | None:
        try:
            return UserModel.get(username, consistent_read=True)
        except UserModel.DoesNotExist:
            return None

    def user(self, user_id: str) -> UserModel:
        if _ID.match(user_id):
            for found in UserModel.by_id.query(user_id, limit=1):
                user = self._by_name(found.username)
                if user is not None and user.id == user_id:
                    return user
        raise NotFound(f"no user with id {user_id}")

    def list_users(self, q: UserListQuery) -> tuple[list[UserModel], str | None]:
        start = _decode_user_cursor(q.cursor) if q.cursor else None
        result = UserModel.by_created.query("user", limit=q.per_page, last_evaluated_key=start)
        users = list(result)
        return users, _encode_cursor(result.last_evaluated_key)

    def count_users(self) -> int:
        return int(UserModel.by_created.count("user"))

    def _new_user(self, username: str, password: str, role: Role) -> UserModel:
        created = now_ms()
        user_id = str(uuid.uuid4())
        return UserModel(
            username, id=user_id, role=role.value, password_hash=passwords.hash_password(password),
            disabled=False, kind="user", created_key=f"{created:013d}#{user_id}", created_at=created,
            updated_at=created, valid_after=0,
        )

    def create_user(self, req: CreateUser) -> UserModel:
        user = self._new_user(req.username, req.password, req.role)
        try:
            if req.role == Role.ADMIN:
                self.roster.ensure()
                with self._transaction() as tx:
                    tx.save(user, condition=UserModel.username.does_not_exist())
                    self.roster.join(tx, user.username)
            else:
                user.save(condition=UserModel.username.does_not_exist())
        except (PutError, TransactWriteError):
            raise Conflict(f"the username {req.username!r} is taken") from None
        log.info("user %s created (%s)", user.username, user.role)
        return user

    def update_user(self, actor: Identity, user_id: str, req: PatchUser) -> UserModel:
        user = self.user(user_id)
        actions: list[Any] = [UserModel.updated_at.set(now_ms())]
        if req.role is not None:
            actions.append(UserModel.role.set(req.role.value))
        if req.disabled is not None:
            actions.append(UserModel.disabled.set(req.disabled))
        if req.password is not None:
            actions.append(UserModel.password_hash.set(passwords.hash_password(req.password)))
        if req.password is not None or req.disabled:
            actions.append(UserModel.valid_after.set(now_ms()))  # ends the user's sessions
        was = is_enabled_admin(user.role, user.disabled)
        will = is_enabled_admin(req.role.value if req.role else user.role,
                                req.disabled if req.disabled is not None else user.disabled)
        if was == will:
            try:
                user.update(actions=actions, condition=UserModel.id == user.id)
            except UpdateError:
                raise NotFound(f"no user with id {user_id}") from None
        else:
            # The user as read (id, role, disabled) and the roster change in one transaction.
            as_read = (
                (UserModel.id == user.id) & (UserModel.role == user.role) & (UserModel.disabled == bool(user.disabled))
            )
            self._admin_change(user, lambda tx: tx.update(user, actions=actions, condition=as_read), joins=will)
            user = self.user(user_id)
        if req.password is not None or req.disabled:
            self.on_session_end(user.id, None)
        log.info("user %s updated by %s", user.username, actor.username)
        return user

    def delete_user(self, actor: Identity, user_id: str) -> None:
        user = self.user(user_id)
        if is_enabled_admin(user.role, user.disabled):
            self._admin_change(user, lambda tx: tx.delete(user, condition=(UserModel.id == user.id) & (
                UserModel.role == user.role) & (UserModel.disabled == bool(user.disabled))), joins=False)
        else:
            try:
                user.delete(condition=UserModel.id == user.id)
            except DeleteError:
                raise NotFound(f"no user with id {user_id}") from None
        for key in self.keys.of_user(user.id):
            self.keys.delete(key.id)
        self.on_session_end(user.id, None)
        log.info("user %s deleted by %s (their downloads are kept)", user.username, actor.username)

    def _admin_change(self, user: UserModel, write: Callable[[TransactWrite], Any], joins: bool) -> None:
        """``write`` the user, and the roster of enabled admins, in one transaction; 409 when the
        user leaves the roster as its last member, or changed since it was read."""
        self.roster.ensure()
        try:
            with self._transaction() as tx:
                write(tx)
                (self.roster.join if joins else self.roster.leave)(tx, user.username)
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if len(failed) > 1 and failed[1]:
                raise Conflict("at least one enabled admin must remain") from None
            if failed and failed[0]:
                raise Conflict("the user was changed at the same moment; read it again and retry") from None
            raise unavailable("the change") from None

    @staticmethod
    def _transaction() -> TransactWrite:
        return TransactWrite(connection=Connection(region=UserModel.Meta.region))

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
