"""The settings store (chalicelib/settings/store.py ``SettingsStore``) on the in-memory versions
(tests/fakes/settings.py) and a clock the test sets: the short cache, merging after a lost race,
giving up, and what a refused change leaves."""

from __future__ import annotations

import pytest

from chalicelib.settings.store import EngineSettings, SettingsConflict, SettingsError, SettingsStore
from tests.fakes.clock import ManualClock
from tests.fakes.settings import FakeSettingsVersions


def _rig() -> tuple[SettingsStore, FakeSettingsVersions, ManualClock]:
    versions, clock = FakeSettingsVersions(), ManualClock()
    return SettingsStore(versions, ttl=2.0, clock=clock), versions, clock


def test_get_reads_at_most_once_per_ttl_on_the_injected_clock() -> None:
    store, versions, clock = _rig()
    assert store.get() == EngineSettings()
    other = SettingsStore(versions, clock=clock)  # another sandbox changes them
    other.change({"parallel_parts": 3}, "alice")
    clock.advance(1.9)
    assert store.get().parallel_parts == 8  # still cached
    clock.advance(0.2)
    assert store.get().parallel_parts == 3
    store.change({"parallel_parts": 4}, "bob")
    assert store.get().parallel_parts == 4  # its own change, at once


def test_a_lost_race_merges_onto_the_winner_and_tries_again() -> None:
    store, versions, clock = _rig()
    store.change({"parallel_parts": 2}, "alice")
    versions.lose_races = 3
    clock.advance(5)
    made = store.change({"retry": {"max_attempts": 9}}, "bob")
    assert made.version == 2 and made.updated_at == clock.now_ms()
    assert (made.settings.parallel_parts, made.settings.retry_max_attempts) == (2, 9)


def test_a_change_that_keeps_losing_is_a_conflict_and_stores_nothing() -> None:
    store, versions, _ = _rig()
    versions.lose_races = 8
    with pytest.raises(SettingsConflict):
        store.change({"parallel_parts": 2}, "alice")
    assert versions.current() is None and versions.history == {}


def test_bad_values_are_named_as_the_request_named_them_and_nothing_is_stored() -> None:
    store, versions, _ = _rig()
    with pytest.raises(SettingsError) as err:
        store.change({"transfer": {"parallel_parts": 0}, "nope": 1}, "alice")
    assert set(err.value.fields) == {"transfer.parallel_parts", "nope"}
    preview, problems = store.preview({"queue": {"max_concurrent_downloads": 7}})
    assert preview.settings.max_concurrent_downloads == 7 and problems == {}
    assert versions.current() is None
