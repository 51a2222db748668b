"""The embedded install's data directory (HAUL_DATA_DIR, default ./.haul-data).

Layout (format 1)::

    format.json                 {"format": 1, "moto": "<version that wrote the state>"}
    lock                        held (flock) by the runtime that uses the directory
    dynamodb/snapshot-<n>.bin   every table (items, indexes, stream records) at a moment
    dynamodb/journal-<n>.bin    every DynamoDB write acknowledged since snapshot <n>
    sqs/snapshot.bin[.prev]     every queue with its messages (visible, in flight, delayed)
    s3/blobs/<id>               one file per stored object and per uploaded part
    s3/<bucket>/...             what each object and unfinished multipart upload is

The format has a number; a directory written in another format is migrated when a
migration exists (``MIGRATIONS``), or refused with a message that says what to do, never
read wrongly or discarded.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
DEFAULT = ".haul-data"
# format n -> a function that turns a directory of format n into format n + 1 (none yet).
MIGRATIONS: dict[int, Callable[[Path], None]] = {}


class DataDirError(Exception):
    """The data directory cannot be used as it is; the message says why and what to do."""


def resolve(value: str | None, cwd: Path | None = None) -> Path:
    """HAUL_DATA_DIR's value (or the default), as an absolute path."""
    path = Path(value or DEFAULT).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that a reader finds the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class DataDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None

    def open(self, moto_version: str) -> None:
        """Create or check the directory and hold its lock; DataDirError if it cannot be used."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create the data directory {self.path}: {exc.strerror or exc}") from None
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise DataDirError(
                f"the data directory {self.path} is in use by another Haul (pid {holder or '?'}): "
                "stop it, or start this one with another HAUL_DATA_DIR=..."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        try:
            self._check_format(moto_version)
        except BaseException:
            self.close()
            raise

    def _check_format(self, moto_version: str) -> None:
        marker = self.path / "format.json"
        if not marker.exists():
            if any(p.name not in {"lock", "format.json"} for p in self.path.iterdir()):
                raise DataDirError(
                    f"{self.path} holds files but no format.json: it is not a Haul data directory "
                    "(or one written before the format had a number). Move it away, or point "
                    "HAUL_DATA_DIR elsewhere"
                )
            self.write_format(moto_version)
            return
        try:
            found = json.loads(marker.read_text())
            number = int(found["format"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataDirError(f"{marker} is unreadable ({exc}); restore it from a backup, or start fresh "
                               "by moving the directory away") from None
        while number < FORMAT:
            migrate = MIGRATIONS.get(number)
            if migrate is None:
                raise DataDirError(
                    f"{self.path} was written in state format {number}; this Haul reads format {FORMAT} "
                    f"and has no migration from {number}. Run the Haul version that wrote it, or back "
                    "the directory up and start fresh (see README, 'Where the data lives')"
                )
            migrate(self.path)
            number += 1
            self.write_format(moto_version)
        if number > FORMAT:
            raise DataDirError(
                f"{self.path} was written by a newer Haul (state format {number}; this one reads "
                f"format {FORMAT}). Upgrade Haul, or point HAUL_DATA_DIR elsewhere"
            )
        self.written_by_moto = str(found.get("moto", ""))

    def write_format(self, moto_version: str) -> None:
        self.written_by_moto = moto_version
        atomic_write(self.path / "format.json", json.dumps({"format": FORMAT, "moto": moto_version}).encode())

    def descriptors(self) -> list[int]:
        """What a forked child must close so as not to hold the directory's lock."""
        return [self._lock_fd] if self._lock_fd is not None else []

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # (releases the flock)
            self._lock_fd = None


def size_of(path: Path) -> int:
    """Bytes of the files under ``path`` (as stored: sparse files count what they hold)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            total += min(st.st_size, st.st_blocks * 512) if st.st_blocks else st.st_size
    return total


_usage: dict[str, Any] = {}


def usage(max_age: float = 10.0) -> dict[str, Any] | None:
    """The embedded emulator's data directory and its size, for a health report; None when
    this process keeps no data directory. Walked at most every ``max_age`` seconds."""
    value = os.environ.get("HAUL_DATA_DIR_IN_USE")
    if not value:
        return None
    now = time.monotonic()
    if _usage.get("path") != value or now - _usage.get("at", 0.0) > max_age:
        _usage.update(path=value, at=now, bytes=size_of(Path(value)))
    return {"path": value, "bytes": _usage["bytes"]}
