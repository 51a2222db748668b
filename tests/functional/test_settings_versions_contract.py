"""The engine settings' stored versions (chalicelib/settings/store.py ``SettingsVersions``), run
through the settings store against the in-memory fake (tests/fakes/settings.py) and the DynamoDB
implementation (chalicelib/persistence/settings.py ``DynamoSettingsVersions``, on moto), so the
fake the settings' unit tests use behaves as the real store does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from chalicelib.settings.store import EngineSettings, SettingsStore, SettingsVersion, SettingsVersions
from tests.fakes.clock import ManualClock
from tests.fakes.settings import FakeSettingsVersions


@pytest.fixture(params=["fake", "dynamodb"])
def versions(request: pytest.FixtureRequest) -> Iterator[SettingsVersions]:
    if request.param == "fake":
        yield FakeSettingsVersions()
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.settings import DynamoSettingsVersions

    # Items of their own: the process's settings are the functional tests'.
    yield DynamoSettingsVersions(key=f"settings-contract-{uuid.uuid4().hex}")


def _store(versions: SettingsVersions) -> SettingsStore:
    return SettingsStore(versions, clock=ManualClock())


def test_nothing_stored_is_version_0_with_the_defaults(versions: SettingsVersions) -> None:
    assert versions.current() is None and versions.stored(0) is None and versions.stored_many([0, 1]) == []
    store = _store(versions)
    assert store.current() == SettingsVersion(0, EngineSettings())
    assert store.version(0) == SettingsVersion(0, EngineSettings()) and store.version(1) is None


def test_the_first_change_stores_version_1_and_the_defaults_as_0(versions: SettingsVersions) -> None:
    store = _store(versions)
    made = store.change({"queue": {"max_concurrent_downloads": 5}}, "alice")
    assert made.created and made.version == 1 and made.updated_by == "alice"
    assert made.updated_at == ManualClock().now_ms()
    assert made.changes == {"queue.max_concurrent_downloads": [3, 5]}
    now = versions.current()
    assert now is not None and (now.version, now.settings.max_concurrent_downloads) == (1, 5)
    assert now.changes == {} and now.restored_from is None  # the current item keeps no changes
    zero, one = versions.stored(0), versions.stored(1)
    assert zero is not None and zero.settings == EngineSettings() and zero.changes == {}
    assert one is not None and one.changes == made.changes and one.updated_at == made.updated_at
    assert store.change({"queue": {"max_concurrent_downloads": 5}}, "bob").version == 1  # no change: no version


def test_history_in_the_order_asked_and_a_restore_names_its_source(versions: SettingsVersions) -> None:
    store = _store(versions)
    for n in (4, 5, 6):
        store.change({"transfer": {"parallel_parts": n}}, "alice")
    assert [v.version for v in store.versions([3, 0, 7, 1, -1])] == [3, 0, 1]
    assert sorted(v.version for v in versions.stored_many([2, 3, 9])) == [2, 3]
    restored = store.restore(1, "bob")
    assert restored is not None and restored.version == 4 and restored.restored_from == 1
    assert restored.settings.parallel_parts == 4 and restored.changes == {"transfer.parallel_parts": [6, 4]}
    stored = versions.stored(4)
    assert stored is not None and stored.restored_from == 1
    assert store.restore(42, "bob") is None


def test_a_version_is_added_only_onto_the_current_one(versions: SettingsVersions) -> None:
    store = _store(versions)
    v1 = store.change({"retry": {"max_attempts": 4}}, "alice")
    v2 = store.change({"retry": {"max_attempts": 5}}, "alice")
    stale = replace(v2, version=2, settings=replace(v2.settings, retry_max_attempts=9))
    assert not versions.add_next(v1, stale)  # version 2 exists, and v1 is no longer current
    late_first = SettingsVersion(1, EngineSettings(parallel_parts=2), 1, "late", {"x": [1, 2]})
    assert not versions.add_next(SettingsVersion(0, EngineSettings()), late_first)
    now = versions.current()
    assert now is not None and (now.version, now.settings.retry_max_attempts) == (2, 5)
    changed = {"files.presign_seconds": [3600, 77]}
    three = SettingsVersion(3, replace(now.settings, presign_seconds=77), 5, "carol", changed)
    assert versions.add_next(now, three)
    assert store.current().settings.presign_seconds == 77
