"""The emulator's SQS patches (local_runtime/emulator/queues.py): attribute names converted as
moto converts them, receipt handles shaped as moto's, and a queue's messages still go round."""

from __future__ import annotations

import string

import boto3
import pytest

from local_runtime.emulator.queues import _handle_at_once, _kept


@pytest.mark.parametrize("name", [
    "", "VisibilityTimeout", "ApproximateNumberOfMessagesNotVisible", "RedrivePolicy", "FifoQueue",
    "KmsMasterKeyId", "SqsManagedSseEnabled", "theNewAttribute", "ARNValue", "with space", "x",
])
def test_names_are_converted_as_moto_converts_them(name: str) -> None:
    from moto.core import utils

    original = getattr(utils.camelcase_to_underscores, "__wrapped__", utils.camelcase_to_underscores)
    kept = _kept(original)
    assert kept(name) == original(name)
    assert kept(name) == original(name)  # from what was kept


def test_receipt_handles_are_185_lowercase_letters_and_differ() -> None:
    from moto.sqs import utils

    make = _handle_at_once(getattr(utils.generate_receipt_handle, "__wrapped__", utils.generate_receipt_handle))
    handles = {make() for _ in range(50)}
    assert len(handles) == 50
    assert all(len(h) == 185 and set(h) <= set(string.ascii_lowercase) for h in handles)


def test_messages_go_round_through_the_patched_queue(emulator: str) -> None:
    from moto.sqs import models

    assert hasattr(models.camelcase_to_underscores, "__wrapped__"), "the emulator's patches are not applied"
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="emulator-queues-test")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, AttributeNames=["All"])["Messages"]
    assert got[0]["Body"] == "one" and len(got[0]["ReceiptHandle"]) >= 185
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0" and attributes["VisibilityTimeout"] == "30"
    sqs.delete_queue(QueueUrl=url)
