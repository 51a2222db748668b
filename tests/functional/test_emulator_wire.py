"""The embedded emulator's DynamoDB wire fast path (local_runtime/emulator/server.py) parses requests
and writes responses exactly as moto's generic parser and serializer do: the same bytes, for
every attribute type, for every item operation, and moto's own walk for anything unusual."""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

BLOB = bytes(range(256)) + b"\x00\xff"
BLOB64 = base64.b64encode(BLOB).decode()


def _item(i: int = 0) -> dict[str, Any]:
    """Every AttributeValue type, nested, unicode, large and small numbers (DynamoDB JSON)."""
    return {
        "pk": {"S": f"p{i}"},
        "sk": {"N": str(i)},
        "s": {"S": 'ünïcødé ✓ 🚀 "quoted" \\ back\nslash'},
        "empty": {"S": ""},
        "n_big": {"N": "123456789012345678901234567890123456.5"},
        "n_small": {"N": "-0.000000000000000000000000000000000001"},
        "n_exp": {"N": "1E+10"},
        "b": {"B": BLOB64},
        "ss": {"SS": ["a", "ß", "🚀"]},
        "ns": {"NS": ["1", "-2.5", "99999999999999999999999999999999999999"]},
        "bs": {"BS": [BLOB64, base64.b64encode(b"x").decode()]},
        "t": {"BOOL": True},
        "f": {"BOOL": False},
        "null": {"NULL": True},
        "m": {
            "M": {
                "nested": {
                    "M": {"deep": {"L": [{"S": "x"}, {"N": "1"}, {"B": BLOB64}, {"NULL": True}, {"M": {}}, {"L": []}]}}
                },
                "ключ": {"SS": ["v"]},
                "empty_m": {"M": {}},
            }
        },
        "l": {"L": [{"L": [{"BOOL": False}]}, {"BS": [BLOB64]}, {"NS": ["0"]}, {"S": "é"}]},
        "ünï": {"S": "key in unicode"},
    }


# -- the serializer, on results as moto's handlers build them ------------------------------


def _moto_attrs(item: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    return Item(DynamoType(item["pk"]), DynamoType(item["sk"]), item).attrs


def _results() -> Iterator[tuple[str, Callable[[], Any], bool]]:
    """(operation, a thunk building its ActionResult as moto's handlers build them, whether
    the compiled walk writes it itself)."""
    for op, build in _ordinary_results():
        yield op, build, True
    for op, build in _odd_results():
        yield op, build, False


def _ordinary_results() -> Iterator[tuple[str, Callable[[], Any]]]:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    attrs = [_moto_attrs(_item(i)) for i in range(3)]
    cc = {"TableName": "t", "CapacityUnits": 1.0}
    key = {"pk": attrs[0]["pk"], "sk": attrs[0]["sk"]}
    yield "GetItem", lambda: DynamoResult({"Item": attrs[0]})
    yield "GetItem", lambda: DynamoResult({})
    yield "GetItem", lambda: DynamoResult({"Item": attrs[1], "ConsumedCapacity": dict(cc)})
    yield "BatchGetItem", lambda: DynamoResult({
        "ConsumedCapacity": [{"CapacityUnits": 3, "TableName": "t"}],  # an int: moto writes 3.0
        "Responses": {"t": list(attrs), "u": []},
        "UnprocessedKeys": {"t": {"Keys": [key]}},
    })
    for op in ("Query", "Scan"):
        yield op, lambda: DynamoResult({"Count": 3, "ScannedCount": 7, "Items": list(attrs), "LastEvaluatedKey": key})
        yield op, lambda: DynamoResult({"Count": 0, "ScannedCount": 0, "Items": []})
        yield op, lambda: DynamoResult({"Count": 2, "ScannedCount": 2})  # Select=COUNT
        yield op, lambda: DynamoResult({"Count": 1, "ScannedCount": 1, "Items": attrs[:1], "ConsumedCapacity": {
            "TableName": "t", "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0},
            "LocalSecondaryIndexes": {"i": {"CapacityUnits": 1.0}}}})
    for op in ("PutItem", "UpdateItem", "DeleteItem"):
        yield op, lambda: DynamoResult({"Attributes": attrs[2]})
        yield op, lambda: DynamoResult({"ConsumedCapacity": dict(cc)})
        yield op, lambda: DynamoResult({})
    # DeleteItem's answer holds a key that is no member (moto's walk leaves it out).
    yield "DeleteItem", lambda: DynamoResult({"Attributes": attrs[2], "ConsumedCapacityUnits": 0.5})
    yield "DeleteItem", lambda: DynamoResult({"ConsumedCapacityUnits": 0.5})
    yield "BatchWriteItem", lambda: ActionResult({
        "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}],
        "ItemCollectionMetrics": {},
        "UnprocessedItems": {},
    })
    yield "TransactGetItems", lambda: DynamoResult({"Responses": [{"Item": attrs[0]}, {}, {"Item": attrs[1]}]})
    yield "TransactWriteItems", lambda: ActionResult({})
    yield "TransactWriteItems", lambda: DynamoResult({"ConsumedCapacity": [dict(cc)]})


def _odd_results() -> Iterator[tuple[str, Callable[[], Any]]]:
    """Unusual results: each goes to moto's walk (or answers as it would)."""
    from moto.core.responses import ActionResult

    odd: list[tuple[str, Any]] = [
        ("Query", {"Count": 1, "Items": [None]}),
        ("Query", {"Count": None, "ScannedCount": 1}),
        ("Query", {"Count": "4", "ScannedCount": True}),
        ("Query", {"Count": 1, "Unknown": 1}),
        ("Query", {"Count": 1, "count": 2}),
        ("Query", {"count": 2}),  # moto's picker reads Count as count too
        ("PutItem", {"AttributeMap": {"a": {"S": "x"}}}),  # and Attributes under its shape's name
        ("PutItem", {"AttributeMap": {"a": {"S": "x"}}, "Attributes": {"b": {"S": "y"}}}),
        ("GetItem", {"Item": {"a": {"s": "lower"}}}),
        ("Query", {"Items": "not a list"}),
        ("Query", {"Items": ({"a": {"S": "x"}},)}),
        ("Query", {"Items": [{"a": {"S": None}}, {"b": {}}]}),
        ("Query", {"Items": [{"a": {"S": "x", "N": "1", "BOOL": False}}]}),
        ("Query", {"Items": [{"a": {"Q": "x"}}]}),
        ("Query", {"Items": [{"a": {"s": "x"}}]}),
        ("Query", {"Items": [{"a": {"B": "not bytes: a str"}}, {"b": {"B": bytearray(b"\x01")}}]}),
        ("Query", {"Items": [{"a": {"N": Decimal("1.5")}}]}),
        ("Query", {"Items": [{"a": {"N": 15}}, {"b": {"BOOL": "yes"}}]}),
        ("Query", {"Items": [{1: {"S": "x"}}]}),
        ("Query", {"Items": [{"a": None}]}),
        ("Query", {"Items": [{"a": {"M": None}}]}),
        ("Query", {"Items": [{"a": {"L": [None]}}]}),
        ("GetItem", {"Item": {"when": {"S": datetime(2024, 1, 2, 3, 4, 5)}}}),
        ("BatchGetItem", {"ConsumedCapacity": [{"CapacityUnits": "2", "TableName": "t"}], "Responses": {}}),
        ("BatchGetItem", {"Responses": {"t": None}}),
        ("TransactGetItems", {"Responses": [None]}),
        ("GetItem", [1, 2]),
        ("GetItem", None),
    ]
    for op, raw in odd:
        yield op, functools.partial(ActionResult, raw)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 -- the two walks must fail alike too
        return ("error", type(e).__name__)


@pytest.mark.parametrize("index", range(len(list(_results()))))
def test_the_serializer_writes_what_moto_writes(index: int) -> None:
    from moto.core.responses import ActionContext
    from moto.core.serialize import JSONSerializer
    from moto.core.utils import get_service_model

    from local_runtime.emulator.server import _fast_serializer

    op, build, _ = list(_results())[index]
    model = get_service_model("dynamodb")
    operation = model.operation_model(op)

    class Handler:
        RESPONSE_KEY_PATH_TO_TRANSFORMER: dict[str, Any] = {}

    def serialize(cls: type) -> Any:
        return build().execute_result(ActionContext(model, operation, cls, Handler()))  # type: ignore[arg-type]

    theirs, ours = _outcome(lambda: serialize(JSONSerializer)), _outcome(lambda: serialize(_fast_serializer()))
    assert ours == theirs  # status, headers and the body's bytes
    if theirs[0] == "ok":
        assert json.loads(ours[1][2]) == json.loads(theirs[1][2])


def test_the_compiled_walk_takes_the_common_results() -> None:
    """The fast path is taken (not moto's walk behind it) for every ordinary result."""
    from moto.core.utils import get_service_model

    from local_runtime.emulator.server import _out_fn

    model = get_service_model("dynamodb")
    ordinary = [(op, build) for op, build, common in _results() if common]
    assert len(ordinary) >= 20
    for op, build in ordinary:
        _out_fn(model.operation_model(op).output_shape, model)(build().result)  # raises _Unhandled if not


# -- the parser, on request bodies as the SDKs send them -----------------------------------


def _requests(table: str) -> Iterator[tuple[str, Any]]:
    item = _item(1)
    key = {"pk": item["pk"], "sk": item["sk"]}
    yield "PutItem", {"TableName": table, "Item": item, "ReturnValues": "ALL_OLD",
                      "ConditionExpression": "attribute_not_exists(#x) OR #x <> :v",
                      "ExpressionAttributeNames": {"#x": "s"}, "ExpressionAttributeValues": {":v": {"B": BLOB64}}}
    yield "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"}
    yield "GetItem", {"TableName": table, "Key": key, "ProjectionExpression": "#m.nested, l[0], ss",
                      "ExpressionAttributeNames": {"#m": "m"}}
    yield "UpdateItem", {"TableName": table, "Key": key, "UpdateExpression": "SET #n = :one, bs = :bs ADD ns :ns",
                         "ExpressionAttributeNames": {"#n": "n2"}, "ExpressionAttributeValues": {
                             ":one": {"N": "1"}, ":bs": {"BS": [BLOB64]}, ":ns": {"NS": ["7"]}},
                         "ReturnValues": "ALL_NEW"}
    yield "Query", {"TableName": table, "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                    "ExpressionAttributeValues": {":p": {"S": "p1"}, ":a": {"N": "-1"}, ":b": {"N": "1E+3"}},
                    "Limit": 5, "ScanIndexForward": False, "ReturnConsumedCapacity": "INDEXES"}
    yield "Query", {"TableName": table, "KeyConditionExpression": "pk = :p", "Select": "COUNT",
                    "ExpressionAttributeValues": {":p": {"S": "p1"}}, "ExclusiveStartKey": key}
    yield (
        "Scan",
        {
            "TableName": table,
            "FilterExpression": "contains(ss, :s) AND b = :b",
            "ExpressionAttributeValues": {":s": {"S": "ß"}, ":b": {"B": BLOB64}},
            "Segment": 0,
            "TotalSegments": 1,
        },
    )
    yield "BatchGetItem", {"RequestItems": {table: {"Keys": [key, {"pk": {"S": "nope"}, "sk": {"N": "0"}}],
                                                   "ProjectionExpression": "pk, b, bs"}}}
    yield (
        "BatchWriteItem",
        {
            "RequestItems": {
                table: [
                    {"PutRequest": {"Item": _item(2)}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "p9"}, "sk": {"N": "9"}}}},
                ]
            }
        },
    )
    yield (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": table, "Key": key}},
                {"Get": {"TableName": table, "Key": {"pk": {"S": "x"}, "sk": {"N": "0"}}}},
            ]
        },
    )
    yield "TransactWriteItems", {"TransactItems": [
        {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": table, "Item": _item(3)}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "p3"}, "sk": {"N": "3"}}, "UpdateExpression": "REMOVE l"}},
    ]}
    yield "DeleteItem", {"TableName": table, "Key": {"pk": {"S": "p3"}, "sk": {"N": "3"}}, "ReturnValues": "ALL_OLD"}
    # Unusual requests: moto's parser decides (and the handlers answer what they answer).
    yield "GetItem", {"TableName": table, "Key": {"pk": {"S": "p1", "N": "1"}, "sk": {"N": "1"}}}
    yield "GetItem", {"TableName": table, "Key": {"pk": {"Q": "p1"}, "sk": {"N": "1"}}}
    yield "GetItem", {"TableName": table, "Key": {"pk": {"S": None}, "sk": {"N": "1"}}}
    yield "GetItem", {"TableName": table, "Key": "not a map"}
    yield "GetItem", {"TableName": table, "Key": key, "Unknown": [1, 2]}
    yield "Query", {"TableName": table, "KeyConditionExpression": "pk = :p", "Limit": "3",
                    "ExpressionAttributeValues": {":p": {"S": "p1"}}}
    yield "BatchWriteItem", {"RequestItems": {table: "nope"}}
    yield "PutItem", {"TableName": table, "Item": {"pk": {"S": "p5"}, "sk": {"N": "5"}, "b": {"B": "!!not base64"}}}
    yield "PutItem", None
    yield "PutItem", [1]


def _parse(op: str, body: Any, fast: bool) -> Any:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    from local_runtime.emulator.server import _in_fn

    model = get_service_model("dynamodb")
    operation = model.operation_model(op)
    raw = json.dumps(body).encode()
    if not fast:
        return JSONParser(operation, map_type=dict).parse(
            {"method": "POST", "values": {}, "headers": {}, "body": raw, "url_path": "/", "url_params": {}}  # type: ignore[typeddict-item]
        )
    return _in_fn(operation.input_shape, model)(JSONParser(operation)._parse_body_as_json(raw))


@pytest.mark.parametrize("index", range(len(list(_requests("t")))))
def test_the_parser_reads_what_moto_reads(index: int) -> None:
    op, body = list(_requests("t"))[index]
    theirs, ours = _outcome(lambda: _parse(op, body, False)), _outcome(lambda: _parse(op, body, True))
    if ours[0] == "error":  # the emulator then hands the request to moto's parser
        return
    assert ours == theirs


# -- through the emulator's HTTP endpoint: fast path on, and off ---------------------------


@pytest.fixture()
def wire_table(emulator: str) -> Iterator[str]:
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=emulator, region_name="us-east-1")
    name = f"wire-fidelity-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    yield name
    ddb.delete_table(TableName=name)


def _post(endpoint: str, op: str, body: Any) -> tuple[int, str, str]:
    resp = requests.post(
        endpoint, data=json.dumps(body), timeout=30,
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{op}", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=x",
        },
    )
    return resp.status_code, resp.headers.get("Content-Type", ""), resp.text


def test_the_emulator_answers_as_moto_does_over_http(
    emulator: str, wire_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request twice, with the fast path and with moto's walks: the same answers, byte for
    byte (the table's items are written afresh before each request)."""
    from moto.core.parse import JSONParser
    from moto.core.serialize import ResponseSerializer

    from local_runtime.emulator import server as emu

    generic: list[str] = []  # moto's own walks, as they are called
    for cls, name in ((JSONParser, "_parse_json_body"), (ResponseSerializer, "_serialize_result")):
        def counted(*args: Any, _original: Any = getattr(cls, name), _name: str = name) -> Any:
            generic.append(_name)
            return _original(*args)

        monkeypatch.setattr(cls, name, counted)
    assert emu._wire_enabled[0]
    ok = 0
    for op, body in _requests(wire_table):
        answers = []
        for fast in (False, True):
            emu._wire_enabled[0] = fast
            try:
                for i in range(4):  # the same state for both (the wire's JSON: B as base64)
                    assert _post(emulator, "PutItem", {"TableName": wire_table, "Item": _item(i)})[0] == 200
                generic.clear()
                answers.append(_post(emulator, op, body))
                walks = list(generic)
            finally:
                emu._wire_enabled[0] = True
        (status, ctype, moto_body), (fast_status, fast_ctype, fast_body) = answers
        assert (fast_status, fast_ctype, fast_body) == (status, ctype, moto_body), (op, body)
        if status == 200:
            assert json.loads(fast_body) == json.loads(moto_body)
            assert walks == [], (op, walks)  # the fast path answered, not moto's walks behind it
            ok += 1
    assert ok >= 12  # every ordinary request succeeded
