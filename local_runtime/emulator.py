"""Make the in-process moto server behave like the AWS services it stands in for, where the
engine's correctness depends on it.

- DynamoDB: a conditional write is atomic in DynamoDB. moto evaluates the condition and then
  applies the update without a lock, so two concurrent requests (the threads of
  ThreadedMotoServer) can both pass the same condition: both "claim" the same lane step, both
  plan the next generation, both record a part. Every item operation is serialised here.
- S3: UploadPart and CompleteMultipartUpload for an upload that was aborted or completed
  answer ``404 NoSuchUpload``; moto raises a KeyError (a 500 that botocore retries for
  about a minute).

The local runtime's embedded emulator and the functional tests' emulator both start through
:func:`start_emulator`, which applies these for good. This is emulator fidelity, not business
logic: against LocalStack or AWS none of it runs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_DYNAMODB_ITEM_OPS = (
    "put_item", "get_item", "update_item", "delete_item", "transact_write_items", "query", "scan",
)
_lock = threading.RLock()


def _serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return fn(*args, **kwargs)

    return locked


def _no_such_upload(fn: Callable[..., Any]) -> Callable[..., Any]:
    from moto.s3.exceptions import NoSuchUpload

    @functools.wraps(fn)
    def checked(self: Any, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
        if multipart_id not in self.get_bucket(bucket_name).multiparts:
            raise NoSuchUpload(upload_id=multipart_id)
        return fn(self, bucket_name, multipart_id, *args, **kwargs)

    return checked


_PATCHED = "_haul_faithful"


def _patch() -> list[tuple[type, str, Any]]:
    """Make moto faithful; the originals, to put back. Patching twice is a no-op."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend

    saved: list[tuple[type, str, Any]] = []
    targets: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]
    targets = [(DynamoDBBackend, n, _serialised) for n in _DYNAMODB_ITEM_OPS]
    targets += [(S3Backend, n, _no_such_upload) for n in ("upload_part", "complete_multipart_upload")]
    for cls, name, wrap in targets:
        original = cls.__dict__[name]
        if getattr(original, _PATCHED, False):
            continue
        patched = wrap(original)
        setattr(patched, _PATCHED, True)
        saved.append((cls, name, original))
        setattr(cls, name, patched)
    return saved


def start_emulator(host: str, port: int) -> Any:
    """moto's server in this process, made faithful (for good) where the engine depends on it."""
    from moto.server import ThreadedMotoServer

    _patch()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


@contextmanager
def faithful_emulator() -> Iterator[None]:
    """Within the block, moto's DynamoDB writes are atomic and a gone upload is NoSuchUpload."""
    saved = _patch()
    try:
        yield
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)
