"""Engine settings: the pure parts (validation and merging), no storage."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import pytest

from chalicelib.domain.backoff import RetryPolicy
from chalicelib.domain.planning import MAX_PART_SIZE, MIN_PART_SIZE, MiB
from chalicelib.settings.store import EngineSettings, SettingsError

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
    assert problems_of({"max_speed": 5, "colour": "blue"}) == {
        "max_speed": "is not a setting",
        "colour": "is not a setting",
    }


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


# -- the nested view (sections) and parsing a PATCH body ----------------------------------

from chalicelib.settings.store import DOTTED, SECTIONS, diff, nested, parse_changes  # noqa: E402


def test_every_setting_has_exactly_one_place_in_the_sections() -> None:
    flat = [f for keys in SECTIONS.values() for f in keys.values()]
    assert sorted(flat) == sorted(f.name for f in fields(EngineSettings))
    assert DOTTED["default_speed_limit"] == "transfer.speed_limit"
    assert DOTTED["history_retention_days"] == "history.retention_days"
    assert DOTTED["retry_max_attempts"] == "retry.max_attempts"


def test_nested_view_of_the_defaults() -> None:
    assert nested(DEFAULTS) == {
        "queue": {"max_concurrent_downloads": 3, "per_host_connections": 0, "per_user_downloads": 0,
                  "min_speed": 0, "min_speed_seconds": 60},
        "transfer": {"parallel_parts": 8, "part_size": 16 * MiB, "speed_limit": 0},
        "retry": {"max_attempts": 6, "base_seconds": 1.0, "cap_seconds": 120.0, "max_restarts": 3},
        "files": {"presign_seconds": 3600},
        "history": {"retention_days": 0, "activity_retention_days": 30},
        "security": {"api_key_days": 90},
    }


def test_sections_map_onto_the_flat_settings() -> None:
    changes, problems = parse_changes({"transfer": {"part_size": 8 * MiB, "speed_limit": 1 << 20},
                                       "retry": {"max_attempts": 2}})
    assert problems == {}
    assert changes.values == {"part_size": 8 * MiB, "default_speed_limit": 1 << 20, "retry_max_attempts": 2}
    merged = DEFAULTS.merged(changes.values)
    assert (merged.part_size, merged.default_speed_limit, merged.retry_max_attempts) == (8 * MiB, 1 << 20, 2)


def test_flat_names_still_work_and_may_mix_with_sections() -> None:
    changes, problems = parse_changes({"part_size": 8 * MiB, "queue": {"max_concurrent_downloads": 4}})
    assert problems == {}
    assert changes.values == {"part_size": 8 * MiB, "max_concurrent_downloads": 4}


def test_unknown_sections_and_keys_are_named() -> None:
    _, problems = parse_changes({"turbo": 1, "transfer": {"warp": 9}, "files": 5})
    assert set(problems) == {"turbo", "transfer.warp", "files"}
    assert problems["files"].startswith("must be an object")


def test_a_setting_given_twice_is_refused() -> None:
    _, problems = parse_changes({"part_size": 8 * MiB, "transfer": {"part_size": 6 * MiB}})
    assert list(problems) == ["transfer.part_size"]


@pytest.mark.parametrize("body", [[], "x", None, 5])
def test_a_body_that_is_no_object_is_named_body(body: Any) -> None:
    assert list(parse_changes(body)[1]) == ["body"]


def test_errors_use_the_names_the_body_used() -> None:
    changes, _ = parse_changes({"transfer": {"part_size": 1024}, "parallel_parts": 0})
    _, errors = DEFAULTS.applied(changes.values)
    assert set(changes.named(errors)) == {"transfer.part_size", "parallel_parts"}
    # A cross-field problem on a field the body did not name is reported dotted.
    changes, _ = parse_changes({"retry": {"base_seconds": 500}})
    _, errors = DEFAULTS.applied(changes.values)
    assert changes.named(errors) == {"retry.cap_seconds": errors["retry_cap_seconds"]}


def test_applied_keeps_what_it_can_and_reports_the_rest() -> None:
    result, errors = DEFAULTS.applied({"part_size": 8 * MiB, "parallel_parts": "x", "max_concurrent_downloads": 0})
    assert result.part_size == 8 * MiB and result.parallel_parts == DEFAULTS.parallel_parts
    assert result.max_concurrent_downloads == 0  # out of range, but shown as it would be
    assert set(errors) == {"parallel_parts", "max_concurrent_downloads"}


def test_diff_names_changes_dotted() -> None:
    new = DEFAULTS.merged({"part_size": 8 * MiB, "per_host_connections": 2})
    assert diff(DEFAULTS, new) == {"transfer.part_size": [16 * MiB, 8 * MiB], "queue.per_host_connections": [0, 2]}
    assert diff(new, new) == {}


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("per_host_connections", [0, 1, 256], [-1, 257]),
        ("default_speed_limit", [0, 16 * 1024, 100 * 1024**3], [1, 16 * 1024 - 1, -5]),
        ("history_retention_days", [0, 3650], [-1, 3651]),
        ("activity_retention_days", [1, 3650], [0, 3651]),
        ("per_user_downloads", [0, 1, 1000], [-1, 1001]),
        ("min_speed", [0, 1, 100 * 1024**3], [-1, 100 * 1024**3 + 1]),
        ("min_speed_seconds", [5, 3600], [4, 3601]),
        ("max_restarts", [0, 100], [-1, 101]),
    ],
)
def test_control_surface_ranges(name: str, good: list[int], bad: list[int]) -> None:
    for value in good:
        assert getattr(DEFAULTS.merged({name: value}), name) == value
    for value in bad:
        assert list(problems_of({name: value})) == [name]


@pytest.mark.parametrize(("concurrent", "per_user", "limit"), [
    (3, 0, 1), (1, 0, 1), (2, 0, 1), (4, 0, 2), (9, 0, 4), (4, 3, 3), (4, 10, 4), (1, 5, 1),
])
def test_the_per_user_limit_is_half_the_slots_unless_set(concurrent: int, per_user: int, limit: int) -> None:
    merged = DEFAULTS.merged({"max_concurrent_downloads": concurrent, "per_user_downloads": per_user})
    assert merged.per_user_limit == limit
