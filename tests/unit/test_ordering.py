"""Queue order: move to top/bottom bands, reorder as a permutation of held positions."""

from __future__ import annotations

import pytest

from chalicelib.domain import ordering
from chalicelib.domain.ordering import Position, dispatch_order, permute
from chalicelib.domain.task import rank
from chalicelib.engine.queuecontrol import QueueStatus

NOW = 1_763_800_000_000  # ms, late 2025
CREATED = NOW * 1000  # what a task created now gets


def test_top_comes_before_every_created_order_and_the_latest_top_first() -> None:
    assert 0 < ordering.top_order(NOW) < CREATED
    assert ordering.top_order(NOW + 5) < ordering.top_order(NOW)
    # Any task created since September 2001 (10**12 ms) comes after any move to the top, for centuries.
    assert ordering.top_order(7_258_118_400_000) > 0  # a move in the year 2200
    assert ordering.top_order(10**12) < 10**12 * 1000


def test_bottom_comes_after_every_created_order_and_the_latest_bottom_last() -> None:
    assert ordering.bottom_order(NOW) > 7_258_118_400_000 * 1000  # after tasks created in 2200
    assert ordering.bottom_order(NOW + 5) > ordering.bottom_order(NOW)
    assert len(f"{ordering.bottom_order(NOW):020d}") == 20  # fits the rank's 20 digits


def test_moved_order_names() -> None:
    assert ordering.moved_order("top", NOW) == ordering.top_order(NOW)
    assert ordering.moved_order("bottom", NOW) == ordering.bottom_order(NOW)
    with pytest.raises(ValueError):
        ordering.moved_order("middle", NOW)


def test_rank_sorts_like_the_dispatch_order() -> None:
    positions = [
        Position("old", 0, CREATED),
        Position("new", 0, CREATED + 1000),
        Position("high", 10, CREATED + 5000),
        Position("low", -10, ordering.top_order(NOW)),
        Position("top", 0, ordering.top_order(NOW)),
        Position("bottom", 0, ordering.bottom_order(NOW)),
    ]
    by_rank = [p.id for p in sorted(positions, key=lambda p: rank(p.priority, p.order))]
    assert by_rank == dispatch_order(positions) == ["high", "top", "old", "new", "bottom", "low"]


def test_permute_hands_the_held_slots_out_in_the_wanted_order() -> None:
    a, b, c = Position("a", 0, 100), Position("b", 0, 200), Position("c", 0, 300)
    moves = permute([a, b, c], ["c", "a", "b"])
    assert {m.id: m.order for m in moves} == {"c": 100, "a": 200, "b": 300}
    after = {p.id: p for p in [a, b, c]} | {m.id: m for m in moves}
    assert dispatch_order(list(after.values())) == ["c", "a", "b"]


def test_permute_writes_only_what_changes() -> None:
    a, b, c, d = (Position(n, 0, o) for n, o in (("a", 1), ("b", 2), ("c", 3), ("d", 4)))
    assert permute([a, b, c, d], ["a", "b", "c", "d"]) == []
    assert {m.id for m in permute([a, b, c, d], ["a", "c", "b", "d"])} == {"b", "c"}


def test_permute_leaves_every_other_task_where_it_was() -> None:
    """Reordering two tasks with a third between them: the third keeps its place."""
    x, mid, y = Position("x", 0, 10), Position("mid", 0, 20), Position("y", 0, 30)
    moves = permute([x, y], ["y", "x"])
    after = {p.id: p for p in [x, mid, y]} | {m.id: m for m in moves}
    assert dispatch_order(list(after.values())) == ["y", "mid", "x"]


def test_permute_across_priorities_moves_the_slot_with_its_priority() -> None:
    high, normal = Position("high", 10, 500), Position("normal", 0, 100)
    moves = {m.id: m for m in permute([high, normal], ["normal", "high"])}
    assert (moves["normal"].priority, moves["normal"].order) == (10, 500)
    assert (moves["high"].priority, moves["high"].order) == (0, 100)
    assert dispatch_order(list(moves.values())) == ["normal", "high"]


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ([Position("a", 0, 1), Position("b", 0, 2)], ["a", "a"]),
        ([Position("a", 0, 1), Position("b", 0, 2)], ["a", "c"]),
        ([Position("a", 0, 1), Position("b", 0, 2)], ["a"]),
        ([Position("a", 0, 1), Position("a", 0, 2)], ["a", "a"]),
    ],
)
def test_permute_refuses_mismatched_input(current: list[Position], wanted: list[str]) -> None:
    with pytest.raises(ValueError):
        permute(current, wanted)


def test_queue_status_states() -> None:
    assert QueueStatus().state(NOW) == "running" and not QueueStatus().holds(NOW)
    stopped = QueueStatus(running=False)
    assert stopped.state(NOW) == "stopped" and stopped.holds(NOW) and not stopped.due(NOW)
    paused = QueueStatus(running=False, paused_until=NOW + 1000)
    assert paused.state(NOW) == "paused" and paused.holds(NOW) and not paused.due(NOW)
    assert paused.state(NOW + 1000) == "running" and paused.due(NOW + 1000) and not paused.holds(NOW + 1000)
