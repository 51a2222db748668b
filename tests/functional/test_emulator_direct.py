"""The emulator's JSON-protocol requests answered without Flask (local_runtime/emulator/direct.py)
get the answer Flask's way gives: the same status, body and headers (but the request id and the
date), for DynamoDB, DynamoDB Streams and SQS, answers and errors alike; and they do skip Flask."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from local_runtime.emulator import direct

AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0")
DIFFERENT_EACH_TIME = {"date", "x-amzn-requestid", "x-amz-request-id"}


def _environ(service: str, target: str, body: dict[str, Any], **extra: str) -> dict[str, Any]:
    json_version = "1.0" if service.startswith("dynamodb") or service == "sqs" else "1.1"
    headers = {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{json_version}",
               "Authorization": AUTH.format(service=service), "Host": "127.0.0.1", **extra}
    return EnvironBuilder(path="/", method="POST", headers=list(headers.items()), data=json.dumps(body)).get_environ()


def _answer(app: Any, call: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        got["status"], got["headers"] = status, headers

    body = b"".join(call(app, environ, start_response))
    headers = {k.lower(): v for k, v in got["headers"] if k.lower() not in DIFFERENT_EACH_TIME}
    return got["status"], headers, body


@pytest.fixture()
def dispatcher(svc) -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    assert hasattr(DomainDispatcherApplication.__call__, "__wrapped__"), "the emulator's patches are not applied"
    return DomainDispatcherApplication(create_backend_app)


@pytest.mark.parametrize("service, target, body", [
    ("dynamodb", "DynamoDB_20120810.ListTables", {}),
    ("dynamodb", "DynamoDB_20120810.DescribeTable", {"TableName": "no-such-table"}),
    ("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "{tasks}", "Key": {"id": {"S": "missing"}}}),
    ("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "{tasks}", "Key": {"nope": {"S": "x"}}}),
    ("dynamodb", "DynamoDB_20120810.Query", {"TableName": "{tasks}", "KeyConditionExpression": "id = :i",
                                             "ExpressionAttributeValues": {":i": {"S": "missing"}}}),
    ("dynamodb", "DynamoDB_20120810.NoSuchAction", {}),
    ("sqs", "AmazonSQS.GetQueueUrl", {"QueueName": "{work}"}),
    ("sqs", "AmazonSQS.GetQueueUrl", {"QueueName": "no-such-queue"}),
    ("dynamodb", "DynamoDBStreams_20120810.ListStreams", {}),
])
def test_answers_as_flask_does(svc, dispatcher, service: str, target: str, body: dict[str, Any]) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    text = json.dumps(body).replace("{tasks}", svc.config.tasks_table).replace("{work}", svc.config.work_queue)
    body = json.loads(text)
    ours = _answer(dispatcher, DomainDispatcherApplication.__call__, _environ(service, target, body))
    flask_way = getattr(DomainDispatcherApplication.__call__, "__wrapped__")  # noqa: B009 (mypy)
    theirs = _answer(dispatcher, flask_way, _environ(service, target, body))
    assert ours == theirs


def test_json_requests_skip_flask_and_the_rest_do_not(svc, dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    import flask
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    through_flask: list[str] = []
    original = flask.Flask.__call__

    def counting(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        through_flask.append(environ.get("HTTP_X_AMZ_TARGET") or environ["PATH_INFO"])
        return original(self, environ, start_response)

    monkeypatch.setattr(flask.Flask, "__call__", counting)
    call = DomainDispatcherApplication.__call__
    status, _, _ = _answer(dispatcher, call, _environ("dynamodb", "DynamoDB_20120810.ListTables", {}))
    assert status.startswith("200") and through_flask == []
    # A browser's request (CORS headers) and a compressed body keep Flask's way.
    _answer(dispatcher, call, _environ("dynamodb", "DynamoDB_20120810.ListTables", {}, Origin="http://x"))
    assert through_flask == ["DynamoDB_20120810.ListTables"]
    assert direct._direct(_environ("dynamodb", "DynamoDB_20120810.ListTables", {}, **{"Content-Encoding": "gzip"}))\
        is False
