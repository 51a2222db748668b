"""Speed limits: the pacer's arithmetic, with a clock the test moves (no sleeping, no timing)."""

from __future__ import annotations

import pytest

from chalicelib.domain.pacing import BURST_SECONDS, MIN_READ, Pacer, effective_limit, lane_share


def run(pacer: Pacer, total: int, chunk: int, start: float = 100.0) -> float:
    """Read ``total`` bytes in ``chunk``s, waiting as told; the time it took."""
    now = start
    read = 0
    while read < total:
        n = min(chunk, total - read)
        read += n
        now += pacer.wait(n, now)
    return now - start


def test_no_limit_never_waits() -> None:
    pacer = Pacer(0)
    assert not pacer.active
    assert pacer.wait(10**9, 0.0) == 0.0
    assert pacer.read_size(1 << 20) == 1 << 20


def test_a_limited_read_takes_its_size_over_the_rate() -> None:
    pacer = Pacer(1000)
    # The first chunk is free (the clock starts with it); the rest arrive at the rate.
    assert run(pacer, 10_000, 100) == pytest.approx(9.9)


def test_the_wait_is_what_keeps_the_average_at_the_rate() -> None:
    pacer = Pacer(100)
    assert pacer.wait(50, 0.0) == 0.0
    assert pacer.wait(50, 0.0) == pytest.approx(0.5)
    assert pacer.wait(50, 0.5) == pytest.approx(0.5)
    # Arriving late: nothing to wait for.
    assert pacer.wait(50, 10.0) == 0.0


def test_a_slow_reader_saves_up_at_most_a_burst() -> None:
    pacer = Pacer(100)
    pacer.wait(0, 0.0)
    assert pacer.wait(10, 100.0) == 0.0  # far behind: the credit is capped...
    # ...so the next burst of bytes beyond BURST_SECONDS' worth is paced again.
    assert pacer.wait(int(100 * BURST_SECONDS) + 100, 100.0) == pytest.approx(1.0)


def test_a_new_rate_applies_at_once() -> None:
    pacer = Pacer(100)
    pacer.wait(0, 0.0)
    assert pacer.wait(100, 0.0) == pytest.approx(1.0)
    pacer.set_rate(1000)
    assert pacer.wait(100, 0.0) == 0.0  # a new window: its first read is free
    assert pacer.wait(100, 0.0) == pytest.approx(0.1)
    pacer.set_rate(0)
    assert pacer.wait(10**9, 0.0) == 0.0


def test_the_same_rate_again_keeps_the_window() -> None:
    pacer = Pacer(100)
    pacer.wait(0, 0.0)
    pacer.wait(100, 0.0)
    pacer.set_rate(100)
    assert pacer.wait(100, 0.0) == pytest.approx(2.0)


def test_reads_are_cut_to_a_slice_of_a_second() -> None:
    assert Pacer(8 * 1024 * 1024).read_size(1 << 20) == 1 << 20
    assert Pacer(800_000).read_size(1 << 20) == 100_000
    assert Pacer(1000).read_size(1 << 20) == MIN_READ


def test_effective_limit_prefers_the_download_s_own() -> None:
    assert effective_limit(None, 5000) == 5000
    assert effective_limit(0, 5000) == 0  # 0 on the download: no limit, whatever the default
    assert effective_limit(2000, 0) == 2000
    assert effective_limit(None, 0) == 0


def test_lanes_share_the_limit_with_a_floor() -> None:
    assert lane_share(0, 4) == 0.0
    assert lane_share(1000, 4) == 250.0
    assert lane_share(1000, 0) == 1000.0
    assert lane_share(1000, 4, floor=400.0) == 400.0
