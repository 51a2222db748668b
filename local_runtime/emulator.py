"""Make the in-process moto server behave like the AWS services it stands in for, where the
engine's correctness depends on it.

- DynamoDB: a conditional write is atomic in DynamoDB. moto evaluates the condition and then
  applies the update without a lock, so two concurrent requests (the threads of
  ThreadedMotoServer) can both pass the same condition: both "claim" the same lane step, both
  plan the next generation, both record a part. Every item operation is serialised here.
- DynamoDB performance: a Query costs O(page) in DynamoDB, but O(table) in moto: every query
  sorts every item of the table, filters by the partition key, sorts again and walks from the
  first item to the ExclusiveStartKey (~0.5 s for a 50-item page of 10,000 tasks, ~3 s for a
  COUNT). Here each table keeps, per (index, partition key value), its candidates sorted the
  way moto sorts them, valid until the next write to the table (every item write bumps the
  table's version); a query bisects to its ExclusiveStartKey and its key condition's range and
  hands moto's own query only the items it is going to look at (the page plus the item that
  ends it), so filters, projections, Limit, the 1 MB cap, ScannedCount and LastEvaluatedKey
  are moto's, unchanged. Anything unusual (multi-attribute keys, QueryFilter, mixed key value
  types, ...) goes to moto's query as is.
- S3: UploadPart and CompleteMultipartUpload for an upload that was aborted or completed
  answer ``404 NoSuchUpload``; moto raises a KeyError (a 500 that botocore retries for
  about a minute).

The local runtime's embedded emulator and the functional tests' emulator both start through
:func:`start_emulator`, which applies these for good. This is emulator fidelity, not business
logic: against LocalStack or AWS none of it runs.
"""

from __future__ import annotations

import functools
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

_DYNAMODB_ITEM_OPS = (
    "put_item", "get_item", "update_item", "delete_item", "transact_write_items", "query", "scan",
)
_lock = threading.RLock()


def _serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return fn(*args, **kwargs)

    return locked


def _no_such_upload(fn: Callable[..., Any]) -> Callable[..., Any]:
    from moto.s3.exceptions import NoSuchUpload

    @functools.wraps(fn)
    def checked(self: Any, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
        if multipart_id not in self.get_bucket(bucket_name).multiparts:
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


def _ordered_key(value: Any) -> tuple[str, Any] | None:
    """A hashable stand-in for a DynamoType under moto's equality (type and cast value)."""
    cast = value.cast_value
    if (value.type, type(cast)) not in _ORDERED_TYPES:
        return None
    return value.type, cast


def _make_bucket(candidates: list[Any], sort_attrs: list[str]) -> _Bucket | None:
    """Sort as moto's query does (tuples of DynamoType by ``sort_attrs``); None when the key
    values are not uniformly of one orderable type per attribute (then moto decides)."""
    keys: list[tuple[Any, ...]] = []
    types: tuple[type, ...] | None = None
    first_types: tuple[str, ...] = ()
    for item in candidates:
        values = [item.attrs.get(a) for a in sort_attrs]
        if any(v is None for v in values):
            return None
        casts = tuple(v.cast_value for v in values)  # type: ignore[union-attr]
        if types is None:
            types = tuple(type(c) for c in casts)
            first_types = tuple(v.type for v in values)  # type: ignore[union-attr]
            if any((t, p) not in _ORDERED_TYPES for t, p in zip(first_types, types, strict=True)):
                return None
        elif tuple(type(c) for c in casts) != types or tuple(v.type for v in values) != first_types:  # type: ignore[union-attr]
            return None
        keys.append(casts)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return _Bucket([candidates[i] for i in order], [keys[i] for i in order], types or (), first_types)


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


def _plan_query(
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
) -> list[Any] | None:
    """The items moto's query would look at after the ExclusiveStartKey, in order (the page
    and the item that ends it), or None: let moto's query do all of it."""
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
        return []

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
        start = bisect_right(bucket.keys, tuple(bound)) if scan_index_forward else n - bisect_left(bucket.keys, tuple(bound))

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
    end = -1
    d = start
    while d < hi:
        item_size = bucket.size(at(d))
        if count == limit or size + item_size > RESULT_SIZE_LIMIT:
            end = d + 1
            break
        count += 1
        size += item_size
        d += 1
    if end < 0:
        d = max(start, hi)  # after the matches: moto still checks each item against the limits
        if d >= n:
            end = n
        elif count == limit:
            end = d + 1
        elif RESULT_SIZE_LIMIT - size >= _MOTO_MAX_ITEM_SIZE:
            end = d  # no later item can end the page
        else:
            end = n
            for j in range(d, n):
                if size + bucket.size(at(j)) > RESULT_SIZE_LIMIT:
                    end = j + 1
                    break
    return [bucket.items[at(d)] for d in range(start, end)]


class _SliceView:
    """The table, to moto's query, with only the given items in it."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _fast_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's Table.query, answering the same, at the cost of the page rather than the table."""

    @functools.wraps(original)
    def query(
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
                page = _plan_query(
                    self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                    scan_index_forward, index_name, consistent_read, hash_key_conditions,
                    range_key_conditions, filter_kwargs,
                )
            except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError):
                page = None  # something we cannot order as moto does: moto decides
            target, start_key = (self, exclusive_start_key) if page is None else (_SliceView(self, page), None)
            return original(
                target, hash_key, range_comparison, range_objs, limit, start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression,
                hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

    return query


def _compose(*wraps: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for w in reversed(wraps):
            fn = w(fn)
        return fn

    return wrap


_PATCHED = "_haul_faithful"


def _patch() -> list[tuple[type, str, Any]]:
    """Make moto faithful; the originals, to put back. Patching twice is a no-op."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.s3.models import S3Backend

    saved: list[tuple[type, str, Any]] = []
    targets: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = []
    for name in _DYNAMODB_ITEM_OPS:
        if name in ("put_item", "update_item", "delete_item"):
            targets.append((DynamoDBBackend, name, _compose(_serialised, _invalidates_table)))
        elif name == "transact_write_items":
            targets.append((DynamoDBBackend, name, _compose(_serialised, _invalidates_all)))
        else:
            targets.append((DynamoDBBackend, name, _serialised))
    targets += [
        (DynamoDBBackend, n, _invalidates_all)
        for n in ("execute_statement", "execute_transaction", "batch_execute_statement", "update_table")
    ]
    targets += [(Table, "put_item", _invalidates_self), (Table, "delete_item", _invalidates_self)]
    targets += [(Table, "query", _fast_query)]
    targets += [(S3Backend, n, _no_such_upload) for n in ("upload_part", "complete_multipart_upload")]
    for cls, name, wrap in targets:
        original = cls.__dict__[name]
        if getattr(original, _PATCHED, False):
            continue
        patched = wrap(original)
        setattr(patched, _PATCHED, True)
        saved.append((cls, name, original))
        setattr(cls, name, patched)
    return saved


def start_emulator(host: str, port: int) -> Any:
    """moto's server in this process, made faithful (for good) where the engine depends on it."""
    from moto.server import ThreadedMotoServer

    _patch()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
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
