"""The work messages, typed: what the SQS boundary accepts, and how each is written back.

A body is checked once, where the worker receives it (:func:`parse`): a message with a
missing or mistyped field raises :class:`BadMessage` naming the field, which the worker
logs and drops (sending it again cannot mend it), instead of a ``KeyError`` half-way through
a transfer. Inside the engine the messages are frozen dataclasses; :func:`body` gives the
JSON body to send (the wire format is unchanged, so messages in flight across a deploy
still parse).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..domain import planning
from ..domain.states import TaskState
from ..domain.task import Task

# A start message carries the task as the dispatcher started it (``item``) when it is at most
# this large, so ten of them stay well inside SendMessageBatch's 256 KiB.
ITEM_LIMIT = 16 * 1024
_TASK_FIELDS = frozenset(f.name for f in fields(Task))


class BadMessage(ValueError):
    """A work message that is not one this engine sends."""


@dataclass(frozen=True)
class StartMessage:
    """Probe the origin and plan the parts (or resume the plan) of ``task``'s ``run``."""

    task: str
    run: int
    attempt: int = 0
    fresh: bool = False  # plan afresh even if the source looks unchanged
    reason: str | None = None  # why the task restarts (shown as its note)


@dataclass(frozen=True)
class LaneMessage:
    """One step of a lane: fetch the first of ``parts`` (runs of part numbers), pass the rest on."""

    task: str
    gen: int
    run: int
    lane: str
    lanes: int
    step: int
    token: str
    parts: list[list[int]] = field(default_factory=list)
    attempt: int = 0
    catch_up: bool = False  # only this part is left (its lane moved on)

    def numbers(self) -> list[int]:
        return planning.from_runs(self.parts)


@dataclass(frozen=True)
class StreamMessage:
    """Read a body without byte ranges, in order, into parts."""

    task: str
    gen: int
    run: int
    token: str
    attempt: int = 0


Message = StartMessage | LaneMessage | StreamMessage
_KINDS: dict[str, type[StartMessage] | type[LaneMessage] | type[StreamMessage]] = {
    "start": StartMessage, "lane": LaneMessage, "stream": StreamMessage,
}


def kind_of(message: Message) -> str:
    return {StartMessage: "start", LaneMessage: "lane", StreamMessage: "stream"}[type(message)]


def body(message: Message) -> dict[str, Any]:
    """The JSON body of ``message`` (falsy optional flags left out, as before)."""
    out: dict[str, Any] = {"kind": kind_of(message)}
    for name, value in asdict(message).items():
        if name in ("fresh", "reason", "catch_up") and not value:
            continue
        out[name] = int(value) if name == "catch_up" else value
    return out


def _int(raw: dict[str, Any], name: str, default: int | None = None) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise BadMessage(f"{name} must be an integer, not {value!r}")
    return value


def _str(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise BadMessage(f"{name} must be a non-empty string, not {value!r}")
    return value


def _runs(raw: dict[str, Any]) -> list[list[int]]:
    value = raw.get("parts")
    ok = (
        isinstance(value, list)
        and value
        and all(
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in r)
            and r[0] <= r[1]
            for r in value
        )
    )
    if not ok:
        raise BadMessage(f"parts must be a non-empty list of [first, last] part numbers, not {value!r:.100}")
    return [list(r) for r in value]  # type: ignore[union-attr]


def parse(raw: Any) -> Message:
    """The message ``raw`` (a decoded JSON body) is; BadMessage saying what is wrong."""
    if not isinstance(raw, dict):
        raise BadMessage(f"a work message is a JSON object, not {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise BadMessage(f"unknown kind {kind!r}")
    task, run, attempt = _str(raw, "task"), _int(raw, "run"), _int(raw, "attempt", 0)
    if kind == "start":
        reason = raw.get("reason")
        return StartMessage(task, run, attempt, bool(raw.get("fresh")), reason if isinstance(reason, str) else None)
    gen, token = _int(raw, "gen"), _str(raw, "token")
    if kind == "stream":
        return StreamMessage(task, gen, run, token, attempt)
    lane = raw.get("lane")
    if not isinstance(lane, (str, int)) or isinstance(lane, bool) or str(lane) == "":
        raise BadMessage(f"lane must be a lane name, not {lane!r}")
    return LaneMessage(
        task, gen, run, str(lane), _int(raw, "lanes", 0), _int(raw, "step"), token, _runs(raw), attempt,
        bool(raw.get("catch_up")),
    )


def start_body(task: Task) -> dict[str, Any]:
    """The start message of ``task``'s run, as the dispatcher sends it: with ``item``, the task
    as it was just started, unless that is large (the worker reads the task then)."""
    out = body(StartMessage(task.id, task.run))
    item = asdict(task)
    if len(json.dumps(item, default=str)) <= ITEM_LIMIT:
        out["item"] = item
    return out


def started_task(raw: dict[str, Any], msg: StartMessage) -> Task | None:
    """The task a start message carries (:func:`start_body`) if it is well formed and of the
    message's task and run; None otherwise (the worker reads the task)."""
    item = raw.get("item")
    if not isinstance(item, dict) or not set(item) <= _TASK_FIELDS:
        return None
    try:
        task = Task(**{**item, "state": TaskState(str(item.get("state")))})
    except (TypeError, ValueError):
        return None
    return task if task.id == msg.task and task.run == msg.run else None
