"""DynamoDB item answers decoded without botocore's walk (chalicelib.adapters.aws.fast_item_parsing) are
the answers botocore gives: every attribute type, every item operation, errors as errors; an
answer holding binary values takes botocore's own way (it must decode their base64)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import fast_item_parsing

TABLE_KEY = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ITEM = {
    "pk": {"S": "p"}, "sk": {"S": "1"}, "text": {"S": "a \"B\": lookalike, ünïcode"},
    "n": {"N": "42"}, "f": {"N": "1.5"}, "big": {"N": "12345678901234567890"},
    "yes": {"BOOL": True}, "no": {"BOOL": False}, "nothing": {"NULL": True},
    "map": {"M": {"0": {"N": "5"}, "k": {"S": "v"}, "deep": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}}}}},
    "list": {"L": [{"S": "a"}, {"M": {}}, {"BOOL": True}]},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
}
BINARY = {"pk": {"S": "p"}, "sk": {"S": "2"}, "blob": {"B": b"\x00\x01bytes"}, "blobs": {"BS": [b"x", b"y"]}}


@pytest.fixture(scope="module")
def clients(emulator: str) -> Iterator[tuple[Any, Any, str, list[bytes]]]:
    plain = boto3.client("dynamodb", region_name="us-east-1")
    fast = fast_item_parsing(boto3.client("dynamodb", region_name="us-east-1"))
    bodies: list[bytes] = []  # what botocore was left to parse, per answer of the fast client
    fast.meta.events.register_last(
        "before-parse.dynamodb", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    table = "parsing-" + uuid.uuid4().hex[:8]
    plain.create_table(TableName=table, KeySchema=TABLE_KEY, BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "sk", "AttributeType": "S"}])
    plain.put_item(TableName=table, Item=ITEM)
    plain.put_item(TableName=table, Item=BINARY)
    yield plain, fast, table, bodies
    plain.delete_table(TableName=table)


def _same(plain: Any, fast: Any, call: str, **kwargs: Any) -> dict[str, Any]:
    theirs = getattr(plain, call)(**kwargs)
    ours = getattr(fast, call)(**kwargs)
    for answer in (theirs, ours):
        answer.pop("ResponseMetadata")
    assert ours == theirs
    return ours


def test_item_answers_are_botocores_answers_and_skip_its_walk(clients: Any) -> None:
    plain, fast, table, bodies = clients
    key = {"pk": {"S": "p"}, "sk": {"S": "1"}}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_item", {"TableName": table, "Key": key, "ConsistentRead": True}),
        ("query", {"TableName": table, "KeyConditionExpression": "pk = :p AND sk = :s",
                   "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": "1"}}}),
        ("scan", {"TableName": table, "FilterExpression": "sk = :s", "ExpressionAttributeValues": {":s": {"S": "1"}}}),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key]}}}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": table, "Key": key}}]}),
        ("update_item", {"TableName": table, "Key": key, "UpdateExpression": "SET n = :n",
                         "ExpressionAttributeValues": {":n": {"N": "42"}}, "ReturnValues": "ALL_NEW"}),
        ("put_item", {"TableName": table, "Item": ITEM, "ReturnValues": "ALL_OLD"}),
    ]
    for call, kwargs in calls:
        before = len(bodies)
        answer = _same(plain, fast, call, **kwargs)
        assert answer, call
        assert bodies[before:] == [b"{}"], f"{call}: botocore walked the answer"
    got = fast.get_item(TableName=table, Key=key)["Item"]
    assert got == ITEM


def test_an_answer_with_binary_values_is_left_to_botocore(clients: Any) -> None:
    plain, fast, table, bodies = clients
    key = {"pk": {"S": "p"}, "sk": {"S": "2"}}
    answer = _same(plain, fast, "get_item", TableName=table, Key=key, ConsistentRead=True)
    assert answer["Item"]["blob"] == {"B": b"\x00\x01bytes"}
    assert sorted(answer["Item"]["blobs"]["BS"]) == [b"x", b"y"]
    assert bodies[-1] != b"{}"


def test_errors_are_errors(clients: Any) -> None:
    _, fast, table, _ = clients
    with pytest.raises(ClientError) as caught:
        fast.put_item(TableName=table, Item=ITEM, ConditionExpression="attribute_not_exists(pk)")
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as missing:
        fast.get_item(TableName="no-such-table-" + uuid.uuid4().hex[:6], Key={"pk": {"S": "p"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
