"""Queue order: where a task stands among the queued ones, and how it is moved.

A task's place in the queue is its *position*: ``(priority, order)``. The dispatcher takes
queued tasks by rank (:func:`chalicelib.domain.task.rank`): higher priority first, then lower
``order`` first. A new task's order is its creation time in ms times 1000 (about 1.7e15 now),
so tasks of one priority start oldest first. Three bands of order values keep moves cheap:

- moved to the top:    ``TOP_BASE - now_ms``    (below every created order; the latest move
  to the top comes first),
- created:             ``created_ms * 1000``,
- moved to the bottom: ``BOTTOM_BASE + now_ms`` (above every created order; the latest move
  to the bottom comes last).

A move is one write to one task; reordering k tasks permutes the positions they hold between
them (k writes at most): nothing else in the queue is renumbered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .task import MAX_PRIORITY, rank

TOP_BASE = 10**15
BOTTOM_BASE = 10**17


def top_order(now_ms: int) -> int:
    """The order that puts a task before every other task of its priority."""
    return TOP_BASE - now_ms


def bottom_order(now_ms: int) -> int:
    """The order that puts a task after every other task of its priority."""
    return BOTTOM_BASE + now_ms


def moved_order(to: str, now_ms: int) -> int:
    if to == "top":
        return top_order(now_ms)
    if to == "bottom":
        return bottom_order(now_ms)
    raise ValueError(f"a task moves to the top or the bottom, not {to!r}")


@dataclass(frozen=True)
class Position:
    """Where one task stands: its id, priority and order."""

    id: str
    priority: int
    order: int

    @property
    def rank(self) -> str:
        return rank(self.priority, self.order)


def sort_key(priority: int, order: int) -> tuple[int, int]:
    """The dispatch order as a tuple: higher priority first, then lower order."""
    return (MAX_PRIORITY - priority, order)


def permute(current: Sequence[Position], wanted: Sequence[str]) -> list[Position]:
    """The new positions of the tasks in ``wanted`` so that they come in that order.

    ``current`` holds each task's position now (any order). The slots they occupy between
    them, sorted in dispatch order, are handed out to ``wanted`` one by one: the first id
    takes the first slot, and so on. Only the tasks whose slot changes are returned (the
    writes to make). A slot is a (priority, order) pair, so a task moved into a slot held by a
    task of another priority takes that priority: the result is exactly the order asked for.
    """
    by_id = {p.id: p for p in current}
    if len(by_id) != len(current):
        raise ValueError("each task may appear once")
    if len(set(wanted)) != len(wanted):
        raise ValueError("each id may appear once")
    if set(wanted) != set(by_id):
        raise ValueError("the ids to order and the positions given must name the same tasks")
    slots = sorted(((p.priority, p.order) for p in current), key=lambda s: sort_key(*s))
    moves = []
    for task_id, (priority, order) in zip(wanted, slots, strict=True):
        now = by_id[task_id]
        if (now.priority, now.order) != (priority, order):
            moves.append(Position(task_id, priority, order))
    return moves


def dispatch_order(positions: Sequence[Position]) -> list[str]:
    """Ids in the order the dispatcher takes them (for tests and explanations)."""
    return [p.id for p in sorted(positions, key=lambda p: (sort_key(p.priority, p.order), p.id))]
