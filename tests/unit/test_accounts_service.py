"""The accounts service on the in-memory stores (tests/fakes/auth.py), without any AWS: setup
once, logins and their lock, tokens resolved to identities, the last enabled admin kept,
sessions ended when a user is disabled, users listed in pages with cursors."""

from __future__ import annotations

import pytest

from chalicelib.api.errors import ApiError, Conflict, SetupDone, TooManyRequests, Unauthenticated
from chalicelib.auth.accounts import Accounts
from chalicelib.auth.apikeys import ApiKeys
from chalicelib.auth.identity import Identity, Role
from chalicelib.auth.ratelimit import MAX_LOGIN_ATTEMPTS, RateLimiter
from chalicelib.auth.schemas import CreateUser, Login, PatchUser, Setup, UserListQuery
from chalicelib.auth.sessions import Sessions
from chalicelib.auth.tokens import Tokens
from tests.fakes.auth import FakeApiKeys, FakeRateCounters, FakeSessions, FakeUsers
from tests.fakes.clock import ManualClock

PASSWORD = "correct horse battery"


class FixedKey:
    def key(self) -> bytes:
        return b"k" * 64


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        sessions = FakeSessions()
        self.users = FakeUsers(sessions)
        self.ended: list[tuple[str, str | None]] = []
        self.failed: list[str] = []
        self.accounts = Accounts(
            self.users,
            Tokens(FixedKey(), 900),
            Sessions(sessions, 3600, self.clock),
            ApiKeys(FakeApiKeys(), self.clock),
            RateLimiter(FakeRateCounters(), self.clock),
            0,
            clock=self.clock,
            on_session_end=lambda user_id, sid: self.ended.append((user_id, sid)),
            on_login_failed=lambda user_id, username, client: self.failed.append(username),
        )


@pytest.fixture()
def rig() -> Rig:
    return Rig()


def test_setup_once_then_logins_resolve_to_the_user(rig: Rig) -> None:
    accounts = rig.accounts
    assert accounts.setup_required()
    grant = accounts.setup(Setup(username="root", password=PASSWORD))
    assert grant.user.role == "admin" and not accounts.setup_required()
    with pytest.raises(SetupDone):
        accounts.setup(Setup(username="other", password=PASSWORD))
    who = accounts.resolve(f"Bearer {grant.access_token}", None)
    assert who == Identity(grant.user.id, "root", Role.ADMIN, "token", session_id=who.session_id if who else None)
    login = accounts.login(Login(username="root", password=PASSWORD), "192.0.2.1")
    assert login.user.last_login == rig.clock.now_ms()
    accounts.logout(Identity(grant.user.id, "root", Role.ADMIN, "token", session_id=who.session_id if who else None))
    with pytest.raises(Unauthenticated):
        accounts.resolve(f"Bearer {grant.access_token}", None)  # its session ended
    assert accounts.resolve(f"Bearer {login.access_token}", None) is not None


def test_wrong_passwords_are_recorded_and_locked_out(rig: Rig) -> None:
    accounts = rig.accounts
    accounts.setup(Setup(username="root", password=PASSWORD))
    for _ in range(MAX_LOGIN_ATTEMPTS):
        with pytest.raises(Unauthenticated):
            accounts.login(Login(username="root", password="wrong password!"), "192.0.2.9")
    assert rig.failed == ["root"] * MAX_LOGIN_ATTEMPTS
    with pytest.raises(TooManyRequests):
        accounts.login(Login(username="root", password=PASSWORD), "192.0.2.9")  # not even checked
    assert accounts.login(Login(username="root", password=PASSWORD), "192.0.2.10").access_token


def test_the_last_enabled_admin_stays_and_disabling_ends_sessions(rig: Rig) -> None:
    accounts = rig.accounts
    root = accounts.setup(Setup(username="root", password=PASSWORD)).user
    actor = Identity(root.id, "root", Role.ADMIN, "token")
    with pytest.raises(Conflict):
        accounts.update_user(actor, root.id, PatchUser(role=Role.USER))
    with pytest.raises(Conflict):
        accounts.delete_user(actor, root.id)
    second = accounts.create_user(CreateUser(username="second", password=PASSWORD, role=Role.ADMIN))
    with pytest.raises(Conflict):
        accounts.create_user(CreateUser(username="second", password=PASSWORD))
    demoted = accounts.update_user(actor, root.id, PatchUser(role=Role.USER))
    assert demoted.role == "user" and rig.users.roster == {"second"}
    with pytest.raises(Conflict):
        accounts.update_user(actor, second.id, PatchUser(disabled=True))  # now the last enabled admin
    plain = accounts.create_user(CreateUser(username="plain", password=PASSWORD))
    rig.clock.advance(1)
    off = accounts.update_user(actor, plain.id, PatchUser(disabled=True))
    assert off.disabled and off.valid_after == rig.clock.now_ms() and rig.ended[-1] == (plain.id, None)
    with pytest.raises(Unauthenticated):
        accounts.login(Login(username="plain", password=PASSWORD), "192.0.2.3")
    accounts.delete_user(actor, plain.id)
    with pytest.raises(ApiError):
        accounts.user(plain.id)


def test_users_are_listed_in_pages(rig: Rig) -> None:
    accounts = rig.accounts
    accounts.setup(Setup(username="root", password=PASSWORD))
    for name in ("anna", "bert"):
        rig.clock.advance(1)
        accounts.create_user(CreateUser(username=name, password=PASSWORD))
    first, cursor = accounts.list_users(UserListQuery(per_page=2))
    assert [u.username for u in first] == ["root", "anna"] and cursor
    rest, end = accounts.list_users(UserListQuery(per_page=2, cursor=cursor))
    assert [u.username for u in rest] == ["bert"] and end is None
    assert accounts.count_users() == 3
    with pytest.raises(ApiError):
        accounts.list_users(UserListQuery(cursor="bm90IGEgY3Vyc29y"))
