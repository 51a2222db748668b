"""The emulator's DynamoDB journal and snapshots (local_runtime/emulator_state.py), on the
session's emulator: acknowledged writes are in the journal in order; a snapshot (written by a
forked child) holds exactly the state at its cut, and the journal goes on from there; a torn
journal tail is where reading stops."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3

from local_runtime import emulator_state
from local_runtime.emulator import _invalidate_all
from local_runtime.emulator import _lock as emulator_lock

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
