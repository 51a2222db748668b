"""The embedded emulator's UpdateItem keeps each expression's parsed tree and checks the whole
expression once (local_runtime/emulator/expressions.py): the same text with other values and
names updates what it says, concurrent requests sharing a tree do not disturb each other, and
invalid expressions are still refused. Its copy of the tree, its class-keyed walks, its one size
check per update and its kept condition tokens change no answer: nested paths, functions and
ADD/DELETE update what they say, an item over 400 KB is refused, and a kept condition is
evaluated with each request's own values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_runtime.emulator.expressions import targets
from local_runtime.emulator.server import _PATCHED

REGION = "us-east-1"
EXPR = "SET #a = :a, #b = if_not_exists(#b, :b), #n = #n + :one REMOVE #gone"


@pytest.fixture()
def ddb(emulator: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=emulator, region_name=REGION)


@pytest.fixture()
def table(ddb: Any) -> Iterator[str]:
    name = f"expressions-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    yield name
    ddb.delete_table(TableName=name)


def _update(ddb: Any, table: str, pk: str, a: str, b: str, names: tuple[str, str] = ("a", "b")) -> dict[str, Any]:
    return dict(ddb.update_item(
        TableName=table, Key={"pk": {"S": pk}}, UpdateExpression=EXPR,
        ExpressionAttributeNames={"#a": names[0], "#b": names[1], "#n": "n", "#gone": "gone"},
        ExpressionAttributeValues={":a": {"S": a}, ":b": {"S": b}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )["Attributes"])


def test_the_patches_are_applied_in_the_test_process(emulator: str) -> None:
    for cls, name, _ in targets():
        assert getattr(cls.__dict__[name], _PATCHED, False), (cls, name)


def test_one_text_with_other_values_and_names_updates_what_it_says(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": "0"}, "gone": {"S": "bye"}})
    first = _update(ddb, table, "x", "one", "kept")
    again = _update(ddb, table, "x", "two", "ignored")
    other = _update(ddb, table, "x", "three", "new", names=("c", "d"))
    assert (first["a"], first["b"], first["n"], "gone" in first) == ({"S": "one"}, {"S": "kept"}, {"N": "1"}, False)
    assert (again["a"], again["b"], again["n"]) == ({"S": "two"}, {"S": "kept"}, {"N": "2"})
    assert (other["c"], other["d"], other["a"], other["n"]) == ({"S": "three"}, {"S": "new"}, {"S": "two"}, {"N": "3"})


def test_concurrent_updates_with_one_text_each_get_their_own_values(ddb: Any, table: str) -> None:
    keys = [f"k{i}" for i in range(40)]
    for k in keys:
        ddb.put_item(TableName=table, Item={"pk": {"S": k}, "n": {"N": "0"}})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda k: _update(ddb, table, k, f"a-{k}", f"b-{k}"), keys))
    assert [(x["pk"]["S"], x["a"]["S"], x["b"]["S"]) for x in answers] == [(k, f"a-{k}", f"b-{k}") for k in keys]


@pytest.mark.parametrize("expression, names", [
    ("SET #a = :a, #a = :b", {"#a": "a"}),  # one path twice
    ("SET #a = :a REMOVE #a", {"#a": "a"}),  # overlapping actions
    ("SET #a = :a SET #b = :b", {"#a": "a", "#b": "b"}),  # two SET clauses
    ("SET #pk = :a", {"#pk": "pk"}),  # the key
])
def test_invalid_expressions_are_still_refused(ddb: Any, table: str, expression: str, names: dict[str, str]) -> None:
    values = {k: {"S": "v"} for k in (":a", ":b") if k in expression}
    for _ in range(2):  # the second time from the kept tree
        with pytest.raises(ClientError) as refused:
            ddb.update_item(TableName=table, Key={"pk": {"S": "y"}}, UpdateExpression=expression,
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_nested_paths_functions_add_and_delete_update_what_they_say(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": "z"}, "m": {"M": {"k": {"S": "old"}}}, "l": {"L": [{"N": "1"}]},
                                        "s": {"SS": ["a", "b"]}, "n": {"N": "5"}})
    expression = "SET #m.#k = :v, #l = list_append(#l, :x), #new = if_not_exists(#new, :v) ADD #n :one DELETE #s :a"
    for value, expect_n in (("first", "6"), ("second", "7")):  # the second from the kept tree
        got = ddb.update_item(
            TableName=table, Key={"pk": {"S": "z"}}, UpdateExpression=expression,
            ExpressionAttributeNames={"#m": "m", "#k": "k", "#l": "l", "#new": "new", "#n": "n", "#s": "s"},
            ExpressionAttributeValues={":v": {"S": value}, ":x": {"L": [{"N": expect_n}]}, ":one": {"N": "1"},
                                       ":a": {"SS": ["a"]}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        assert got["m"] == {"M": {"k": {"S": value}}} and got["n"] == {"N": expect_n}
        assert got["new"] == {"S": "first"} and got["s"] == {"SS": ["b"]}
    assert got["l"] == {"L": [{"N": "1"}, {"N": "6"}, {"N": "7"}]}


def test_an_update_past_400_kb_is_refused_and_one_below_goes_through(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "a": {"S": "x" * 150_000}})
    names = {"#b": "b", "#c": "c"}
    ddb.update_item(TableName=table, Key={"pk": {"S": "big"}}, UpdateExpression="SET #b = :b, #c = :c",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":b": {"S": "y" * 100_000}, ":c": {"S": "z" * 100_000}})
    with pytest.raises(ClientError) as refused:
        ddb.update_item(TableName=table, Key={"pk": {"S": "big"}}, UpdateExpression="SET #b = :b, #c = :c",
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues={":b": {"S": "y" * 150_000}, ":c": {"S": "z" * 150_000}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in refused.value.response["Error"]["Message"].lower()


def test_a_kept_condition_is_evaluated_with_each_requests_values(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}, "v": {"N": "3"}, "state": {"S": "queued"}})
    condition = "(#st = :want AND #v < :most) OR attribute_not_exists(#v)"
    names = {"#st": "state", "#v": "v", "#x": "x"}

    def update(want: str, most: str) -> bool:
        try:
            ddb.update_item(TableName=table, Key={"pk": {"S": "c"}}, UpdateExpression="SET #x = :w",
                            ConditionExpression=condition, ExpressionAttributeNames=names,
                            ExpressionAttributeValues={":want": {"S": want}, ":most": {"N": most}, ":w": {"S": want}})
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    assert [update("queued", "4"), update("running", "4"), update("queued", "3"), update("queued", "9")] == [
        True, False, False, True]


@pytest.mark.parametrize("expression", [
    "SET a = :a, b.c = :b, d[1] = list_append(d, :d), e = if_not_exists(e, :e) REMOVE f, g ADD h :h DELETE i :i",
    "SET #0 = :0, #1 = :1 + :2, #2 = #3 - :3",
    "REMOVE a.b[2], c",
    "ADD a :a SET b = :b",
])
def test_clauses_are_found_as_moto_finds_them(emulator: str, expression: str) -> None:
    from moto.dynamodb.parsing import ast_nodes as moto_nodes
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    ast_nodes: Any = moto_nodes  # (moto's module has no type hints for its classes)
    tree = UpdateExpressionParser.make(expression)
    ours = ast_nodes.Node.find_clauses
    theirs = getattr(ours, "__wrapped__")  # noqa: B009 (mypy)
    kinds = [ast_nodes.UpdateExpressionSetAction, ast_nodes.UpdateExpressionAddAction,
             ast_nodes.UpdateExpressionRemoveAction, ast_nodes.UpdateExpressionDeleteAction,
             ast_nodes.UpdateExpressionSetClause, ast_nodes.UpdateExpressionAddClause,
             ast_nodes.ExpressionAttributeName, ast_nodes.ExpressionAttributeValue]
    for wanted in [[k] for k in kinds] + [kinds[:4]]:
        assert ours(tree, wanted) == theirs(tree, wanted)
        assert all(type(c) in wanted for c in ours(tree, wanted))
    assert ours(tree, kinds[:4])  # every expression here has actions


def _condition_requests(ddb: Any, table: str) -> list[Any]:
    """PutItem, UpdateItem, DeleteItem and Query with conditions that hold and that do not;
    each answer (or error code and message), in order."""
    names = {"#st": "state", "#v": "v"}
    requests = [
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "state": {"S": "queued"}, "v": {"N": "1"}},
                             ConditionExpression="attribute_not_exists(pk)"),
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "p"}}, ConditionExpression="attribute_not_exists(pk)"),
        lambda: ddb.update_item(TableName=table, Key={"pk": {"S": "p"}}, UpdateExpression="SET #v = #v + :one",
                                ConditionExpression="#st = :want AND #v < :most", ExpressionAttributeNames=names,
                                ExpressionAttributeValues={":want": {"S": "queued"}, ":most": {"N": "5"},
                                                           ":one": {"N": "1"}}, ReturnValues="ALL_NEW"),
        lambda: ddb.update_item(TableName=table, Key={"pk": {"S": "p"}}, UpdateExpression="SET #v = #v + :one",
                                ConditionExpression="#st = :want AND #v < :most", ExpressionAttributeNames=names,
                                ExpressionAttributeValues={":want": {"S": "running"}, ":most": {"N": "5"},
                                                           ":one": {"N": "1"}}, ReturnValues="ALL_NEW"),
        lambda: ddb.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression="#v > :least",
                          ExpressionAttributeNames={"#v": "v"},
                          ExpressionAttributeValues={":p": {"S": "p"}, ":least": {"N": "1"}}),
        lambda: ddb.delete_item(TableName=table, Key={"pk": {"S": "p"}}, ConditionExpression="#v = :two",
                                ExpressionAttributeNames={"#v": "v"}, ExpressionAttributeValues={":two": {"N": "3"}}),
        lambda: ddb.delete_item(TableName=table, Key={"pk": {"S": "p"}}, ConditionExpression="#v = :two",
                                ExpressionAttributeNames={"#v": "v"}, ExpressionAttributeValues={":two": {"N": "2"}},
                                ReturnValues="ALL_OLD"),
    ]
    answers: list[Any] = []
    for request in requests:
        try:
            answer = dict(request())
            answer.pop("ResponseMetadata", None)
            answers.append(answer)
        except ClientError as exc:
            answers.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
    return answers


def test_a_condition_is_parsed_once_per_request_and_answers_as_motos(
        ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parses: list[str] = []
    paths = ConditionExpressionParser._parse_paths  # called once by every parse of a text

    def counted(self: Any, nodes: Any) -> Any:
        parses.append(self.condition_expression)
        return paths(self, nodes)

    monkeypatch.setattr(ConditionExpressionParser, "_parse_paths", counted)
    ours = _condition_requests(ddb, table)
    assert len(parses) == 7  # one per request (moto's handler and its backend parse each: 14)

    moto_parse = getattr(ConditionExpressionParser.parse, "__wrapped__")  # noqa: B009 (mypy)
    monkeypatch.setattr(ConditionExpressionParser, "parse", moto_parse)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p"}})
    theirs = _condition_requests(ddb, table)
    assert ours == theirs
    assert [a[0] if type(a) is tuple else "ok" for a in ours] == [
        "ok", "ConditionalCheckFailedException", "ok", "ConditionalCheckFailedException", "ok",
        "ConditionalCheckFailedException", "ok"]
    assert ours[2]["Attributes"]["v"] == {"N": "2"} and ours[4]["Count"] == 1
    assert ours[6]["Attributes"]["v"] == {"N": "2"}
