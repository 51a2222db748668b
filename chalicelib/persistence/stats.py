"""The statistics counters and batch summaries in DynamoDB (chalicelib/stats/store.py ``Counters``).

Each counter is a top-level number attribute (``n_<counter>`` on a stats item, ``s_<state>`` /
``items`` / ``sized`` / ``total_bytes`` / ``done_bytes`` on a batch item), so one UpdateItem
``ADD`` creates the item and the counter when they are missing. Every write carries the stream
batch's token and is conditional on the item not having it yet (it adds the token to the
item's ``applied`` set in the same UpdateItem), so a retried batch never counts twice; the set
keeps the ``KEEP`` newest tokens (trimmed by a separate idempotent ``DELETE`` once it holds
twice as many). The readers are GetItems and Queries on the stats table's key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..domain import aggregates as agg
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..stats.store import BATCH_STATE_PREFIX, COUNTER_PREFIX, image
from .conditions import condition_failed

log = logging.getLogger("haul.stats")
APPLIED = "applied"  # the tokens of the batches an item's counters include (the newest KEEP)
KEEP = 64


def _update(values: Mapping[str, int], prefix: str | None = None) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """``ADD`` clauses, names and values for counters (``state:x`` -> ``s_x`` on a batch)."""
    clauses, names, vals = [], {}, {}
    for i, (name, delta) in enumerate(sorted(values.items())):
        if prefix is not None:
            attr = prefix + name
        elif name.startswith("state:"):
            attr = BATCH_STATE_PREFIX + name.removeprefix("state:")
        else:
            attr = name
        names[f"#c{i}"] = attr
        vals[f":c{i}"] = {"N": str(int(delta))}
        clauses.append(f"#c{i} :c{i}")
    return clauses, names, vals


def once(kwargs: dict[str, Any], token: str) -> None:
    """Make a counter write apply once per batch: only if the item lacks the batch's token,
    which it adds (and returns the item's tokens, for trimming)."""
    kwargs["ExpressionAttributeNames"]["#ap"] = APPLIED
    kwargs["ExpressionAttributeValues"][":tok"] = {"S": token}
    kwargs["ExpressionAttributeValues"][":toks"] = {"SS": [token]}
    kwargs["UpdateExpression"] += " ADD #ap :toks" if " ADD " not in kwargs["UpdateExpression"] else ", #ap :toks"
    fresh = "NOT contains(#ap, :tok)"
    condition = kwargs.get("ConditionExpression")
    kwargs["ConditionExpression"] = f"({condition}) AND {fresh}" if condition else fresh
    kwargs["ReturnValues"] = "UPDATED_NEW"


class DynamoCounters:
    def __init__(self, dynamodb: Any, stats_table: str, batches_table: str, clock: Clock = SYSTEM_CLOCK) -> None:
        """``dynamodb``: a low-level client (ADD on attributes no model declares)."""
        self.db = dynamodb
        self.stats_table = stats_table
        self.batches_table = batches_table
        self._clock = clock

    # -- writing ------------------------------------------------------------------------------
    def add(self, deltas: agg.Deltas, token: str) -> tuple[int, int]:
        """Add a stream batch's deltas, each write once per ``token``; (writes made, writes
        refused: applied by an earlier try of the batch, or into a batch item that is gone or
        another owner's). Raises when a write fails otherwise (the batch is retried then)."""
        done = skipped = 0
        for kwargs in self._writes(deltas):
            once(kwargs, token)
            try:
                answer = self.db.update_item(**kwargs)
            except Exception as exc:
                if condition_failed(exc):
                    skipped += 1
                    continue
                raise  # the batch is retried; the writes that landed are refused then
            done += 1
            self._trim(kwargs, answer)
        return done, skipped

    def _trim(self, kwargs: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Forget all but the ``KEEP`` newest tokens of an item that holds twice as many."""
        tokens = sorted((answer.get("Attributes") or {}).get(APPLIED, {}).get("SS") or [])
        if len(tokens) <= 2 * KEEP:
            return
        try:
            self.db.update_item(
                TableName=kwargs["TableName"],
                Key=kwargs["Key"],
                UpdateExpression="DELETE #ap :old",
                ExpressionAttributeNames={"#ap": APPLIED},
                ExpressionAttributeValues={":old": {"SS": tokens[:-KEEP]}},
            )
        except Exception:  # only the set's size depends on it; the next write trims again
            log.exception("stats: could not trim the applied tokens of %s", kwargs["Key"])

    def _writes(self, deltas: agg.Deltas) -> list[dict[str, Any]]:
        now = self._clock.now_ms()
        out = [
            self._counter_write(scope, key, counts, deltas.names.get((scope, key)), now)
            for (scope, key), counts in sorted(deltas.counters.items())
        ]
        for (batch_id, _), batch in sorted(deltas.batches.items()):
            clauses, names, values = _update(batch.counts)
            values[":now"] = {"N": str(now)}
            # Only into a batch that exists and is the task's owner's: the add made its item,
            # with its owner (TaskRepository.claim_batch); the stream never makes one. So the
            # last tasks of a deleted batch leaving it do not bring it back, and a task that
            # carries the id of another owner's batch never counts in it.
            names["#ow"] = "owner"
            values[":ow"] = {"S": batch.owner}
            expression = "SET updated_at = :now" + (f" ADD {', '.join(clauses)}" if clauses else "")
            out.append(
                {
                    "TableName": self.batches_table,
                    "Key": {"id": {"S": batch_id}},
                    "ConditionExpression": "attribute_exists(id) AND #ow = :ow",
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            )
        return out

    def _counter_write(
        self, scope: str, key: str, counts: Mapping[str, int], name: str | None, now: int
    ) -> dict[str, Any]:
        clauses, names, values = _update(counts, COUNTER_PREFIX)
        sets = ["updated_at = :now"]
        values[":now"] = {"N": str(now)}
        if name:
            sets.append("#nm = :nm")
            names["#nm"] = "name"
            values[":nm"] = {"S": name}
        if key.startswith("hour#"):
            sets.append("expires = if_not_exists(expires, :exp)")
            values[":exp"] = {"N": str(now // 1000 + agg.HOUR_BUCKET_DAYS * 86400)}
        return {
            "TableName": self.stats_table,
            "Key": {"scope": {"S": scope}, "key": {"S": key}},
            "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(clauses)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    # -- reading ------------------------------------------------------------------------------
    def item(self, scope: str, key: str) -> dict[str, Any]:
        """One stats item, plain (empty when there is none)."""
        answer = self.db.get_item(
            TableName=self.stats_table, Key={"scope": {"S": scope}, "key": {"S": key}}, ConsistentRead=True
        )
        return image(answer.get("Item")) or {}

    def between(self, scope: str, low: str, high: str) -> list[dict[str, Any]]:
        """The scope's items whose key is between ``low`` and ``high`` (inclusive), in key order."""
        return self._query(scope, "#k BETWEEN :lo AND :hi", {":lo": {"S": low}, ":hi": {"S": high}})

    def prefixed(self, scope: str, prefix: str) -> list[dict[str, Any]]:
        """The scope's items whose key begins with ``prefix``, in key order."""
        return self._query(scope, "begins_with(#k, :p)", {":p": {"S": prefix}})

    def _query(self, scope: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.stats_table,
            "KeyConditionExpression": f"#s = :s AND {condition}",
            "ExpressionAttributeNames": {"#s": "scope", "#k": "key"},
            "ExpressionAttributeValues": {":s": {"S": scope}, **values},
        }
        while True:
            answer = self.db.query(**kwargs)
            items += [image(i) or {} for i in answer.get("Items", [])]
            if not answer.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
