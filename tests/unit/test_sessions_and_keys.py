"""Login sessions and API keys on the in-memory stores (tests/fakes/auth.py): rotation, replay,
expiry, a store that does not answer (503, nothing taken as done); keys' verification, expiry,
throttled use records, a key revoked while in use. And the local signing key made once."""

from __future__ import annotations

import pytest

from chalicelib.api.errors import Unavailable
from chalicelib.auth.apikeys import ApiKeys
from chalicelib.auth.sessions import SessionError, Sessions
from chalicelib.auth.tokens import ControlTableKey, KeyUnavailable
from tests.fakes.auth import FakeApiKeys, FakeSessions, FakeSigningKey
from tests.fakes.clock import ManualClock


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture()
def sessions(clock: ManualClock) -> Sessions:
    return Sessions(FakeSessions(), 3600, clock)


def test_a_refresh_token_works_once_and_its_replay_revokes_the_session(sessions: Sessions) -> None:
    session, first = sessions.start("u1", "alice")
    assert session.expires == sessions._clock.now_ms() // 1000 + 3600
    again, second = sessions.rotate(first)
    assert again.id == session.id and second != first
    with pytest.raises(SessionError) as replay:
        sessions.rotate(first)
    assert replay.value.reused and replay.value.session is not None and replay.value.session.id == session.id
    assert sessions.active(session.id) is None  # revoked: the thief's token and the user's alike
    with pytest.raises(SessionError):
        sessions.rotate(second)


def test_a_session_ends_at_its_lifetime_however_often_refreshed(sessions: Sessions, clock: ManualClock) -> None:
    session, token = sessions.start("u1", "alice")
    clock.advance(3599)
    _, token = sessions.rotate(token)
    clock.advance(1)
    assert sessions.active(session.id) is None
    with pytest.raises(SessionError) as ended:
        sessions.rotate(token)
    assert not ended.value.reused


def test_malformed_and_foreign_tokens_are_refused(sessions: Sessions) -> None:
    session, token = sessions.start("u1", "alice")
    for bad in ("nonsense", f"{session.id}.short", f"{'0' * 32}.{'x' * 43}", f"{session.id}.{'y' * 43}"):
        with pytest.raises(SessionError) as refused:
            sessions.rotate(bad)
        assert not refused.value.reused
    assert sessions.active(session.id) is not None


def test_a_store_that_does_not_answer_is_a_503_and_nothing_is_taken_as_done(sessions: Sessions) -> None:
    session, token = sessions.start("u1", "alice")
    records = sessions.records
    assert isinstance(records, FakeSessions)
    records.fail_writes = True
    with pytest.raises(Unavailable):
        sessions.rotate(token)
    with pytest.raises(Unavailable):
        sessions.revoke(session.id, "logged out")
    records.fail_writes = False
    assert sessions.active(session.id) is not None
    sessions.rotate(token)  # the token still works once the store answers


def test_keys_verify_expire_and_record_their_use_at_most_every_minute(clock: ManualClock) -> None:
    keys = ApiKeys(FakeApiKeys(), clock)
    key, secret = keys.create("u1", "alice", "script", 1)
    clock.advance(0.001)  # listed oldest first: made a millisecond apart
    never, never_secret = keys.create("u1", "alice", "cron", None)
    assert keys.verify(secret) == key and keys.verify(never_secret) == never
    used = keys.records.get(key.id)
    assert used is not None and used.last_used_at == clock.now_ms()
    clock.advance(30)
    keys.verify(secret)
    assert keys.records.get(key.id) == used  # within the minute: not written again
    clock.advance(31)
    keys.verify(secret)
    again = keys.records.get(key.id)
    assert again is not None and again.last_used_at == clock.now_ms()
    assert keys.verify(secret[:-2] + "xx") is None and keys.verify("haul_nope") is None
    assert [k.id for k in keys.of_user("u1")] == [key.id, never.id] and keys.count("u1") == 2
    clock.advance(86400)
    assert keys.verify(secret) is None and keys.get(key.id) is None  # expired
    assert [k.id for k in keys.of_user("u1")] == [never.id] and keys.count("u1") == 2  # counted till the TTL


def test_a_key_revoked_while_in_use_is_refused(clock: ManualClock) -> None:
    records = FakeApiKeys()
    keys = ApiKeys(records, clock)
    key, secret = keys.create("u1", "alice", "script", None)
    found = records.get(key.id)
    assert found is not None
    records.get = lambda key_id: found  # type: ignore[method-assign]  # read just before the delete
    records.delete(key.id)
    assert keys.verify(secret) is None


def test_the_local_signing_key_is_made_once_and_shared() -> None:
    item = FakeSigningKey()
    first = ControlTableKey(item).key()
    assert ControlTableKey(item).key() == first  # another process uses the same key
    short = FakeSigningKey()
    short.create({"key": "too short"})
    with pytest.raises(KeyUnavailable):
        ControlTableKey(short).key()
