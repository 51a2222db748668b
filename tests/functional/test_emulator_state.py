"""The emulator's DynamoDB journal and snapshots (local_runtime/emulator/state.py), on the
session's emulator: acknowledged writes are in the journal in order; a snapshot (written by a
forked child) holds exactly the state at its cut, and the journal goes on from there; a torn
journal tail is where reading stops."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3

from local_runtime.emulator import state as emulator_state
from local_runtime.emulator.server import _invalidate_all
from local_runtime.emulator.server import _lock as emulator_lock

REGION = "us-east-1"


def test_journal_and_snapshot_cut(emulator: str, tmp_path: Path) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=emulator, region_name=REGION)
    state = emulator_state.EmulatorState(tmp_path, emulator_lock, invalidate=_invalidate_all)
    state.open()
    try:
        name = f"journal-{uuid.uuid4().hex[:8]}"
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        for i in range(3):
            ddb.put_item(TableName=name, Item={"id": {"S": f"a{i}"}})
        ddb.update_item(TableName=name, Key={"id": {"S": "a0"}}, UpdateExpression="SET n = :n",
                        ExpressionAttributeValues={":n": {"N": "7"}})
        assert state.tick(force=True)  # snapshot 1 (a forked child), the journal moves on to 1
        ddb.put_item(TableName=name, Item={"id": {"S": "b0"}})
        ddb.delete_item(TableName=name, Key={"id": {"S": "a1"}})
    finally:
        journal = emulator_state._journal[0]
        emulator_state._journal[0] = None
        if journal is not None:
            journal.close()

    before, _, _ = emulator_state.read_journal(tmp_path / "dynamodb" / "journal-0.bin")
    ops = [(e[2], e[3][0] if e[3] else None) for e in before]
    assert ("create_table", name) in ops
    assert [op for op, table in ops if table == name][-4:] == ["put_item", "put_item", "put_item", "update_item"]
    after, good, size = emulator_state.read_journal(tmp_path / "dynamodb" / "journal-1.bin")
    assert [(e[2], e[3][0]) for e in after] == [("put_item", name), ("delete_item", name)]
    assert good == size

    snapshot = emulator_state.load("dynamodb", tmp_path / "dynamodb" / "snapshot-1.bin")
    table = next(t[name] for t in snapshot.values() if name in t)
    items = {key.value: item for key, item in table.items.items()}
    assert sorted(items) == ["a0", "a1", "a2"]  # the cut: nothing of journal 1
    assert items["a0"].attrs["n"].value == "7"
    assert (tmp_path / "sqs" / "snapshot.bin").exists()

    # A crash during a write leaves half a frame: reading stops before it.
    journal_file = tmp_path / "dynamodb" / "journal-1.bin"
    with journal_file.open("ab") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00abc")
    entries, good2, size2 = emulator_state.read_journal(journal_file)
    assert len(entries) == 2 and good2 == good and size2 == good + 11


def test_an_sqs_snapshot_keeps_delayed_and_in_flight_messages(emulator: str, tmp_path: Path) -> None:
    """A queue written to a snapshot and brought back (as a restart does) still holds a delayed
    message, which shows when its delay is over, and an in-flight one, whose receipt handle
    still works and which stays invisible until its visibility timeout says otherwise."""
    from moto.sqs.models import sqs_backends

    from tests.support.wait import wait_for

    sqs = boto3.client("sqs", endpoint_url=emulator, region_name=REGION)
    name = f"snap-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    [taken] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=300)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)

    path = tmp_path / "snapshot.bin"
    path.write_bytes(emulator_state.dump("sqs"))
    (where, kept), = [(k, queues[name]) for k, queues in emulator_state.load("sqs", path).items() if name in queues]
    sqs.delete_queue(QueueUrl=url)  # the process is gone...
    account, region = where
    sqs_backends[account][region].queues[name] = kept  # ...and the next one loads the snapshot

    def bodies() -> list[str]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [m["Body"] for m in got]

    assert wait_for(lambda: bodies() or None, timeout=30, what="the delayed message") == ["delayed"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"], VisibilityTimeout=0)
    assert wait_for(lambda: bodies() or None, timeout=30, what="the in-flight message") == ["in flight"]
    sqs.delete_queue(QueueUrl=url)
