"""The emulator's S3 objects and multipart parts as files of the data directory.

While a data directory is in use (:func:`activate`), every object and every uploaded part
keeps its bytes in a file of its own, ``s3/blobs/<id>``, instead of moto's temporary file
(or memory, under 5 MB): a :class:`DiskBuffer` that moto's ``FakeKey`` uses as its buffer,
opened only while it is read or written, so storing gigabytes costs the emulator no memory
and no file descriptors. What each object and unfinished upload is (its key, ETag, metadata,
checksum, which blob) is a small file beside it, written (atomically) after moto handled a
request that changed it and before the answer leaves:

    s3/buckets/<bucket>/bucket.json                 account and region
    s3/buckets/<bucket>/keys/<sha256 of the key>    an object (the latest version)
    s3/buckets/<bucket>/uploads/<upload id>/upload  an unfinished multipart upload
    s3/buckets/<bucket>/uploads/<upload id>/<n>     its part n

A 200 for PutObject, UploadPart or CompleteMultipartUpload therefore means the bytes and
their description are in files. At start, :func:`activate` rebuilds moto's buckets, objects
and uploads from them; a blob no description refers to (a request a crash interrupted) is
deleted, and a description whose blob is missing is reported and dropped.

Not kept: object versions other than the latest, and a completed object's parts (moto keeps
them for GetObject with a part number).
"""

from __future__ import annotations

import abc
import functools
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import tempfile
import threading
import uuid
from bisect import insort
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from .datadir import atomic_write

log = logging.getLogger("haul.local.state")


class _Positioned(abc.ABC):
    """What moto asks of a key's buffer besides reading and writing: a position."""

    _rolled = True  # (for code that asks whether a SpooledTemporaryFile is on disk)
    _pos = 0

    @abc.abstractmethod
    def size(self) -> int:
        """The buffer's length in bytes."""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size()}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing to flush: every write goes to the file at once."""
        return None

    @property
    def closed(self) -> bool:
        return False


class DiskBuffer(_Positioned):
    """A file-like view of one blob, for moto's FakeKey: reads and writes go straight to the
    file at the buffer's position; a descriptor is held only between ``fileno()`` and
    ``close()``. Closing never deletes the file (the store decides when a blob is garbage)."""

    def __init__(self, path: str) -> None:
        self.name = path
        self._fd: int | None = None
        self._pos = 0

    def fileno(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.name, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def _with_fd(self, flags: int, fn: Callable[[int], Any]) -> Any:
        if self._fd is not None:
            return fn(self._fd)
        fd = os.open(self.name, flags, 0o600)
        try:
            return fn(fd)
        finally:
            os.close(fd)

    def size(self) -> int:
        try:
            return os.stat(self.name).st_size
        except FileNotFoundError:
            return 0

    def read(self, size: int | None = -1) -> bytes:
        def read(fd: int) -> bytes:
            want = os.fstat(fd).st_size - self._pos if size is None or size < 0 else size
            chunks = []
            while want > 0:
                chunk = os.pread(fd, want, self._pos)
                if not chunk:
                    break
                chunks.append(chunk)
                self._pos += len(chunk)
                want -= len(chunk)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

        try:
            return bytes(self._with_fd(os.O_RDONLY, read))
        except FileNotFoundError:
            return b""

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")

        def write(fd: int) -> int:
            rest = view
            while rest:
                n = os.pwrite(fd, rest, self._pos)
                rest = rest[n:]
                self._pos += n
            return len(view)

        return int(self._with_fd(os.O_WRONLY | os.O_CREAT, write))

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        self._with_fd(os.O_WRONLY | os.O_CREAT, lambda fd: os.ftruncate(fd, size))
        return size

    def rollover(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JoinedBuffer(_Positioned):
    """A completed multipart object: its parts' blobs, read one after the other (nothing copied:
    CompleteMultipartUpload hands the parts' files to the object). Read-only, as an S3 object is."""

    def __init__(self, paths: list[str]) -> None:
        self.names = paths
        self._pos = 0

    def _sizes(self) -> list[int]:
        return [DiskBuffer(p).size() for p in self.names]

    def size(self) -> int:
        return sum(self._sizes())

    def read(self, size: int | None = -1) -> bytes:
        want = self.size() - self._pos if size is None or size < 0 else size
        chunks = []
        start = 0
        for path, length in zip(self.names, self._sizes(), strict=True):
            if want <= 0:
                break
            if self._pos < start + length:
                part = DiskBuffer(path)
                part.seek(self._pos - start)
                chunk = part.read(min(want, start + length - self._pos))
                chunks.append(chunk)
                self._pos += len(chunk)
                want -= len(chunk)
            start += length
        return b"".join(chunks)

    def write(self, data: Any) -> int:
        raise io.UnsupportedOperation("a completed multipart object is not written in place")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("a completed multipart object is not written in place")

    def close(self) -> None:
        pass


# -- describing keys and uploads ----------------------------------------------------------------


class _Describer(pickle.Pickler):
    """Pickles a FakeKey as its attributes and the name of its blob (never its bytes)."""

    def reducer_override(self, obj: Any) -> Any:
        from moto.s3.models import FakeKey

        if isinstance(obj, FakeKey):
            state = {k: v for k, v in obj.__dict__.items() if k not in ("_value_buffer", "lock")}
            state["multipart"] = None
            return _restore_key, (state, _blobs_of(obj))
        if isinstance(obj, type(threading.Lock())):
            return threading.Lock, ()
        return NotImplemented


def _describe(obj: Any) -> bytes:
    out = io.BytesIO()
    _Describer(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def _restore_key(state: dict[str, Any], blobs: list[str]) -> Any:
    from moto.s3.models import FakeKey

    store = _active[0] or _loading[0]
    assert store is not None and blobs
    key: Any = FakeKey.__new__(FakeKey)
    key.__dict__.update(state)
    paths = [str(store.blobs / b) for b in blobs]
    key._value_buffer = DiskBuffer(paths[0]) if len(paths) == 1 else JoinedBuffer(paths)
    key.lock = threading.Lock()
    return key


def _blobs_of(key: Any) -> list[str]:
    """The blobs holding a key's bytes, in order ([] if they are not in blobs)."""
    buffer = getattr(key, "_value_buffer", None)
    if isinstance(buffer, DiskBuffer):
        return [os.path.basename(buffer.name)]
    if isinstance(buffer, JoinedBuffer):
        return [os.path.basename(p) for p in buffer.names]
    return []


# -- the store -----------------------------------------------------------------------------------


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.buckets = root / "buckets"
        self.report: list[str] = []
        self._key_blobs: dict[tuple[str, str], list[str]] = {}  # (bucket, key): its blobs
        self._object_blobs: set[str] = set()  # every blob an object holds (parts handed over too)
        self._uploads: dict[tuple[str, str], dict[int, str]] = {}  # (bucket, upload id): {part: blob}
        self._locks = [threading.Lock() for _ in range(64)]

    def _lock_for(self, *what: Any) -> threading.Lock:
        return self._locks[hash(what) % len(self._locks)]

    def new_buffer(self) -> DiskBuffer:
        return DiskBuffer(str(self.blobs / uuid.uuid4().hex))

    def _bucket_dir(self, bucket: str) -> Path:
        return self.buckets / bucket

    def _key_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket) / "keys" / hashlib.sha256(key.encode()).hexdigest()

    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self._bucket_dir(bucket) / "uploads" / upload_id

    def _drop_blob(self, blob: str | None, keep: set[str] | frozenset[str] = frozenset()) -> None:
        if blob and blob not in keep:
            (self.blobs / blob).unlink(missing_ok=True)

    def _own_blobs(self, key: Any) -> list[str]:
        """The key's blobs; a key whose bytes are elsewhere (made before the store was active, or
        copied by moto) gets one now."""
        blobs = _blobs_of(key)
        if not blobs:
            with key.lock:
                key._value_buffer.seek(0)
                data = key._value_buffer.read()
            buffer = self.new_buffer()
            buffer.write(data)
            old, key._value_buffer = key._value_buffer, buffer
            old.close()
            blobs = [os.path.basename(buffer.name)]
        return blobs

    # -- after a request changed something
    def sync_bucket(self, backend: Any, bucket_name: str) -> None:
        bucket = backend.buckets.get(bucket_name)
        directory = self._bucket_dir(bucket_name)
        if bucket is None:
            for (b, k), blobs in list(self._key_blobs.items()):
                if b == bucket_name:
                    for blob in blobs:
                        self._drop_blob(blob)
                        self._object_blobs.discard(blob)
                    del self._key_blobs[(b, k)]
            shutil.rmtree(directory, ignore_errors=True)
            return
        if not (directory / "bucket.json").exists():
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write(directory / "bucket.json", json.dumps(
                {"account": backend.account_id, "region": bucket.region_name}).encode(), durable=False)
        for k in [key for b, key in self._key_blobs if b == bucket_name]:
            if bucket.keys.get(k) is None:
                self.sync_key(backend, bucket_name, k)
        for upload_id in bucket.multiparts:
            if (bucket_name, upload_id) not in self._uploads:
                self.sync_upload(backend, bucket_name, upload_id, None)

    def sync_key(self, backend: Any, bucket_name: str, key_name: str) -> None:
        bucket = backend.buckets.get(bucket_name)
        if bucket is not None and not (self._bucket_dir(bucket_name) / "bucket.json").exists():
            self.sync_bucket(backend, bucket_name)
        with self._lock_for("key", bucket_name, key_name):
            key = bucket.keys.get(key_name) if bucket is not None else None
            path = self._key_path(bucket_name, key_name)
            previous = self._key_blobs.get((bucket_name, key_name), [])
            blobs: list[str] = []
            if key is None or getattr(key, "is_delete_marker", False):
                path.unlink(missing_ok=True)
                self._key_blobs.pop((bucket_name, key_name), None)
            else:
                blobs = self._own_blobs(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, _describe({"name": key_name, "key": key}), durable=False)
                self._key_blobs[(bucket_name, key_name)] = blobs
                self._object_blobs.update(blobs)
            for blob in set(previous) - set(blobs):
                self._object_blobs.discard(blob)
                self._drop_blob(blob)

    def sync_upload(self, backend: Any, bucket_name: str, upload_id: str, part: int | None) -> None:
        bucket = backend.buckets.get(bucket_name)
        upload = bucket.multiparts.get(upload_id) if bucket is not None else None
        directory = self._upload_dir(bucket_name, upload_id)
        with self._lock_for("upload", bucket_name, upload_id):
            parts = self._uploads.get((bucket_name, upload_id))
            if upload is None:  # completed or aborted: its parts are garbage, unless an object holds them
                for blob in (parts or {}).values():
                    self._drop_blob(blob, keep=self._object_blobs)
                self._uploads.pop((bucket_name, upload_id), None)
                shutil.rmtree(directory, ignore_errors=True)
                return
            if parts is None:
                directory.mkdir(parents=True, exist_ok=True)
                state = {k: v for k, v in upload.__dict__.items() if k not in ("parts", "partlist")}
                atomic_write(directory / "upload", _describe({"bucket": bucket_name, "upload": state}), durable=False)
                parts = self._uploads[(bucket_name, upload_id)] = {}
        if part is None:
            return
        with self._lock_for("part", bucket_name, upload_id, part):
            key = upload.parts.get(part)
            if key is None:
                return
            blob = self._own_blobs(key)[0]
            atomic_write(directory / str(part), _describe({"part": part, "key": key}), durable=False)
            previous = parts.get(part)
            parts[part] = blob
            if previous != blob:
                self._drop_blob(previous, keep=self._object_blobs)

    # -- at start
    def load(self) -> None:
        from moto.s3.models import FakeMultipart, s3_backends
        from moto.utilities.utils import get_partition

        self.blobs.mkdir(parents=True, exist_ok=True)
        self.buckets.mkdir(parents=True, exist_ok=True)
        objects = uploads = parts = stored = 0
        for directory in sorted(self.buckets.iterdir()):
            try:
                where = json.loads((directory / "bucket.json").read_text())
            except (OSError, ValueError) as exc:
                self.report.append(
                    f"bucket {directory.name}: unreadable bucket.json ({exc}); its objects are not loaded"
                )
                continue
            backend = s3_backends[where["account"]][get_partition(where["region"])]
            if directory.name not in backend.buckets:
                backend.create_bucket(directory.name, where["region"])
            bucket = backend.buckets[directory.name]
            for path in sorted((directory / "keys").glob("*")) if (directory / "keys").exists() else []:
                found = self._read(path)
                if found is None:
                    continue
                key = found["key"]
                blobs = _blobs_of(key)
                if not blobs or not all((self.blobs / b).exists() for b in blobs):
                    self.report.append(f"object {found['name']!r}: its file is missing; dropped")
                    path.unlink()
                    continue
                bucket.keys[found["name"]] = key
                self._key_blobs[(directory.name, found["name"])] = blobs
                self._object_blobs.update(blobs)
                objects += 1
                stored += int(key.contentsize or 0)
            for upload_dir in sorted((directory / "uploads").glob("*")) if (directory / "uploads").exists() else []:
                found = self._read(upload_dir / "upload")
                if found is None:
                    shutil.rmtree(upload_dir, ignore_errors=True)
                    continue
                upload: Any = FakeMultipart.__new__(FakeMultipart)
                upload.__dict__.update(found["upload"])
                upload.parts, upload.partlist = {}, []
                part_blobs: dict[int, str] = {}
                for part_path in upload_dir.iterdir():
                    if not part_path.name.isdigit():
                        continue
                    part = self._read(part_path)
                    held = _blobs_of(part["key"]) if part is not None else []
                    if part is None or len(held) != 1 or not (self.blobs / held[0]).exists():
                        part_path.unlink(missing_ok=True)
                        continue
                    upload.parts[part["part"]] = part["key"]
                    insort(upload.partlist, part["part"])
                    part_blobs[part["part"]] = held[0]
                    parts += 1
                bucket.multiparts[upload.id] = upload
                self._uploads[(directory.name, upload.id)] = part_blobs
                uploads += 1
        used = self._object_blobs | {b for p in self._uploads.values() for b in p.values()}
        garbage = [p for p in self.blobs.iterdir() if p.name not in used]
        for path in garbage:
            path.unlink(missing_ok=True)
        self.report.append(
            f"S3: {objects} object(s), {stored / 2**20:.1f} MiB; {uploads} unfinished upload(s) with {parts} part(s)"
            + (f"; {len(garbage)} unreferenced file(s) removed" if garbage else "")
        )

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = pickle.loads(path.read_bytes())
            return found
        except Exception as exc:  # noqa: BLE001 -- atomic writes make this rare; skip it, keep a copy
            aside = path.with_name(f"{path.name}.corrupt")
            path.rename(aside)
            self.report.append(f"{path.relative_to(self.root)}: unreadable ({exc}); set aside")
            return None


_active: list[FileStore | None] = [None]
_loading: list[FileStore | None] = [None]


def active() -> FileStore | None:
    return _active[0]


def activate(root: Path) -> FileStore:
    """Load the S3 state under ``root`` into moto and keep it there from now on."""
    store = FileStore(root)
    _loading[0] = store
    try:
        store.load()
    finally:
        _loading[0] = None
    _active[0] = store
    return store


def deactivate(store: FileStore) -> None:
    if _active[0] is store:
        _active[0] = None


def new_buffer() -> DiskBuffer | None:
    store = _active[0]
    return store.new_buffer() if store is not None else None


def joined(parts: list[Any]) -> JoinedBuffer | None:
    """With a data directory, a completed object made of its parts' blobs as they are (None:
    copy them)."""
    buffers = [getattr(p, "_value_buffer", None) for p in parts]
    if _active[0] is None or not all(isinstance(b, DiskBuffer) for b in buffers):
        return None
    return JoinedBuffer([b.name for b in buffers])  # type: ignore[union-attr]


# -- where moto's S3 requests are watched -------------------------------------------------------

_CHANGES = frozenset({"PUT", "POST", "DELETE"})


def _status(result: Any) -> int:
    return int(result[0]) if isinstance(result, tuple) and result and isinstance(result[0], int) else 200


def _synced_key_response(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def key_response(self: Any, request: Any, full_url: str) -> Any:
        result = original(self, request, full_url)
        store = _active[0]
        if store is None or request.method not in _CHANGES or _status(result) >= 300:
            return result
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        bucket_name = self.parse_bucket_name_from_url(request, full_url)
        key_name = self.parse_key_name()
        backend = self.backend
        upload_id = (query.get("uploadId") or [""])[0]
        if "uploads" in query:  # CreateMultipartUpload
            store.sync_bucket(backend, bucket_name)
        elif upload_id:
            if request.method == "POST":  # CompleteMultipartUpload: the object first
                store.sync_key(backend, bucket_name, key_name)
            part = (query.get("partNumber") or [""])[0]
            store.sync_upload(backend, bucket_name, upload_id, int(part) if part and part.isdigit() else None)
        else:
            store.sync_key(backend, bucket_name, key_name)
        return result

    return key_response


def _synced_bucket_response(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def bucket_response(self: Any, request: Any, full_url: str) -> Any:
        result = original(self, request, full_url)
        store = _active[0]
        if store is not None and request.method in _CHANGES and _status(result) < 300:
            store.sync_bucket(self.backend, self.parse_bucket_name_from_url(request, full_url))
        return result

    return bucket_response


def owned_buffer(key: Any) -> None:
    """Before moto writes a key's bytes: into a blob of its own while the store is active."""
    store = _active[0]
    if store is not None and not isinstance(getattr(key, "_value_buffer", None), DiskBuffer):
        old = getattr(key, "_value_buffer", None)
        key._value_buffer = store.new_buffer()
        if isinstance(old, tempfile.SpooledTemporaryFile):
            old.close()


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from moto.s3.responses import S3Response

    return [(S3Response, "_key_response", _synced_key_response),
            (S3Response, "_bucket_response", _synced_bucket_response)]
