"""The users with queued work, and when each was last given a slot: one control-table item
(the dispatcher's ``WaitingList``, chalicelib/engine/dispatcher.py; the fair dispatch's decisions
are chalicelib/domain/fairness.py).

``pk = "queue#waiting"`` holds, per user, ``n:<user id>`` (epoch ms when a download of theirs
last became queued) and ``s:<user id>`` (when the dispatcher last started one of theirs). They
are top-level attributes, so every write is one UpdateItem that also makes the item if needed.
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
from collections.abc import Iterable
from typing import Any

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.fairness import FORGET_AFTER_MS, NOTE_EVERY, Waiting
from .conditions import condition_failed
from .models import ControlModel

WAITING_KEY = "queue#waiting"
_MAX_REMEMBERED = 4096
_NOTED, _SERVED = "n:", "s:"


class WaitingOwners:
    def __init__(
        self, dynamodb: Any | None = None, table: str | None = None, clock: Clock = SYSTEM_CLOCK,
        key: str = WAITING_KEY,
    ) -> None:
        """``dynamodb``: a low-level client (made from the control table's model if None);
        ``clock``: the times noted (``now_ms``) and how often a process notes (``monotonic``)."""
        self._db = dynamodb
        self._table = table or ControlModel.Meta.table_name
        self._clock = clock
        self._key = key
        self._lock = threading.Lock()
        self._recent: dict[str, float] = {}

    @property
    def db(self) -> Any:
        if self._db is None:
            import boto3

            self._db = boto3.session.Session(region_name=ControlModel.Meta.region).client("dynamodb")
        return self._db

    def note(self, owner: str) -> None:
        """``owner`` has queued work (at most one write per NOTE_EVERY s per process)."""
        now = self._clock.monotonic()
        with self._lock:
            if now - self._recent.get(owner, -NOTE_EVERY) < NOTE_EVERY:
                return
            if len(self._recent) >= _MAX_REMEMBERED:
                self._recent.clear()
            self._recent[owner] = now
        try:
            self._set({_NOTED + owner: self._clock.now_ms()})
        except Exception:
            with self._lock:
                self._recent.pop(owner, None)  # not written: the next add tries again
            raise

    def read(self) -> Waiting:
        answer = self.db.get_item(TableName=self._table, Key={"pk": {"S": self._key}}, ConsistentRead=True)
        out = Waiting()
        for name, value in (answer.get("Item") or {}).items():
            target = out.noted if name.startswith(_NOTED) else out.served if name.startswith(_SERVED) else None
            if target is not None and "N" in value:
                target[name[2:]] = int(value["N"])
        return out

    def mark_served(self, owners: Iterable[str], at: int | None = None) -> None:
        at = self._clock.now_ms() if at is None else at
        values = {_SERVED + o: at for o in owners}
        if values:
            self._set(values)

    def forget(self, owner: str, noted: int) -> bool:
        """Drop ``owner`` (their queue was found empty) if still noted at ``noted`` and that is
        older than FORGET_AFTER_MS; whether they were dropped."""
        if self._clock.now_ms() - noted < FORGET_AFTER_MS:
            return False
        try:
            self.db.update_item(
                TableName=self._table, Key={"pk": {"S": self._key}}, UpdateExpression="REMOVE #n, #s",
                ConditionExpression="#n = :n", ExpressionAttributeNames={"#n": _NOTED + owner, "#s": _SERVED + owner},
                ExpressionAttributeValues={":n": {"N": str(noted)}},
            )
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        with self._lock:
            self._recent.pop(owner, None)
        return True

    def _set(self, values: dict[str, int]) -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        self.db.update_item(
            TableName=self._table, Key={"pk": {"S": self._key}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": {"N": str(v)} for i, v in enumerate(values.values())},
        )
