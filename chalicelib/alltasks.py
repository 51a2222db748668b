"""Every owner's downloads, for admins: Queries on the by-state index, never a Scan.

The index is keyed by state and dispatch rank, so an all-owners list comes state by state
(queued, downloading, paused, completed, failed, cancelled), each in dispatch order
(priority, then queue order). Its cursor names the state and the index key to go on from.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .domain.states import TaskState
from .domain.task import Task
from .models import TaskModel
from .repository import TaskRepository

_ORDER = list(TaskState)
_pool = ThreadPoolExecutor(8, thread_name_prefix="alltasks")


class BadCursor(ValueError):
    pass


def _encode(state: TaskState, key: dict[str, Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": state.value, "k": key}).encode()).decode().rstrip("=")


def _decode(cursor: str, only: TaskState | None) -> tuple[TaskState, dict[str, Any] | None]:
    try:
        value = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        state = TaskState(value["s"])
        key = value["k"]
    except (ValueError, TypeError, KeyError):
        raise BadCursor("is not a cursor this API issued for this list") from None
    if only is not None and state != only:
        raise BadCursor("is not a cursor this API issued for this list")
    if key is not None:
        ok = (
            isinstance(key, dict) and set(key) == {"id", "state", "rank"}
            and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
            and key["state"]["S"] == state.value
        )
        if not ok:
            raise BadCursor("is not a cursor this API issued for this list")
    return state, key


def list_all(
    repo: TaskRepository, state: TaskState | None, limit: int, cursor: str | None
) -> tuple[list[Task], str | None]:
    states = [state] if state is not None else _ORDER
    index, key = 0, None
    if cursor:
        at, key = _decode(cursor, state)
        index = states.index(at)
    ids: list[str] = []
    next_cursor: str | None = None
    while index < len(states):
        result = TaskModel.by_state.query(states[index].value, limit=limit - len(ids), last_evaluated_key=key)
        ids += [m.id for m in result]
        key = result.last_evaluated_key
        if len(ids) >= limit:
            if key:
                next_cursor = _encode(states[index], key)
            elif index + 1 < len(states):
                next_cursor = _encode(states[index + 1], None)
            break
        index, key = index + 1, None
    tasks = list(_pool.map(repo.get, ids))
    return [t for t in tasks if t is not None], next_cursor


def count_all(repo: TaskRepository, state: TaskState | None) -> int:
    return sum(repo.count_in_state(s) for s in ([state] if state is not None else _ORDER))
