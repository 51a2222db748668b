"""Fair dispatch across users (issue #11, item 2): the pure picks."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.fairness import Pick, fair_pick, speed_verdict, take_back


class Queues:
    def __init__(self, **queues: list[str]) -> None:
        self.queues = queues
        self.asked: list[tuple[str, int]] = []

    def __call__(self, owner: str, n: int) -> Sequence[str]:
        self.asked.append((owner, n))
        return self.queues.get(owner, [])[:n]


def test_a_newcomer_gets_a_slot_however_many_high_priority_downloads_another_user_queued() -> None:
    # A's five HIGH downloads are first in A's queue; one runs. B adds one: B's starts now.
    queues = Queues(a=["a2", "a3", "a4", "a5"], b=["b1"])
    got = fair_pick(["a", "b"], {"a": 1}, {"a": 5}, room=1, per_user=2, queue_of=queues)
    assert got.picks == [Pick("b", "b1")]
    assert queues.asked == [("b", 1)]  # one free slot: only B's queue was read


def test_picks_alternate_between_users_and_respect_the_per_user_limit() -> None:
    queues = Queues(a=["a1", "a2", "a3", "a4"], b=["b1", "b2", "b3"], c=["c1"])
    got = fair_pick(["a", "b", "c"], {}, {"a": 3, "b": 1, "c": 2}, room=6, per_user=2, queue_of=queues)
    # Served longest ago first: b, c, a; then those with fewest running.
    assert [p.task_id for p in got.picks] == ["b1", "c1", "a1", "b2", "a2"]
    assert got.idle == []


def test_one_user_alone_may_use_up_to_the_per_user_limit_only() -> None:
    got = fair_pick(["a"], {}, {}, room=4, per_user=2, queue_of=Queues(a=["a1", "a2", "a3"]))
    assert [p.task_id for p in got.picks] == ["a1", "a2"]


def test_a_user_at_the_limit_is_skipped_and_one_without_work_is_reported_idle() -> None:
    queues = Queues(a=["a9"], b=[], c=["c1", "c2"])
    got = fair_pick(["a", "b", "c"], {"a": 2, "c": 1}, {}, room=3, per_user=2, queue_of=queues)
    assert [p.task_id for p in got.picks] == ["c1"]
    assert got.idle == ["b"]
    assert ("a", 0) not in queues.asked and all(owner != "a" for owner, _ in queues.asked)


def test_no_room_no_picks() -> None:
    queues = Queues(a=["a1"])
    assert fair_pick(["a"], {}, {}, room=0, per_user=1, queue_of=queues).picks == []
    assert queues.asked == []


def test_speed_verdicts() -> None:
    assert speed_verdict(10, 0, 60, None, 0) == "ok"  # off
    assert speed_verdict(10, 0, 60, 5, 0) == "clear"
    assert speed_verdict(100, 100, 60, None, 0) == "ok"
    assert speed_verdict(100, 100, 60, 1, 0) == "clear"
    assert speed_verdict(99, 100, 60, None, 1000) == "slow"
    assert speed_verdict(99, 100, 60, 1000, 60_999) == "wait"
    assert speed_verdict(99, 100, 60, 1000, 61_000) == "requeue"


def test_idle_slots_are_lent_beyond_the_share_to_whoever_has_work() -> None:
    got = fair_pick(["a", "b"], {}, {}, room=5, per_user=2, queue_of=Queues(a=["a1", "a2", "a3", "a4"], b=["b1"]),
                    cap=5)
    # Shares first (a1 b1 a2), then the rest to whoever still has work.
    assert [p.task_id for p in got.picks] == ["a1", "b1", "a2", "a3", "a4"]


def test_slots_lent_beyond_the_share_are_taken_back_for_a_newcomer() -> None:
    # A alone holds all 4 slots (share 2); B and C arrive: one slot back from A for each.
    assert take_back({"a": 4}, ["b", "c"], per_user=2) == ["a", "a"]
    # Never below the share: a third newcomer gets nothing taken for them.
    assert take_back({"a": 4}, ["b", "c", "d"], per_user=2) == ["a", "a"]
    # From whoever holds the most beyond the share.
    assert take_back({"a": 3, "b": 5}, ["c", "d", "e", "f"], per_user=2) == ["b", "b", "b", "a"]
    assert take_back({"a": 2, "b": 2}, ["c"], per_user=2) == []
