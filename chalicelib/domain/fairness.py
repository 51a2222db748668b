"""Fair dispatch across users (issue #11, item 2), as pure decisions.

The dispatcher fills free download slots one pick at a time. Each pick goes to the user with
queued work who has the fewest downloads running, ties broken by who was served longest ago
(then by id, so the order is total): with two users waiting, picks alternate between them.
While others wait, nobody holds more than ``per_user`` slots; a slot nobody else wants is
lent to whoever has work (a lone user may use every slot), and taken back
(:func:`take_back`) the moment another user has work and no slot is free. Within one user's
queue, their own priorities and queue order decide which of their downloads goes next; a
priority never jumps another user's turn (docs/control.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The waiting list's rules (chalicelib/persistence/waiting.py): a process notes an owner at most
# once per NOTE_EVERY seconds; an owner found with nothing queued is forgotten only once noted
# more than FORGET_AFTER_MS ago (an add that raced the removal is never lost).
NOTE_EVERY = 10.0
FORGET_AFTER_MS = 60_000


@dataclass(frozen=True)
class Waiting:
    """The users with queued work: user -> when noted (epoch ms), and user -> when last served."""

    noted: dict[str, int] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Pick:
    owner: str
    task_id: str


@dataclass(frozen=True)
class Round:
    picks: list[Pick]
    # Owners who were asked for their queue and had nothing queued.
    idle: list[str]


def fair_pick(
    owners: Iterable[str],
    running: Mapping[str, int],
    served: Mapping[str, int],
    room: int,
    per_user: int,
    queue_of: Callable[[str, int], Sequence[str]],
    cap: int | None = None,
) -> Round:
    """Up to ``room`` downloads to start now.

    ``owners``: users who may have queued work; ``running``: their downloads running now;
    ``served``: when each was last given a slot (larger is later; missing: never);
    ``queue_of(owner, n)``: up to ``n`` of ``owner``'s queued task ids, best first. It is
    called at most once per owner, and only for owners whose turn comes, so a round with one
    free slot reads one user's queue, however many users wait.

    First every user gets up to ``per_user`` running; slots nobody under that share wants are
    then handed out the same way up to ``cap`` each (default: ``per_user``), so a lone user is
    not kept from idle slots (:func:`take_back` returns them when someone else comes).
    """
    limit = per_user if cap is None else max(per_user, cap)
    run = {o: running.get(o, 0) for o in owners}
    last = {o: served.get(o, 0) for o in run}
    tick = max(last.values(), default=0)
    queues: dict[str, list[str]] = {}
    idle: list[str] = []
    picks: list[Pick] = []
    for share in dict.fromkeys((per_user, limit)):
        while len(picks) < room:
            eligible = [o for o in run if run[o] < share and (o not in queues or queues[o])]
            if not eligible:
                break
            owner = min(eligible, key=lambda o: (run[o], last[o], o))
            if owner not in queues:
                queues[owner] = list(queue_of(owner, min(room - len(picks), limit - run[owner])))
                if not queues[owner]:
                    idle.append(owner)
                    continue
            picks.append(Pick(owner, queues[owner].pop(0)))
            run[owner] += 1
            tick += 1
            last[owner] = tick
    return Round(picks, idle)


def take_back(running: Mapping[str, int], starved: Sequence[str], per_user: int) -> list[str]:
    """With no slot free: the owners to take one running download back from (one each, in
    order), so that each of ``starved`` (users with queued work and fewer than ``per_user``
    running) gets a slot now. Only slots held beyond ``per_user`` are taken, each time from the
    user holding the most."""
    run = dict(running)
    out: list[str] = []
    for _ in starved:
        donors = [o for o, n in run.items() if n > per_user]
        if not donors:
            break
        donor = max(donors, key=lambda o: (run[o], o))
        run[donor] -= 1
        out.append(donor)
    return out


def speed_verdict(speed: int, min_speed: int, min_seconds: int, slow_since: int | None, now: int) -> str:
    """What a download's speed means now (times in ms): ``ok``; ``clear`` (fast again: forget
    when it became slow); ``slow`` (it just became slow: remember ``now``); ``wait`` (slow, not
    for long enough yet); ``requeue`` (slower than ``min_speed`` bytes/s for ``min_seconds``)."""
    if min_speed <= 0 or speed >= min_speed:
        return "clear" if slow_since is not None else "ok"
    if slow_since is None:
        return "slow"
    return "requeue" if now - slow_since >= min_seconds * 1000 else "wait"
