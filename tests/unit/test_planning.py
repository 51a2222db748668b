"""Part planning within S3's multipart limits, lane sharing and run compression."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain.planning import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    STREAM_DOUBLING,
    GiB,
    MiB,
    PartPlan,
    PlanError,
    from_runs,
    missing_parts,
    plan_parts,
    split_lanes,
    stream_part_size,
    to_runs,
)

TiB = 1024 * GiB


def assert_valid_plan(plan: PartPlan) -> None:
    """S3's rules, and a plan that covers the file exactly once, in order."""
    assert 1 <= plan.count <= MAX_PARTS
    assert MIN_PART_SIZE <= plan.part_size <= MAX_PART_SIZE
    # Check the first, the last and the ones around them (a 5 TiB plan has ~10,000 parts).
    numbers = sorted({1, 2, plan.count - 1, plan.count} & set(range(1, plan.count + 1)))
    for n in numbers:
        first, last = plan.bounds(n)
        assert first == (n - 1) * plan.part_size
        if n < plan.count:
            assert plan.length(n) == plan.part_size  # every part but the last is full size
        else:
            assert last == plan.size - 1
            assert 0 <= plan.length(n) <= plan.part_size
            if plan.size:
                assert plan.length(n) >= 1
    assert (plan.count - 1) * plan.part_size + plan.length(plan.count) == plan.size


def test_zero_byte_file_is_one_empty_part() -> None:
    plan = plan_parts(0, 16 * MiB)
    assert plan.count == 1
    assert plan.bounds(1) == (0, -1)
    assert plan.length(1) == 0
    assert_valid_plan(plan)


def test_one_byte_file() -> None:
    plan = plan_parts(1, 16 * MiB)
    assert (plan.count, plan.bounds(1), plan.length(1)) == (1, (0, 0), 1)


def test_exact_multiple_has_no_empty_tail() -> None:
    plan = plan_parts(10 * MiB, 5 * MiB)
    assert plan.count == 2
    assert plan.bounds(2) == (5 * MiB, 10 * MiB - 1)


def test_last_part_may_be_small() -> None:
    plan = plan_parts(23 * MiB + 17, 5 * MiB)
    assert plan.count == 5
    assert plan.length(5) == 3 * MiB + 17
    assert_valid_plan(plan)


@pytest.mark.parametrize("asked", [0, 1, -5, MIN_PART_SIZE - 1])
def test_no_part_under_5_mib(asked: int) -> None:
    plan = plan_parts(100 * MiB, asked)
    assert plan.part_size == MIN_PART_SIZE
    assert plan.count == 20


def test_part_size_is_capped_at_5_gib() -> None:
    plan = plan_parts(20 * GiB, 50 * GiB)
    assert plan.part_size == MAX_PART_SIZE
    assert plan.count == 4


def test_exactly_10000_parts_does_not_grow() -> None:
    plan = plan_parts(MAX_PARTS * 5 * MiB, 5 * MiB)
    assert (plan.part_size, plan.count) == (5 * MiB, MAX_PARTS)


def test_one_byte_more_than_10000_parts_grows_the_part_size() -> None:
    plan = plan_parts(MAX_PARTS * 5 * MiB + 1, 5 * MiB)
    assert plan.part_size == 6 * MiB  # the smallest whole MiB that fits
    assert plan.count <= MAX_PARTS
    assert_valid_plan(plan)


def test_5_tib_fits_in_10000_parts() -> None:
    plan = plan_parts(MAX_OBJECT_SIZE, 16 * MiB)
    assert plan.count <= MAX_PARTS
    assert plan.part_size % MiB == 0
    assert plan.part_size == 525 * MiB
    assert_valid_plan(plan)


def test_larger_than_5_tib_is_refused() -> None:
    with pytest.raises(PlanError, match="5 TiB"):
        plan_parts(MAX_OBJECT_SIZE + 1, 16 * MiB)


def test_negative_size_is_refused() -> None:
    with pytest.raises(PlanError):
        plan_parts(-1, 16 * MiB)


def test_growth_is_monotonic_in_size() -> None:
    sizes = [n * 100 * GiB for n in range(1, 52)]
    part_sizes = [plan_parts(s, 5 * MiB).part_size for s in sizes]
    assert part_sizes == sorted(part_sizes)
    assert part_sizes[0] == 11 * MiB


def test_random_sizes_always_make_valid_plans() -> None:
    rng = random.Random(20240601)
    edges = [
        0, 1, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1,
        MAX_PARTS * MIN_PART_SIZE - 1, MAX_PARTS * MIN_PART_SIZE, MAX_PARTS * MIN_PART_SIZE + 1,
        MAX_PART_SIZE, MAX_PARTS * MAX_PART_SIZE // 1024, TiB, MAX_OBJECT_SIZE - 1, MAX_OBJECT_SIZE,
    ]
    sizes = edges + [rng.randrange(0, MAX_OBJECT_SIZE + 1) for _ in range(300)] + [
        rng.randrange(0, 200 * GiB) for _ in range(300)
    ]
    asked = [0, MIN_PART_SIZE, 8 * MiB, 16 * MiB, 100 * MiB + 3, GiB, MAX_PART_SIZE, 10 * MAX_PART_SIZE]
    for size in sizes:
        for part_size in asked:
            plan = plan_parts(size, part_size)
            assert plan.size == size
            assert_valid_plan(plan)
            # The asked-for size is honoured unless S3's limits forbid it.
            wanted = min(max(part_size, MIN_PART_SIZE), MAX_PART_SIZE)
            if -(-size // wanted) <= MAX_PARTS:
                assert plan.part_size == wanted


@pytest.mark.parametrize("number", [0, -1, 4])
def test_bounds_outside_the_plan_are_refused(number: int) -> None:
    plan = plan_parts(15 * MiB, 5 * MiB)
    with pytest.raises(PlanError):
        plan.bounds(number)


# -- streams of unknown length -----------------------------------------------------------


def test_stream_parts_start_at_the_base_and_double_every_2000_parts() -> None:
    base = 8 * MiB
    assert stream_part_size(1, base) == base
    assert stream_part_size(STREAM_DOUBLING, base) == base
    assert stream_part_size(STREAM_DOUBLING + 1, base) == 2 * base
    assert stream_part_size(2 * STREAM_DOUBLING + 1, base) == 4 * base


def test_stream_part_size_respects_s3_limits() -> None:
    assert stream_part_size(1, 1) == MIN_PART_SIZE
    assert stream_part_size(1, 10 * MAX_PART_SIZE) == MAX_PART_SIZE
    sizes = [stream_part_size(n, 16 * MiB) for n in range(1, MAX_PARTS + 1)]
    assert sizes == sorted(sizes)
    assert all(MIN_PART_SIZE <= s <= MAX_PART_SIZE for s in sizes)
    assert all(isinstance(s, int) for s in sizes)
    # Growth lets a stream hold far more than 10,000 base-size parts: 31 x 2,000 of them.
    assert sum(sizes) == (1 + 2 + 4 + 8 + 16) * STREAM_DOUBLING * 16 * MiB


# -- lanes -------------------------------------------------------------------------------


def test_split_lanes_is_contiguous_near_equal_and_complete() -> None:
    parts = list(range(1, 24))
    lanes = split_lanes(parts, 4)
    assert len(lanes) == 4
    assert [n for lane in lanes for n in lane] == parts
    assert max(map(len, lanes)) - min(map(len, lanes)) <= 1
    assert lanes[0] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("count", "lanes"), [(n, k) for n in range(0, 13) for k in range(0, 10)])
def test_split_lanes_small_cases(count: int, lanes: int) -> None:
    parts = [n * 3 for n in range(1, count + 1)]  # not necessarily 1..n
    out = split_lanes(parts, lanes)
    if not parts:
        assert out == []
        return
    assert len(out) == min(max(lanes, 1), count)
    assert all(out)  # no empty lane
    assert [n for lane in out for n in lane] == parts
    assert max(map(len, out)) - min(map(len, out)) <= 1


# -- runs --------------------------------------------------------------------------------


def test_runs_examples() -> None:
    assert to_runs([1, 2, 3, 7]) == [[1, 3], [7, 7]]
    assert to_runs([]) == []
    assert to_runs([5]) == [[5, 5]]
    assert from_runs([[1, 3], [7, 7]]) == [1, 2, 3, 7]
    assert from_runs([]) == []


def test_runs_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(200):
        parts = sorted(rng.sample(range(1, 10_001), rng.randrange(0, 300)))
        runs = to_runs(parts)
        assert from_runs(runs) == parts
        assert all(first <= last for first, last in runs)
        # Runs are maximal: never adjacent.
        assert all(b[0] > a[1] + 1 for a, b in zip(runs, runs[1:], strict=False))


def test_runs_of_10000_parts_stay_small() -> None:
    assert to_runs(range(1, MAX_PARTS + 1)) == [[1, MAX_PARTS]]


def test_missing_parts() -> None:
    assert missing_parts(5, [2, 4]) == [1, 3, 5]
    assert missing_parts(3, [1, 2, 3]) == []
    assert missing_parts(3, []) == [1, 2, 3]
    assert missing_parts(0, []) == []
    assert missing_parts(3, [3, 3, 9]) == [1, 2]
