"""What one ``POST /downloads`` costs the stores, through the REST layer (issue #13 item 1).

The request goes through the real Chalice app (token check, rate limit, body parsing, the
add, the answer) against the emulator, with the add asking for its dispatcher round by
message as the local runtime and the deployed stages do. Every AWS request the request makes
is counted: a change that adds a read or a round trip to the everyday add fails here, before
it shows as latency in the benchmark. (No timing is asserted: time is the benchmark's.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.support.auth import new_user
from tests.support.awscalls import Calls, counted
from tests.support.engine import queue_counts, receive, wipe_tasks

P = "/api/v1"
pytestmark = pytest.mark.usefixtures("settled")
# DynamoDB operations that read items.
READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")


@pytest.fixture()
def post(svc: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """POST /downloads as a fresh user, the add asking for its round by message; -> (status, body)."""
    from app import app

    monkeypatch.setattr(svc.dispatcher, "_kick_by_message", True)
    assert svc.accounts.rate_limit_per_minute > 0  # the request limit counts too, as in a deployment
    _, headers, _ = new_user("user")
    client = Client(app)

    def call(url: str) -> tuple[int, dict[str, Any]]:
        resp = client.http.post(f"{P}/downloads", headers={"Content-Type": "application/json", **headers},
                                body=json.dumps({"url": url}).encode())
        return resp.status_code, json.loads(resp.body)

    wipe_tasks()
    # A process's first request also reads the token signing key (kept from then on): the
    # counts below are those of every later request.
    status, _ = call(f"http://127.0.0.1:9/request-path/warm-{uuid.uuid4().hex}.bin")
    assert status == 201
    assert receive(svc, wait=2) == {"kind": "kick"}
    yield call
    wipe_tasks()


def reads(calls: Calls) -> int:
    return sum(calls.of(op) for op in READS)


def test_one_add_is_six_requests_two_reads_and_no_round(svc, post) -> None:
    url = f"http://127.0.0.1:9/request-path/{uuid.uuid4().hex}.bin"  # nobody fetches it here
    with counted() as calls:
        status, body = post(url)
    assert status == 201, body
    assert body["state"] == "queued" and body["url"] == url
    # The token's session and user in one BatchGetItem, the request limit's one UpdateItem, the
    # duplicate lookup's one Query, the task and its activity entry (two PutItems), the kick
    # message: 6 requests, 2 of them reads. No read-back of the task, no dispatcher round in the
    # request (its lease, the queue's status, the running tasks), no URL check over the network.
    assert calls.total() <= 6, calls.table()
    assert reads(calls) <= 2, calls.table()
    assert calls.of("GetItem") == 0 and calls.of("Scan") == 0, calls.table()
    assert calls.of("BatchGetItem") == 1 and calls.of("Query") == 1, calls.table()
    assert calls.of("PutItem") == 2 and calls.of("UpdateItem") == 1, calls.table()
    assert calls.of("SendMessage") == 1 and calls.of("DeleteItem") == 0, calls.table()
    assert receive(svc, wait=2) == {"kind": "kick"}
    assert queue_counts(svc) == (0, 0, 0)


def test_a_duplicate_add_costs_one_read_more_and_writes_no_task(svc, post) -> None:
    url = f"http://127.0.0.1:9/request-path/{uuid.uuid4().hex}.bin"
    status, first = post(url)
    assert status == 201, first
    with counted() as calls:
        status, again = post(url)
    assert status == 200 and again["id"] == first["id"], again
    # The duplicate lookup's Query and the read of the one it found; the activity entry that
    # says nothing was added; no task written, no kick.
    assert reads(calls) <= 3 and calls.of("GetItem") == 1, calls.table()
    assert calls.of("PutItem") == 1 and calls.of("SendMessage") == 0, calls.table()
    assert calls.total() <= 5, calls.table()
    assert receive(svc, wait=2) == {"kind": "kick"}  # the first add's, and only that one
    assert queue_counts(svc) == (0, 0, 0)
