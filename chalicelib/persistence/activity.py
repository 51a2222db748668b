"""The activity log's table (chalicelib/activity/log.py ``ActivityEntries``): ActivityModel items,
Queries on the table and its by-task and by-day indexes with the plan's key condition and
filter, COUNT Queries, and deletes.

An entry's key attributes are the entry's (``pk``, ``sk``, ``task_id``, ``day``), so a page's
position is DynamoDB's own ``LastEvaluatedKey``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.expressions.condition import Condition

from ..activity.log import ActivityEntry, LogPlan
from .models import ActivityModel


def _model(e: ActivityEntry) -> ActivityModel:
    return ActivityModel(
        e.pk,
        e.sk,
        at=e.at,
        day=e.day,
        level=e.level,
        kind=e.kind,
        actor=e.actor,
        message=e.message,
        task_id=e.task_id,
        batch_id=e.batch_id,
        data=e.data,
        expires=e.expires,
    )


def _entry(m: ActivityModel) -> ActivityEntry:
    return ActivityEntry(
        pk=m.pk,
        sk=m.sk,
        at=int(m.at),
        day=m.day,
        level=m.level,
        kind=m.kind,
        actor=m.actor,
        message=m.message,
        task_id=m.task_id,
        batch_id=m.batch_id,
        data=m.data,
        expires=m.expires,
    )


def _filter(p: LogPlan, now: int) -> Condition | None:
    conds: list[Condition] = []
    if p.levels:
        conds.append(ActivityModel.level.is_in(*p.levels))
    if p.kind:
        conds.append((ActivityModel.kind == p.kind) | ActivityModel.kind.startswith(p.kind + "."))
    if p.batch_id:
        conds.append(ActivityModel.batch_id == p.batch_id)
    if p.scope:
        conds.append(ActivityModel.pk == p.scope)
    # moto does not run TTL (and DynamoDB deletes within days): expired entries are skipped.
    conds.append(
        ActivityModel.expires.does_not_exist() | (ActivityModel.expires > datetime.fromtimestamp(now / 1000, tz=UTC))
    )
    out: Condition | None = None
    for c in conds:
        out = c if out is None else out & c
    return out


def _source(p: LogPlan) -> Any:
    if p.index is None:
        return ActivityModel
    return ActivityModel.by_task if p.index == "by-task" else ActivityModel.by_day


class DynamoActivity:
    def add(self, entry: ActivityEntry) -> None:
        """One entry (PutItem)."""
        _model(entry).save()

    def add_many(self, entries: Iterable[ActivityEntry]) -> None:
        """Entries 25 to a BatchWriteItem (an entry with the key of a stored one replaces it)."""
        with ActivityModel.batch_write() as batch:
            for entry in entries:
                batch.save(_model(entry))

    def read(
        self, p: LogPlan, segment: int, start: dict[str, Any] | None, page_size: int, now: int
    ) -> Iterator[ActivityEntry]:
        """The plan's partition ``segment``, newest first, from after ``start`` (a position as
        DynamoDB gives it), entries that match the plan's key range and filter and are not expired."""
        sk = ActivityModel.sk.between(*p.sk_range) if p.sk_range else None
        rows = _source(p).query(
            p.partitions[segment],
            range_key_condition=sk,
            filter_condition=_filter(p, now),
            scan_index_forward=False,
            last_evaluated_key=start,
            page_size=page_size,
        )
        return (_entry(m) for m in rows)

    def count(self, p: LogPlan, now: int) -> int:
        """The entries :meth:`read` would give over every partition: COUNT Queries (O(matching))."""
        sk = ActivityModel.sk.between(*p.sk_range) if p.sk_range else None
        target = _source(p)
        return sum(
            int(target.count(part, range_key_condition=sk, filter_condition=_filter(p, now))) for part in p.partitions
        )

    def delete_before(self, scope: str, before_sk: str) -> int:
        """Delete a partition's entries whose sk sorts before ``before_sk``; how many."""
        return self._delete([ActivityModel.query(scope, range_key_condition=ActivityModel.sk < before_sk)])

    def delete_days_before(self, days: Sequence[str], before_sk: str) -> int:
        """Delete every partition's entries of those UTC days (the by-day index) whose sk sorts
        before ``before_sk``; how many."""
        below = ActivityModel.sk < before_sk
        return self._delete([ActivityModel.by_day.query(day, range_key_condition=below) for day in days])

    @staticmethod
    def _delete(sources: list[Iterable[ActivityModel]]) -> int:
        deleted = 0
        with ActivityModel.batch_write() as batch:
            for source in sources:
                for item in source:
                    batch.delete(ActivityModel(item.pk, item.sk))
                    deleted += 1
        return deleted
