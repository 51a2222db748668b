"""Accounts through the real Chalice app against the emulator: setup, login, tokens, refresh
rotation, logout, brute-force lock, rate limits, users and API keys (docs/security.md)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from chalice.test import Client

from tests.functional.test_api import Api, error_of
from tests.support.auth import PASSWORD, new_user

ADMIN_PASSWORD = "an admin's long password"


def wipe_accounts() -> None:
    from chalicelib.auth.accounts import SETUP_ITEM
    from chalicelib.persistence.models import ApiKeyModel, ControlModel, RateLimitModel, SessionModel, UserModel
    from chalicelib.persistence.users import ROSTER

    for model in (UserModel, SessionModel, ApiKeyModel, RateLimitModel):
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    ControlModel(SETUP_ITEM).delete()
    ControlModel(ROSTER).delete()


@pytest.fixture()
def anon(svc) -> Iterator[Api]:
    """A client without credentials, on a Haul with no users at all."""
    from app import app

    wipe_accounts()
    yield Api(Client(app))
    wipe_accounts()


def setup_admin(anon: Api, username: str = "root") -> dict[str, Any]:
    resp = anon.post("/auth/setup", {"username": username, "password": ADMIN_PASSWORD})
    assert resp.status_code == 201, resp.body
    return dict(resp.json_body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(anon: Api, username: str, password: str, **kw: Any) -> Any:
    return anon.post("/auth/login", {"username": username, "password": password}, **kw)


# -- first run -----------------------------------------------------------------------------


def test_setup_creates_the_first_admin_once(anon: Api) -> None:
    status = anon.get("/auth/status").json_body
    assert status == {"setup_required": True, "setup_token_required": False, "authenticated": False, "user": None}
    assert list(fields_of_422(anon.post("/auth/setup", {"username": "root", "password": "short"}))) == ["password"]
    assert "username" in fields_of_422(anon.post("/auth/setup", {"username": "no spaces", "password": ADMIN_PASSWORD}))
    assert "role" in fields_of_422(anon.post("/auth/setup", {"username": "x1", "password": ADMIN_PASSWORD,
                                                             "role": "admin"}))

    grant = setup_admin(anon, "Root")
    assert grant["token_type"] == "bearer" and grant["expires_in"] == 900
    assert grant["user"]["username"] == "root" and grant["user"]["role"] == "admin"
    me = anon.get("/auth/me", headers=bearer(grant["access_token"]))
    assert me.status_code == 200 and me.json_body["id"] == grant["user"]["id"]

    again = anon.post("/auth/setup", {"username": "mallory", "password": ADMIN_PASSWORD})
    error_of(again, 409, "SETUP_ALREADY_DONE")
    assert anon.get("/auth/status").json_body["setup_required"] is False
    known = anon.get("/auth/status", headers=bearer(grant["access_token"])).json_body
    assert known["authenticated"] is True and known["user"]["username"] == "root"
    # A bad token on a public route is simply not authenticated.
    assert anon.get("/auth/status", headers=bearer("nonsense")).json_body["authenticated"] is False


def test_a_deployed_stage_needs_its_one_time_setup_token(anon: Api, svc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #11, item 10: the token is the Secrets Manager secret the template generates."""
    import boto3

    from chalicelib.auth.setuptoken import ClosedSetup, OpenSetup, SecretSetupToken, setup_gate

    client = boto3.client("secretsmanager")
    name = f"haul/test/setup-{time.time_ns()}"
    client.create_secret(Name=name, SecretString="the-one-time-setup-token-0123456789")
    monkeypatch.setattr(svc.accounts, "setup_gate", setup_gate(name, lambda: client))
    assert anon.get("/auth/status").json_body["setup_token_required"] is True
    body = {"username": "root", "password": ADMIN_PASSWORD}
    missing = error_of(anon.post("/auth/setup", body), 403, "FORBIDDEN")
    assert missing["details"] == [{"field": "setup_token", "message": "is required on this stage"}]
    error_of(anon.post("/auth/setup", {**body, "setup_token": "a guess"}), 403, "FORBIDDEN")
    assert anon.get("/auth/status").json_body["setup_required"] is True  # nothing was made
    made = anon.post("/auth/setup", {**body, "setup_token": "the-one-time-setup-token-0123456789"})
    assert made.status_code == 201, made.body
    again = {"username": "other", "password": ADMIN_PASSWORD, "setup_token": "the-one-time-setup-token-0123456789"}
    error_of(anon.post("/auth/setup", again), 409, "SETUP_ALREADY_DONE")  # one time only
    # Which gate a stage gets: the secret; in Lambda without one, closed; locally, open.
    assert isinstance(setup_gate(name, lambda: client), SecretSetupToken)
    assert isinstance(setup_gate(None, lambda: client), OpenSetup)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "haul-dev-APIHandler")
    assert isinstance(setup_gate(None, lambda: client), ClosedSetup)


def test_the_local_runtime_can_make_the_first_admin(anon: Api, svc) -> None:
    from chalicelib.api.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        svc.accounts.ensure_admin("ops", "short")
    assert "created" in svc.accounts.ensure_admin("Ops", ADMIN_PASSWORD)
    assert "exists" in svc.accounts.ensure_admin("ops", ADMIN_PASSWORD)
    assert "left alone" in svc.accounts.ensure_admin("someone", ADMIN_PASSWORD)
    assert login(anon, "ops", ADMIN_PASSWORD).status_code == 200
    assert login(anon, "someone", ADMIN_PASSWORD).status_code == 401


def fields_of_422(resp: Any) -> dict[str, str]:
    error = error_of(resp, 422, "VALIDATION_ERROR")
    return {d["field"]: d["message"] for d in error["details"]}


# -- login, tokens, refresh, logout --------------------------------------------------------


def test_login_answers_a_pinned_short_lived_jwt_and_a_refresh_token(anon: Api) -> None:
    admin = setup_admin(anon)
    grant = login(anon, "ROOT ", ADMIN_PASSWORD).json_body  # usernames are case-insensitive
    token = grant["access_token"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == admin["user"]["id"] and claims["name"] == "root"
    assert claims["exp"] - claims["iat"] == 900 and claims["iss"] == "haul" and claims["aud"] == "haul-api"
    assert grant["refresh_token"] != token and "." in grant["refresh_token"]
    assert grant["user"]["last_login"]

    for wrong in ("not a password", ADMIN_PASSWORD.upper()):
        error = error_of(login(anon, "root", wrong), 401, "UNAUTHENTICATED")
        assert error["message"] == "wrong username or password"
    unknown = login(anon, "nobody", ADMIN_PASSWORD)
    assert error_of(unknown, 401, "UNAUTHENTICATED")["message"] == "wrong username or password"
    assert unknown.headers["WWW-Authenticate"].startswith("Bearer")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forge(claims: dict[str, Any], key: bytes | str, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def test_tokens_that_must_not_verify(anon: Api, svc) -> None:
    grant = setup_admin(anon)
    good = jwt.decode(grant["access_token"], options={"verify_signature": False})
    key = svc.accounts.tokens._keys.key()
    now = int(time.time())
    head, body, sig = grant["access_token"].split(".")
    none_alg = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode().rstrip("=")
    bad = {
        "signed with another key": _forge(good, "another key that is at least 32 bytes long!!"),
        "alg none": f"{none_alg}.{body}.",
        "HS512 with the right key": _forge(good, key, "HS512"),
        "tampered payload": f"{head}.{_b64(json.dumps({**good, 'sub': 'x'}).encode())}.{sig}",
        "expired": _forge({**good, "iat": now - 4000, "exp": now - 3000}, key),
        "no exp": _forge({k: v for k, v in good.items() if k != "exp"}, key),
        "no iat": _forge({k: v for k, v in good.items() if k != "iat"}, key),
        "no sub": _forge({k: v for k, v in good.items() if k != "sub"}, key),
        "issued in the future": _forge({**good, "iat": now + 3600, "exp": now + 7200}, key),
        "another audience": _forge({**good, "aud": "someone-else"}, key),
        "another user's id": _forge({**good, "sub": "00000000-0000-4000-8000-000000000000"}, key),
        "garbage": "a.b.c",
    }
    for why, token in bad.items():
        resp = anon.get("/auth/me", headers=bearer(token))
        assert resp.status_code == 401, why
        error_of(resp, 401, "UNAUTHENTICATED")
    for header in ("Basic cm9vdDpwdw==", "Bearer", "Bearer ", grant["access_token"]):
        error_of(anon.get("/auth/me", headers={"Authorization": header}), 401, "UNAUTHENTICATED")
    error_of(anon.get("/downloads"), 401, "UNAUTHENTICATED")
    assert anon.get("/auth/me", headers=bearer(grant["access_token"])).status_code == 200


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(anon: Api) -> None:
    first = setup_admin(anon)
    second = anon.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.body
    rotated = second.json_body
    assert rotated["refresh_token"] != first["refresh_token"]
    assert anon.get("/auth/me", headers=bearer(rotated["access_token"])).status_code == 200
    assert anon.get("/auth/me", headers=bearer(first["access_token"])).status_code == 200  # same session

    replay = anon.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert "already used" in error_of(replay, 401, "UNAUTHENTICATED")["message"]
    # The replay ended the session for everyone holding its tokens.
    error_of(anon.post("/auth/refresh", {"refresh_token": rotated["refresh_token"]}), 401, "UNAUTHENTICATED")
    error_of(anon.get("/auth/me", headers=bearer(rotated["access_token"])), 401, "UNAUTHENTICATED")
    for junk in ("x", "0" * 32 + "." + "A" * 43, first["access_token"]):
        error_of(anon.post("/auth/refresh", {"refresh_token": junk}), 401, "UNAUTHENTICATED")
    assert list(fields_of_422(anon.post("/auth/refresh", {}))) == ["refresh_token"]


def test_logout_revokes_the_session(anon: Api) -> None:
    setup_admin(anon)
    grant = login(anon, "root", ADMIN_PASSWORD).json_body
    other = login(anon, "root", ADMIN_PASSWORD).json_body  # another device
    assert anon.post("/auth/logout", headers=bearer(grant["access_token"])).json_body == {"status": "ok"}
    error_of(anon.get("/auth/me", headers=bearer(grant["access_token"])), 401, "UNAUTHENTICATED")
    error_of(anon.post("/auth/refresh", {"refresh_token": grant["refresh_token"]}), 401, "UNAUTHENTICATED")
    error_of(anon.post("/auth/logout", headers=bearer(grant["access_token"])), 401, "UNAUTHENTICATED")
    assert anon.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200


def test_a_logout_the_store_refuses_answers_503_and_the_session_goes_on(anon: Api) -> None:
    from chalicelib.persistence.models import SessionModel
    from tests.support.faults import dynamodb_fails

    setup_admin(anon)
    grant = login(anon, "root", ADMIN_PASSWORD).json_body
    with dynamodb_fails(SessionModel, "UpdateItem") as failed:
        answer = anon.post("/auth/logout", headers=bearer(grant["access_token"]))
    assert failed, "the logout never wrote"
    error_of(answer, 503, "UNAVAILABLE")
    assert int(answer.headers["Retry-After"]) >= 1
    # Honest: it did not happen, the token still works, and a second try does log out.
    assert anon.get("/auth/me", headers=bearer(grant["access_token"])).status_code == 200
    assert anon.post("/auth/logout", headers=bearer(grant["access_token"])).json_body == {"status": "ok"}
    error_of(anon.get("/auth/me", headers=bearer(grant["access_token"])), 401, "UNAUTHENTICATED")


def test_a_refresh_the_store_refuses_does_not_revoke_the_session(anon: Api) -> None:
    from chalicelib.persistence.models import SessionModel
    from tests.support.faults import dynamodb_fails

    setup_admin(anon)
    grant = login(anon, "root", ADMIN_PASSWORD).json_body
    with dynamodb_fails(SessionModel, "UpdateItem") as failed:
        answer = anon.post("/auth/refresh", {"refresh_token": grant["refresh_token"]})
    assert failed
    error_of(answer, 503, "UNAVAILABLE")
    assert anon.get("/auth/me", headers=bearer(grant["access_token"])).status_code == 200
    again = anon.post("/auth/refresh", {"refresh_token": grant["refresh_token"]})
    assert again.status_code == 200, again.body


# -- brute force and rate limits -----------------------------------------------------------


def test_five_failed_logins_lock_the_account_with_retry_after(anon: Api) -> None:
    setup_admin(anon)
    for _ in range(5):
        error_of(login(anon, "root", "guess"), 401, "UNAUTHENTICATED")
    locked = login(anon, "root", ADMIN_PASSWORD)  # even the right password
    error = error_of(locked, 429, "RATE_LIMITED")
    assert "failed logins" in error["message"]
    assert 1 <= int(locked.headers["Retry-After"]) <= 60


def test_the_lock_counts_per_account_and_client_not_per_account(anon: Api, svc) -> None:
    from chalicelib.api.errors import TooManyRequests, Unauthenticated
    from chalicelib.auth.ratelimit import MAX_CLIENT_ATTEMPTS
    from chalicelib.auth.schemas import Login

    setup_admin(anon)
    accounts = svc.accounts
    # A stranger guessing root's password locks only themselves: root logs in from elsewhere.
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            accounts.login(Login(username="root", password="guess"), "203.0.113.9")
    with pytest.raises(TooManyRequests) as locked:
        accounts.login(Login(username="root", password=ADMIN_PASSWORD), "203.0.113.9")
    assert 0 < locked.value.retry_after <= 60
    assert accounts.login(Login(username="root", password=ADMIN_PASSWORD), "203.0.113.10").access_token
    # One client trying many accounts is locked for all of them.
    for i in range(MAX_CLIENT_ATTEMPTS):
        with pytest.raises(Unauthenticated):
            accounts.login(Login(username=f"user{i}", password="guess"), "198.51.100.7")
    with pytest.raises(TooManyRequests):
        accounts.login(Login(username="root", password=ADMIN_PASSWORD), "198.51.100.7")
    assert accounts.login(Login(username="root", password=ADMIN_PASSWORD), "198.51.100.8").access_token
    # Four failures and a success leave the pair usable, and clear its count.
    new_user("user", "carol")
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.login(Login(username="carol", password="guess"), "192.0.2.1")
    accounts.login(Login(username="carol", password=PASSWORD), "192.0.2.1")
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            accounts.login(Login(username="carol", password="guess"), "192.0.2.1")
    assert accounts.login(Login(username="carol", password=PASSWORD), "192.0.2.1").access_token


def test_parallel_guesses_get_at_most_five_password_checks(anon: Api, svc, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 wrong guesses at once, from one client: the counter is taken before the password is
    checked, so no more than five of them are ever checked (issue #11, item 4)."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.api.errors import ApiError
    from chalicelib.auth import passwords
    from chalicelib.auth.schemas import Login

    setup_admin(anon)
    checked = []
    real = passwords.verify_password

    def counting(stored: str, password: str) -> bool:
        checked.append(password)
        return real(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting)

    def guess(i: int) -> int:
        try:
            svc.accounts.login(Login(username="root", password=f"guess {i}"), "198.51.100.50")
        except ApiError as exc:
            return exc.status
        return 200

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(guess, range(50)))
    assert len(checked) <= 5, f"{len(checked)} passwords were checked"
    assert answers.count(401) == len(checked) and answers.count(429) == 50 - len(checked)
    # The owner, from their own client, is not locked out.
    assert svc.accounts.login(Login(username="root", password=ADMIN_PASSWORD), "198.51.100.51").access_token


def test_each_lock_of_the_same_pair_lasts_twice_as_long(svc) -> None:
    from chalicelib.auth.ratelimit import LOCK_SECONDS, MAX_LOCK_SECONDS, RateLimiter, lock_seconds
    from chalicelib.persistence.ratelimits import DynamoRateCounters
    from tests.fakes.clock import ManualClock

    wipe_accounts()
    clock = ManualClock(1_900_000_000_000)
    limiter = RateLimiter(DynamoRateCounters(), clock)
    waits = []
    for _ in range(3):
        attempts = [limiter.login_attempt("dora", "192.0.2.77") for _ in range(6)]
        assert attempts[:5] == [0] * 5
        waits.append(attempts[5])
        assert limiter.login_attempt("dora", "192.0.2.77") in range(waits[-1] - 1, waits[-1] + 1)
        clock.advance(waits[-1] + 1)
    assert waits == [LOCK_SECONDS, 2 * LOCK_SECONDS, 4 * LOCK_SECONDS]
    assert limiter.login_attempt("dora", "192.0.2.78") == 0  # the account is not locked for everyone
    assert lock_seconds(30) == MAX_LOCK_SECONDS
    wipe_accounts()


def test_per_user_rate_limit_headers_and_429(anon: Api, svc, monkeypatch: pytest.MonkeyPatch) -> None:
    grant = setup_admin(anon)
    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 3)
    seen = []
    for _ in range(3):
        resp = anon.get("/downloads", headers=bearer(grant["access_token"]))
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        seen.append(int(resp.headers["X-RateLimit-Remaining"]))
        assert int(resp.headers["X-RateLimit-Reset"]) > time.time()
    assert seen == [2, 1, 0]
    over = anon.get("/auth/me", headers=bearer(grant["access_token"]))
    error_of(over, 429, "RATE_LIMITED")
    assert over.headers["X-RateLimit-Remaining"] == "0" and int(over.headers["Retry-After"]) >= 1
    # Another user has their own budget; public routes carry no limit.
    _, other, _ = new_user("user")
    assert anon.get("/auth/me", headers=other).status_code == 200
    assert "X-RateLimit-Limit" not in anon.get("/health").headers


# -- users ---------------------------------------------------------------------------------


def test_admins_manage_users(anon: Api) -> None:
    grant = setup_admin(anon)
    admin = Api(Client(__import__("app").app), bearer(grant["access_token"]))
    created = admin.post("/users", {"username": "Dave", "password": PASSWORD, "role": "viewer"})
    assert created.status_code == 201, created.body
    dave = created.json_body
    assert (dave["username"], dave["role"], dave["disabled"]) == ("dave", "viewer", False)
    assert created.headers["Location"] == f"/api/v1/users/{dave['id']}"
    assert "password" not in json.dumps(dave) and "hash" not in json.dumps(dave)
    error_of(admin.post("/users", {"username": "dave", "password": PASSWORD}), 409, "CONFLICT")
    assert "role" in fields_of_422(admin.post("/users", {"username": "eve", "password": PASSWORD, "role": "root"}))
    assert "is_admin" in fields_of_422(admin.post("/users", {"username": "eve", "password": PASSWORD,
                                                               "is_admin": True}))

    listed = admin.get("/users").json_body
    assert listed["total"] == 2 and [u["username"] for u in listed["users"]] == ["root", "dave"]
    page = admin.get("/users?per_page=1").json_body
    assert len(page["users"]) == 1 and page["next_cursor"]
    rest = admin.get(f"/users?per_page=1&cursor={page['next_cursor']}").json_body
    assert rest["users"][0]["username"] == "dave"
    assert list(fields_of_422(admin.get("/users?cursor=junk"))) == ["cursor"]
    assert admin.get(f"/users/{dave['id']}").json_body == dave
    error_of(admin.get("/users/00000000-0000-4000-8000-000000000000"), 404, "NOT_FOUND")
    error_of(admin.get("/users/" + "x" * 60), 404, "NOT_FOUND")

    dave_login = login(anon, "dave", PASSWORD).json_body
    as_dave = bearer(dave_login["access_token"])
    assert anon.get("/auth/me", headers=as_dave).json_body["role"] == "viewer"
    error_of(anon.get("/users", headers=as_dave), 403, "FORBIDDEN")
    # A role change applies to the next request; disabling ends every session at once.
    assert admin.patch(f"/users/{dave['id']}", {"role": "user"}).json_body["role"] == "user"
    assert anon.get("/auth/me", headers=as_dave).json_body["role"] == "user"
    assert admin.patch(f"/users/{dave['id']}", {"disabled": True}).json_body["disabled"] is True
    error_of(anon.get("/auth/me", headers=as_dave), 401, "UNAUTHENTICATED")
    error_of(login(anon, "dave", PASSWORD), 401, "UNAUTHENTICATED")
    admin.patch(f"/users/{dave['id']}", {"disabled": False})
    again = login(anon, "dave", PASSWORD).json_body
    # A new password ends the sessions that came before it.
    admin.patch(f"/users/{dave['id']}", {"password": "a brand new password"})
    error_of(anon.get("/auth/me", headers=bearer(again["access_token"])), 401, "UNAUTHENTICATED")
    assert login(anon, "dave", "a brand new password").status_code == 200

    # The last enabled admin stays.
    root_id = grant["user"]["id"]
    for change in ({"role": "user"}, {"disabled": True}):
        error_of(admin.patch(f"/users/{root_id}", change), 409, "CONFLICT")
    error_of(admin.delete(f"/users/{root_id}"), 409, "CONFLICT")
    assert admin.delete(f"/users/{dave['id']}").json_body == {"id": dave["id"], "deleted": True}
    error_of(admin.get(f"/users/{dave['id']}"), 404, "NOT_FOUND")
    error_of(login(anon, "dave", "a brand new password"), 401, "UNAUTHENTICATED")


def _demote_each_other(accounts: Any, users: list[Any], change: Any) -> list[str]:
    """Each of two admins changes the other at the same moment; what each got."""
    import threading

    from chalicelib.api.errors import Conflict
    from chalicelib.auth.identity import Identity, Role

    start = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(me: int) -> None:
        actor = Identity(users[me].id, users[me].username, Role.ADMIN)
        start.wait()
        try:
            accounts.update_user(actor, users[1 - me].id, change)
            outcomes.append("changed")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=demote, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_two_admins_demoting_each_other_at_once_leave_one(anon: Api, svc) -> None:
    """Issue #11, item 12: the last-admin check and the change are one transaction."""
    from chalicelib.api.errors import Conflict
    from chalicelib.auth.identity import Identity, Role
    from chalicelib.auth.schemas import CreateUser, PatchUser
    from chalicelib.persistence.models import UserModel

    setup_admin(anon)
    accounts = svc.accounts
    for change in (PatchUser(role=Role.USER), PatchUser(disabled=True)):
        for round_ in range(2):
            names = [f"adm{round_}a", f"adm{round_}b"]
            users = [accounts.create_user(CreateUser(username=n, password=PASSWORD, role=Role.ADMIN)) for n in names]
            root = UserModel.get("root")
            accounts.update_user(Identity(root.id, "root", Role.ADMIN), root.id, PatchUser(disabled=True))
            outcomes = _demote_each_other(accounts, users, change)
            left = [u.username for u in UserModel.by_created.query("user") if u.role == "admin" and not u.disabled]
            assert len(left) == 1 and sorted(outcomes) == ["409", "changed"], (change, left, outcomes)
            # Put things back: root is the admin again, the two are gone.
            accounts.update_user(Identity(users[0].id, left[0], Role.ADMIN), root.id, PatchUser(disabled=False))
            for user in users:
                accounts.delete_user(Identity(root.id, "root", Role.ADMIN), user.id)
    with pytest.raises(Conflict):  # and root, alone, stays
        root = UserModel.get("root")
        accounts.delete_user(Identity(root.id, "root", Role.ADMIN), root.id)


# -- API keys ------------------------------------------------------------------------------


def test_personal_api_keys(anon: Api) -> None:
    from chalicelib.persistence.models import ApiKeyModel

    setup_admin(anon)
    user_id, as_user, _ = new_user("user")
    made = anon.post("/auth/api-keys", {"name": "backup script", "expires_in_days": 30,
                                             "password": PASSWORD}, headers=as_user)
    assert made.status_code == 201, made.body
    key = made.json_body
    assert key["key"].startswith("haul_") and key["prefix"] == key["key"][:13] and key["expires_at"]
    # Stored only as a hash.
    stored = ApiKeyModel.get(key["id"]).attribute_values
    assert key["key"] not in json.dumps(stored, default=str) and key["key"][38:] not in json.dumps(stored, default=str)

    by_key = {"X-API-Key": key["key"]}
    me = anon.get("/auth/me", headers=by_key)
    assert me.status_code == 200 and me.json_body["id"] == user_id
    assert anon.get("/downloads", headers=by_key).status_code == 200
    listed = anon.get("/auth/api-keys", headers=as_user).json_body["keys"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0] and listed[0]["last_used_at"]
    error_of(anon.post("/auth/api-keys", {"name": "from a key", "password": PASSWORD}, headers=by_key), 403,
             "FORBIDDEN")
    error_of(anon.post("/auth/logout", headers=by_key), 400, "BAD_REQUEST")

    # Nobody else sees or revokes it.
    _, as_other, _ = new_user("user")
    assert anon.get("/auth/api-keys", headers=as_other).json_body["keys"] == []
    error_of(anon.delete(f"/auth/api-keys/{key['id']}", headers=as_other), 404, "NOT_FOUND")
    assert anon.get("/auth/me", headers=by_key).status_code == 200

    for junk in (key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B"), "haul_nope", "x" * 300):
        error_of(anon.get("/auth/me", headers={"X-API-Key": junk}), 401, "UNAUTHENTICATED")
    revoked = anon.delete(f"/auth/api-keys/{key['id']}", headers=as_user)
    assert revoked.json_body == {"id": key["id"], "revoked": True}
    error_of(anon.get("/auth/me", headers=by_key), 401, "UNAUTHENTICATED")
    error_of(anon.delete(f"/auth/api-keys/{key['id']}", headers=as_user), 404, "NOT_FOUND")
    assert "name" in fields_of_422(anon.post("/auth/api-keys", {"name": "a\nb", "password": PASSWORD},
                                             headers=as_user))
    assert "expires_in_days" in fields_of_422(anon.post("/auth/api-keys", {"name": "x", "expires_in_days": 0,
                                                                           "password": PASSWORD}, headers=as_user))


def test_api_keys_need_the_password_expire_by_default_and_end_with_the_sessions(anon: Api) -> None:
    """Issue #11, item 5."""
    grant = setup_admin(anon)
    as_admin = bearer(grant["access_token"])
    user_id, as_user, _ = new_user("user")
    # Re-authentication: no password, or a wrong one, makes no key.
    assert "password" in fields_of_422(anon.post("/auth/api-keys", {"name": "k"}, headers=as_user))
    wrong = error_of(
        anon.post("/auth/api-keys", {"name": "k", "password": "not it"}, headers=as_user), 403, "FORBIDDEN"
    )
    assert wrong["details"] == [{"field": "password", "message": "is wrong"}]
    # A default expiry (the settings' security.api_key_days), and "never" only for admins.
    made = anon.post("/auth/api-keys", {"name": "k", "password": PASSWORD}, headers=as_user)
    assert made.status_code == 201, made.body
    expires = made.json_body["expires_at"]
    days = (time.mktime(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())) / 86400
    assert 89.9 < days <= 90.01, expires
    never = {"name": "forever", "password": PASSWORD, "expires_in_days": None}
    error_of(anon.post("/auth/api-keys", never, headers=as_user), 403, "FORBIDDEN")
    forever = anon.post("/auth/api-keys", {**never, "password": ADMIN_PASSWORD}, headers=as_admin)
    assert forever.status_code == 201 and forever.json_body["expires_at"] is None
    changed = anon.patch("/settings", {"security": {"api_key_days": 7}}, headers=as_admin)
    assert changed.status_code == 200, changed.body
    from chalicelib.container import services

    services().settings._cached = None
    week = anon.post("/auth/api-keys", {"name": "week", "password": PASSWORD}, headers=as_user).json_body
    assert week["expires_at"] < expires
    # A key made before the user's sessions ended (a new password, disabling) stops working.
    key = {"X-API-Key": made.json_body["key"]}
    assert anon.get("/auth/me", headers=key).status_code == 200
    assert anon.patch(f"/users/{user_id}", {"password": "another long password"}, headers=as_admin).status_code == 200
    error_of(anon.get("/auth/me", headers=key), 401, "UNAUTHENTICATED")
    error_of(anon.get("/auth/me", headers={"X-API-Key": week["key"]}), 401, "UNAUTHENTICATED")
    again = login(anon, new_user_name(anon, as_admin, user_id), "another long password").json_body
    time.sleep(0.002)  # a key made after the change (valid_after is in milliseconds)
    fresh = anon.post("/auth/api-keys", {"name": "after", "password": "another long password"},
                      headers=bearer(again["access_token"])).json_body
    assert anon.get("/auth/me", headers={"X-API-Key": fresh["key"]}).status_code == 200
    assert anon.patch(f"/users/{user_id}", {"disabled": True}, headers=as_admin).status_code == 200
    assert anon.patch(f"/users/{user_id}", {"disabled": False}, headers=as_admin).status_code == 200
    error_of(anon.get("/auth/me", headers={"X-API-Key": fresh["key"]}), 401, "UNAUTHENTICATED")


def new_user_name(anon: Api, as_admin: dict[str, str], user_id: str) -> str:
    return str(anon.get(f"/users/{user_id}", headers=as_admin).json_body["username"])


# -- the signing key and the WebSocket seam --------------------------------------------------


def test_password_hashes_are_argon2id_with_owasp_parameters(anon: Api) -> None:
    from chalicelib.persistence.models import UserModel

    setup_admin(anon)
    stored = UserModel.get("root").password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert ADMIN_PASSWORD not in stored


def test_a_deployed_stage_reads_its_signing_key_from_secrets_manager(emulator: str) -> None:
    import boto3

    from chalicelib.auth.tokens import KeyUnavailable, NoKey, SecretsManagerKey, Tokens, key_source

    client = boto3.client("secretsmanager")
    name = f"haul/test/jwt-{time.time_ns()}"
    client.create_secret(Name=name, SecretString=json.dumps({"key": "k" * 48}))
    keys = SecretsManagerKey(name, lambda: client)
    tokens = Tokens(keys, 60)
    token = tokens.issue("u1", "alice", "s1", "user")
    assert jwt.decode(token, "k" * 48, algorithms=["HS256"], audience="haul-api")["sub"] == "u1"
    assert tokens.verify(token).user_id == "u1"

    with pytest.raises(KeyUnavailable):
        SecretsManagerKey("haul/test/missing", lambda: client).key()
    short = f"{name}-short"
    client.create_secret(Name=short, SecretString="too short")
    with pytest.raises(KeyUnavailable):
        SecretsManagerKey(short, lambda: client).key()
    from chalicelib.persistence.signingkey import DynamoSigningKey

    assert isinstance(key_source(name, lambda: client, DynamoSigningKey()), SecretsManagerKey)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_LAMBDA_FUNCTION_NAME", "haul-dev-APIHandler")
        assert isinstance(key_source(None, lambda: client, DynamoSigningKey()), NoKey)
        with pytest.raises(KeyUnavailable):
            NoKey().key()


def test_websocket_connections_authenticate_with_the_same_tokens(anon: Api, svc) -> None:
    from chalicelib.config import Config
    from chalicelib.realtime import auth

    grant = setup_admin(anon)
    prod = Config.from_env({"HAUL_STAGE": "prod"})
    identity = auth.authenticate(grant["access_token"], prod)
    sid = grant["refresh_token"].split(".")[0]
    assert identity == auth.Identity(grant["user"]["id"], False, ("admin",), session_id=sid)
    key = anon.post("/auth/api-keys", {"name": "ws", "password": ADMIN_PASSWORD},
                    headers=bearer(grant["access_token"])).json_body["key"]
    assert auth.authenticate(key, prod) == auth.Identity(grant["user"]["id"], False, ("admin",))
    for bad in ("nonsense", grant["refresh_token"], key[:-2] + "xx"):
        assert auth.authenticate(bad, prod) is None
    anon.post("/auth/logout", headers=bearer(grant["access_token"]))
    assert auth.authenticate(grant["access_token"], prod) is None
    assert auth.authenticate(None, Config.from_env({"HAUL_STAGE": "local"})) is None  # local connections log in


def test_users_change_their_own_password_and_everything_older_ends(anon: Api) -> None:
    """Issue #14: POST /auth/password (self-service); the sessions, API keys (and WebSocket
    connections: test_realtime.py) made before it end, the caller gets a new login."""
    user_id, as_user, grant = new_user("user")
    name = grant["user"]["username"]
    other = login(anon, name, PASSWORD).json_body  # another device
    key = anon.post("/auth/api-keys", {"name": "k", "password": PASSWORD}, headers=as_user).json_body["key"]
    # Bad requests change nothing.
    assert set(fields_of_422(anon.post("/auth/password", {}, headers=as_user))) >= {"current_password", "new_password"}
    wrong = error_of(anon.post("/auth/password", {"current_password": "not it", "new_password": "a new long password"},
                               headers=as_user), 403, "FORBIDDEN")
    assert wrong["details"] == [{"field": "current_password", "message": "is wrong"}]
    same = anon.post("/auth/password", {"current_password": PASSWORD, "new_password": PASSWORD}, headers=as_user)
    assert fields_of_422(same) == {"new_password": "must differ from the current password"}
    assert "new_password" in fields_of_422(anon.post("/auth/password", {"current_password": PASSWORD,
                                                                       "new_password": "short"}, headers=as_user))
    assert anon.get("/auth/me", headers={"X-API-Key": key}).status_code == 200
    error_of(
        anon.post("/auth/password", {"current_password": PASSWORD, "new_password": "x" * 8}), 401, "UNAUTHENTICATED"
    )
    time.sleep(0.002)  # valid_after is in milliseconds: sessions of an earlier millisecond end
    changed = anon.post("/auth/password", {"current_password": PASSWORD, "new_password": "my brand new password"},
                        headers=as_user)
    assert changed.status_code == 200, changed.body
    new = changed.json_body
    assert new["access_token"] and new["refresh_token"] and new["user"]["id"] == user_id
    # The caller's new login works; everything made before the change does not.
    assert anon.get("/auth/me", headers=bearer(new["access_token"])).status_code == 200
    error_of(anon.get("/auth/me", headers=as_user), 401, "UNAUTHENTICATED")
    error_of(anon.get("/auth/me", headers=bearer(other["access_token"])), 401, "UNAUTHENTICATED")
    error_of(anon.post("/auth/refresh", {"refresh_token": other["refresh_token"]}), 401, "UNAUTHENTICATED")
    error_of(anon.get("/auth/me", headers={"X-API-Key": key}), 401, "UNAUTHENTICATED")
    assert anon.post("/auth/refresh", {"refresh_token": new["refresh_token"]}).status_code == 200
    error_of(login(anon, name, PASSWORD), 401, "UNAUTHENTICATED")
    again = login(anon, name, "my brand new password")
    assert again.status_code == 200, again.body
    # Guessing the current password through this route counts like failed logins: locked.
    as_again = bearer(again.json_body["access_token"])
    for _ in range(5):
        error_of(anon.post("/auth/password", {"current_password": "guess", "new_password": "whatever long"},
                           headers=as_again), 403, "FORBIDDEN")
    locked = anon.post("/auth/password", {"current_password": "my brand new password", "new_password": "whatever long"},
                       headers=as_again)
    error_of(locked, 429, "RATE_LIMITED")
    assert int(locked.headers["Retry-After"]) >= 1
    assert anon.get("/auth/me", headers=as_again).status_code == 200  # the lock changed nothing
