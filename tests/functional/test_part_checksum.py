"""A part's (and a small file's) CRC32 is computed by Haul over its buffer and handed to
botocore, which then sends it as is instead of reading the body again in 1 MiB copies to
compute it (issue #13: the workers' CPU per part). What S3 stores and answers is unchanged."""

from __future__ import annotations

import base64
import os
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import httpchecksum


@pytest.fixture()
def computed_by_botocore(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Sizes of the bodies botocore computed a CRC32 of itself."""
    sizes: list[int] = []
    original = httpchecksum.Crc32Checksum.handle

    def handle(self: Any, body: Any) -> str:
        sizes.append(len(body) if hasattr(body, "__len__") else -1)
        return str(original(self, body))

    monkeypatch.setattr(httpchecksum.Crc32Checksum, "handle", handle)
    yield sizes


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_a_part_is_sent_with_haul_s_crc32(svc: Any, computed_by_botocore: list[int]) -> None:
    store = svc.store
    key = f"part-checksum/{uuid.uuid4().hex}"
    first, last = os.urandom(5 << 20), os.urandom(1234)
    upload_id = store.start_upload(key, None)
    parts = [store.upload_part(key, upload_id, n, memoryview(bytearray(b))) for n, b in ((1, first), (2, last))]
    assert [p.checksum_crc32 for p in parts] == [_crc32(first), _crc32(last)]
    store.complete(key, upload_id, parts)
    assert computed_by_botocore == []
    got = store._s3.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert got == first + last
    store._s3.delete_object(Bucket=store.bucket, Key=key)


def test_a_small_file_is_sent_with_haul_s_crc32(svc: Any, computed_by_botocore: list[int]) -> None:
    store = svc.store
    key = f"part-checksum/{uuid.uuid4().hex}"
    body = os.urandom(300_000)
    store.put(key, memoryview(bytearray(body)), "application/octet-stream")
    assert computed_by_botocore == []
    head = store._s3.head_object(Bucket=store.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == _crc32(body)
    store._s3.delete_object(Bucket=store.bucket, Key=key)
