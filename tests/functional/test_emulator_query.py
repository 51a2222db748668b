"""The embedded emulator's Query (local_runtime/emulator/server.py) answers exactly what moto's own
Query answers: same items in the same order, same ScannedCount and LastEvaluatedKey, page
after page, on the table and its indexes, before and after writes."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
ALPHABET = "abc"


@pytest.fixture()
def ddb(emulator: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=emulator, region_name=REGION)


@pytest.fixture()
def table_name(ddb: Any) -> Iterator[str]:
    """A throwaway table: hash+range, a hash+range index with ties, a hash-only index."""
    name = f"query-fidelity-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": t}
            for a, t in (("pk", "S"), ("sk", "S"), ("g", "S"), ("gr", "N"), ("h", "S"))
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gr", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_h",
                "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
            },
            {
                "IndexName": "by_k",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gr", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    yield name
    ddb.delete_table(TableName=name)


def _moto_table(name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(name)


def _sk(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4))) + f"#{rng.randint(0, 9)}"


def _item(rng: random.Random, pk: str | None = None, sk: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": pk or rng.choice(["p0", "p1", "p2", "p3", "p4"])},
        "sk": {"S": sk or _sk(rng)},
        "v": {"N": str(rng.randint(0, 20))},
        "xpad": {"S": "x" * rng.randint(0, 300)},
    }
    if rng.random() < 0.85:
        item["g"] = {"S": rng.choice(["g0", "g1", "g2", "g3"])}
    if rng.random() < 0.9:
        item["gr"] = {"N": str(rng.choice([-5, 0, 1, 1.5, 2, 2, 3, 10, 100]))}  # ties on purpose
    if rng.random() < 0.8:
        item["h"] = {"S": rng.choice(["h0", "h1", "h2"])}
    return item


def _range_condition(rng: random.Random, index: str | None) -> tuple[str, str, list[dict[str, str]]] | None:
    """(attribute, operator, values) as moto's key condition parser hands them on."""
    if index == "by_h" or rng.random() < 0.35:
        return None
    if index in ("by_g", "by_k"):
        attr, pick = "gr", lambda: {"N": str(rng.choice([-10, -5, 0, 1, 1.5, 2, 2.5, 3, 10, 100, 1000]))}
        ops = ["=", "<", "<=", ">", ">=", "BETWEEN"]
    else:
        attr, pick = "sk", lambda: {"S": _sk(rng)[: rng.randint(0, 3)] or "a"}
        ops = ["=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH"]
    op = rng.choice(ops)
    values = [pick()]
    if op == "BETWEEN":
        values.append(pick())
        if rng.random() < 0.9:  # now and then lower > upper
            values.sort(key=lambda d: (float(d["N"]), "") if "N" in d else (0.0, d["S"]))
    return attr, op, values


def _query_args(rng: random.Random) -> dict[str, Any]:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models.dynamo_type import DynamoType

    index = rng.choice([None, None, "by_g", "by_h", "by_k"])
    hash_attr, hash_value = {None: ("pk", "p%d"), "by_g": ("g", "g%d"), "by_h": ("h", "h%d"), "by_k": ("g", "g%d")}[
        index
    ]
    hash_dt = DynamoType({"S": hash_value % rng.randint(0, 5)})  # now and then a partition with nothing in it
    condition = _range_condition(rng, index)
    if rng.random() < 0.3:
        filter_op = get_filter_expression("v > :fv", {}, {":fv": {"N": str(rng.randint(0, 20))}})
    else:
        filter_op = get_filter_expression(None, {}, {})
    return {
        "hash_key": hash_dt,
        "range_comparison": condition[1] if condition else None,
        "range_objs": [DynamoType(v) for v in condition[2]] if condition else [],
        "limit": rng.choice([1, 7, 7, 50, None, None]),
        "scan_index_forward": rng.random() < 0.5,
        "projection_expressions": [["pk"], ["sk"], ["v"]] if rng.random() < 0.2 else None,
        "index_name": index,
        "consistent_read": False,
        "filter_expression": filter_op,
        "hash_key_conditions": [(hash_attr, hash_dt)],
        "range_key_conditions": [(condition[0], condition[1], [DynamoType(v) for v in condition[2]])]
        if condition
        else [],
    }


def _answer(result: tuple[list[Any], int, dict[str, Any] | None]) -> tuple[list[Any], int, Any]:
    items, scanned, last_key = result
    key = None if last_key is None else {k: (v.to_json() if hasattr(v, "to_json") else v) for k, v in last_key.items()}
    return [i.to_json() for i in items], scanned, key


def _compare_paging(table: Any, args: dict[str, Any]) -> int:
    """Page through with both implementations; the number of pages."""
    from moto.dynamodb.models.table import Table

    from local_runtime.emulator.server import _lock

    patched: Any = Table.__dict__["query"]
    original = patched.__wrapped__
    start_key: Any = None
    for page in range(1, 400):
        with _lock:  # as the server's backend does: no write in between
            mine = _answer(patched(table, exclusive_start_key=start_key, **args))
            theirs = _answer(original(table, exclusive_start_key=start_key, **args))
        assert mine == theirs, (args, start_key)
        if theirs[2] is None:
            return page
        start_key = theirs[2]
    raise AssertionError("paging did not end")


def _write_some(ddb: Any, name: str, rng: random.Random, table: Any, round_: int) -> None:
    """Writes between rounds of queries, one kind per round (each must invalidate on its own):
    puts, updates moving items between index partitions and orders, deletes, a transaction,
    a batch."""
    keys = [{"pk": i.attrs["pk"].to_json(), "sk": i.attrs["sk"].to_json()} for i in table.all_items()]
    kind = round_ % 5
    if kind == 0:
        for _ in range(5):
            ddb.put_item(TableName=name, Item=_item(rng))
    elif kind == 1:
        for key in rng.sample(keys, 8):
            ddb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET g = :g, gr = :gr, h = :h, v = :v",
                ExpressionAttributeValues={
                    ":g": {"S": rng.choice(["g0", "g1", "g2"])},
                    ":gr": {"N": str(rng.choice([0, 2, 7, 100]))},
                    ":h": {"S": rng.choice(["h0", "h1"])},
                    ":v": {"N": str(rng.randint(0, 20))},
                },
            )
        for key in rng.sample(keys, 2):
            ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE g, h")
    elif kind == 2:
        for key in rng.sample(keys, 4):
            ddb.delete_item(TableName=name, Key=key)
    elif kind == 3:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": _item(rng)}},
                {"Delete": {"TableName": name, "Key": keys[0]}},
                {"Update": {"TableName": name, "Key": keys[1], "UpdateExpression": "SET gr = :gr, g = :g",
                            "ExpressionAttributeValues": {":gr": {"N": "-5"}, ":g": {"S": "g0"}}}},
            ]
        )
    else:
        ddb.batch_write_item(
            RequestItems={
                name: [{"PutRequest": {"Item": _item(rng)}} for _ in range(3)] + [{"DeleteRequest": {"Key": keys[2]}}]
            }
        )


def test_query_answers_as_moto_does(ddb: Any, table_name: str) -> None:
    rng = random.Random(20240611)
    with _Batch(ddb, table_name) as put:
        for _ in range(250):
            put(_item(rng))
        for sk in ("a#1", "a#2", "ab#1", "b#1"):  # the same sort keys in every partition
            for pk in ("p0", "p1", "p2", "p3", "p4"):
                put(_item(rng, pk, sk))
    table = _moto_table(table_name)
    pages = 0
    for round_ in range(6):
        for _ in range(40):
            pages += _compare_paging(table, _query_args(rng))
        _write_some(ddb, table_name, rng, table, round_)
    print(f"{pages} pages compared")
    assert pages > 250


def test_pages_end_at_1mb_as_in_moto(ddb: Any, table_name: str) -> None:
    """Items of up to ~390 KB: pages end at moto's 1 MB cap, also on items past the range."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    rng = random.Random(11)
    for i in range(24):
        item = _item(rng, "big", f"{rng.choice(ALPHABET)}#{i:02d}")
        item["xpad"] = {"S": "x" * rng.choice([1_000, 90_000, 200_000, 300_000, 390_000])}
        item["g"] = {"S": "gbig"}
        ddb.put_item(TableName=table_name, Item=item)
    table = _moto_table(table_name)
    pages = 0
    for _ in range(80):
        args = _query_args(rng)
        if args["index_name"] == "by_h":
            continue
        attr, value = ("g", "gbig") if args["index_name"] else ("pk", "big")
        args["hash_key"] = DynamoType({"S": value})
        args["hash_key_conditions"] = [(attr, args["hash_key"])]
        args["limit"] = rng.choice([2, 3, 7, None])
        pages += _compare_paging(table, args)
    assert pages > 80
    big = [
        (None, "pk = :p", {":p": {"S": "big"}}, None, None),
        (None, "pk = :p AND sk < :s", {":p": {"S": "big"}, ":s": {"S": "b"}}, ("sk", "<", {"S": "b"}), "v > :v"),
        ("by_g", "g = :p", {":p": {"S": "gbig"}}, None, "v > :v"),
    ]
    for case in big:
        for forward in (True, False):
            for limit in (2, None):
                _check_api(ddb, table_name, case, forward, limit, "COUNT")


def test_the_fast_path_is_taken(ddb: Any, table_name: str) -> None:
    """Not a vacuous comparison: ordinary queries are planned here, not handed to moto whole."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from local_runtime.emulator.server import _plan_query

    rng = random.Random(7)
    with _Batch(ddb, table_name) as put:
        for _ in range(100):
            put(_item(rng))
    table = _moto_table(table_name)
    cases = (
        (None, [("pk", DynamoType({"S": "p0"}))], 5),
        ("by_g", [("g", DynamoType({"S": "g0"}))], 5),
        ("by_h", [("h", DynamoType({"S": "h0"}))], None),
    )
    for index, hash_conditions, limit in cases:
        hash_key = hash_conditions[0][1]
        plan = _plan_query(table, hash_key, None, [], limit, None, False, index, False, hash_conditions, [], {})
        assert plan is not None, index
        page, taken, ended = plan
        assert page, index
        if limit is not None:
            assert (len(page), taken, ended) == (limit + 1, limit, True)
        else:
            assert (len(page), taken, ended) == (taken, taken, False)


# (IndexName, key condition, its values, range condition as moto gets it, FilterExpression)
API_CASES = [
    (
        None,
        "pk = :p AND begins_with(sk, :s)",
        {":p": {"S": "p1"}, ":s": {"S": "a"}},
        ("sk", "BEGINS_WITH", {"S": "a"}),
        "v > :v",
    ),
    (None, "pk = :p", {":p": {"S": "p2"}}, None, None),
    (
        "by_g",
        "g = :p AND gr BETWEEN :lo AND :hi",
        {":p": {"S": "g1"}, ":lo": {"N": "0"}, ":hi": {"N": "3"}},
        ("gr", "BETWEEN", {"N": "0"}, {"N": "3"}),
        "v > :v",
    ),
    ("by_g", "g = :p", {":p": {"S": "g2"}}, None, "v > :v"),
    ("by_h", "h = :p", {":p": {"S": "h0"}}, None, "v > :v"),  # an INCLUDE index: moto filters its projection
    ("by_h", "h = :p", {":p": {"S": "h1"}}, None, "xpad > :v"),  # ... which lacks xpad
    ("by_h", "h = :p", {":p": {"S": "h2"}}, None, None),
]


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[4]}")
def test_query_through_the_api(ddb: Any, table_name: str, case: tuple[Any, ...]) -> None:
    """The server's Query (parsing, Select COUNT, ExclusiveStartKey as JSON) over the patch."""
    rng = random.Random(3)
    with _Batch(ddb, table_name) as put:
        for _ in range(200):
            put(_item(rng))
    for forward in (True, False):
        for limit in (7, None):
            for select in ("ALL_ATTRIBUTES", "COUNT"):
                _check_api(ddb, table_name, case, forward, limit, select)


def _check_api(ddb: Any, table_name: str, case: tuple[Any, ...], forward: bool, limit: int | None, select: str) -> None:
    """Page through a query with the server (patched) and with moto's own Table.query."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    from local_runtime.emulator.server import _lock

    index, key_condition, key_values, condition, filter_expr = case
    table = _moto_table(table_name)
    original = Table.__dict__["query"].__wrapped__
    hash_attr = key_condition.split()[0]
    hash_value = DynamoType(key_values[":p"])
    values = dict(
        key_values, **({":v": {"N": "5"}} if filter_expr == "v > :v" else {":v": {"S": "x"}} if filter_expr else {})
    )

    api: list[tuple[Any, ...]] = []
    start_key = None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start_key} if start_key else {}
        if index:
            kwargs["IndexName"] = index
        if limit:
            kwargs["Limit"] = limit
        if filter_expr:
            kwargs["FilterExpression"] = filter_expr
        r = ddb.query(
            TableName=table_name, KeyConditionExpression=key_condition, ScanIndexForward=forward,
            Select=select, ExpressionAttributeValues=values, **kwargs,
        )
        api.append((r["Count"], r["ScannedCount"], r.get("Items"), r.get("LastEvaluatedKey")))
        start_key = r.get("LastEvaluatedKey")
        if not start_key:
            break
    expected: list[tuple[Any, ...]] = []
    start_key = None
    while True:
        with _lock:
            items, scanned, last_key = _answer(
                original(
                    table,
                    hash_value,
                    condition[1] if condition else None,
                    [DynamoType(v) for v in condition[2:]] if condition else [],
                    limit,
                    start_key,
                    forward,
                    None,
                    index,
                    False,
                    get_filter_expression(filter_expr, {}, values),
                    hash_key_conditions=[(hash_attr, hash_value)],
                    range_key_conditions=[(condition[0], condition[1], [DynamoType(v) for v in condition[2:]])]
                    if condition
                    else [],
                )
            )
        listed = None if select == "COUNT" else [i["Attributes"] for i in items]
        expected.append((len(items), scanned, listed, last_key))
        if last_key is None:
            break
        start_key = last_key
    assert api == expected, (case, forward, limit, select)


class _Batch:
    """Batched puts of raw items."""

    def __init__(self, ddb: Any, name: str) -> None:
        self.ddb, self.name = ddb, name
        self.pending: list[dict[str, Any]] = []

    def __enter__(self) -> Any:
        return self.put

    def put(self, item: dict[str, Any]) -> None:
        self.pending.append({"PutRequest": {"Item": item}})
        if len(self.pending) == 25:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.ddb.batch_write_item(RequestItems={self.name: self.pending})
            self.pending = []

    def __exit__(self, *exc: object) -> None:
        self.flush()


@pytest.mark.skipif(not os.environ.get("HAUL_MEASURE_QUERY"), reason="a measurement: HAUL_MEASURE_QUERY=1 to run it")
def test_measure_task_listing_at_10000(ddb: Any) -> None:
    """Not an assertion on timings: prints what listing 10,000 tasks of one owner costs, with
    this emulator's Query and with moto's. Uses a table of its own (deleted afterwards)."""
    from moto.dynamodb.models.table import Table

    from chalicelib.persistence.models import TaskModel

    real = TaskModel.Meta.table_name
    spec = ddb.describe_table(TableName=real)["Table"]
    name = f"{real}-scale-{uuid.uuid4().hex[:6]}"
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        GlobalSecondaryIndexes=[
            {k: g[k] for k in ("IndexName", "KeySchema", "Projection")} for g in spec.get("GlobalSecondaryIndexes", [])
        ],
    )
    TaskModel.Meta.table_name = name
    try:
        with TaskModel.batch_write() as batch:
            for i in range(10_000):
                tid = str(uuid.uuid4())
                batch.save(TaskModel(
                    tid, owner="u1", url=f"http://example.com/f{i}.bin", filename=f"f{i}.bin", key="k",
                    state="completed" if i % 3 else "queued", owner_state="u1#completed" if i % 3 else "u1#queued",
                    rank=f"100#{i:020d}", created_key=f"{1700000000000 + i:013d}#{tid}",
                    created_at=1700000000000 + i, updated_at=1,
                ))
        patched: Any = Table.__dict__["query"]
        spent = {"query": 0.0}

        def timed(impl: Any) -> Any:
            def query(self: Any, *args: Any, **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return impl(self, *args, **kwargs)
                finally:
                    spent["query"] += time.perf_counter() - t
            return query

        first = TaskModel.by_owner.query("u1", scan_index_forward=False, limit=50)
        some_id = list(first)[10].id
        deep = first.last_evaluated_key
        for _ in range(150):  # page 152 of 200
            r = TaskModel.by_owner.query("u1", scan_index_forward=False, limit=50, last_evaluated_key=deep)
            list(r)
            deep = r.last_evaluated_key
        cases = {
            "page start": lambda: list(TaskModel.by_owner.query("u1", scan_index_forward=False, limit=50)),
            "page deep": lambda: list(
                TaskModel.by_owner.query("u1", scan_index_forward=False, limit=50, last_evaluated_key=deep)
            ),
            "by_state": lambda: list(TaskModel.by_state.query("queued", limit=50)),
            "count": lambda: TaskModel.by_owner.count("u1"),
            # a write, then the first page: the partition's candidates are sorted again
            "write+page": lambda: (
                TaskModel.get(some_id).update(actions=[TaskModel.updated_at.add(1)]),
                list(TaskModel.by_owner.query("u1", scan_index_forward=False, limit=50)),
            ),
        }
        for label, impl in (("moto", patched.__wrapped__), ("emulator", patched)):
            Table.query = timed(impl)  # type: ignore[method-assign]  # this test alone runs: no other query in between
            try:
                for case, run in cases.items():
                    best = None
                    for _ in range(3):
                        spent["query"] = 0.0
                        t = time.perf_counter()
                        run()
                        total = time.perf_counter() - t
                        if best is None or total < best[0]:
                            best = (total, spent["query"])
                    assert best is not None
                    print(f"{label:9} {case:11} {best[0] * 1000:8.1f} ms  (in Table.query {best[1] * 1000:7.1f} ms)")
            finally:
                Table.query = patched  # type: ignore[method-assign]
    finally:
        TaskModel.Meta.table_name = real
        ddb.delete_table(TableName=name)

