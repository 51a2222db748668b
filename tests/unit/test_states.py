"""Every user action from every task state: the valid moves and the 409-worthy ones."""

from __future__ import annotations

import pytest

from chalicelib.domain.states import ACTIVE, FINISHED, Action, InvalidTransition, TaskState, apply, sources

Q, D, P, C, F, X = (
    TaskState.QUEUED,
    TaskState.DOWNLOADING,
    TaskState.PAUSED,
    TaskState.COMPLETED,
    TaskState.FAILED,
    TaskState.CANCELLED,
)

# Written out by hand (not derived from the module) so a change to the rules shows up here.
# (action, state) -> the state it leads to, or None when the action must be refused.
EXPECTED: dict[tuple[Action, TaskState], TaskState | None] = {
    (Action.PAUSE, Q): P,
    (Action.PAUSE, D): P,
    (Action.PAUSE, P): None,
    (Action.PAUSE, C): None,
    (Action.PAUSE, F): None,
    (Action.PAUSE, X): None,
    (Action.RESUME, Q): None,
    (Action.RESUME, D): None,
    (Action.RESUME, P): Q,
    (Action.RESUME, C): None,
    (Action.RESUME, F): None,
    (Action.RESUME, X): None,
    (Action.RETRY, Q): None,
    (Action.RETRY, D): None,
    (Action.RETRY, P): None,
    (Action.RETRY, C): None,
    (Action.RETRY, F): Q,
    (Action.RETRY, X): Q,
    (Action.CANCEL, Q): X,
    (Action.CANCEL, D): X,
    (Action.CANCEL, P): X,
    (Action.CANCEL, C): None,
    (Action.CANCEL, F): None,
    (Action.CANCEL, X): None,
}


def test_the_table_covers_every_action_from_every_state() -> None:
    assert set(EXPECTED) == {(a, s) for a in Action for s in TaskState}
    assert len(TaskState) == 6 and len(Action) == 4


@pytest.mark.parametrize(("action", "state"), [k for k, v in EXPECTED.items() if v is not None])
def test_valid_action_moves_the_task(action: Action, state: TaskState) -> None:
    assert apply(action, state) == EXPECTED[(action, state)]
    assert state in sources(action)


@pytest.mark.parametrize(("action", "state"), [k for k, v in EXPECTED.items() if v is None])
def test_invalid_action_is_refused_with_a_readable_reason(action: Action, state: TaskState) -> None:
    with pytest.raises(InvalidTransition) as info:
        apply(action, state)
    assert info.value.action == action
    assert info.value.state == state
    message = str(info.value)
    # "cannot pause a task that is completed: only a queued or downloading task can be paused"
    assert message.startswith(f"cannot {action.value} a task that is {state.value}: only ")
    assert state not in sources(action)


def test_a_finished_task_only_accepts_retry_unless_it_completed() -> None:
    for action in Action:
        with pytest.raises(InvalidTransition):
            apply(action, TaskState.COMPLETED)


def test_active_and_finished_partition_the_states() -> None:
    assert ACTIVE | FINISHED == frozenset(TaskState)
    assert not ACTIVE & FINISHED
    # Cancel is allowed exactly where an upload may be open.
    assert sources(Action.CANCEL) == ACTIVE


def test_states_and_actions_are_their_wire_strings() -> None:
    assert TaskState("downloading") is TaskState.DOWNLOADING
    assert Action("retry") is Action.RETRY
    assert f"{TaskState.PAUSED}" == "paused"
