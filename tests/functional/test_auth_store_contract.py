"""The accounts side's stores' contract (chalicelib/auth/ports.py), run against the in-memory
fakes (tests/fakes/auth.py) and the DynamoDB implementations (chalicelib/persistence/, on
moto): the rate limits' counters, login sessions, API keys, the local signing key, the users
and the roster of enabled admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from chalicelib.auth.ports import (
    AdminChangeRefused,
    ApiKey,
    KeyRecords,
    LoginSession,
    RateCounters,
    SessionRecords,
    SigningKeyItem,
    User,
    UserChange,
    UserRecords,
)
from tests.fakes.auth import FakeApiKeys, FakeRateCounters, FakeSessions, FakeSigningKey, FakeUsers

NOW_S = 1_900_000_000


@pytest.fixture()
def counters(kind: str) -> RateCounters:
    if kind == "fake":
        return FakeRateCounters()
    from chalicelib.persistence.ratelimits import DynamoRateCounters

    return DynamoRateCounters()


def _key() -> str:
    return f"test#{uuid.uuid4().hex}"


def test_add_counts_and_sets_the_expiry(counters: RateCounters) -> None:
    key = _key()
    assert counters.add(key, 1, NOW_S + 60) == 1
    assert counters.add(key, 3, NOW_S + 120) == 4
    assert counters.expiry(key) == NOW_S + 120
    assert counters.expiry(_key()) is None


def test_a_window_opens_once_and_counts_while_open(counters: RateCounters) -> None:
    key = _key()
    assert counters.add_if_open(key, NOW_S) is None  # no window yet: nothing made
    assert counters.expiry(key) is None
    assert counters.open(key, NOW_S + 60, NOW_S)
    assert not counters.open(key, NOW_S + 90, NOW_S)  # one is open: left alone
    assert counters.add_if_open(key, NOW_S) == 2
    assert counters.add_if_open(key, NOW_S + 59.5) == 3
    assert counters.add_if_open(key, NOW_S + 60) is None  # closed at its expiry
    assert counters.open(key, NOW_S + 200, NOW_S + 60)  # a closed window is opened afresh
    assert counters.add_if_open(key, NOW_S + 60) == 2


def test_take_back_stops_at_zero(counters: RateCounters) -> None:
    key = _key()
    counters.add(key, 1, NOW_S + 60)
    counters.take_back(key)
    counters.take_back(key)
    assert counters.add(key, 0, NOW_S + 60) == 0
    counters.take_back(_key())  # no counter: nothing happens


def test_put_and_drop(counters: RateCounters) -> None:
    key = _key()
    counters.put(key, 7, NOW_S + 30)
    assert counters.add(key, 1, NOW_S + 30) == 8
    counters.put(key, 2, NOW_S + 10)
    assert counters.expiry(key) == NOW_S + 10 and counters.add(key, 0, NOW_S + 10) == 2
    counters.drop(key)
    counters.drop(key)
    assert counters.expiry(key) is None


@pytest.fixture()
def sessions(kind: str) -> SessionRecords:
    if kind == "fake":
        return FakeSessions()
    from chalicelib.persistence.sessions import DynamoSessions

    return DynamoSessions()


@pytest.fixture()
def keys(kind: str) -> KeyRecords:
    if kind == "fake":
        return FakeApiKeys()
    from chalicelib.persistence.apikeys import DynamoApiKeys

    return DynamoApiKeys()


def _session() -> LoginSession:
    return LoginSession(uuid.uuid4().hex, "user-1", "alice", "d0", 1_900_000_000_000, NOW_S + 3600)


def test_a_session_is_kept_as_started(sessions: SessionRecords) -> None:
    s = _session()
    sessions.create(s)
    assert sessions.get(s.id) == s
    assert sessions.get(uuid.uuid4().hex) is None


def test_a_secret_rotates_once(sessions: SessionRecords) -> None:
    s = _session()
    sessions.create(s)
    assert sessions.rotate(s.id, "d0", "d1", 1_900_000_001_000)
    assert not sessions.rotate(s.id, "d0", "d2", 1_900_000_002_000)  # the same secret again: refused
    got = sessions.get(s.id)
    assert got is not None and got.current == "d1" and got.used == {"d0"} and not got.revoked
    assert sessions.rotate(s.id, "d1", "d2", 1_900_000_003_000)
    got = sessions.get(s.id)
    assert got is not None and got.current == "d2" and got.used == {"d0", "d1"}
    assert not sessions.rotate(uuid.uuid4().hex, "d0", "d1", 0)  # no such session


def test_a_revoked_session_stays_and_cannot_rotate(sessions: SessionRecords) -> None:
    s = _session()
    sessions.create(s)
    sessions.revoke(s.id, "logged out")
    got = sessions.get(s.id)
    assert got is not None and got.revoked
    assert not sessions.rotate(s.id, "d0", "d1", 0)
    sessions.revoke(uuid.uuid4().hex, "gone")  # no such session: nothing happens
    assert sessions.get(s.id) is not None


def _api_key(user_id: str, created_at: int, expires: int | None = None) -> ApiKey:
    return ApiKey(uuid.uuid4().hex, user_id, "alice", "script", "h" * 64, created_at, None, expires)


def test_keys_are_kept_and_listed_per_user(keys: KeyRecords) -> None:
    user = uuid.uuid4().hex
    older = _api_key(user, 1_900_000_000_000, NOW_S + 86400)
    newer = _api_key(user, 1_900_000_001_000)
    keys.create(newer)
    keys.create(older)
    keys.create(_api_key(f"other-{user}", 1_900_000_000_500))
    assert keys.get(older.id) == older and keys.get(uuid.uuid4().hex) is None
    assert [k.id for k in keys.of_user(user)] == [older.id, newer.id]
    assert keys.count(user) == 2


def test_a_use_is_recorded_until_the_key_is_deleted(keys: KeyRecords) -> None:
    key = _api_key(uuid.uuid4().hex, 1_900_000_000_000)
    keys.create(key)
    assert keys.touch(key.id, 1_900_000_005_000)
    got = keys.get(key.id)
    assert got is not None and got.last_used_at == 1_900_000_005_000
    keys.delete(key.id)
    keys.delete(key.id)
    assert keys.get(key.id) is None and keys.count(key.user_id) == 0
    assert not keys.touch(key.id, 1_900_000_006_000)  # revoked meanwhile: not made again
    assert keys.get(key.id) is None


def test_the_signing_key_is_made_once(kind: str) -> None:
    if kind == "fake":
        item: SigningKeyItem = FakeSigningKey()
    else:
        from chalicelib.persistence.signingkey import DynamoSigningKey

        item = DynamoSigningKey(f"auth#test-signing-key-{uuid.uuid4().hex}")
    assert item.load() is None
    assert item.create({"key": "a" * 40})
    assert not item.create({"key": "b" * 40})  # another process's is kept
    assert item.load() == {"key": "a" * 40}


@dataclass
class Accounts:
    users: UserRecords
    sessions: SessionRecords


@pytest.fixture()
def accounts(kind: str) -> Accounts:
    if kind == "fake":
        fake_sessions = FakeSessions()
        return Accounts(FakeUsers(fake_sessions), fake_sessions)
    from chalicelib.persistence.sessions import DynamoSessions
    from chalicelib.persistence.users import DynamoUsers
    from tests.functional.test_auth import wipe_accounts

    wipe_accounts()  # users are one partition of the table: counted and listed as a whole
    return Accounts(DynamoUsers(), DynamoSessions())


def _user(name: str, role: str = "user", created_at: int = 1_900_000_000_000) -> User:
    return User(uuid.uuid4().hex, name, role, "hash", False, created_at, created_at)


def test_users_are_kept_once_per_name(accounts: Accounts) -> None:
    users = accounts.users
    assert not users.any() and users.count() == 0
    alice = _user("alice")
    assert users.create(alice, admin=False)
    assert not users.create(_user("alice"), admin=False)  # the name is taken
    assert users.get("alice") == alice and users.get("bob") is None
    assert users.username_of(alice.id) == "alice" and users.username_of(uuid.uuid4().hex) is None
    assert users.any() and users.count() == 1


def test_setup_happens_once_and_its_admin_cannot_leave_alone(accounts: Accounts) -> None:
    users = accounts.users
    root = _user("root", "admin")
    assert users.create_first(root, "auth#setup-done")
    assert not users.create_first(_user("other", "admin"), "auth#setup-done")
    assert users.get("other") is None
    with pytest.raises(AdminChangeRefused) as refused:
        users.update_admin(root, UserChange(disabled=True), joins=False)
    assert refused.value.reason == "last_admin"
    with pytest.raises(AdminChangeRefused) as refused:
        users.delete_admin(root)
    assert refused.value.reason == "last_admin"
    assert users.get("root") == root


def test_admins_join_and_leave_the_roster(accounts: Accounts) -> None:
    users = accounts.users
    root, second = _user("root", "admin"), _user("second", "admin", 1_900_000_000_001)
    assert users.create_first(root, "auth#setup-done")
    assert users.create(second, admin=True)
    users.update_admin(root, UserChange(role="user", updated_at=5), joins=False)  # second remains
    demoted = users.get("root")
    assert demoted is not None and demoted.role == "user" and demoted.updated_at == 5
    with pytest.raises(AdminChangeRefused) as refused:
        users.update_admin(root, UserChange(role="user"), joins=False)  # as read before: changed since
    assert refused.value.reason in ("changed", "last_admin")
    with pytest.raises(AdminChangeRefused) as refused:
        users.delete_admin(second)  # the last one
    assert refused.value.reason == "last_admin"
    users.update_admin(demoted, UserChange(role="admin"), joins=True)
    users.delete_admin(second)
    assert users.get("second") is None


def test_updates_and_deletes_are_for_the_user_as_read(accounts: Accounts) -> None:
    users = accounts.users
    alice = _user("alice")
    users.create(alice, admin=False)
    changed = users.update(alice, UserChange(last_login=7, password_hash="new", valid_after=6))
    assert changed is not None and (changed.last_login, changed.password_hash, changed.valid_after) == (7, "new", 6)
    assert changed.role == "user" and changed.created_at == alice.created_at
    impostor = replace(alice, id=uuid.uuid4().hex)  # another user of the same name, read before
    assert users.update(impostor, UserChange(last_login=8)) is None
    assert not users.delete(impostor)
    assert users.delete(alice) and users.get("alice") is None
    assert users.update(alice, UserChange(last_login=9)) is None and users.get("alice") is None
    assert not users.delete(alice)


def test_users_are_listed_oldest_first_in_pages(accounts: Accounts) -> None:
    users = accounts.users
    made = [_user(f"user{i}", created_at=1_900_000_000_000 + i) for i in range(3)]
    for user in reversed(made):
        users.create(user, admin=False)
    first, after = users.page(2, None)
    assert [u.username for u in first] == ["user0", "user1"] and after is not None
    assert set(after) == {"username", "kind", "created_key"}
    rest, end = users.page(2, after)
    assert [u.username for u in rest] == ["user2"] and end is None


def test_a_session_and_its_user_are_read_together(accounts: Accounts) -> None:
    alice = _user("alice")
    accounts.users.create(alice, admin=False)
    session = LoginSession(uuid.uuid4().hex, alice.id, "alice", "d0", alice.created_at, NOW_S + 60)
    accounts.sessions.create(session)
    assert accounts.users.session_and_user(session.id, "alice") == (session, alice)
    assert accounts.users.session_and_user(uuid.uuid4().hex, "nobody") == (None, None)
