"""Engine settings: the pure parts (validation and merging), no storage."""

from __future__ import annotations

import math
from typing import Any

import pytest

from chalicelib.domain.backoff import RetryPolicy
from chalicelib.domain.planning import MAX_PART_SIZE, MIN_PART_SIZE, MiB
from chalicelib.settings import EngineSettings, SettingsError

DEFAULTS = EngineSettings()


def problems_of(changes: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as info:
        DEFAULTS.merged(changes)
    assert info.value.fields
    return info.value.fields


def test_defaults_are_valid() -> None:
    assert DEFAULTS.problems() == {}
    assert DEFAULTS.part_size == 16 * MiB


def test_retry_policy_follows_the_settings() -> None:
    s = DEFAULTS.merged({"retry_max_attempts": 4, "retry_base_seconds": 0.5, "retry_cap_seconds": 60})
    assert s.retry == RetryPolicy(max_attempts=4, base=0.5, cap=60.0)


def test_merge_returns_a_new_value_and_leaves_the_old_one_alone() -> None:
    s = DEFAULTS.merged({"max_concurrent_downloads": 7, "part_size": 8 * MiB})
    assert (s.max_concurrent_downloads, s.part_size) == (7, 8 * MiB)
    assert DEFAULTS.max_concurrent_downloads == 3
    assert DEFAULTS.merged({}) == DEFAULTS


def test_types_are_kept() -> None:
    s = DEFAULTS.merged({"parallel_parts": 4.0, "retry_base_seconds": 2, "retry_cap_seconds": 30})
    assert s.parallel_parts == 4 and isinstance(s.parallel_parts, int)
    assert s.retry_base_seconds == 2.0 and isinstance(s.retry_base_seconds, float)


def test_unknown_settings_are_named() -> None:
    assert problems_of({"max_speed": 5, "colour": "blue"}) == {"max_speed": "is not a setting", "colour": "is not a setting"}


@pytest.mark.parametrize("value", [True, False, None, "5", [5], {"v": 5}])
def test_non_numbers_are_refused(value: Any) -> None:
    assert problems_of({"parallel_parts": value}) == {"parallel_parts": "must be a number"}


def test_whole_numbers_are_required_where_the_setting_is_whole() -> None:
    assert problems_of({"max_concurrent_downloads": 2.5}) == {"max_concurrent_downloads": "must be a whole number"}


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**64])
def test_huge_numbers_are_refused_not_crashed_on(value: int) -> None:
    for name in ("part_size", "retry_base_seconds", "presign_seconds"):
        assert list(problems_of({name: value})) == [name]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    for name in ("max_concurrent_downloads", "retry_base_seconds", "retry_cap_seconds"):
        assert name in problems_of({name: value})


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("max_concurrent_downloads", [1, 1000], [0, -1, 1001]),
        ("parallel_parts", [1, 64], [0, 65]),
        ("part_size", [MIN_PART_SIZE, MAX_PART_SIZE], [MIN_PART_SIZE - 1, MAX_PART_SIZE + 1, 0]),
        ("retry_max_attempts", [1, 100], [0, 101]),
        ("retry_base_seconds", [0.001, 120], [0, -1]),
        ("retry_cap_seconds", [1.0, 900], [0.5, 901]),
        ("presign_seconds", [1, 7 * 24 * 3600], [0, 7 * 24 * 3600 + 1]),
    ],
)
def test_ranges(name: str, good: list[float], bad: list[float]) -> None:
    for value in good:
        assert getattr(DEFAULTS.merged({name: value}), name) == value
    for value in bad:
        fields = problems_of({name: value})
        assert list(fields) == [name], (name, value, fields)
        assert fields[name].startswith("must be")


def test_cap_must_not_be_below_base() -> None:
    assert list(problems_of({"retry_base_seconds": 10, "retry_cap_seconds": 5})) == ["retry_cap_seconds"]
    # Raising the base over the stored cap is caught too.
    assert list(problems_of({"retry_base_seconds": 500})) == ["retry_cap_seconds"]


def test_every_problem_is_reported_at_once() -> None:
    fields = problems_of({"max_concurrent_downloads": 0, "parallel_parts": 0, "presign_seconds": 0})
    assert set(fields) == {"max_concurrent_downloads", "parallel_parts", "presign_seconds"}


def test_problems_of_a_hand_made_value() -> None:
    bad = EngineSettings(max_concurrent_downloads=0, part_size=1)
    assert set(bad.problems()) == {"max_concurrent_downloads", "part_size"}
