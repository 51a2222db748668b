"""DynamoDB for admissions (chalicelib/downloads/admission/service.py ``AdmissionStore``): tasks
written and read in batches, duplicates found in few Queries.

Every call here is on the low-level client the container makes (thread-safe, so the Queries
of one admission run side by side on a small pool). PynamoDB's models give the items their
shape (``new_model(...).serialize()``, ``TaskModel.from_raw_data``), so a task written here
is the very item ``TaskRepository.create`` writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.task import Task
from ..downloads.admission.plan import DUPLICATE_STATES, READ_CHUNK, WRITE_CHUNK, chunks
from .conditions import condition_failed
from .models import TaskModel
from .repository import new_model, to_task

log = logging.getLogger("haul.admission")
_AWS_ERRORS = (ClientError, BotoCoreError)
# The by-url Query of POST /downloads looks at this many earlier tasks of one URL.
DUPLICATE_SCAN = 50
_pool = ThreadPoolExecutor(8, thread_name_prefix="admission")


class DynamoAdmissionStore:
    def __init__(self, db: Any, attempts: int = 5, sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = db
        self._table = TaskModel.Meta.table_name
        self._attempts = attempts
        self._sleep = sleep

    # -- writing ------------------------------------------------------------------------------
    def create_tasks(self, tasks: Sequence[Task], actor: str | None) -> list[Exception | None]:
        """Store new tasks, 25 to a BatchWriteItem; for each, None once it is stored, else why not.

        A chunk that BatchWriteItem refuses as a whole, or leaves partly unprocessed after its
        retries, is written item by item (a conditional put each), so one bad item costs only
        itself. An item whose own put failed is read back before it is reported: a request can
        fail after DynamoDB stored some of it, and the answer must say exactly what exists."""
        items = [new_model(task, actor).serialize() for task in tasks]
        outcome: list[Exception | None] = [None] * len(items)
        for indexes in chunks(range(len(items)), WRITE_CHUNK):
            try:
                leftover = self._write_chunk([items[i] for i in indexes])
            except _AWS_ERRORS as exc:
                log.warning("a BatchWriteItem of %d tasks failed (%s); writing them one by one", len(indexes), exc)
                leftover = list(range(len(indexes)))
            for j in leftover:
                outcome[indexes[j]] = self._put_one(items[indexes[j]])
        doubtful = [i for i, error in enumerate(outcome) if error is not None]
        if doubtful:
            try:
                stored = set(self.get_tasks([tasks[i].id for i in doubtful], projection="id"))
            except _AWS_ERRORS as exc:
                log.error("could not read back %d tasks whose writes failed: %s", len(doubtful), exc)
                stored = set()
            for i in doubtful:
                if tasks[i].id in stored:
                    outcome[i] = None
        return outcome

    def _write_chunk(self, items: list[dict[str, Any]]) -> list[int]:
        """One BatchWriteItem and its retries of unprocessed items; the positions still unwritten."""
        pending = list(range(len(items)))
        for attempt in range(self._attempts):
            answer = self._db.batch_write_item(
                RequestItems={self._table: [{"PutRequest": {"Item": items[i]}} for i in pending]}
            )
            unprocessed = answer.get("UnprocessedItems", {}).get(self._table) or []
            if not unprocessed:
                return []
            left = {r["PutRequest"]["Item"]["id"]["S"] for r in unprocessed}
            pending = [i for i in pending if items[i]["id"]["S"] in left]
            self._sleep(min(1.0, 0.05 * 2**attempt))
        return pending

    def _put_one(self, item: dict[str, Any]) -> Exception | None:
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(id)")
        except _AWS_ERRORS as exc:
            if condition_failed(exc):
                return None  # a fresh id: the chunk's failed request had stored it after all
            return exc
        return None

    # -- reading ------------------------------------------------------------------------------
    def get_tasks(self, ids: Sequence[str], projection: str | None = None) -> dict[str, Task]:
        """The tasks of ``ids`` that exist (strongly consistent), 100 to a BatchGetItem."""
        found: dict[str, Task] = {}
        for part in chunks(list(dict.fromkeys(ids)), READ_CHUNK):
            keys: list[dict[str, Any]] = [{"id": {"S": i}} for i in part]
            for attempt in range(self._attempts):
                request: dict[str, Any] = {"Keys": keys, "ConsistentRead": True}
                if projection:
                    request["ProjectionExpression"] = projection
                answer = self._db.batch_get_item(RequestItems={self._table: request})
                for item in answer.get("Responses", {}).get(self._table, []):
                    task_id = item["id"]["S"]
                    found[task_id] = _task(item) if projection is None else Task(task_id, "", "", "", "")
                keys = (answer.get("UnprocessedKeys", {}).get(self._table) or {}).get("Keys") or []
                if not keys:
                    break
                self._sleep(min(1.0, 0.05 * 2**attempt))
            if keys:
                raise RuntimeError(f"DynamoDB left {len(keys)} keys unread")
        return found

    def ids_by_url(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """For each dedupe key, the newest task ids of that URL: one by-url Query per key, run
        side by side."""

        def one(key: str) -> list[str]:
            answer = self._db.query(
                TableName=self._table, IndexName=TaskModel.by_url.Meta.index_name,
                KeyConditionExpression="#k = :k", ExpressionAttributeNames={"#k": "dedupe"},
                ExpressionAttributeValues={":k": {"S": key}}, ScanIndexForward=False, Limit=DUPLICATE_SCAN,
            )
            return [item["id"]["S"] for item in answer.get("Items", [])]

        unique = list(dict.fromkeys(keys))
        return dict(zip(unique, _pool.map(one, unique), strict=True))

    def ids_of_owner(self, owner: str, keys: set[str]) -> dict[str, list[str]]:
        """For each of ``keys`` (dedupe keys), the ids of the owner's tasks of that URL that are
        queued, downloading, paused or completed: a projected Query per state (and page) of
        the by-owner-state index, whatever the number of keys."""

        def one(state: str) -> list[tuple[str, str]]:
            kwargs: dict[str, Any] = {
                "TableName": self._table, "IndexName": TaskModel.by_owner_state.Meta.index_name,
                "KeyConditionExpression": "#o = :o", "ProjectionExpression": "#i, #d",
                "ExpressionAttributeNames": {"#o": "owner_state", "#i": "id", "#d": "dedupe"},
                "ExpressionAttributeValues": {":o": {"S": f"{owner}#{state}"}},
            }
            hits: list[tuple[str, str]] = []
            while True:
                answer = self._db.query(**kwargs)
                for item in answer.get("Items", []):
                    key = (item.get("dedupe") or {}).get("S")
                    if key in keys:
                        hits.append((key, item["id"]["S"]))
                if not answer.get("LastEvaluatedKey"):
                    return hits
                kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

        found: dict[str, list[str]] = {}
        for hits in _pool.map(one, [s.value for s in DUPLICATE_STATES]):
            for key, task_id in hits:
                found.setdefault(key, []).append(task_id)
        return found


def _task(item: dict[str, Any]) -> Task:
    return to_task(TaskModel.from_raw_data(item))
