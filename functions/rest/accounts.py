"""Accounts under /api/v1: first-run setup, login/refresh/logout, the caller, users (admins)
and personal API keys. The logic is chalicelib/auth/accounts.py; docs/security.md explains it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.accounts import user_view
from chalicelib.auth.identity import Role
from chalicelib.auth.schemas import (
    ApiKeyCreated,
    ApiKeyList,
    AuthStatus,
    ChangePassword,
    CreateApiKey,
    CreateUser,
    KeyRevoked,
    LoggedOut,
    Login,
    PatchUser,
    Refresh,
    Setup,
    TokenGrant,
    UserDeleted,
    UserListQuery,
    UserPage,
    UserView,
)
from chalicelib.container import services

from .http import (
    PAGINATION_HEADERS,
    PUBLIC,
    caller,
    client_address,
    json_body,
    maybe_caller,
    pagination_headers,
    query,
    respond,
    route,
)

blueprint = Blueprint(__name__)


def _accounts() -> Any:
    return services().accounts


def _record(owner: str, actor: str, kind: str, message: str, level: str = "info", data: Any = None) -> None:
    """An account action in the activity log (never fails the action)."""
    services().activity.record(owner=owner, actor=actor, kind=kind, message=message, level=level, data=data)


# -- sessions --------------------------------------------------------------------------------


@route(blueprint, "/auth/status", ["GET"], role=PUBLIC, tag="auth", response=AuthStatus)
def auth_status(request: Request) -> dict[str, Any]:
    """Whether the first admin still has to be created, and whether the caller is authenticated."""
    who = maybe_caller(request)
    user = _accounts().user(who.user_id) if who else None
    return {
        "setup_required": _accounts().setup_required(),
        "setup_token_required": _accounts().setup_gate.required,
        "authenticated": who is not None,
        "user": user_view(user) if user else None,
    }


@route(blueprint, "/auth/setup", ["POST"], role=PUBLIC, tag="auth", body=Setup, response=TokenGrant, status=201,
       errors=[403, 409])
def auth_setup(request: Request) -> Response:
    """Create the first admin (once; afterwards 409) and log them in; a deployed stage needs its setup_token."""
    grant = _accounts().setup(parse(Setup, json_body(request)))
    return respond(grant.view(), 201)


@route(blueprint, "/auth/login", ["POST"], role=PUBLIC, tag="auth", body=Login, response=TokenGrant,
       errors=[401, 429])
def auth_login(request: Request) -> dict[str, Any]:
    """Log in: an access token (JWT, short-lived) and a refresh token. Five attempts in a minute lock that
    account for that client (429 with Retry-After), for longer each time; others are not locked out."""
    grant = _accounts().login(parse(Login, json_body(request)), client_address(request))
    return grant.view()


@route(blueprint, "/auth/refresh", ["POST"], role=PUBLIC, tag="auth", body=Refresh, response=TokenGrant,
       errors=[401, 503])
def auth_refresh(request: Request) -> dict[str, Any]:
    """Trade a refresh token for a new access token and a new refresh token (a reused one revokes the session)."""
    grant = _accounts().refresh(parse(Refresh, json_body(request)).refresh_token)
    return grant.view()


@route(blueprint, "/auth/logout", ["POST"], tag="auth", response=LoggedOut, errors=[400, 503])
def auth_logout(request: Request) -> dict[str, Any]:
    """End the caller's session: its access and refresh tokens stop working."""
    _accounts().logout(caller(request))
    return {"status": "ok"}


@route(blueprint, "/auth/me", ["GET"], tag="auth", response=UserView)
def auth_me(request: Request) -> dict[str, Any]:
    """The caller's account."""
    return user_view(_accounts().user(caller(request).user_id))


@route(blueprint, "/auth/password", ["POST"], tag="auth", body=ChangePassword, response=TokenGrant,
       errors=[403, 422, 429])
def change_password(request: Request) -> dict[str, Any]:
    """Change your own password (the current one first; wrong guesses count like failed logins).
    Every session, API key and WebSocket connection of yours made before it ends; the answer is a
    new login session for the caller."""
    who = caller(request)
    grant = _accounts().change_password(who, parse(ChangePassword, json_body(request)), client_address(request))
    _record(who.user_id, who.username, "user.password", f"user {who.username} changed their password")
    return grant.view()


# -- personal API keys -----------------------------------------------------------------------


@route(blueprint, "/auth/api-keys", ["GET"], tag="auth", response=ApiKeyList, headers=PAGINATION_HEADERS)
def list_api_keys(request: Request) -> Response:
    """Your API keys (never their secrets)."""
    keys = _accounts().list_keys(caller(request))
    return respond({"keys": keys}, headers=pagination_headers(
        request, total=len(keys), per_page=max(1, len(keys)), next_cursor=None, paged=False))


@route(blueprint, "/auth/api-keys", ["POST"], tag="auth", body=CreateApiKey, response=ApiKeyCreated, status=201,
       errors=[403, 409, 429])
def create_api_key(request: Request) -> Response:
    """Create an API key for scripts (your password again): shown once, sent as X-API-Key, acting as you.
    It expires after the default days unless you say otherwise (never: admins only), and ends when
    your password changes or you are disabled."""
    who = caller(request)
    created = _accounts().create_key(who, parse(CreateApiKey, json_body(request)), client_address(request))
    _record(who.user_id, who.username, "apikey.create", f"API key {created['name']!r} ({created['prefix']}) created")
    return respond(created, 201)


@route(blueprint, "/auth/api-keys/{key_id}", ["DELETE"], tag="auth", response=KeyRevoked, errors=[404])
def revoke_api_key(request: Request, key_id: str) -> dict[str, Any]:
    """Revoke one of your API keys."""
    who = caller(request)
    _accounts().revoke_key(who, key_id)
    _record(who.user_id, who.username, "apikey.revoke", f"API key {key_id[:8]} revoked")
    return {"id": key_id, "revoked": True}


# -- users (admins) --------------------------------------------------------------------------


@route(blueprint, "/users", ["GET"], role=Role.ADMIN, tag="users", query=UserListQuery, response=UserPage,
       headers=PAGINATION_HEADERS)
def list_users(request: Request) -> Response:
    """Every user, oldest first (cursor pagination)."""
    q = parse(UserListQuery, query(request), "query")
    users, cursor = _accounts().list_users(q)
    total = _accounts().count_users()
    body = {"users": [user_view(u) for u in users], "total": total, "next_cursor": cursor}
    return respond(body, headers=pagination_headers(
        request, total=total, per_page=q.per_page, next_cursor=cursor, paged=False))


@route(blueprint, "/users", ["POST"], role=Role.ADMIN, tag="users", body=CreateUser, response=UserView, status=201,
       errors=[409])
def create_user(request: Request) -> Response:
    """Create a user with a role (admin, user, viewer)."""
    user = _accounts().create_user(parse(CreateUser, json_body(request)))
    _record(user.id, caller(request).username, "user.create", f"user {user.username} created ({user.role})")
    return respond(user_view(user), 201, {"Location": f"/api/v1/users/{user.id}"})


@route(blueprint, "/users/{user_id}", ["GET"], role=Role.ADMIN, tag="users", response=UserView, errors=[404])
def get_user(request: Request, user_id: str) -> dict[str, Any]:
    """One user."""
    return user_view(_accounts().user(user_id))


@route(blueprint, "/users/{user_id}", ["PATCH"], role=Role.ADMIN, tag="users", body=PatchUser, response=UserView,
       errors=[404, 409])
def patch_user(request: Request, user_id: str) -> dict[str, Any]:
    """Change a user's role, disable or enable them, or set a new password (which ends their sessions)."""
    req = parse(PatchUser, json_body(request))
    user = _accounts().update_user(caller(request), user_id, req)
    changed = ", ".join(k if k != "password" else "password" for k in req.model_dump(exclude_none=True))
    _record(user.id, caller(request).username, "user.update", f"user {user.username} updated: {changed or 'nothing'}",
            data={k: v for k, v in req.model_dump(exclude_none=True, mode="json").items() if k != "password"})
    return user_view(user)


@route(blueprint, "/users/{user_id}", ["DELETE"], role=Role.ADMIN, tag="users", response=UserDeleted,
       errors=[404, 409])
def delete_user(request: Request, user_id: str) -> dict[str, Any]:
    """Delete a user and their API keys (their downloads stay, for admins to see)."""
    _accounts().delete_user(caller(request), user_id)
    _record(user_id, caller(request).username, "user.delete", f"user {user_id} deleted", level="warning")
    return {"id": user_id, "deleted": True}
