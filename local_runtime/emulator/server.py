"""Make the in-process moto server behave like the AWS services it stands in for, where the
engine's correctness depends on it.

- DynamoDB: a conditional write is atomic in DynamoDB. moto evaluates the condition and then
  applies the update without a lock, so two concurrent requests (the threads of
  ThreadedMotoServer) can both pass the same condition: both "claim" the same lane step, both
  plan the next generation, both record a part. Every item operation is serialised here.
- DynamoDB performance: a Query costs O(page) in DynamoDB, but O(table) in moto: every query
  sorts every item of the table, filters by the partition key, sorts again and walks from the
  first item to the ExclusiveStartKey (O(table) per page or COUNT; figures in
  docs/performance.md, "Measurements behind the code"). Here each table keeps, per (index,
  partition key value), its candidates sorted the
  way moto sorts them, valid until the next write to the table (every item write bumps the
  table's version); a query bisects to its ExclusiveStartKey and its key condition's range and
  hands moto's own query only the items it is going to look at (the page plus the item that
  ends it), so filters, projections, Limit, the 1 MB cap, ScannedCount and LastEvaluatedKey
  are moto's, unchanged. A Select=COUNT answer skips moto's deep copy of every counted item
  (the response never holds them). Anything unusual (multi-attribute keys, QueryFilter, mixed
  key value types, ...) goes to moto's query as is.
- DynamoDB performance, the wire: DynamoDB answers an item operation in milliseconds; moto
  parses every request and writes every answer through its generic, botocore-model-driven
  parser and serializer (moto/core/parse.py, moto/core/serialize.py), whose attribute picker
  tries half a dozen aliases per value (per returned item; figures in docs/performance.md). For the
  item operations (GetItem, BatchGetItem, Query, Scan, PutItem, UpdateItem, DeleteItem, BatchWriteItem,
  TransactGetItems, TransactWriteItems) and DynamoDB Streams' GetRecords, the same walk over the same shapes is
  compiled once per shape (DynamoHandler.parse_parameters / .serialized): same members in the
  same order, blobs base64 (both ways), numbers, timestamps as epoch seconds, the same bytes.
  Anything else - errors, another protocol, response transformers, a result that is not plain
  dicts and lists of the shapes' members, a key moto's picker could read under another name,
  a value the walk does not expect - goes to moto's walk as is
  (tests/functional/test_emulator_wire.py compares the two, byte for byte).
- DynamoDB performance, the items: moto's Item checks its size after each attribute by summing
  all of them (O(n^2)); here the same check on a running total.
  moto's server lists its package directory (~150 stat calls) on every request to pick the
  backend; here once. And the stored items are kept out of the cyclic GC's full collections
  (gc.freeze after every 1,000 item writes): at 10,000 tasks a full collection walks every
  stored object, a pause for whatever request is running in the process (docs/performance.md).
- S3: UploadPart and CompleteMultipartUpload for an upload that was aborted or completed
  answer ``404 NoSuchUpload``; moto raises a KeyError (a 500 that botocore retries for
  about a minute).

The local runtime's embedded emulator and the functional tests' emulator both start through
:func:`start_emulator`, which applies these for good. This is emulator fidelity, not business
logic: against LocalStack or AWS none of it runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.metadata
import logging
import sys
import threading
import time
import weakref
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

_DYNAMODB_ITEM_OPS = (
    "put_item", "get_item", "update_item", "delete_item", "transact_write_items", "query", "scan",
)
_lock = threading.RLock()
log = logging.getLogger("haul.emulator")
# The versions the patches (here and in emulator_*.py) were written for and tested with: they
# replace private attributes of moto and werkzeug, which another version may have moved or
# changed. With any other version the emulator runs unpatched (see fenced_patch).
PATCHED_FOR = {"moto": "5.2.1", "werkzeug": "3.1.9"}


def _serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return fn(*args, **kwargs)

    return locked


def _no_such_upload(fn: Callable[..., Any]) -> Callable[..., Any]:
    from moto.s3.exceptions import NoSuchUpload

    from local_runtime.emulator import s3 as emulator_s3

    @functools.wraps(fn)
    def checked(self: Any, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
        # (completed: moto is about to remove it; see emulator_s3's _fast_complete)
        multipart = self.get_bucket(bucket_name).multiparts.get(multipart_id)
        if multipart is None or getattr(multipart, emulator_s3.COMPLETED, False):
            raise NoSuchUpload(upload_id=multipart_id)
        return fn(self, bucket_name, multipart_id, *args, **kwargs)

    return checked


# -- DynamoDB Query in O(page) ------------------------------------------------------------
#
# Cache validity: a table's cache belongs to (its version, the global epoch, its items dict).
# Every write through moto's Table.put_item / Table.delete_item bumps that table's version, and
# so do the backend's put/update/delete_item (update_item changes an item in place, possibly
# its index keys); transactions, PartiQL and table updates bump the epoch (every table).

# moto refuses to build an item larger than this (LimitedSizeDict). An update that changes a
# nested value in place is not checked: such an item, once seen, turns off (for good) the
# shortcuts of range-key queries that rely on the bound (see _plan_query).
_MOTO_MAX_ITEM_SIZE = 405_000
_oversized = False
_epoch = 0
# A key attribute's DynamoDB type and the Python type of moto's cast value: the ones whose
# ordering (moto's DynamoType ordering: the cast values') we reproduce.
_ORDERED_TYPES = frozenset({("S", str), ("N", Decimal), ("B", str), ("B", bytes)})
_RANGE_OPS = frozenset({"=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH"})


class _Bucket:
    """A partition's candidates in moto's query order (ascending), with their sort keys."""

    __slots__ = ("items", "keys", "primary", "types", "dtypes", "sizes")

    def __init__(
        self, items: list[Any], keys: list[tuple[Any, ...]], types: tuple[type, ...], dtypes: tuple[str, ...]
    ) -> None:
        self.items = items
        self.keys = keys
        self.primary = [k[1] for k in keys] if len(types) > 1 else []
        self.types = types  # per sort attribute, the Python type of its cast value
        self.dtypes = dtypes  # and its DynamoDB type
        self.sizes: list[int | None] = [None] * len(items)

    def size(self, i: int) -> int:
        s = self.sizes[i]
        if s is None:
            s = self.sizes[i] = int(self.items[i].size())
        return s


class _TableCache:
    __slots__ = ("version", "valid_for", "groups", "buckets")

    def __init__(self) -> None:
        self.version = 0
        self.valid_for: tuple[int, int, int] | None = None
        self.groups: dict[Any, dict[tuple[str, Any], list[Any]]] = {}
        self.buckets: dict[Any, _Bucket | None] = {}


_caches: weakref.WeakKeyDictionary[Any, _TableCache] = weakref.WeakKeyDictionary()


def _cache(table: Any) -> _TableCache:
    cache = _caches.get(table)
    if cache is None:
        cache = _caches[table] = _TableCache()
    return cache


def _invalidate(table: Any) -> None:
    with _lock:
        _cache(table).version += 1
        _written[0] += 1


def _invalidate_all() -> None:
    global _epoch
    with _lock:
        _epoch += 1


def _note_size(item: Any) -> None:
    global _oversized
    from moto.dynamodb.models.dynamo_type import Item

    if isinstance(item, Item) and item.size() > _MOTO_MAX_ITEM_SIZE:
        _oversized = True


def _invalidates_self(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Table.put_item / Table.delete_item: the table's candidates change."""

    @functools.wraps(fn)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        finally:
            _invalidate(self)

    return write


def _invalidates_table(fn: Callable[..., Any]) -> Callable[..., Any]:
    """DynamoDBBackend.put_item / update_item / delete_item (table_name first)."""
    in_place = fn.__name__ == "update_item"

    @functools.wraps(fn)
    def write(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        from moto.dynamodb.exceptions import DynamodbException

        result = None
        try:
            result = fn(self, table_name, *args, **kwargs)
            return result
        finally:
            try:
                table = self.get_table(table_name)
            except DynamodbException:
                _invalidate_all()
            else:
                _invalidate(table)
                if in_place:
                    # An update changes the item in place, and moto checks the item's size
                    # only for top-level attributes; a failed one may have changed it too.
                    if result is None:
                        key = args[0] if args else kwargs.get("key")
                        try:
                            result = self.get_item(table_name, key)
                        except DynamodbException:
                            result = None
                    _note_size(result)

    return write


def _invalidates_all(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Writes that may touch any table (transactions and their rollback, PartiQL, GSI changes)."""

    @functools.wraps(fn)
    def write(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            _invalidate_all()

    return write


def _all_items_unsorted(table: Any) -> Iterator[Any]:
    if table.range_key_attr:
        for hash_set in table.items.values():
            yield from hash_set.values()
    else:
        yield from table.items.values()


def _cast(value: Any) -> Any:
    """moto's DynamoType.cast_value, for the key types (S, N, B); None for the others."""
    kind = value.type
    if kind == "S" or kind == "B":
        return value.value
    if kind == "N":
        return Decimal(value.value)
    return None


def _ordered_key(value: Any) -> tuple[str, Any] | None:
    """A hashable stand-in for a DynamoType under moto's equality (type and cast value)."""
    cast = _cast(value)
    if (value.type, type(cast)) not in _ORDERED_TYPES:
        return None
    return value.type, cast


def _make_bucket(candidates: list[Any], sort_attrs: list[str]) -> _Bucket | None:
    """Sort as moto's query does (tuples of DynamoType by ``sort_attrs``); None when the key
    values are not uniformly of one orderable type per attribute (then moto decides)."""
    keys: list[tuple[Any, ...]] = []
    types: tuple[type, ...] = ()
    dtypes: tuple[str, ...] = ()
    for item in candidates:
        attrs = item.attrs
        values = [attrs.get(a) for a in sort_attrs]
        if any(v is None for v in values):  # (not "None in": DynamoType == None raises)
            return None
        casts = tuple([_cast(v) for v in values])
        kinds = tuple([type(c) for c in casts])
        item_dtypes = tuple([v.type for v in values])
        if not keys:
            types, dtypes = kinds, item_dtypes
            if any((t, p) not in _ORDERED_TYPES for t, p in zip(dtypes, types, strict=True)):
                return None
        elif kinds != types or item_dtypes != dtypes:
            return None
        keys.append(casts)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return _Bucket([candidates[i] for i in order], [keys[i] for i in order], types, dtypes)


def _range_region(bucket: _Bucket, op: str, values: list[Any]) -> tuple[int, int] | None:
    """[a, b) of the ascending bucket whose sort key's first range attribute passes
    ``op`` (moto's DynamoType.compare, on cast values)."""
    if op not in _RANGE_OPS or len(values) != (2 if op == "BETWEEN" else 1):
        return None
    kind = bucket.types[1]
    casts = [v.cast_value for v in values]
    if any(type(c) is not kind for c in casts):
        return None
    primary, n, x = bucket.primary, len(bucket.primary), casts[0]
    if op == "=":
        return bisect_left(primary, x), bisect_right(primary, x)
    if op == "<":
        return 0, bisect_left(primary, x)
    if op == "<=":
        return 0, bisect_right(primary, x)
    if op == ">":
        return bisect_right(primary, x), n
    if op == ">=":
        return bisect_left(primary, x), n
    if op == "BETWEEN":
        a = bisect_left(primary, x)
        return a, max(a, bisect_right(primary, casts[1]))
    # BEGINS_WITH: in ascending order the values with the prefix follow the prefix itself.
    if kind not in (str, bytes):
        return None
    a = bisect_left(primary, x)
    lo, hi = a, n
    while lo < hi:
        mid = (lo + hi) // 2
        if primary[mid].startswith(x):
            lo = mid + 1
        else:
            hi = mid
    return a, lo


# One branch per shape of DynamoDB's key condition and filter grammar (moto's own planner's cases).
def _plan_query(  # noqa: C901
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: Any,
    exclusive_start_key: Any,
    scan_index_forward: Any,
    index_name: str | None,
    consistent_read: bool,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
    filter_kwargs: dict[str, Any],
) -> tuple[list[Any], int, bool] | None:
    """The items moto's query would look at after the ExclusiveStartKey, in order (the page
    and the item that ends it); how many of them, from the first, moto takes as results (before
    the FilterExpression); whether the page ends early (a LastEvaluatedKey). None: let moto's
    query do all of it."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex

    if filter_kwargs or scan_index_forward not in (True, False) or (_oversized and range_comparison):
        return None
    if limit is not None and (type(limit) is not int or limit < 1):
        return None
    if range_key_conditions and (len(range_key_conditions) > 1 or not range_comparison):
        return None

    index: Any = None
    if index_name:
        index = {i.name: i for i in table.all_indexes()}.get(index_name)
        if index is None or (consistent_read and index in table.global_indexes):
            return None  # moto's error
        hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hash_keys) != 1 or len(range_keys) > 1 or (range_comparison and not range_keys):
            return None
        if range_keys:
            index_range = range_keys[0]
        elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
            index_range = table.range_key_attr
        else:
            index_range = table.hash_key_attr
        hash_attrs = [hash_keys[0], table.hash_key_attr]
        range_attrs: list[str | None] = [index_range, table.range_key_attr]
        if not hash_key_conditions or len(hash_key_conditions) != 1 or hash_key_conditions[0][0] != hash_keys[0]:
            return None
        hash_value = hash_key_conditions[0][1]
        compared = index_range
    else:
        if hash_key is None:
            return None
        hash_attrs, range_attrs = [table.hash_key_attr], [table.range_key_attr]
        hash_value, compared = hash_key, table.range_key_attr
        range_keys = []
    if range_key_conditions:
        compared = range_key_conditions[-1][0]
    sort_attrs = table._generate_attr_to_sort_by(hash_attrs, range_attrs)
    if range_comparison and (len(sort_attrs) < 2 or compared != sort_attrs[1]):
        return None
    if not isinstance(hash_value, DynamoType) or (wanted := _ordered_key(hash_value)) is None:
        return None

    cache = _cache(table)
    valid_for = (cache.version, _epoch, id(table.items))
    if cache.valid_for != valid_for:
        cache.valid_for, cache.groups, cache.buckets = valid_for, {}, {}
    schema = tuple((k["AttributeName"], k["KeyType"]) for k in index.schema) if index_name else ()
    bucket_key = (index_name, schema, tuple(sort_attrs), wanted)
    if bucket_key in cache.buckets:
        bucket = cache.buckets[bucket_key]
    else:
        if index_name:
            group_key = (index_name, schema)
            groups = cache.groups.get(group_key)
            if groups is None:
                groups = cache.groups[group_key] = {}
                for item in _all_items_unsorted(table):
                    value = item.attrs.get(hash_keys[0]) if isinstance(item, Item) else None
                    if value is None or not all(item.attrs.get(k) for k in range_keys):
                        continue
                    key = _ordered_key(value)
                    if key is not None:
                        groups.setdefault(key, []).append(item)
            candidates = groups.get(wanted, [])
        else:
            found = table.items.get(hash_value)
            if found is None:
                found = {}
            elif not table.range_key_attr:
                found = {None: found}
            candidates = [i for i in found.values() if isinstance(i, Item) and i.hash_key == hash_value]
        bucket = cache.buckets[bucket_key] = _make_bucket(candidates, sort_attrs)
    if bucket is None:
        return None
    n = len(bucket.items)
    if n == 0:
        return [], 0, False

    def at(d: int) -> int:  # position in query order -> position in the ascending bucket
        return d if scan_index_forward else n - 1 - d

    start = 0
    if exclusive_start_key is not None:
        if not isinstance(exclusive_start_key, dict):
            return None
        bound: list[Any] = []
        for attr, kind, dtype in zip(sort_attrs, bucket.types, bucket.dtypes, strict=True):
            raw = exclusive_start_key.get(attr)
            if raw is None:
                return None
            value = DynamoType(raw)
            if type(value.cast_value) is not kind or value.type != dtype:
                return None
            bound.append(value.cast_value)
        # moto skips the items "before or at" the key in query order.
        start = (
            bisect_right(bucket.keys, tuple(bound))
            if scan_index_forward
            else n - bisect_left(bucket.keys, tuple(bound))
        )

    lo, hi = 0, n
    if range_comparison:
        region = _range_region(bucket, range_comparison, list(range_objs))
        if region is None:
            return None
        lo, hi = region if scan_index_forward else (n - region[1], n - region[0])
    # moto walks from the key on; before the first match nothing counts (and no item alone
    # reaches the 1 MB cap), so start at it.
    start = max(start, lo)
    count = size = 0
    end, ended = n, False
    d = start
    while d < hi:
        item_size = bucket.size(at(d))
        if count == limit or size + item_size > RESULT_SIZE_LIMIT:
            end, ended = d + 1, True
            break
        count += 1
        size += item_size
        d += 1
    else:
        d = max(start, hi)  # after the matches: moto still checks each item against the limits
        if d >= n:
            pass
        elif count == limit:
            end, ended = d + 1, True
        elif RESULT_SIZE_LIMIT - size >= _MOTO_MAX_ITEM_SIZE:
            end = d  # no later item can end the page
        else:
            for j in range(d, n):
                if size + bucket.size(at(j)) > RESULT_SIZE_LIMIT:
                    end, ended = j + 1, True
                    break
    return [bucket.items[at(d)] for d in range(start, end)], count, ended


_request = threading.local()


def _counting(table: Any, index_name: str | None, projection_expressions: Any, filter_expression: Any) -> bool:
    """This query answers a Select=COUNT request, and a FilterExpression (if any) sees in the
    stored items what it would see in moto's projected copies (no index, or an ALL index)."""
    from moto.dynamodb.comparisons import OpDefault

    if not getattr(_request, "count_only", False) or projection_expressions:
        return False
    if filter_expression is None or isinstance(filter_expression, OpDefault) or not index_name:
        return True
    projection = table.get_index(index_name).projection
    return not projection or projection.get("ProjectionType") in (None, "ALL")


def _count_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """DynamoHandler.query: note, for this request's thread, whether it is a Select=COUNT."""

    @functools.wraps(fn)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        _request.count_only = str(self.body.get("Select", "")).upper() == "COUNT"
        try:
            return fn(self, *args, **kwargs)
        finally:
            _request.count_only = False

    return query


class _SliceView:
    """The table, to moto's query, with only the given items in it."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


_lean_class: Any = None


def _as_indexed(table: Any, index_name: str, items: list[Any]) -> list[Any]:
    """The page's items as an index that projects some attributes holds them.

    moto's query deep-copies every item of a page whole, then projects the copies (converting
    each whole item to plain JSON once per projected attribute): for a keys-only page of 50
    tasks that was most of the request. Handed the index's attributes alone (shared, not
    copied: moto copies what it returns), it copies and projects those, and answers the same.
    Each item still reports the size of the whole item, so pages end at moto's 1 MB of whole
    items exactly as before."""
    global _lean_class
    index = table.get_index(index_name)
    projection = getattr(index, "projection", None) or {}
    kind = projection.get("ProjectionType")
    if kind not in ("KEYS_ONLY", "INCLUDE"):
        return items
    keep = list(index.table_key_attrs) + [k["AttributeName"] for k in index.schema]
    if kind == "INCLUDE":
        keep += projection.get("NonKeyAttributes", [])
    if _lean_class is None:
        from moto.dynamodb.models.dynamo_type import Item

        class _Lean(Item):
            whole_size = 0

            def size(self) -> int:
                return self.whole_size

        _lean_class = _Lean
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    out = []
    for item in items:
        lean = _lean_class.__new__(_lean_class)
        lean.hash_key, lean.range_key = item.hash_key, item.range_key
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for name in keep:
            value = item.attrs.get(name)
            if value is not None:
                dict.__setitem__(attrs, name, value)
        lean.attrs = attrs
        lean.whole_size = item.size()
        out.append(lean)
    return out


def _fast_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's Table.query, answering the same, at the cost of the page rather than the table."""

    @functools.wraps(original)
    # moto's DynamoDBBackend.query signature, which this replaces.
    def query(  # noqa: PLR0913
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, Any]] | None = None,
        range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        with _lock:
            try:
                plan = _plan_query(
                    self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                    scan_index_forward, index_name, consistent_read, hash_key_conditions,
                    range_key_conditions, filter_kwargs,
                )
            except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError):
                plan = None  # something we cannot order as moto does: moto decides
            if plan is None:
                return original(
                    self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                    projection_expressions, index_name, consistent_read, filter_expression,
                    hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions,
                    **filter_kwargs,
                )
            page, taken, ended = plan
            if _counting(self, index_name, projection_expressions, filter_expression) and (taken or not ended):
                # Select=COUNT: the response holds len(items) and the keys, never the items, so
                # skip moto's copy (and projection) of every item of the page.
                results = page[:taken]
                last_key = self._get_last_evaluated_key(results[-1], index_name) if ended else None
                if filter_expression is not None:
                    results = [item for item in results if filter_expression.expr(item)]
                return results, taken, last_key
            if index_name and not filter_kwargs:
                page = _as_indexed(self, index_name, page)
            return original(
                _SliceView(self, page), hash_key, range_comparison, range_objs, limit, None, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression,
                hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

    return query


def _compose(
    *wraps: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for w in reversed(wraps):
            fn = w(fn)
        return fn

    return wrap


# -- DynamoDB wire JSON in O(size) -------------------------------------------------------
#
# moto answers every DynamoDB request through its generic, botocore-model-driven parser and
# serializer (moto/core/parse.py, moto/core/serialize.py): per attribute value they look the
# member up through half a dozen alias providers (per returned item: docs/performance.md).
# Below, the same walk over the same shapes, compiled once per shape: for the item operations
# (and only for plain dict/list results whose keys are the shapes' members) the request is
# parsed and the response written exactly as moto's JSON parser/serializer would, else moto's.

_ITEM_ACTIONS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
    "GetRecords",  # DynamoDB Streams: the stream consumers read every item written
})
_wire_enabled = [True]  # off: moto's own walks (the equivalence tests compare the two)


class _Unhandled(Exception):
    """Something the compiled walk does not reproduce: moto's own walk decides."""


def _identity(value: Any) -> Any:
    return value


def _aliases(parent: Any) -> frozenset[str] | None:
    """The other names under which moto's attribute picker (XFormedAttributePicker: explicit,
    shape-name, as-is, parent-prefix, class-prefix and model aliases, each also in snake_case)
    looks a member of ``parent`` up in a dict: a dict holding none of them answers by its
    member names alone. None: a member could be read under another member's name (moto's)."""
    from botocore import xform_name

    members = parent.members
    names = set(members)
    aliases: set[str] = set()
    for key, shape in members.items():
        if shape.serialization.get("name", key) != key:
            return None
        candidates = [key]
        if shape.type_name in ("list", "structure") and shape.name != key and shape.name not in names:
            candidates.append(shape.name)
        if key.lower().startswith(parent.name.lower()):
            candidates.append(key[len(parent.name):])
        if key.lower().startswith("dict"):
            candidates.append(key[len("dict"):])
        candidates += [xform_name(c) for c in candidates]
        others = {c for c in candidates if c != key}
        if others & names:
            return None
        aliases |= others
    return frozenset(aliases)


_out_fns: dict[tuple[str, str], Callable[[Any], Any]] = {}


def _remembered(fn: Callable[[Any], Any], size: int = 20_000) -> Callable[[Any], Any]:
    """``fn`` answering again for the very same value from what it answered before.

    For stream records: moto builds each one once, as a dict it never changes again, and hands
    out that same dict (``StreamRecord.to_json``) to every GetRecords that reads it; Haul's
    three consumers read each record, and serialising the task images in them was the largest
    part of the emulator's work during a download. A value is known by its identity, checked
    (``is``) against the one kept with the answer, so a reused ``id`` cannot mix them up."""
    answers: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
    lock = threading.Lock()

    def remembered(value: Any) -> Any:
        key = id(value)
        with lock:
            known = answers.get(key)
        if known is not None and known[0] is value:
            return known[1]
        out = fn(value)
        with lock:
            answers[key] = (value, out)
            if len(answers) > size:
                answers.popitem(last=False)
        return out

    return remembered


# One branch per botocore shape type (the wire format's grammar): splitting it scatters the table.
def _out_fn(shape: Any, model: Any) -> Callable[[Any], Any]:  # noqa: C901
    """BaseJSONSerializer._serialize for ``shape``, on plain values (see _Unhandled)."""
    import base64

    from moto.core.serialize import TimestampSerializer

    cache_key = (model.service_name, shape.name)
    fn = _out_fns.get(cache_key)
    if fn is not None:
        return fn
    kind = shape.type_name
    if kind == "structure":
        aliases = None if shape.is_document_type else _aliases(shape)
        if aliases is None:
            def fn(value: Any) -> Any:
                raise _Unhandled(shape.name)
            _out_fns[cache_key] = fn
            return fn
        members: list[tuple[str, Callable[[Any], Any]]] = []
        lookup: dict[str, Callable[[Any], Any]] = {}

        def fn(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unhandled(shape.name)
            if len(value) == 1:  # an AttributeValue, mostly
                for k, v in value.items():
                    f = lookup.get(k)
                    if f is None:  # not written (moto's walk writes members only)
                        if k in aliases:
                            raise _Unhandled(k)
                        return {}
                    return {} if v is None else {k: f(v)}
            if not value.keys() <= lookup.keys() and not aliases.isdisjoint(value.keys()):
                raise _Unhandled(shape.name)
            out = {}
            for k, f in members:  # in the shape's order, as moto writes them
                v = value.get(k)
                if v is not None:
                    out[k] = f(v)
            return out

        if cache_key == ("dynamodbstreams", "Record"):
            fn = _remembered(fn)
        _out_fns[cache_key] = fn  # before the members: the shapes are recursive
        for k, member in shape.members.items():
            members.append((k, _out_fn(member, model)))
        lookup.update(members)
        return fn
    if kind == "map":
        value_fn = _out_fn(shape.value, model)

        def fn(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unhandled(shape.name)
            out = {}
            for k, v in value.items():
                if v is None or type(k) is not str:
                    raise _Unhandled(shape.name)
                out[k] = value_fn(v)
            return out
    elif kind == "list":
        member_fn = _out_fn(shape.member, model)

        def fn(value: Any) -> Any:
            if type(value) is not list:
                raise _Unhandled(shape.name)
            out = []
            for v in value:
                if v is None:
                    raise _Unhandled(shape.name)
                out.append(member_fn(v))
            return out
    elif kind in ("integer", "long"):
        fn = int
    elif kind in ("float", "double"):
        fn = float
    elif kind == "blob":
        def fn(value: Any) -> Any:  # ResponseSerializer._base64
            if isinstance(value, str):
                value = value.encode("utf-8")
            return base64.b64encode(value).strip().decode("utf-8")
    elif kind == "timestamp":
        stamps = TimestampSerializer(TimestampSerializer.TIMESTAMP_FORMAT_UNIX)

        # moto parses every timestamp (dateutil, for strings) each time it answers: the
        # stream records' timestamps, read by three consumers, cost ~8% of the emulator.
        @functools.lru_cache(maxsize=8192)
        def stamp(value: Any) -> Any:
            wrapper: dict[str, Any] = {}
            stamps.serialize(wrapper, value, shape, "t")
            return wrapper["t"]

        def fn(value: Any) -> Any:
            try:
                return stamp(value)
            except TypeError:  # not hashable: not a value moto hands out, but still answered
                return stamp.__wrapped__(value)
    else:
        fn = _identity
    _out_fns[cache_key] = fn
    return fn


_in_fns: dict[tuple[str, str], Callable[[Any], Any]] = {}


# Like _out_fn, one branch per botocore shape type.
def _in_fn(shape: Any, model: Any) -> Callable[[Any], Any]:  # noqa: C901
    """BaseJSONParser._parse_shape for ``shape`` (moto/core/parse.py), compiled."""
    from moto.core.parse import UNDEFINED, default_blob_parser, default_timestamp_parser

    cache_key = (model.service_name, shape.name)
    fn = _in_fns.get(cache_key)
    if fn is not None:
        return fn
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type or any(m.serialization.get("name", k) != k for k, m in shape.members.items()):
            def fn(value: Any) -> Any:
                raise _Unhandled(shape.name)
            _in_fns[cache_key] = fn
            return fn
        members: list[tuple[str, str, Callable[[Any], Any]]] = []
        by_json_name: dict[str, tuple[str, Callable[[Any], Any]]] = {}

        def fn(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dict:
                raise _Unhandled(shape.name)
            if len(value) == 1:  # an AttributeValue, mostly
                for k, v in value.items():
                    found = by_json_name.get(k)
                    if found is None or v is None:
                        return {}
                    return {found[0]: found[1](v)}
            out = {}
            for name, json_name, f in members:
                raw = value.get(json_name)
                if raw is not None:
                    out[name] = f(raw)
            return out

        _in_fns[cache_key] = fn  # before the members: the shapes are recursive
        for name, member in shape.members.items():
            members.append((name, member.serialization.get("name", name), _in_fn(member, model)))
        by_json_name.update({json_name: (name, f) for name, json_name, f in members})
        return fn
    if kind == "list":
        member_fn = _in_fn(shape.member, model)

        def fn(value: Any) -> Any:
            if type(value) is not list:
                raise _Unhandled(shape.name)
            return [member_fn(v) for v in value]
    elif kind == "map":
        key_fn, value_fn = _in_fn(shape.key, model), _in_fn(shape.value, model)

        def fn(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unhandled(shape.name)
            out = {}
            for k, v in value.items():
                out[key_fn(k)] = value_fn(v)
            return out
    elif kind == "blob":
        fn = default_blob_parser
    elif kind == "timestamp":
        fn = default_timestamp_parser
    elif kind in ("float", "double"):
        def fn(value: Any) -> Any:
            return value if value is UNDEFINED else float(value)
    elif kind in ("integer", "byte", "short", "long"):
        def fn(value: Any) -> Any:
            return value if value is UNDEFINED else int(value)
    else:
        fn = _identity
    _in_fns[cache_key] = fn
    return fn


_serializer_cls: list[type] = []


def _fast_serializer() -> type:
    """moto's JSONSerializer, writing a result through the compiled walk when it can."""
    if _serializer_cls:
        return _serializer_cls[0]
    from moto.core.serialize import JSONSerializer

    class FastJSONSerializer(JSONSerializer):
        def _serialize_result(self, resp: Any, result: Any) -> Any:
            shape = self.operation_model.output_shape
            if shape is None or getattr(self._value_picker, "response_transformers", None):
                return super()._serialize_result(resp, result)
            try:
                serialized = _out_fn(shape, self.service_model)(result)
            except Exception:  # noqa: BLE001 -- _Unhandled, or whatever moto's walk is to meet as well
                return super()._serialize_result(resp, result)
            return self._serialized_result_to_response(resp, result, shape, serialized)

    _serializer_cls.append(FastJSONSerializer)
    return FastJSONSerializer


def _fast_serialized(original: Callable[..., Any]) -> Callable[..., Any]:
    """DynamoHandler.serialized and DynamoDBStreamsHandler.serialized (BaseResponse's): an item
    operation's (or GetRecords') result, written by the compiled walk (moto's walk for errors,
    other protocols, anything unusual)."""

    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        from moto.core.responses import ActionContext, ActionResult
        from moto.core.serialize import JSONSerializer, get_serializer_class
        from moto.core.utils import get_service_model
        from moto.dynamodb.responses import DynamoResult

        action = self._get_action()
        if (
            not _wire_enabled[0]
            or action not in _ITEM_ACTIONS
            or type(action_result) not in (ActionResult, DynamoResult)
            or isinstance(action_result.result, Exception)
            or getattr(self, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
        ):
            return original(self, action_result)
        service_model = get_service_model(self.boto3_service_name)
        protocol = self.determine_response_protocol(service_model)
        if get_serializer_class(service_model.service_name, protocol) is not JSONSerializer:
            return original(self, action_result)
        operation_model = service_model.operation_model(action)
        context = ActionContext(service_model, operation_model, _fast_serializer(), self)
        status_code, headers, body = action_result.execute_result(context)
        headers.update(self.response_headers)
        return status_code, headers, body

    return serialized


def _fast_parse_parameters(original: Callable[..., Any]) -> Callable[..., Any]:
    """DynamoHandler.parse_parameters (BaseResponse's): an item operation's JSON request,
    parsed by the compiled walk (moto's parser for anything else, or anything unusual)."""

    @functools.wraps(original)
    def parse_parameters(self: Any, request: Any) -> None:
        from botocore.awsrequest import AWSPreparedRequest
        from moto.core.parse import PROTOCOL_PARSERS, JSONParser
        from moto.core.request import determine_request_protocol, normalize_request
        from moto.core.utils import get_service_model
        from werkzeug import Request

        action = self._get_action()
        if (
            not _wire_enabled[0]
            or action not in _ITEM_ACTIONS
            or not isinstance(request, (AWSPreparedRequest, Request))
            or self.PROTOCOL_PARSER_MAP_TYPE is not dict
        ):
            return original(self, request)
        try:
            normalized = normalize_request(request)
            service_model = get_service_model(self.boto3_service_name)
            protocol = determine_request_protocol(service_model, normalized.content_type)
            if PROTOCOL_PARSERS.get(protocol) is not JSONParser:
                return original(self, request)
            operation_model = service_model.operation_model(action)
            shape = operation_model.input_shape
            if shape is None:
                parsed: Any = {}
            else:
                body = JSONParser(operation_model, map_type=dict)._parse_body_as_json(normalized.data)
                parsed = _in_fn(shape, service_model)(body)
        except Exception:  # noqa: BLE001 -- _Unhandled, or whatever moto's parser is to meet as well
            return original(self, request)
        self.params = parsed

    return parse_parameters


def _item_init(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's Item.__init__ checks the item's size (LimitedSizeDict) after every attribute by
    summing all the attributes so far: O(n^2) in the attributes (docs/performance.md). The same
    check, on a running total: same attributes, same ItemSizeTooLarge."""

    @functools.wraps(original)
    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        from moto.dynamodb.exceptions import ItemSizeTooLarge
        from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
        from moto.dynamodb.models.utilities import bytesize

        if type(attrs) is not dict or not all(type(k) is str for k in attrs):
            return original(self, hash_key, range_key, attrs)
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            dynamo = DynamoType(value)
            total += bytesize(key) + dynamo.size()
            if total > _MOTO_MAX_ITEM_SIZE:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, dynamo)

    return init


def _listed_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto.backends.list_of_moto_modules: moto's server lists its package directory (an
    os.listdir and ~150 os.path.isdir) on every request to pick the backend; the directory
    does not change while it runs."""
    listed: list[tuple[str, ...]] = []

    @functools.wraps(original)
    def modules() -> tuple[str, ...]:
        if not listed:
            listed.append(tuple(original()))
        return listed[0]

    return modules


# -- the stored items out of the cyclic GC's way ---------------------------------------------
#
# The items moto stores (~50 objects each) are long-lived, and Python's full collection walks
# every tracked object: at 10,000 tasks a pause that lands on any
# request of the process (the emulator, and the runtime's API beside it). So a thread freezes
# what has survived (gc.freeze: the permanent generation, which collections skip; refcounting
# still frees what is deleted), and a collection walks only what was allocated since:
# - after every _FREEZE_EVERY item writes: a full collection, then freeze;
# - while requests keep writing, every _FREEZE_AFTER_SECONDS: a young collection, then freeze.
#   Without it, what each request leaves alive piles up unfrozen: while 10,000 tasks were paged
#   through, full collections grew and hit one page in ten; with it they stay short (the
#   figures: docs/performance.md, "Measurements behind the code");
# - every _UNFREEZE_SECONDS of activity: unfreeze, a full collection, freeze again, so cyclic
#   garbage frozen meanwhile is freed after all (one full pause, every 5 minutes).
_FREEZE_EVERY = 1000
_FREEZE_AFTER_SECONDS = 1.0
_UNFREEZE_SECONDS = 300.0
_written = [0]


def _freezer(
    stop: threading.Event, written: list[int] = _written,
    every: float = _FREEZE_AFTER_SECONDS, full_every: float = _UNFREEZE_SECONDS,
) -> None:
    """The freezing thread; ``written``: the count of item writes it watches and resets;
    ``every`` and ``full_every``: _FREEZE_AFTER_SECONDS and _UNFREEZE_SECONDS, for this thread."""
    import gc

    frozen_at = full_at = time.monotonic()
    active = False
    while not stop.wait(0.25):
        now = time.monotonic()
        if written[0] >= _FREEZE_EVERY:
            written[0], active, frozen_at = 0, True, now
            gc.collect()
            gc.freeze()
        elif written[0] and now - frozen_at >= every:
            written[0], active, frozen_at = 0, True, now
            gc.collect(1)
            gc.freeze()
        if active and now - full_at >= full_every:
            active, full_at = False, now
            gc.unfreeze()
            gc.collect()
            gc.freeze()


_PATCHED = "_haul_faithful"


def _patch() -> list[tuple[type, str, Any]]:
    """Make moto faithful; the originals, to put back. Patching twice is a no-op."""
    from moto import backends as moto_backends
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.s3.models import S3Backend

    from local_runtime.emulator import direct as emulator_direct
    from local_runtime.emulator import expressions as emulator_expressions
    from local_runtime.emulator import files as emulator_files
    from local_runtime.emulator import keepalive as emulator_keepalive
    from local_runtime.emulator import queues as emulator_queues
    from local_runtime.emulator import s3 as emulator_s3
    from local_runtime.emulator import state as emulator_state
    from local_runtime.emulator import streams as emulator_streams
    from local_runtime.emulator import wsgi as emulator_http

    saved: list[tuple[type, str, Any]] = []
    targets: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = []
    # Writes are journalled (emulator_state; only while a data directory is in use) inside the
    # lock, so the journal's order is the order they were applied.
    journalled = emulator_state._journalled
    for name in _DYNAMODB_ITEM_OPS:
        if name in ("put_item", "update_item", "delete_item"):
            targets.append((DynamoDBBackend, name, _compose(_serialised, journalled, _invalidates_table)))
        elif name == "transact_write_items":
            targets.append((DynamoDBBackend, name, _compose(_serialised, journalled, _invalidates_all)))
        else:
            targets.append((DynamoDBBackend, name, _serialised))
    targets += [
        (DynamoDBBackend, n, _compose(_serialised, journalled, _invalidates_all))
        for n in ("execute_statement", "execute_transaction", "batch_execute_statement", "update_table")
    ]
    targets += [
        (DynamoDBBackend, n, _compose(_serialised, journalled))
        for n in emulator_state.JOURNALLED if n not in _DYNAMODB_ITEM_OPS and n not in
        ("execute_statement", "execute_transaction", "batch_execute_statement", "update_table")
    ]
    targets += [(Table, "put_item", _invalidates_self), (Table, "delete_item", _invalidates_self)]
    targets += [(Table, "query", _fast_query), (DynamoHandler, "query", _count_only)]
    targets += [
        (DynamoHandler, "serialized", _fast_serialized),
        (DynamoHandler, "parse_parameters", _fast_parse_parameters),
    ]
    targets += [(DynamoDBStreamsHandler, "serialized", _fast_serialized)]
    targets += [(Item, "__init__", _item_init), (cast(type, moto_backends), "list_of_moto_modules", _listed_once)]
    targets += [(S3Backend, n, _no_such_upload) for n in ("upload_part", "complete_multipart_upload")]
    targets += emulator_s3.targets()  # CompleteMultipartUpload in one pass (see emulator_s3)
    targets += emulator_http.targets()  # a request body read in one call (see emulator_http)
    targets += emulator_keepalive.targets()  # connections kept open between requests
    targets += emulator_streams.targets()  # stream records kept 24 h, shard iterators 15 min
    targets += emulator_state.targets()  # SQS changes counted, for the data directory's snapshots
    targets += emulator_files.targets()  # objects and parts as files, for the data directory
    targets += emulator_expressions.targets()  # UpdateItem linear in its expression's length
    targets += emulator_direct.targets()  # JSON-protocol requests without Flask around moto's handler
    targets += emulator_queues.targets()  # SQS: attribute names converted once, receipt handles in one draw
    for cls, name, wrap in targets:
        original = cls.__dict__[name] if name in cls.__dict__ else getattr(cls, name)  # (or inherited)
        if getattr(original, _PATCHED, False):
            continue
        patched = wrap(original)
        setattr(patched, _PATCHED, True)
        saved.append((cls, name, original))
        setattr(cls, name, patched)
    return saved


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def unfit_versions() -> list[str]:
    """What is installed other than :data:`PATCHED_FOR` (empty: the patches fit)."""
    found = {name: installed_version(name) for name in PATCHED_FOR}
    return [f"{name} {found[name] or '(missing)'} (the patches are for {want})"
            for name, want in PATCHED_FOR.items() if found[name] != want]


def fenced_patch() -> bool:
    """Apply the patches if moto and werkzeug are the versions they were written for; else
    leave moto as it is, with a warning. Whether they are applied."""
    unfit = unfit_versions()
    if unfit:
        log.warning("the AWS emulator runs unpatched: %s. Plain moto works but is less faithful (conditional "
                    "writes not atomic, O(table) queries, no data directory); install requirements-dev.txt",
                    "; ".join(unfit))
        return False
    _patch()
    return True


class PersistentServer:
    """moto's server, whose state is loaded from a data directory and kept there
    (emulator_state: DynamoDB and SQS; emulator_files: S3); ``stop`` writes a last snapshot."""

    def __init__(self, server: Any, state: Any, files: Any, datadir: Any, report: list[str]) -> None:
        self._server = server
        self.state = state
        self.files = files
        self.datadir = datadir
        self.report = report

    def stop(self) -> None:
        try:
            self._server.stop()
            self.state.close()
        finally:
            emulator_files_stop(self.files)
            self.datadir.close()


def emulator_files_stop(files: Any) -> None:
    from local_runtime.emulator import files as emulator_files

    emulator_files.deactivate(files)


def _large_buffers_go_back() -> None:
    """glibc raises its mmap threshold each time a large block is freed (up to 32 MiB); from
    then on the 16 MiB bodies of UploadPart come from the heap arenas (one per thread) and stay
    resident after they are freed: the emulator grew by ~1.2 GiB while storing 4 GiB. A fixed
    threshold (which also turns the adjustment off) keeps every block over 1 MiB mmapped, so
    it goes back to the system when it is freed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


_M_MMAP_THRESHOLD = -3


def start_emulator(host: str, port: int, data_dir: Path | None = None) -> Any:
    """moto's server in this process, made faithful (for good) where the engine depends on it;
    with ``data_dir``, its state loaded from there and kept there (a :class:`PersistentServer`;
    DataDirError if the directory cannot be used)."""
    from moto.server import ThreadedMotoServer

    patched = fenced_patch()
    _large_buffers_go_back()
    persistent: PersistentServer | None = None
    if data_dir is not None and not patched:
        from local_runtime.emulator.datadir import DataDirError

        raise DataDirError(f"the data directory needs the emulator's patches: {'; '.join(unfit_versions())}")
    if data_dir is not None:
        import moto

        from local_runtime.emulator import files as emulator_files
        from local_runtime.emulator import state as emulator_state
        from local_runtime.emulator.datadir import DataDir

        datadir = DataDir(data_dir)
        datadir.open(moto.__version__)
        try:
            changed = datadir.written_by_moto if datadir.written_by_moto != moto.__version__ else ""
            state = emulator_state.EmulatorState(data_dir, _lock, written_by=changed, invalidate=_invalidate_all)
            state.close_in_child = datadir.descriptors()
            report = state.open()
            files = emulator_files.activate(data_dir / "s3")
            report += files.report
        except BaseException:
            datadir.close()
            raise
        if datadir.written_by_moto != moto.__version__:
            datadir.write_format(moto.__version__)  # it loaded: from now on, written by this one
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    threading.Thread(target=_freezer, args=(threading.Event(),), name="emulator-gc-freezer", daemon=True).start()
    if data_dir is not None:
        state.start()
        persistent = PersistentServer(server, state, files, datadir, report)
        return persistent
    return server


@contextmanager
def faithful_emulator() -> Iterator[None]:
    """Within the block, moto's DynamoDB writes are atomic, a gone upload is NoSuchUpload and a
    query costs its page."""
    saved = _patch()
    try:
        yield
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)
