"""Priorities, queue ranking and the figures a task shows (progress, speed, ETA)."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import MAX_PRIORITY, MIN_PRIORITY, Task, iso, priority_name, priority_value, rank


def make(**kw: object) -> Task:
    base: dict[str, object] = {"id": "t1", "owner": "local", "url": "https://h/f.bin", "filename": "f.bin",
                               "key": "downloads/t1/f.bin"}
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]


# -- priorities --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("LOW", -10), ("NORMAL", 0), ("HIGH", 10),
        ("low", -10), (" High ", 10), ("normal", 0),
        (0, 0), (100, 100), (-100, -100), (42, 42),
        ("7", 7), ("-100", -100), (" 100 ", 100),
    ],
)
def test_priority_from_name_or_number(value: int | str, number: int) -> None:
    assert priority_value(value) == number


@pytest.mark.parametrize("value", [101, -101, "101", "-101", "URGENT", "", "1.5", "ten", 10**30])
def test_bad_priority(value: int | str) -> None:
    with pytest.raises(ValueError):
        priority_value(value)


@pytest.mark.parametrize(
    ("number", "name"),
    [(-100, "LOW"), (-10, "LOW"), (-9, "NORMAL"), (0, "NORMAL"), (9, "NORMAL"), (10, "HIGH"), (100, "HIGH")],
)
def test_priority_name(number: int, name: str) -> None:
    assert priority_name(number) == name


def test_names_round_trip() -> None:
    for name in ("LOW", "NORMAL", "HIGH"):
        assert priority_name(priority_value(name)) == name


# -- rank --------------------------------------------------------------------------------


def test_rank_puts_higher_priority_first_then_earlier() -> None:
    tasks = [(0, 5), (10, 9), (0, 1), (-10, 0), (10, 2), (100, 10**15), (-100, 0)]
    ordered = sorted(tasks, key=lambda t: rank(*t))
    assert ordered == [(100, 10**15), (10, 2), (10, 9), (0, 1), (0, 5), (-10, 0), (-100, 0)]


def test_rank_sorts_as_text_exactly_like_the_tuple_order() -> None:
    rng = random.Random(9)
    tasks = [(rng.randint(MIN_PRIORITY, MAX_PRIORITY), rng.randrange(0, 2**62)) for _ in range(2000)]
    by_text = sorted(tasks, key=lambda t: rank(*t))
    by_tuple = sorted(tasks, key=lambda t: (-t[0], t[1]))
    assert by_text == by_tuple


def test_rank_has_a_fixed_width() -> None:
    widths = {len(rank(p, o)) for p in (MIN_PRIORITY, 0, MAX_PRIORITY) for o in (0, 1, 10**19)}
    assert len(widths) == 1


# -- figures -----------------------------------------------------------------------------


def test_a_new_task_shows_nothing_yet() -> None:
    task = make()
    assert (task.downloaded, task.speed, task.progress, task.eta) == (0, 0, 0.0, None)


def test_downloading_task_counts_recorded_parts_and_live_lanes() -> None:
    task = make(state=TaskState.DOWNLOADING, size=1000, bytes_done=400,
                lane_bytes={"0": 100, "1": 50}, lane_speed={"0": 30, "1": 20})
    assert task.downloaded == 550
    assert task.speed == 50
    assert task.progress == 55.0
    assert task.eta == 9  # 450 bytes at 50 B/s


def test_eta_rounds_up() -> None:
    task = make(state=TaskState.DOWNLOADING, size=1001, bytes_done=0, lane_speed={"0": 100})
    assert task.eta == 11


def test_live_bytes_never_push_past_the_size() -> None:
    task = make(state=TaskState.DOWNLOADING, size=100, bytes_done=90, lane_bytes={"0": 60}, lane_speed={"0": 5})
    assert task.downloaded == 100
    assert task.progress == 100.0
    assert task.eta == 0


@pytest.mark.parametrize("state", [s for s in TaskState if s != TaskState.DOWNLOADING])
def test_only_a_downloading_task_has_speed_or_live_bytes(state: TaskState) -> None:
    task = make(state=state, size=1000, bytes_done=300, lane_bytes={"0": 100}, lane_speed={"0": 50})
    assert task.speed == 0
    assert task.eta is None
    assert task.downloaded == 300


def test_completed_is_100_percent_even_for_an_empty_file() -> None:
    assert make(state=TaskState.COMPLETED, size=0).progress == 100.0
    assert make(state=TaskState.COMPLETED, size=None).progress == 100.0


def test_unknown_size_has_no_progress_or_eta() -> None:
    task = make(state=TaskState.DOWNLOADING, size=None, bytes_done=5000, lane_speed={"0": 10})
    assert task.downloaded == 5000
    assert task.progress == 0.0
    assert task.eta is None
    assert task.speed == 10


def test_progress_has_two_decimals() -> None:
    assert make(state=TaskState.DOWNLOADING, size=3, bytes_done=1).progress == 33.33


def test_iso_times_have_a_fixed_format() -> None:
    assert iso(None) is None
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso(1_700_000_000_000) == "2023-11-14T22:13:20.000Z"
    # Every millisecond survives the float division, and the strings sort like the numbers.
    stamps = list(range(1_700_000_000_000, 1_700_000_002_001, 7))
    texts = [iso(ms) for ms in stamps]
    assert [int(t[-4:-1]) for t in texts] == [ms % 1000 for ms in stamps]  # type: ignore[index]
    assert texts == sorted(texts)  # type: ignore[type-var]


def test_view_is_what_the_api_shows() -> None:
    task = make(state=TaskState.DOWNLOADING, size=2000, bytes_done=500, lane_bytes={"0": 500},
                lane_speed={"0": 100}, priority=10, headers={"Authorization": "Bearer s3cr3t", "Cookie": "id=42"},
                tags=["a"], created_at=1_700_000_000_000, started_at=1_700_000_001_000, updated_at=1_700_000_002_000,
                part_count=4, part_size=500, parts_done=1)
    view = task.view()
    assert view["state"] == "downloading"
    assert view["priority"] == "HIGH" and view["priority_value"] == 10
    assert (view["downloaded_bytes"], view["total_bytes"], view["speed"], view["eta"]) == (1000, 2000, 100, 10)
    assert view["progress"] == 50.0
    assert (view["parts_total"], view["parts_done"], view["part_size"]) == (4, 1, 500)
    assert view["created_at"] == "2023-11-14T22:13:20.000Z"
    assert view["started_at"] == "2023-11-14T22:13:21.000Z"
    assert view["finished_at"] is None
    # Request headers carry credentials: only their names are shown, never their values.
    assert view["header_names"] == ["Authorization", "Cookie"]
    assert "headers" not in view
    assert "s3cr3t" not in repr(view) and "id=42" not in repr(view)
    # The view is a copy: changing it does not change the task.
    view["tags"].append("b")
    assert task.tags == ["a"]


def test_view_keys_are_stable() -> None:
    assert set(make().view()) == {
        "id",
        "url",
        "filename",
        "key",
        "state",
        "phase",
        "priority",
        "priority_value",
        "progress",
        "downloaded_bytes",
        "total_bytes",
        "speed",
        "eta",
        "resumable",
        "parts_total",
        "parts_done",
        "part_size",
        "content_type",
        "checksum",
        "batch_id",
        "batch_name",
        "category",
        "tags",
        "header_names",
        "metadata",
        "path",
        "naming",
        "target",
        "error",
        "note",
        "restarts",
        "host",
        "speed_limit",
        "owner",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    }
