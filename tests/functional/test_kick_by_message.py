"""An add asks for a dispatcher round with a ``kick`` work message (``kick_by_message``, the
local runtime's and the deployed stages' setting): the request sends one message and runs no
round; a worker (app.py's work handler) turns the message into a kick. A message that cannot
be sent falls back to the round in the request (chalicelib/engine/dispatcher.py ``request_kick``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.downloads.service import AddedTask
from tests.support.awscalls import counted
from tests.support.engine import OWNER, queue_counts, receive, wait_finished
from tests.support.origin import Resource

MiB = 1024 * 1024
pytestmark = pytest.mark.usefixtures("settled")


@pytest.fixture()
def by_message(svc: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(svc.dispatcher, "_kick_by_message", True)
    yield


def test_an_add_sends_one_kick_message_and_runs_no_round(svc, by_message) -> None:
    url = "http://127.0.0.1:9/kick/nobody-fetches-this.bin"  # no worker runs here
    with counted() as calls:
        added = svc.downloads.add(OWNER, AddDownload(url=url, tags=["kick"]))
    # One SendMessage, and none of a round's reads and writes: no Query of the state index
    # (the one Query is the duplicate lookup), no BatchGetItem of the head, no lease (its
    # release is the one DeleteItem).
    assert calls.of("SendMessage") == 1 and calls.of("SendMessageBatch") == 0, calls.table()
    assert calls.of("BatchGetItem") == 0 and calls.of("DeleteItem") == 0, calls.table()
    assert calls.of("Query") <= 1, calls.table()
    assert receive(svc, wait=2) == {"kind": "kick"}
    assert queue_counts(svc) == (0, 0, 0)
    # The answer is the stored task, as a read would give it (nothing started it).
    stored = svc.repo.get(added.id)
    assert stored is not None and stored.state == TaskState.QUEUED
    assert added == AddedTask.of(stored, duplicate=False)


def test_a_worker_turns_the_kick_message_into_a_round(svc, workers, origin, by_message) -> None:
    data = os.urandom(MiB)
    origin.add("/kick-single.bin", Resource(data=data))
    for i in range(3):
        origin.add(f"/kick-batch-{i}.bin", Resource(data=data))
    single = svc.downloads.add(OWNER, AddDownload(url=origin.url("/kick-single.bin")))
    answer = svc.batches.create(OWNER, {"items": [{"url": origin.url(f"/kick-batch-{i}.bin")} for i in range(3)]})
    for task_id in [single.id] + [t["id"] for t in answer["tasks"]]:
        done = wait_finished(svc, task_id)
        assert done.state == TaskState.COMPLETED, done.error
        assert svc.store.size(done.key) == len(data)


def test_a_kick_message_that_cannot_be_sent_is_a_round_in_the_request(svc, by_message, monkeypatch) -> None:
    def refuse(message: dict[str, Any], delay: float = 0) -> None:
        raise RuntimeError("SQS is unreachable")

    monkeypatch.setattr(svc.queue, "send", refuse)
    added = svc.downloads.add(OWNER, AddDownload(url="http://127.0.0.1:9/kick/fallback.bin"))
    # The round ran in the request: it started the download (a start message, no kick).
    assert added.state == TaskState.DOWNLOADING
    monkeypatch.undo()
    assert receive(svc, wait=2)["kind"] == "start"
