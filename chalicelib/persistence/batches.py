"""The batches table and a batch's tasks, as the batch service reads them
(chalicelib/downloads/batches.py ``BatchStore``): items as plain dicts, pages with DynamoDB's own
last-evaluated keys (the service turns them into cursors)."""

from __future__ import annotations

from typing import Any

from ..domain.task import Task
from ..stats.store import image
from .models import BatchModel, TaskModel
from .repository import to_task


class DynamoBatches:
    def __init__(self, dynamodb: Any, table: str) -> None:
        """``dynamodb``: a low-level client (the counters the statistics stream keeps on a
        batch's item are attributes the model does not declare)."""
        self._db = dynamodb
        self.table = table

    def item(self, batch_id: str) -> dict[str, Any] | None:
        answer = self._db.get_item(TableName=self.table, Key={"id": {"S": batch_id}}, ConsistentRead=True)
        return image(answer.get("Item"))

    def _query(self, owner: str) -> dict[str, Any]:
        return {
            "TableName": self.table, "IndexName": BatchModel.by_owner.Meta.index_name,
            "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}},
        }

    def page(
        self, owner: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of ``owner``'s batch items, newest first, and the key to go on from."""
        kwargs = {**self._query(owner), "ScanIndexForward": False, "Limit": limit}
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = self._db.query(**kwargs)
        return [image(i) or {} for i in answer.get("Items", [])], answer.get("LastEvaluatedKey")

    def count(self, owner: str) -> int:
        kwargs = {**self._query(owner), "Select": "COUNT"}
        total = 0
        while True:
            answer = self._db.query(**kwargs)
            total += int(answer.get("Count", 0))
            if not answer.get("LastEvaluatedKey"):
                return total
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def tasks(
        self, batch_id: str, owner: str, limit: int | None, start: dict[str, Any] | None
    ) -> tuple[list[Task], dict[str, Any] | None]:
        """The batch's tasks that ``owner`` owns, newest first (all of them when ``limit`` is
        None), and the key to go on from."""
        result = TaskModel.by_batch.query(batch_id, scan_index_forward=False, limit=limit, last_evaluated_key=start,
                                          filter_condition=TaskModel.owner == owner)
        tasks = [t for t in (to_task(m) for m in result) if t.owner == owner]
        return tasks, result.last_evaluated_key

    def delete(self, batch_id: str) -> None:
        BatchModel(batch_id).delete()
