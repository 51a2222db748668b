"""Task states and the user actions that move a task between them."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    CANCEL = "cancel"


# A task that is in one of these states holds (or may hold) an open multipart upload.
ACTIVE = frozenset({TaskState.QUEUED, TaskState.DOWNLOADING, TaskState.PAUSED})
FINISHED = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED})

# action -> (states it is valid from, state it leads to)
_ACTIONS: dict[Action, tuple[frozenset[TaskState], TaskState]] = {
    Action.PAUSE: (frozenset({TaskState.QUEUED, TaskState.DOWNLOADING}), TaskState.PAUSED),
    Action.RESUME: (frozenset({TaskState.PAUSED}), TaskState.QUEUED),
    Action.RETRY: (frozenset({TaskState.FAILED, TaskState.CANCELLED}), TaskState.QUEUED),
    Action.CANCEL: (ACTIVE, TaskState.CANCELLED),
}

_WHY = {
    Action.PAUSE: "only a queued or downloading task can be paused",
    Action.RESUME: "only a paused task can be resumed",
    Action.RETRY: "only a failed or cancelled task can be retried",
    Action.CANCEL: "only a queued, downloading or paused task can be cancelled",
}


class InvalidTransition(Exception):
    def __init__(self, action: Action, state: TaskState) -> None:
        self.action = action
        self.state = state
        super().__init__(f"cannot {action.value} a task that is {state.value}: {_WHY[action]}")


def sources(action: Action) -> frozenset[TaskState]:
    """The states from which ``action`` is valid."""
    return _ACTIONS[action][0]


def apply(action: Action, state: TaskState) -> TaskState:
    """The state ``action`` leads to from ``state``; raises InvalidTransition if it makes no sense."""
    valid_from, target = _ACTIONS[action]
    if state not in valid_from:
        raise InvalidTransition(action, state)
    return target
