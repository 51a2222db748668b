"""The emulator's one-call request body read (local_runtime/emulator/wsgi.py) returns what
werkzeug's own loop returns, moves the stream as far, and fails the same way on a client that
went away mid-body; and a part uploaded through the emulator arrives whole."""

from __future__ import annotations

import hashlib
import io
import os
import socket

import pytest
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import LimitedStream

from local_runtime.emulator.wsgi import _read_at_once

# werkzeug's own, whether or not the emulator has patched the class in this process yet.
ORIGINAL = getattr(LimitedStream.readall, "__wrapped__", LimitedStream.readall)
READ = _read_at_once(ORIGINAL)


class _Trickle(io.RawIOBase):
    """A raw socket-like stream that hands out at most ``step`` bytes a read."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._at = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self._step, len(self._data) - self._at)
        b[:n] = self._data[self._at:self._at + n]
        self._at += n
        return n


def _stream(data: bytes, limit: int, step: int = 7000) -> LimitedStream:
    return LimitedStream(io.BufferedReader(_Trickle(data, step)), limit)  # type: ignore[type-var]


@pytest.mark.parametrize("size, limit", [(0, 0), (1, 1), (65_536, 65_536), (3 * 2**20 + 5, 3 * 2**20 + 5),
                                         (1000, 600)])
def test_reads_what_werkzeug_reads_and_moves_as_far(size: int, limit: int) -> None:
    data = os.urandom(size)
    ours, theirs = _stream(data, limit), _stream(data, limit)
    got = READ(ours)
    expected = ORIGINAL(theirs)
    assert got == expected == data[:limit]
    assert type(got) is bytes
    assert ours.tell() == theirs.tell() == limit
    assert READ(ours) == ORIGINAL(theirs) == b""  # exhausted: nothing more, no error


def test_a_body_cut_short_is_a_disconnected_client_as_in_werkzeug() -> None:
    data = os.urandom(10_000)
    with pytest.raises(ClientDisconnected):
        ORIGINAL(_stream(data, 20_000))
    with pytest.raises(ClientDisconnected):
        READ(_stream(data, 20_000))


def test_the_emulator_is_patched_and_stores_a_part_whole(emulator) -> None:
    import boto3

    from local_runtime.emulator.server import _PATCHED

    assert getattr(LimitedStream.readall, _PATCHED, False), "the emulator's server reads bodies with werkzeug's loop"
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = "http-body-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(5 * 2**20 + 123)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=body)["ETag"]
    assert etag.strip('"') == hashlib.md5(body).hexdigest()


def test_a_client_that_goes_away_mid_body_leaves_the_emulator_answering(emulator) -> None:
    import boto3

    endpoint = os.environ["AWS_ENDPOINT_URL"].removeprefix("http://")
    host, port = endpoint.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"PUT /cut-short/key HTTP/1.1\r\nHost: " + endpoint.encode()
                     + b"\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
    s3 = boto3.client("s3", region_name="us-east-1")
    assert "Buckets" in s3.list_buckets()


def test_request_ids_are_moto_s_shape_and_new_each_time(emulator) -> None:
    """moto's request id, made in one draw (local_runtime/emulator/wsgi.py): 52 letters and digits."""
    import re

    import boto3

    from local_runtime.emulator.server import _PATCHED
    from local_runtime.emulator.wsgi import targets

    for cls, name, _ in targets():
        assert getattr(getattr(cls, name), _PATCHED, False), (cls, name)
    ddb = boto3.client("dynamodb", endpoint_url=emulator, region_name="us-east-1")
    ids = [ddb.list_tables()["ResponseMetadata"]["RequestId"] for _ in range(3)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{52}", i) for i in ids) and len(set(ids)) == 3, ids
