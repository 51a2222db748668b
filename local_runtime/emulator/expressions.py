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
- The validator's copy of the kept tree (``Validator.__init__``: ``copy.deepcopy``, ~15 % of an
  UpdateItem in a profile of a small download's three task updates) is a plain walk: each node
  a new object of its class with its attributes, its children copied the same way and pointing
  at their new parent. A kept tree holds only nodes and strings or numbers (the values come in
  later, in the validator's own processors); anything else in it is deep-copied as before.
- The executor set each action's attribute through moto's ``LimitedSizeDict.__setitem__``, which
  sums the size of every attribute of the item for each one (quadratic: a task has ~40
  attributes and an update sets up to 24). The same 400 KB check now runs once, on the updated
  item, after the last action; too large is still ``ItemSizeToUpdateTooLarge`` (as in moto,
  the item is left as the actions made it; only which action went over is no longer known).
- The validator's ten walks test every node with ``isinstance`` against moto's node classes,
  which are abstract (ABCMeta: each test a Python-level ``__instancecheck__``), several times
  per node. The walk is the same, but whether a node's class is a node, and which of the
  processor's handlers takes it, is looked up once per class (per processor) in a dict.
- A ConditionExpression's tokens (moto's lexer: a dozen regular expressions tried at each
  position, ~2 ms for the engine's conditions) are kept by the expression's text, as the
  update trees are; each request gets new token nodes (their ``children`` lists are new).
- moto parses a request's ConditionExpression twice: the handler (PutItem, UpdateItem,
  DeleteItem, Query's filter), to list the names and values it uses, then the backend, to
  evaluate it, from the same text and the same two dicts (the request's). The handler's tree is
  handed to the backend: a thread's last parse is kept, keyed by the text and the identity of
  the names and values dicts (held, so no other dict can take their identity), and taken by the
  next parse of the same three; anything else parses as before. The tree is only read (the
  handler drops its copy), so the backend evaluates what it would have parsed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from copy import deepcopy
from typing import Any, cast

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


def _walk_by_class(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DepthFirstTraverser.traverse_node_recursively``, moto's walk with its class tests made
    once per class: whether it is a Node, and which handler (if any) of this processor takes it.
    A child that is not a node (a name, a number) is passed over without a call, the per-child
    hook is called only where the processor has one (moto's own is a no-op), and the handlers
    are looked up once per processor class, not per processor (one set of them per request)."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

    is_node: dict[type, bool] = {}
    no_hook = DepthFirstTraverser.pre_processing_of_child

    def visit(self: Any, node: Any, child_id: int, by_class: dict[type, Any], pre: Any) -> Any:
        kind = type(node)
        known = is_node.get(kind)
        if known is None:
            known = is_node[kind] = isinstance(node, Node)
        if not known:
            return node
        parent_node = node.parent
        children = node.children
        if children is not None:
            for i, child_node in enumerate(children):
                if pre is not None:
                    pre(node, i)
                if is_node.get(type(child_node), True):
                    visit(self, child_node, i, by_class, pre)
        handler = by_class.get(kind)
        if handler is None:
            handler = _unbound_handler(self, kind, node, by_class)
        if handler is not _NONE:
            node = handler(self, node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    def walk(self: Any, node: Any, child_id: int = -1) -> Any:
        # Processors are made anew for each request (moto's Validator): the handlers are kept
        # per processor class, as functions called with the processor.
        by_class = _by_processor_class.get(type(self))
        if by_class is None:
            by_class = _by_processor_class.setdefault(type(self), {})
        pre = None if type(self).pre_processing_of_child is no_hook else self.pre_processing_of_child
        return visit(self, node, child_id, by_class, pre)

    return functools.wraps(original)(walk)


def _clauses_by_class(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Node.find_clauses``, the same depth-first search with its class tests (abstract
    classes: a Python-level ``__instancecheck__`` per child) made once per class. moto's
    UpdateItem runs it six times per request (the handler's placeholders, the two checks)."""
    from moto.dynamodb.parsing.ast_nodes import Expression, UpdateExpressionFunction  # type: ignore[attr-defined]

    descend: dict[type, bool] = {}

    def visit(node: Any, wanted: Any, clauses: list[Any]) -> None:
        for child in node.children or []:
            kind = type(child)
            if kind in wanted:
                clauses.append(child)
                continue
            inner = descend.get(kind)
            if inner is None:
                inner = descend[kind] = issubclass(kind, (Expression, UpdateExpressionFunction))
            if inner:
                visit(child, wanted, clauses)

    @functools.wraps(original)
    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        visit(self, clause_types, clauses)
        return clauses

    return find_clauses


_NONE = object()
_by_processor_class: dict[type, dict[type, Any]] = {}


def _unbound_handler(processor: Any, kind: type, node: Any, by_class: dict[type, Any]) -> Any:
    """:func:`_handler_of` as a function of (processor, node), kept in ``by_class`` when it is
    one of the processor's own methods (moto's maps hold nothing else); _NONE for no handler."""
    found = _handler_of(processor, kind, node)
    if found is None:
        by_class[kind] = _NONE
        return _NONE
    function = getattr(found, "__func__", None)
    if function is not None and getattr(found, "__self__", None) is processor:
        by_class[kind] = function
        return function
    return lambda _processor, n: found(n)  # not a method of the processor: not kept


def _handler_of(processor: Any, kind: type, node: Any) -> Callable[[Any], Any] | None:
    """The handler of ``processor`` that takes nodes of class ``kind`` (moto's first match in
    its map, by isinstance), looked up once per class."""
    by_class: dict[type, Any] | None = processor.__dict__.get("_haul_by_class")
    if by_class is None:
        by_class = processor.__dict__["_haul_by_class"] = {}
    found = by_class.get(kind)
    if found is None:
        found = _NONE
        if isinstance(node, processor.nodes_to_be_processed()):
            for node_type, handler in _cached_map(processor).items():
                if isinstance(node, node_type):
                    found = handler
                    break
        by_class[kind] = found
    return None if found is _NONE else cast(Callable[[Any], Any], found)


def _tokens_kept(original: Callable[..., Any]) -> Callable[..., Any]:
    """``ConditionExpressionParser._lex_condition_expression``, its tokens kept by text."""
    from collections import deque

    kept: dict[str, tuple[tuple[Any, Any, Any, Any], ...]] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def lex(self: Any) -> Any:
        text = self.condition_expression
        tokens = kept.get(text) if type(text) is str else None
        if tokens is None:
            nodes = original(self)
            if type(text) is not str or any(n.children for n in nodes):
                return nodes
            tokens = tuple((n.nonterminal, n.kind, n.text, n.value) for n in nodes)
            with lock:
                if len(kept) < _KEPT:
                    kept[text] = tokens
        make = self.Node
        return deque(make(nonterminal=a, kind=b, text=c, value=d, children=[]) for a, b, c, d in tokens)

    return lex


_last_parse = threading.local()


def _parsed_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``ConditionExpressionParser.parse``: the handler's tree, taken by the backend's parse of
    the same request (same text, same names and values dicts, same thread)."""

    @functools.wraps(original)
    def parse(self: Any) -> Any:
        text = self.condition_expression
        names = self.expression_attribute_names
        values = self.expression_attribute_values
        kept = getattr(_last_parse, "kept", None)
        _last_parse.kept = None
        if kept is not None and kept[0] == text and kept[1] is names and kept[2] is values:
            self.expr_attr_names_found = list(kept[4])
            self.expr_attr_values_found = list(kept[5])
            return kept[3]
        tree = original(self)
        if type(text) is str and text:
            _last_parse.kept = (text, names, values, tree, tuple(self.expr_attr_names_found),
                                tuple(self.expr_attr_values_found))
        return tree

    return parse


def _process_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DepthFirstTraverser.process`` with the processor's map made once."""

    @functools.wraps(original)
    def process(self: Any, node: Any) -> Any:
        for node_type, processor in _cached_map(self).items():
            if isinstance(node, node_type):
                return processor(node)
        return None

    return process


_PLAIN = (str, int, float, bool, type(None))
_deferred = threading.local()  # set while an UpdateItem's actions run: the size is checked after


def _tree_copy(node: Any, parent: Any, node_type: type) -> Any:
    """``node`` and everything under it, copied; ``parent`` is the copy's parent."""
    copy = object.__new__(type(node))
    for name, value in node.__dict__.items():
        if name == "parent":
            value = parent
        elif name == "children" and type(value) is list:
            value = [_tree_copy(c, copy, node_type) if isinstance(c, node_type) else
                     c if type(c) in _PLAIN else deepcopy(c) for c in value]
        elif type(value) not in _PLAIN:
            value = deepcopy(value)
        copy.__dict__[name] = value
    return copy


def _copied_plainly(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Validator.__init__`` with the tree copied by :func:`_tree_copy` instead of deepcopy."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    @functools.wraps(original)
    def init(self: Any, expression: Any, expression_attribute_names: Any, expression_attribute_values: Any,
             item: Any, table: Any) -> None:
        if not isinstance(expression, Node) or expression.parent is not None:
            original(self, expression, expression_attribute_names, expression_attribute_values, item, table)
            return
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = _tree_copy(expression, None, Node)

    return init


def _sized_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``UpdateExpressionExecutor.execute``: the item's size checked once, after every action."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    @functools.wraps(original)
    def execute(self: Any, node: Any = None) -> None:
        if node is not None or getattr(_deferred, "on", False):
            original(self, node)
            return
        _deferred.on = True
        try:
            original(self, node)
        finally:
            _deferred.on = False
        attrs = self.item.attrs
        total = sum(bytesize(k) + (v.size() if type(v) is DynamoType else bytesize(str(v))) for k, v in attrs.items())
        if total > _MAX_ITEM_SIZE:
            raise ItemSizeTooLarge

    return execute


_MAX_ITEM_SIZE = 405000  # moto's LimitedSizeDict limit


def _unchecked_while_deferred(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LimitedSizeDict.__setitem__``: a plain set while an update's actions run (checked after)."""

    @functools.wraps(original)
    def setitem(self: Any, key: str, value: Any) -> None:
        if getattr(_deferred, "on", False):
            dict.__setitem__(self, key, value)
        else:
            original(self, key, value)

    return setitem


def targets() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator, Validator

    return [
        (Validator, "__init__", _copied_plainly),
        (DepthFirstTraverser, "traverse_node_recursively", _walk_by_class),
        (Node, "find_clauses", _clauses_by_class),
        (ConditionExpressionParser, "_lex_condition_expression", _tokens_kept),
        (ConditionExpressionParser, "parse", _parsed_once),
        (UpdateExpressionExecutor, "execute", _sized_once),
        (LimitedSizeDict, "__setitem__", _unchecked_while_deferred),
        (DepthFirstTraverser, "nodes_to_be_processed", _types_once),
        (DepthFirstTraverser, "process", _process_once),
        (UpdateExpressionParser, "make", _memoised),
        (ActionCountValidator, "traverse", _root_only("verify_action_counts")),
        (OverlappingPathsValidator, "traverse", _root_only("check_for_overlapping_paths")),
    ]
