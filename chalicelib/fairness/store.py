"""The users with queued work, and when each was last given a slot: one control-table item.

``pk = "queue#waiting"`` holds two maps of user id -> epoch ms: ``noted`` (when a download of
theirs last became queued) and ``served`` (when the dispatcher last started one of theirs).
The dispatcher reads the item once per round instead of walking the global queue, so a user
with ten thousand queued downloads cannot hide another user's one behind them.

Writers: every path that makes a task queued notes its owner (TaskRepository.create and
.transition do; a bulk path that writes tasks itself calls :meth:`WaitingOwners.note` once per
owner). A process notes an owner at most once per ``NOTE_EVERY`` seconds. The dispatcher
forgets an owner whose queue it found empty only if they were noted more than
``FORGET_AFTER_MS`` ago (a conditional remove on that very note), so an add that raced the
removal, or that a lagging index did not show yet, is never lost; and it also looks at the
head of the global queue each round, so a task whose owner was somehow not noted is still
started (and its owner noted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist, UpdateError

from ..models import ControlModel

WAITING_KEY = "queue#waiting"
NOTE_EVERY = 10.0
FORGET_AFTER_MS = 60_000
_MAX_REMEMBERED = 4096


def _now_ms() -> int:
    return int(time.time() * 1000)


def _code(exc: Exception) -> str | None:
    return getattr(exc, "cause_response_code", None)


@dataclass(frozen=True)
class Waiting:
    noted: dict[str, int] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)


class WaitingOwners:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[str, float] = {}

    def note(self, owner: str) -> None:
        """``owner`` has queued work (at most one write per NOTE_EVERY s per process)."""
        now = self._clock()
        with self._lock:
            if now - self._recent.get(owner, -NOTE_EVERY) < NOTE_EVERY:
                return
            if len(self._recent) >= _MAX_REMEMBERED:
                self._recent.clear()
            self._recent[owner] = now
        try:
            self._set(ControlModel.noted, {owner: _now_ms()})
        except Exception:
            with self._lock:
                self._recent.pop(owner, None)  # not written: the next add tries again
            raise

    def read(self) -> Waiting:
        try:
            item = ControlModel.get(WAITING_KEY, consistent_read=True)
        except DoesNotExist:
            return Waiting()
        return Waiting(
            {k: int(v) for k, v in (item.noted or {}).items()}, {k: int(v) for k, v in (item.served or {}).items()}
        )

    def mark_served(self, owners: Iterable[str], at: int | None = None) -> None:
        at = _now_ms() if at is None else at
        values = dict.fromkeys(owners, at)
        if values:
            self._set(ControlModel.served, values)

    def forget(self, owner: str, noted: int) -> bool:
        """Drop ``owner`` (their queue was found empty) if still noted at ``noted`` and that is
        older than FORGET_AFTER_MS; whether they were dropped."""
        if _now_ms() - noted < FORGET_AFTER_MS:
            return False
        try:
            ControlModel(WAITING_KEY).update(
                actions=[ControlModel.noted[owner].remove(), ControlModel.served[owner].remove()],  # type: ignore[index]
                condition=ControlModel.noted[owner] == noted,  # type: ignore[index]
            )
        except UpdateError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        with self._lock:
            self._recent.pop(owner, None)
        return True

    @staticmethod
    def _set(attr: object, values: dict[str, int]) -> None:
        actions = [attr[k].set(v) for k, v in values.items()]  # type: ignore[index]
        try:
            ControlModel(WAITING_KEY).update(actions=actions)
            return
        except UpdateError as exc:
            if _code(exc) != "ValidationException":
                raise
        # The item or its maps do not exist yet (a nested SET needs its map): make them.
        ControlModel(WAITING_KEY).update(actions=[
            ControlModel.noted.set(ControlModel.noted | {}), ControlModel.served.set(ControlModel.served | {}),
        ])
        ControlModel(WAITING_KEY).update(actions=actions)
