"""UpdateItem at a cost linear in its expression (moto 5.2.1).

moto parses a request's UpdateExpression twice (the handler, to list the placeholders used; the
backend, to validate and run it), and two of its validators check the whole expression again at
every nested node of its tree (the clause counts and the overlapping paths: ``find_clauses``
from each node), which is quadratic in the number of actions. The engine's updates carry 10 to
25 actions, so an UpdateItem cost the emulator 20-60 ms of CPU, most of its time under a batch
of small downloads (issue #13: py-spy put DynamoDB UpdateItem at 47 % of the emulator's GIL).

- A parsed expression is kept by its text (bounded): both callers only read the tree (the
  validator works on a deep copy of it, ``Validator.__init__``), so one tree serves every request
  that sends the same text, and PynamoDB's placeholders (#0, :0, ...) make the texts repeat.
- The two whole-expression checks run once, on the root: the root's actions are all of them,
  so a check that passes there passes on every subtree. An invalid expression is refused as
  before (a ValidationException); with several faults at once, the one named may differ.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_KEPT = 2048  # distinct expression texts kept (the engine sends a few dozen)


def _memoised(original: Any) -> Any:
    """``UpdateExpressionParser.make`` (a classmethod), keeping each text's tree."""
    make: Callable[..., Any] = original.__func__
    kept: dict[str, Any] = {}
    lock = threading.Lock()

    @functools.wraps(make)
    def cached(cls: Any, expression: str) -> Any:
        tree = kept.get(expression)
        if tree is None:
            tree = make(cls, expression)
            with lock:
                if len(kept) < _KEPT:
                    kept[expression] = tree
        return tree

    return classmethod(cached)


def _root_only(check: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A validator's ``traverse`` that runs its whole-expression ``check`` on the root alone."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        from moto.dynamodb.parsing.ast_nodes import UpdateExpression  # type: ignore[attr-defined]

        @functools.wraps(original)
        def traverse(self: Any, node: Any) -> Any:
            if not isinstance(node, UpdateExpression):
                return original(self, node)
            getattr(self, check)(node)
            return node

        return traverse

    return wrap


def targets() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    return [
        (UpdateExpressionParser, "make", _memoised),
        (ActionCountValidator, "traverse", _root_only("verify_action_counts")),
        (OverlappingPathsValidator, "traverse", _root_only("check_for_overlapping_paths")),
    ]
