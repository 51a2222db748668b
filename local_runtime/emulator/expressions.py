"""UpdateItem at a cost linear in its expression (moto 5.2.1).

moto parses a request's UpdateExpression twice (the handler, to list the placeholders used; the
backend, to validate and run it), and two of its validators check the whole expression again at
every nested node of its tree (the clause counts and the overlapping paths: ``find_clauses``
from each node), which is quadratic in the number of actions. The engine's updates carry 10 to
25 actions, so UpdateItem was most of the emulator's CPU under a batch of small downloads
(issue #13; the profile's figures are in docs/performance.md, "Measurements behind the code").

- A parsed expression is kept by its text (bounded): both callers only read the tree (the
  validator works on a deep copy of it, ``Validator.__init__``), so one tree serves every request
  that sends the same text, and PynamoDB's placeholders (#0, :0, ...) make the texts repeat.
- The two whole-expression checks run once, on the root: the root's actions are all of them,
  so a check that passes there passes on every subtree. An invalid expression is refused as
  before (a ValidationException); with several faults at once, the one named may differ.
- Each of the validator's ten tree walks asked its processor for its node-type map twice per
  node (a new dict of bound methods each time, though the docstring says "cached"): the map
  is now made once per processor (every processor's map is a constant of its class).
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


def _cached_map(instance: Any) -> dict[type, Callable[[Any], Any]]:
    found: dict[type, Callable[[Any], Any]] | None = instance.__dict__.get("_haul_map")
    if found is None:
        found = instance.__dict__["_haul_map"] = instance._processing_map()
    return found


def _types_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DepthFirstTraverser.nodes_to_be_processed`` from the processor's map, made once."""

    @functools.wraps(original)
    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        found: tuple[type, ...] | None = self.__dict__.get("_haul_types")
        if found is None:
            found = self.__dict__["_haul_types"] = tuple(_cached_map(self))
        return found

    return nodes_to_be_processed


def _process_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DepthFirstTraverser.process`` with the processor's map made once."""

    @functools.wraps(original)
    def process(self: Any, node: Any) -> Any:
        for node_type, processor in _cached_map(self).items():
            if isinstance(node, node_type):
                return processor(node)
        return None

    return process


def targets() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    return [
        (DepthFirstTraverser, "nodes_to_be_processed", _types_once),
        (DepthFirstTraverser, "process", _process_once),
        (UpdateExpressionParser, "make", _memoised),
        (ActionCountValidator, "traverse", _root_only("verify_action_counts")),
        (OverlappingPathsValidator, "traverse", _root_only("check_for_overlapping_paths")),
    ]
