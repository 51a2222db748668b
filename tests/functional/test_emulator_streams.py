"""The emulator's streams keep what DynamoDB Streams keeps: records for 24 hours (here a short
retention), shard iterators for 15 minutes; sequence numbers never change."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from local_runtime.emulator import streams as emulator_streams

REGION = "us-east-1"


def _table(emulator: str) -> tuple[object, object, str, str]:
    ddb = boto3.client("dynamodb", endpoint_url=emulator, region_name=REGION)
    streams = boto3.client("dynamodbstreams", endpoint_url=emulator, region_name=REGION)
    name = f"trim-{uuid.uuid4().hex[:8]}"
    arn = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return ddb, streams, arn, shard


def _read(streams: object, arn: str, shard: str, kind: str) -> list[str]:
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]  # type: ignore[attr-defined]
    records = streams.get_records(ShardIterator=it, Limit=1000)["Records"]  # type: ignore[attr-defined]
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def test_records_older_than_the_retention_are_trimmed(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ddb, streams, arn, shard = _table(emulator)
    for i in range(5):
        ddb.put_item(TableName=arn.split("/")[1], Item={"id": {"S": f"old{i}"}})  # type: ignore[attr-defined]
    before = _read(streams, arn, shard, "TRIM_HORIZON")
    assert len(before) == 5
    monkeypatch.setattr(emulator_streams, "RETENTION_SECONDS", 0.0)  # every record is now too old
    ddb.put_item(TableName=arn.split("/")[1], Item={"id": {"S": "new"}})  # type: ignore[attr-defined]
    after = _read(streams, arn, shard, "TRIM_HORIZON")
    # The old records are gone; the new one has the number it would have had.
    assert after and after[-1] == str(int(before[-1]) + 1)
    assert len(after) < 6
    monkeypatch.setattr(emulator_streams, "RETENTION_SECONDS", 24 * 3600.0)
    ddb.put_item(TableName=arn.split("/")[1], Item={"id": {"S": "newer"}})  # type: ignore[attr-defined]
    assert _read(streams, arn, shard, "TRIM_HORIZON")[-2:] == [after[-1], str(int(after[-1]) + 1)]


def test_shard_iterators_expire(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _ddb, streams, arn, shard = _table(emulator)
    old = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]  # type: ignore[attr-defined]
    monkeypatch.setattr(emulator_streams, "ITERATOR_SECONDS", 0.0)
    # Handing out another expires the old one (expiry is checked as iterators are issued).
    streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")  # type: ignore[attr-defined]
    with pytest.raises(ClientError, match="ExpiredIteratorException"):
        streams.get_records(ShardIterator=old)  # type: ignore[attr-defined]
