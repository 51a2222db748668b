"""chalicelib/observability/logs.py: one JSON object per line, with the request id and task id bound by the
Chalice middleware for REST, SQS and scheduled invocations."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from chalice import Chalice, Rate

from chalicelib.observability import logs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def captured() -> Iterator[io.StringIO]:
    """Everything logged under haul.test, as JsonFormatter writes it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("haul.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_line_even_with_a_traceback(captured) -> None:
    log = logging.getLogger("haul.test")
    with logs.bind(request_id="r-1", task_id="t-1"):
        log.info("task %s: multi\nline", "t-1", extra={"part": 7})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.warning("outside")
    records = lines(captured)
    assert len(captured.getvalue().splitlines()) == 3
    first, second, third = records
    assert first["message"] == "task t-1: multi\nline"
    assert (first["level"], first["logger"]) == ("INFO", "haul.test")
    assert (first["request_id"], first["task_id"], first["part"]) == ("r-1", "t-1", 7)
    assert first["time"].endswith("Z")
    assert "ValueError: boom" in second["error"] and second["task_id"] == "t-1"
    assert "request_id" not in third and "task_id" not in third


def test_bind_nests_and_restores() -> None:
    with logs.bind(request_id="a"):
        with logs.bind(task_id="t", ignored=None):
            assert logs.current_fields() == {"request_id": "a", "task_id": "t"}
        assert logs.current_fields() == {"request_id": "a"}
    assert logs.current_fields() == {}


def test_text_format_carries_the_same_fields(captured, monkeypatch) -> None:
    monkeypatch.setenv("HAUL_LOG_FORMAT", "text")
    record = logging.LogRecord("haul.test", logging.INFO, __file__, 1, "hello", (), None)
    with logs.bind(task_id="t-9"):
        text = logs.formatter().format(record)
    assert text.endswith("hello [task_id=t-9]")


def _app(seen: list[dict[str, Any]]) -> tuple[Chalice, Any, Any]:
    app = Chalice(app_name="logtest", configure_logs=False)
    app.register_middleware(logs.log_context, "all")
    log = logging.getLogger("haul.test")

    @app.route("/tasks/{task_id}")
    def get_task(task_id: str) -> dict[str, Any]:
        log.info("reading")
        request = app.current_request
        assert request is not None
        seen.append({"context_request_id": request.context.get("requestId")})
        return {"id": task_id}

    @app.on_sqs_message(queue="q", batch_size=1)
    def work(event: Any) -> None:
        log.info("working")

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event: Any) -> None:
        log.info("ticking")

    return app, work, tick


def _rest_event(path: str, resource: str, params: dict[str, str], request_id: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {"httpMethod": "GET", "resourcePath": resource, "path": path}
    if request_id:
        context["requestId"] = request_id
    return {
        "resource": resource, "path": path, "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": params,
        "stageVariables": None, "requestContext": context, "body": None, "isBase64Encoded": False,
    }


LAMBDA = SimpleNamespace(aws_request_id="lambda-req", function_name="haul-dev-Work")


def test_middleware_binds_request_and_task_ids(captured) -> None:
    seen: list[dict[str, Any]] = []
    app, work, tick = _app(seen)
    response = app(_rest_event("/tasks/abc", "/tasks/{task_id}", {"task_id": "abc"}, "api-req"), LAMBDA)
    assert response["statusCode"] == 200
    work({"Records": [{"messageId": "m-1", "receiptHandle": "h", "body": json.dumps({"kind": "lane", "task": "t-7"}),
                       "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"}]}, LAMBDA)
    tick({"id": "e", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "time": "",
              "region": "us-east-1", "account": "1", "resources": [], "version": "0"}, LAMBDA)
    rest, worked, ticked = lines(captured)
    assert (rest["request_id"], rest["task_id"], rest["function"]) == ("api-req", "abc", "haul-dev-Work")
    assert (worked["request_id"], worked["task_id"], worked["message_id"]) == ("lambda-req", "t-7", "m-1")
    assert ticked["request_id"] == "lambda-req" and "task_id" not in ticked
    assert logs.current_fields() == {}


def test_a_request_without_an_id_gets_one_the_handler_sees_too(captured) -> None:
    """chalice local sends no requestId: the logs and the X-Request-Id header must agree."""
    seen: list[dict[str, Any]] = []
    app, _, _ = _app(seen)
    app(_rest_event("/tasks/abc", "/tasks/{task_id}", {"task_id": "abc"}, None), LAMBDA)
    (rest,) = lines(captured)
    assert rest["request_id"] and rest["request_id"] == seen[0]["context_request_id"]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"AWS_LAMBDA_FUNCTION_NAME", "HAUL_LOG_FORMAT"}}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, check=True)


def test_configure_logging_writes_json_to_stderr_in_a_bare_process() -> None:
    code = (
        "import logging; from chalicelib.observability.logs import configure_logging, bind; configure_logging(); "
        "configure_logging()\n"
        "with bind(task_id='t'): logging.getLogger('haul.x').info('hello')\n"
        "logging.getLogger('botocore').info('noise')"
    )
    err = _run(code).stderr.splitlines()
    assert len(err) == 1  # idempotent: one handler; third-party INFO stays quiet
    assert json.loads(err[0])["message"] == "hello" and json.loads(err[0])["task_id"] == "t"


def test_configure_logging_reformats_the_lambda_runtime_handler(tmp_path) -> None:
    """In Lambda the runtime's handler stays (it frames records for CloudWatch); it just writes JSON."""
    code = (
        "import logging, sys\n"
        "runtime = logging.StreamHandler(sys.stdout); logging.getLogger().addHandler(runtime)\n"
        "from chalicelib.observability.logs import configure_logging; configure_logging()\n"
        "logging.getLogger('haul.x').info('in lambda')\n"
        "print(len(logging.getLogger().handlers))"
    )
    out = _run(code, AWS_LAMBDA_FUNCTION_NAME="haul-dev-Work", LAMBDA_TASK_ROOT=str(tmp_path)).stdout.splitlines()
    assert json.loads(out[0])["message"] == "in lambda"
    assert out[1] == "1"


def test_websocket_events_carry_their_connection() -> None:
    from chalice.app import WebsocketEvent

    event = WebsocketEvent({"requestContext": {"connectionId": "c-1", "requestId": "ws-req", "domainName": "d",
                                               "stage": "api", "apiId": "a", "routeKey": "$default",
                                               "eventType": "MESSAGE"}, "body": "{}"}, LAMBDA)
    fields = logs.event_fields(event)
    assert (fields["connection_id"], fields["request_id"]) == ("c-1", "ws-req")
