"""In-memory fakes of the bucket, the work queue and the origins (the ``ObjectStorage``,
``Queue`` and ``Origin`` ports of chalicelib/transfer/ports.py)."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.origin import OriginError, Probe, SourceChanged
from chalicelib.adapters.s3 import UploadedPart, UploadGone
from chalicelib.domain.pacing import Pacer


def s3_error(code: str = "InternalError") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, "UploadPart")


@dataclass
class _Upload:
    key: str
    content_type: str | None
    metadata: dict[str, str]
    parts: dict[int, bytes] = field(default_factory=dict)


class FakeObjectStore:
    """Multipart uploads and objects in dicts; ``fail_parts``: errors the next UploadParts raise."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.uploads: dict[str, _Upload] = {}
        self.fail_parts: list[Exception] = []
        self.aborted: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start_upload(self, key: str, content_type: str | None, metadata: dict[str, str] | None = None) -> str:
        with self._lock:
            upload_id = f"up-{next(self._ids)}"
            self.uploads[upload_id] = _Upload(key, content_type, metadata or {})
            return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, body: memoryview) -> UploadedPart:
        with self._lock:
            if self.fail_parts:
                raise self.fail_parts.pop(0)
            upload = self.uploads.get(upload_id)
            if upload is None or upload.key != key:
                raise UploadGone(upload_id)
            upload.parts[number] = bytes(body)
            return UploadedPart(number, hashlib.md5(bytes(body)).hexdigest(), None)  # an ETag, as S3 makes it

    def complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        with self._lock:
            upload = self.uploads.pop(upload_id, None)
            if upload is None:
                raise UploadGone(upload_id)
            self.objects[key] = b"".join(upload.parts[p.number] for p in sorted(parts, key=lambda p: p.number))
            self.metadata[key] = upload.metadata

    def abort(self, key: str, upload_id: str) -> None:
        with self._lock:
            self.uploads.pop(upload_id, None)
            self.aborted.append(upload_id)

    def size(self, key: str) -> int | None:
        found = self.objects.get(key)
        return None if found is None else len(found)

    def put(
        self, key: str, body: memoryview, content_type: str | None, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[key] = bytes(body)
        self.metadata[key] = metadata or {}

    def copy(self, source: str, key: str, metadata: dict[str, str], content_type: str | None) -> None:
        self.objects[key] = self.objects[source]
        self.metadata[key] = metadata

    def user_metadata(self, key: str) -> dict[str, str]:
        return dict(self.metadata.get(key, {}))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def read(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        data = self.objects[key]
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    def presign(self, key: str, filename: str, expires: int) -> str:
        return f"https://bucket.example/{key}?expires={expires}"


class FakeQueue:
    """The messages sent, in order, with their delays; ``take()`` hands them over."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], float]] = []
        self.extended: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any], delay: float = 0) -> None:
        with self._lock:
            self.sent.append((dict(message), delay))

    def send_many(self, messages: Iterable[dict[str, Any]]) -> None:
        for message in messages:
            self.send(message)

    def extend(self, receipt_handle: str, seconds: int) -> None:
        self.extended.append((receipt_handle, seconds))

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            out, self.sent = [m for m, _ in self.sent], []
            return out


@dataclass
class FakeFile:
    body: bytes
    ranges: bool = True
    etag: str | None = '"v1"'
    content_type: str | None = "application/octet-stream"
    filename: str = "file.bin"


class FakeOrigin:
    """Files by URL. ``failures[url]``: errors the next reads of that URL raise (probe included);
    ``on_fetch``: called before each ranged read (a test changes the file there)."""

    def __init__(self) -> None:
        self.files: dict[str, FakeFile] = {}
        self.failures: dict[str, list[Exception]] = {}
        self.on_fetch: Callable[[str, int, int], None] | None = None
        self.fetches: list[tuple[str, int, int]] = []

    def _maybe_fail(self, url: str) -> FakeFile:
        pending = self.failures.get(url)
        if pending:
            raise pending.pop(0)
        found = self.files.get(url)
        if found is None:
            raise OriginError("the origin answered HTTP 404 Not Found", retryable=False, status=404)
        return found

    def probe(self, url: str, headers: Mapping[str, str]) -> Probe:
        f = self._maybe_fail(url)
        size = len(f.body)
        return Probe(url, size, f.ranges, f.etag, f.etag, f.filename, f.content_type)

    def fetch_range(
        self, url: str, headers: Mapping[str, str], first: int, last: int, validator: str | None,
        total: int, into: memoryview, progress: Callable[[int], None] = lambda n: None, pacer: Pacer | None = None,
    ) -> int:
        if self.on_fetch is not None:
            self.on_fetch(url, first, last)
        f = self._maybe_fail(url)
        self.fetches.append((url, first, last))
        if len(f.body) != total:
            raise SourceChanged(f"the file's length changed from {total} to {len(f.body)}")
        if validator and f.etag and f.etag != validator:
            raise SourceChanged("the file's ETag changed")
        data = f.body[first : last + 1]
        into[: len(data)] = data
        progress(len(data))
        return len(data)

    def stream(self, url: str, headers: Mapping[str, str], pacer: Pacer | None = None) -> Iterator[bytes]:
        f = self._maybe_fail(url)
        for i in range(0, len(f.body), 64 * 1024):
            yield f.body[i : i + 64 * 1024]
