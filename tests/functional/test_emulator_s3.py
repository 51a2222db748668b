"""The embedded emulator's CompleteMultipartUpload (local_runtime/emulator/s3.py) leaves exactly
what moto's own leaves: same bytes, ETag, length, checksum fields, buffer state and errors, for
the same upload (done once with the patch, once with moto's original code, in two buckets)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.wait import wait_for

REGION = "us-east-1"
MIB = 1 << 20
PART = 5 * MIB  # S3's (and moto's) minimum for a part that is not the last


@contextmanager
def moto_original() -> Iterator[None]:
    """moto's own CompleteMultipartUpload and FakeKey.value, for the duration."""
    from moto.s3.models import FakeKey, FakeMultipart

    complete = FakeMultipart.__dict__["complete"]
    value = FakeKey.__dict__["value"]
    assert hasattr(complete, "__wrapped__") and hasattr(value, "original"), "the emulator is not patched"
    FakeMultipart.complete = complete.__wrapped__  # type: ignore[method-assign]
    FakeKey.value = value.original  # type: ignore[method-assign]
    try:
        yield
    finally:
        FakeMultipart.complete = complete  # type: ignore[method-assign]
        FakeKey.value = value  # type: ignore[method-assign]


@pytest.fixture()
def s3(emulator: str) -> Any:
    return boto3.client("s3", endpoint_url=emulator, region_name=REGION)


@pytest.fixture()
def buckets(s3: Any) -> Iterator[tuple[str, str]]:
    names = (f"mpu-fast-{uuid.uuid4().hex[:8]}", f"mpu-orig-{uuid.uuid4().hex[:8]}")
    for name in names:
        s3.create_bucket(Bucket=name)
    yield names
    for name in names:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)


def _data(n: int, seed: int) -> bytes:
    return hashlib.shake_256(f"{seed}".encode()).digest(n) if n < 4096 else os.urandom(n)


def _backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


Step = tuple[int, bytes]  # (part number, bytes) in upload order


def _upload(
    s3: Any, bucket: str, key: str, steps: list[Step], algorithm: str | None, ctype: str | None
) -> tuple[str, dict[int, str]]:
    create: dict[str, Any] = {}
    if algorithm:
        create["ChecksumAlgorithm"] = algorithm
    if ctype:
        create["ChecksumType"] = ctype
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    etags: dict[int, str] = {}
    for number, body in steps:
        # others need botocore[crt]
        extra = {"ChecksumAlgorithm": algorithm} if algorithm in ("CRC32", "SHA1", "SHA256") else {}
        etags[number] = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **extra
        )["ETag"]
    return upload_id, etags


def _complete(s3: Any, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]) -> dict[str, Any]:
    try:
        out = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
        )
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"ETag": out["ETag"], "Key": out["Key"]}


def _observe(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    seen: dict[str, Any] = {
        k: v for k, v in head.items() if k not in ("ResponseMetadata", "LastModified")
    }
    seen["headers"] = {
        k: v
        for k, v in head["ResponseMetadata"]["HTTPHeaders"].items()
        if k not in ("date", "last-modified", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2")
    }
    seen["body"] = hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()
    try:
        attrs = s3.get_object_attributes(
            Bucket=bucket, Key=key, ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"]
        )
        seen["attributes"] = {k: v for k, v in attrs.items() if k not in ("ResponseMetadata", "LastModified")}
    except ClientError as e:
        seen["attributes"] = e.response["Error"]["Code"]
    k = _backend().get_object(bucket, key)
    seen["internals"] = {
        "contentsize": k.contentsize,
        "rolled": k._value_buffer._rolled,
        "max_size": k._value_buffer._max_size,
        "checksum": (k.checksum_algorithm, k.checksum_type, k.checksum_value, k.checksum_parts),
        "metadata": dict(k.metadata),
        "storage": k.storage_class,
        "parts_disposed": [p.disposed for p in k.multipart.parts.values()] if k.multipart else None,
        "etag": k.etag,
    }
    return seen


def _both(
    s3: Any,
    buckets: tuple[str, str],
    steps: list[Step],
    listing: Callable[[dict[int, str]], list[tuple[int, str]]] | None = None,
    algorithm: str | None = None,
    ctype: str | None = None,
) -> dict[str, Any]:
    """The same upload completed with the patch and with moto's original: same outcome."""
    outcomes = []
    for bucket, original in ((buckets[0], False), (buckets[1], True)):
        upload_id, etags = _upload(s3, bucket, "obj", steps, algorithm, ctype)
        parts = listing(etags) if listing else sorted(etags.items())
        if original:
            with moto_original():
                done = _complete(s3, bucket, "obj", upload_id, parts)
        else:
            done = _complete(s3, bucket, "obj", upload_id, parts)
        seen = _observe(s3, bucket, "obj") if "error" not in done else None
        outcomes.append((done, seen, upload_id, parts))
    (fast, fast_seen, upload_id, parts), (orig, orig_seen, _, _) = outcomes
    assert fast == orig
    assert fast_seen == orig_seen
    return {"complete": fast, "seen": fast_seen, "upload_id": upload_id, "parts": parts}


def _expected_etag(bodies: list[bytes]) -> str:
    md5s = b"".join(hashlib.md5(b).digest() for b in bodies)
    return f'"{hashlib.md5(md5s).hexdigest()}-{len(bodies)}"'


def _get(s3: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read())


@pytest.mark.parametrize(
    "sizes",
    [[100_000], [PART], [PART, PART, PART, 1024], [PART, PART + 17, 3 * MIB], [PART - 1024 + 1], [PART - 1024], [0]],
    ids=["one-small-part", "one-part", "last-part-small", "odd-sizes", "just-over-buffer", "buffer-size", "empty"],
)
def test_shapes_match_moto(s3: Any, buckets: tuple[str, str], sizes: list[int]) -> None:
    bodies = [_data(n, i) for i, n in enumerate(sizes)]
    steps = list(enumerate(bodies, start=1))
    out = _both(s3, buckets, steps)
    assert out["complete"]["ETag"] == _expected_etag(bodies)
    whole = b"".join(bodies)
    assert _get(s3, buckets[0], "obj") == whole
    assert out["seen"]["ContentLength"] == len(whole)
    assert out["seen"]["internals"]["checksum"][1:3] == (
        "FULL_OBJECT",
        base64.b64encode(binascii.crc32(whole).to_bytes(4, "big")).decode(),
    )


def test_many_parts_out_of_order_and_reuploaded(s3: Any, buckets: tuple[str, str]) -> None:
    bodies = {n: _data(PART, n) for n in range(1, 9)}
    bodies[9] = _data(123_457, 9)
    order = [5, 2, 9, 1, 8, 3, 7, 6, 4]
    steps: list[Step] = [(2, _data(PART, 99))] + [(n, bodies[n]) for n in order]  # part 2 uploaded twice
    out = _both(s3, buckets, steps)
    ordered = [bodies[n] for n in sorted(bodies)]
    assert out["complete"]["ETag"] == _expected_etag(ordered)
    assert _get(s3, buckets[0], "obj") == b"".join(ordered)


def test_a_subset_of_the_parts(s3: Any, buckets: tuple[str, str]) -> None:
    bodies = [_data(PART, n) for n in range(4)]
    out = _both(s3, buckets, list(enumerate(bodies, start=1)), listing=lambda e: [(1, e[1]), (3, e[3]), (4, e[4])])
    assert _get(s3, buckets[0], "obj") == bodies[0] + bodies[2] + bodies[3]
    assert out["complete"]["ETag"] == _expected_etag([bodies[0], bodies[2], bodies[3]])


@pytest.mark.parametrize(
    ("algorithm", "ctype"),
    [
        ("CRC32", None), ("CRC32", "FULL_OBJECT"), ("CRC32C", None), ("SHA1", None), ("SHA256", None),
        ("CRC64NVME", None), ("CRC32C", "FULL_OBJECT"),
    ],
)
def test_checksums_match_moto(s3: Any, buckets: tuple[str, str], algorithm: str, ctype: str | None) -> None:
    bodies = [_data(PART, 1), _data(PART + 3, 2), _data(5000, 3)]
    out = _both(s3, buckets, list(enumerate(bodies, start=1)), algorithm=algorithm, ctype=ctype)
    checksum = out["seen"]["internals"]["checksum"]
    assert checksum[0] == algorithm
    if algorithm == "SHA256" and ctype is None:  # independently: a composite of the parts' digests
        digests = b"".join(hashlib.sha256(b).digest() for b in bodies)
        assert checksum[1:] == ("COMPOSITE", base64.b64encode(hashlib.sha256(digests).digest()).decode(), 3)
    if algorithm == "CRC32" and ctype == "FULL_OBJECT":
        whole = b"".join(bodies)
        assert checksum[1:] == ("FULL_OBJECT", base64.b64encode(binascii.crc32(whole).to_bytes(4, "big")).decode(), 1)


def test_metadata_and_tags_survive(s3: Any, buckets: tuple[str, str]) -> None:
    for bucket in buckets:
        upload_id = s3.create_multipart_upload(
            Bucket=bucket,
            Key="meta",
            ContentType="text/plain",
            Metadata={"origin": "x"},
            Tagging="a=1&b=2",
            StorageClass="STANDARD_IA",
        )["UploadId"]
        etag = s3.upload_part(Bucket=bucket, Key="meta", UploadId=upload_id, PartNumber=1, Body=b"hello")["ETag"]
        parts = [(1, etag)]
        if bucket == buckets[1]:
            with moto_original():
                _complete(s3, bucket, "meta", upload_id, parts)
        else:
            _complete(s3, bucket, "meta", upload_id, parts)
    seen = [_observe(s3, b, "meta") for b in buckets]
    tags = [s3.get_object_tagging(Bucket=b, Key="meta")["TagSet"] for b in buckets]
    assert seen[0] == seen[1] and tags[0] == tags[1]
    assert seen[0]["ContentType"] == "text/plain" and seen[0]["Metadata"] == {"origin": "x"}
    assert sorted(t["Key"] for t in tags[0]) == ["a", "b"]


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong-etag", "InvalidPart"),
        ("missing-part", "InvalidPart"),
        ("small-middle-part", "EntityTooSmall"),
        ("no-parts", "MalformedXML"),
    ],
)
def test_errors_match_moto_and_keep_the_upload(s3: Any, buckets: tuple[str, str], case: str, code: str) -> None:
    sizes = [PART, 1000, PART] if case == "small-middle-part" else [PART, 1000]
    steps = [(n, _data(size, n)) for n, size in enumerate(sizes, start=1)]

    def listing(etags: dict[int, str]) -> list[tuple[int, str]]:
        parts = sorted(etags.items())
        if case == "wrong-etag":
            return [(1, etags[1]), (2, '"' + "0" * 32 + '"')]
        if case == "missing-part":
            return parts + [(7, etags[1])]
        if case == "no-parts":
            return []
        return parts

    out = _both(s3, buckets, steps, listing=listing)
    assert out["complete"]["error"] == code
    # The upload is still there: completing it properly works.
    etags = {
        p["PartNumber"]: p["ETag"]
        for p in s3.list_parts(Bucket=buckets[0], Key="obj", UploadId=out["upload_id"])["Parts"]
    }
    parts = [(1, etags[1]), (len(sizes), etags[len(sizes)])]
    assert "ETag" in _complete(s3, buckets[0], "obj", out["upload_id"], parts)
    assert _get(s3, buckets[0], "obj") == steps[0][1] + steps[-1][1]


def test_a_stale_etag_of_a_reuploaded_part_is_invalid(s3: Any, buckets: tuple[str, str]) -> None:
    old, new = _data(PART, 1), _data(PART, 2)
    upload_id, first = _upload(s3, buckets[0], "obj", [(1, old)], None, None)
    second = s3.upload_part(Bucket=buckets[0], Key="obj", UploadId=upload_id, PartNumber=1, Body=new)["ETag"]
    assert _complete(s3, buckets[0], "obj", upload_id, [(1, first[1])])["error"] == "InvalidPart"
    assert "ETag" in _complete(s3, buckets[0], "obj", upload_id, [(1, second)])
    assert _get(s3, buckets[0], "obj") == new


def test_completing_a_completed_upload_is_no_such_upload_or_idempotent(s3: Any, buckets: tuple[str, str]) -> None:
    bodies = [_data(PART, 1), _data(10, 2)]
    upload_id, etags = _upload(s3, buckets[0], "obj", list(enumerate(bodies, start=1)), None, None)
    first = _complete(s3, buckets[0], "obj", upload_id, sorted(etags.items()))
    assert _complete(s3, buckets[0], "obj", upload_id, sorted(etags.items())) == first  # moto: idempotent
    s3.delete_object(Bucket=buckets[0], Key="obj")
    assert _complete(s3, buckets[0], "obj", upload_id, sorted(etags.items()))["error"] == "NoSuchUpload"


def test_range_gets_of_the_completed_object(s3: Any, buckets: tuple[str, str]) -> None:
    bodies = [_data(PART, 1), _data(PART, 2), _data(777, 3)]
    whole = b"".join(bodies)
    upload_id, etags = _upload(s3, buckets[0], "obj", list(enumerate(bodies, start=1)), None, None)
    _complete(s3, buckets[0], "obj", upload_id, sorted(etags.items()))
    for start, end in [
        (0, 0),
        (PART - 10, PART + 10),
        (2 * PART - 1, 2 * PART + 776),
        (123, 3 * MIB),
        (len(whole) - 1, len(whole) - 1),
    ]:
        got = s3.get_object(Bucket=buckets[0], Key="obj", Range=f"bytes={start}-{end}")
        assert got["Body"].read() == whole[start : end + 1]
        assert got["ContentRange"] == f"bytes {start}-{end}/{len(whole)}"
    assert _get(s3, buckets[0], "obj", Range="bytes=-1000") == whole[-1000:]


def test_a_large_put_object_is_written_once_and_reads_back(s3: Any, buckets: tuple[str, str]) -> None:
    body = _data(3 * PART + 5, 1)
    for bucket in buckets:
        if bucket == buckets[1]:
            with moto_original():
                s3.put_object(Bucket=bucket, Key="put", Body=body)
        else:
            s3.put_object(Bucket=bucket, Key="put", Body=body)
    seen = [_observe(s3, b, "put") for b in buckets]
    assert seen[0] == seen[1]
    assert seen[0]["internals"]["rolled"] and _get(s3, buckets[0], "put") == body


def test_an_assembled_object_adopted_by_a_key_of_another_buffer_size(emulator: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import FakeKey

    from local_runtime.emulator.s3 import _Assembled

    body = _data(3 * MIB, 1)
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(PART - 1024)
    spool.write(body)
    key = FakeKey("k", _Assembled(spool, len(body)), DEFAULT_ACCOUNT_ID, REGION, max_buffer_size=MIB)  # type: ignore[arg-type]
    try:
        assert spool.closed and key.value == body and key.contentsize == len(body)
        assert key._value_buffer._rolled  # type: ignore[attr-defined]  # as moto's own 1 MiB buffer would be
    finally:
        key.dispose()


def test_a_part_listed_twice_in_process(s3: Any, buckets: tuple[str, str]) -> None:
    """Through the backend (HTTP refuses it: InvalidPartOrder) a part may come twice: it is
    copied twice, and emptied only after its last use."""
    bodies = [_data(PART, 1), _data(PART, 2)]
    for bucket in buckets:
        upload_id, etags = _upload(s3, bucket, "obj", list(enumerate(bodies, start=1)), None, None)
        listing = iter([(1, etags[1]), (2, etags[2]), (1, etags[1]), (2, etags[2])])
        if bucket == buckets[1]:
            with moto_original():
                _backend().complete_multipart_upload(bucket, upload_id, listing)
        else:
            _backend().complete_multipart_upload(bucket, upload_id, listing)
    seen = [_observe(s3, b, "obj") for b in buckets]
    assert seen[0] == seen[1]
    assert _get(s3, buckets[0], "obj") == (bodies[0] + bodies[1]) * 2


def test_uploads_of_the_same_part_at_once_all_succeed(emulator: str) -> None:
    """Duplicate UploadParts racing each other (a redelivered message, a retry) each get a 200
    and the part that stays is whole: moto alone answers some of them 500 (it closes the file of
    the part it replaces while the other request still reads it for its ETag)."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config as BotoConfig

    s3 = boto3.client("s3", region_name=REGION, config=BotoConfig(retries={"total_max_attempts": 1},
                                                                  max_pool_connections=16))
    bucket = "race-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(PART)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]

    def put(_: int) -> str:
        return str(s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=body)["ETag"])

    for _ in range(6):
        with ThreadPoolExecutor(8) as pool:
            etags = set(pool.map(put, range(8)))
        assert etags == {f'"{hashlib.md5(body).hexdigest()}"'}
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags.pop()}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


@contextmanager
def _counted_reads() -> Iterator[dict[str, int]]:
    """How often a key's ETag had to be computed by reading its bytes back (moto's lazy
    ``FakeKey.etag``), and how many bytes CompleteMultipartUpload hashed."""
    from moto.s3.models import FakeKey

    from local_runtime.emulator import s3 as emulator_s3

    counts = {"etag_reads": 0, "hashed_at_complete": 0}
    etag, update, complete = FakeKey.etag, emulator_s3._Hasher.update, FakeMultipart_complete()
    completing = [False]

    def counted_etag(self: Any) -> str:
        if self.__dict__.get("_etag") is None:
            counts["etag_reads"] += 1
        return str(etag.fget(self))  # type: ignore[attr-defined]

    def counted_update(self: Any, data: Any) -> None:
        if completing[0]:
            counts["hashed_at_complete"] += len(data)
        update(self, data)

    def counted_complete(self: Any, body: Any) -> Any:
        completing[0] = True
        try:
            return complete(self, body)
        finally:
            completing[0] = False

    from moto.s3.models import FakeMultipart

    FakeKey.etag = property(counted_etag)  # type: ignore[method-assign,assignment]
    emulator_s3._Hasher.update = counted_update  # type: ignore[method-assign]
    FakeMultipart.complete = functools.wraps(complete)(counted_complete)  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        FakeKey.etag = etag  # type: ignore[method-assign]
        emulator_s3._Hasher.update = update  # type: ignore[method-assign]
        FakeMultipart.complete = complete  # type: ignore[method-assign]


def FakeMultipart_complete() -> Any:  # noqa: N802 - (the attribute it returns)
    from moto.s3.models import FakeMultipart

    return FakeMultipart.__dict__["complete"]


@pytest.mark.parametrize("data_dir", [False, True], ids=["in-memory", "data-dir"])
@pytest.mark.parametrize(
    ("algorithm", "ctype"), [("CRC32", None), ("CRC32", "FULL_OBJECT"), (None, None), ("SHA256", None)],
)
def test_parts_are_not_read_back_for_etags_or_checksums(
    s3: Any, algorithm: str | None, ctype: str | None, data_dir: bool, tmp_path: Any
) -> None:
    """UploadPart takes the part's ETag and checksum from the bytes it received: no part is read
    back for its ETag, and CompleteMultipartUpload hashes nothing (a composite checksum is the
    parts' digests; a full-object CRC32 their CRC32s combined), yet answers what S3 (and moto's
    own code, test_checksums_match_moto) answers."""
    from local_runtime.emulator import files as emulator_files

    store = emulator_files.activate(tmp_path) if data_dir else None
    try:
        bucket = f"noread-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        bodies = [_data(PART, 1), _data(PART + 3, 2), _data(5000, 3)]
        with _counted_reads() as counts:
            upload_id, etags = _upload(s3, bucket, "obj", list(enumerate(bodies, start=1)), algorithm, ctype)
            done = _complete(s3, bucket, "obj", upload_id, sorted(etags.items()))
        assert counts == {"etag_reads": 0, "hashed_at_complete": 0}
        assert done["ETag"] == _expected_etag(bodies)
        assert etags == {n: f'"{hashlib.md5(b).hexdigest()}"' for n, b in enumerate(bodies, start=1)}
        whole = b"".join(bodies)
        assert _get(s3, bucket, "obj") == whole
        key = _backend().get_object(bucket, "obj")
        if algorithm == "SHA256":
            digests = b"".join(hashlib.sha256(b).digest() for b in bodies)
            expected = ("COMPOSITE", base64.b64encode(hashlib.sha256(digests).digest()).decode())
        elif algorithm == "CRC32" and ctype is None:
            digests = b"".join(binascii.crc32(b).to_bytes(4, "big") for b in bodies)
            expected = ("COMPOSITE", base64.b64encode(binascii.crc32(digests).to_bytes(4, "big")).decode())
        else:  # full object (moto's default without an algorithm: CRC64NVME, as CRC32 without awscrt)
            expected = ("FULL_OBJECT", base64.b64encode(binascii.crc32(whole).to_bytes(4, "big")).decode())
        assert (key.checksum_type, key.checksum_value) == expected
    finally:
        if store is not None:
            emulator_files.deactivate(store)


def test_crc32_combine_is_zlibs() -> None:
    from local_runtime.emulator.s3 import crc32_combine

    rng = __import__("random").Random(7)
    for _ in range(300):
        a, b = os.urandom(rng.randint(0, 3000)), os.urandom(rng.randint(0, 70_000))
        assert crc32_combine(binascii.crc32(a), binascii.crc32(b), len(b)) == binascii.crc32(a + b)


def test_an_upload_part_racing_the_completion_waits_and_the_object_is_whole(
    s3: Any, buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate UploadPart of a listed part (an at-least-once redelivery) arriving while the
    upload is being completed: the completion pauses after its first part, the UploadPart of
    part 2 is sent meanwhile. It must wait for the completion, which then finishes from the parts
    it listed, and answer NoSuchUpload (the upload is complete). Before, it replaced part 2 under
    the completion (I/O on a closed file, 500), and every retry failed on the parts the first try
    had emptied: the download never finished (test_engine_delivery's duplicate test, under load)."""
    from local_runtime.emulator import s3 as emulator_s3

    bodies = [_data(PART, 1), _data(PART, 2), _data(PART, 3), _data(333, 4)]
    upload_id, etags = _upload(s3, buckets[0], "obj", list(enumerate(bodies, start=1)), None, None)
    paused, go, arrived = threading.Event(), threading.Event(), threading.Event()
    chunks, stripe = emulator_s3._chunks, emulator_s3._stripe

    def pausing_chunks(part: Any, scratch: memoryview) -> Iterator[memoryview]:
        yield from chunks(part, scratch)
        if not paused.is_set():  # after the first part: wait for the racing UploadPart
            paused.set()
            assert go.wait(60)

    def noting_stripe(upload: Any, number: Any) -> int:
        if paused.is_set() and str(number) == "2":
            arrived.set()  # the UploadPart reached the emulator
        return stripe(upload, number)

    monkeypatch.setattr(emulator_s3, "_chunks", pausing_chunks)
    monkeypatch.setattr(emulator_s3, "_stripe", noting_stripe)
    answers: dict[str, Any] = {}

    def complete() -> None:
        answers["complete"] = _complete(s3, buckets[0], "obj", upload_id, sorted(etags.items()))

    def upload_again() -> None:
        try:
            s3.upload_part(Bucket=buckets[0], Key="obj", UploadId=upload_id, PartNumber=2, Body=bodies[1])
            answers["upload"] = "stored"
        except ClientError as exc:
            answers["upload"] = exc.response["Error"]["Code"]

    completing = threading.Thread(target=complete)
    completing.start()
    assert paused.wait(60), "the completion did not start"
    racing = threading.Thread(target=upload_again)
    racing.start()
    wait_for(lambda: arrived.is_set() or not racing.is_alive(), 60, what="the UploadPart to reach the emulator")
    go.set()
    completing.join(60)
    racing.join(60)

    assert "ETag" in answers["complete"], answers
    assert answers["upload"] == "NoSuchUpload", answers
    assert _get(s3, buckets[0], "obj") == b"".join(bodies)


def test_copied_parts_are_not_read_back_either(s3: Any) -> None:
    """UploadPartCopy's parts come through the same ``set_part`` with their bytes: Complete
    hashes nothing for them either, and the composite CRC32 is the parts' own."""
    bucket = f"copyparts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    source = _data(2 * PART + 10, 1)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="obj", ChecksumAlgorithm="CRC32")["UploadId"]
    with _counted_reads() as counts:
        pieces, parts = [source[:PART], source[PART:]], []
        for n, (start, piece) in enumerate(((0, pieces[0]), (PART, pieces[1])), start=1):
            copied = s3.upload_part_copy(
                Bucket=bucket, Key="obj", UploadId=upload_id, PartNumber=n,
                CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={start}-{start + len(piece) - 1}",
            )
            parts.append((n, copied["CopyPartResult"]["ETag"]))
        _complete(s3, bucket, "obj", upload_id, parts)
    assert counts["hashed_at_complete"] == 0
    assert _get(s3, bucket, "obj") == source
    digests = b"".join(binascii.crc32(p).to_bytes(4, "big") for p in pieces)
    key = _backend().get_object(bucket, "obj")
    assert (key.checksum_type, key.checksum_value) == (
        "COMPOSITE", base64.b64encode(binascii.crc32(digests).to_bytes(4, "big")).decode()
    )
