"""The emulator's DynamoDB tables and SQS queues, kept in the data directory.

- **DynamoDB: a write-ahead journal plus snapshots.** Every DynamoDB write the emulator
  accepts (PutItem, UpdateItem, DeleteItem, TransactWriteItems, each item of a
  BatchWriteItem, table changes) is appended to ``dynamodb/journal-<n>.bin`` - the call's
  arguments, as moto's backend received them - while the emulator's DynamoDB lock is held
  and before the answer leaves: an acknowledged write is in the file (the operating system's
  page cache) before its client hears of it, so it survives the process being killed. At
  start the latest readable snapshot is loaded and its journals replayed through moto in
  order: the same items, and the same stream records with the same sequence numbers, so the
  stream consumers' positions stay valid. A snapshot (moto's tables, pickled) is written by a
  forked child while the parent goes on serving: the fork happens under the DynamoDB lock, at
  the same moment the journal moves on to ``journal-<n+1>``, so snapshot n+1 plus the
  journals from n+1 on are exactly the state. One is taken every ``COMPACT_EVERY`` journal
  entries (or minutes, if anything was written) and at a clean stop; the previous snapshot and
  its journals are kept until a newer one is whole.
- **SQS: snapshots, every second something changed.** Queues and their messages (visible, in
  flight with their receipt handles and visibility deadlines, delayed) are written by the
  emulator itself (a few messages: no fork needed), to ``sqs/snapshot.bin`` (the previous one kept as ``.prev``). What a
  crash can lose is the last second of SQS changes: a message sent in that second (the
  runtime's start re-dispatches every download that was queued or running, so none is
  stranded), or a deletion (that message is delivered once more; the engine takes
  duplicates).
- **Damage.** Every file carries a checksum. A torn or corrupt journal tail (a crash during a
  write) ends the replay there (and is cut off); a snapshot that does not check out is moved
  aside (``*.corrupt``) and the one before it is used with its journals; the start goes on
  and says what it did. Nothing is deleted that the next start could need.
"""

from __future__ import annotations

import copyreg
import gc
import hashlib
import io
import logging
import os
import pickle
import signal
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..orphans import set_parent_death_signal
from .datadir import atomic_write

log = logging.getLogger("haul.local.state")

MAGIC = b"HAULSTATE1\n"
_FRAME = struct.Struct("<II")  # journal frame: payload length, crc32
COMPACT_EVERY = 20_000  # journal entries between DynamoDB snapshots
COMPACT_SECONDS = 300.0  # or this long, if anything was written
SQS_SECONDS = 1.0

# DynamoDB backend methods that change state, journalled at their outermost call.
JOURNALLED = (
    "put_item", "update_item", "delete_item", "transact_write_items", "create_table", "delete_table",
    "update_table", "update_time_to_live", "tag_resource", "untag_resource", "execute_statement",
    "execute_transaction", "batch_execute_statement",
)
# SQS backend methods that change state (a snapshot follows within a second).
SQS_CHANGES = (
    "create_queue", "delete_queue", "set_queue_attributes", "send_message", "send_message_batch",
    "receive_message", "delete_message", "delete_message_batch", "change_message_visibility",
    "change_message_visibility_batch", "purge_queue", "tag_queue", "untag_queue",
)

_journal: list[Journal | None] = [None]
_sqs_changes = [0]
_tls = threading.local()


# -- pickling moto's objects -----------------------------------------------------------------


def _new_lock() -> Any:
    return threading.Lock()


def _new_rlock() -> Any:
    return threading.RLock()


def _limited_size_dict(items: dict[str, Any]) -> Any:
    """moto's LimitedSizeDict, rebuilt without its O(n^2) size check per attribute (the item
    was checked when it was written)."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    restored = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(restored, items)
    return restored


def register_reducers() -> None:
    """Locks pickle as new locks; an item's attributes as a plain dict (10x faster to load)."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    copyreg.pickle(type(threading.Lock()), lambda _lock: (_new_lock, ()))
    copyreg.pickle(type(threading.RLock()), lambda _lock: (_new_rlock, ()))
    copyreg.pickle(LimitedSizeDict, lambda d: (_limited_size_dict, (dict(d),)))


def _sealed(payload: bytes) -> bytes:
    return MAGIC + struct.pack("<Q", len(payload)) + hashlib.sha256(payload).digest() + payload


def _unsealed(data: bytes, what: Path) -> bytes:
    head = len(MAGIC) + 8 + 32
    if len(data) < head or not data.startswith(MAGIC):
        raise ValueError(f"{what}: not a Haul state file of this format")
    (length,) = struct.unpack_from("<Q", data, len(MAGIC))
    payload = data[head:]
    if len(payload) != length:
        raise ValueError(f"{what}: {len(payload)} bytes where {length} were written (a torn write)")
    if hashlib.sha256(payload).digest() != data[len(MAGIC) + 8 : head]:
        raise ValueError(f"{what}: checksum mismatch")
    return payload


# -- the journal ------------------------------------------------------------------------------


class Journal:
    """Append-only frames ``<len><crc32><pickle>``, one per acknowledged DynamoDB write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.entries = 0

    def append(self, entry: tuple[Any, ...]) -> None:
        payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        view = memoryview(frame)
        while view:
            view = view[os.write(self.fd, view):]
        self.entries += 1

    def close(self) -> None:
        os.close(self.fd)


def read_journal(path: Path) -> tuple[list[tuple[Any, ...]], int, int]:
    """(entries, bytes that are good, bytes in the file): reading stops at the first frame that
    is torn or does not check out."""
    data = path.read_bytes()
    entries: list[tuple[Any, ...]] = []
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, offset)
        start, end = offset + _FRAME.size, offset + _FRAME.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        try:
            entries.append(pickle.loads(data[start:end]))
        except Exception:  # noqa: BLE001 -- a frame that checks out but does not load: stop here too
            break
        offset = end
    return entries, offset, len(data)


def _journalled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A DynamoDB backend write, appended to the journal after it succeeded (inside the
    emulator's DynamoDB lock: the journal's order is the order writes were applied). Calls
    made by another journalled call (a transaction's items) are not journalled again."""
    name = fn.__name__

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        journal = _journal[0]
        if journal is None:
            return fn(self, *args, **kwargs)
        depth = getattr(_tls, "depth", 0)
        _tls.depth = depth + 1
        try:
            result = fn(self, *args, **kwargs)
        finally:
            _tls.depth = depth
        if depth == 0:
            journal.append((self.account_id, self.region_name, name, args, kwargs))
        return result

    call.__name__ = name
    call.__qualname__ = getattr(fn, "__qualname__", name)
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def _sqs_changed(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            _sqs_changes[0] += 1

    call.__name__ = fn.__name__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def targets() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch(): the SQS change counter.
    (The DynamoDB journal is composed into the emulator's own wrappers of those methods.)"""
    from moto.sqs.models import SQSBackend

    return [(SQSBackend, name, _sqs_changed) for name in SQS_CHANGES if hasattr(SQSBackend, name)]


# -- moto's state, in and out ------------------------------------------------------------------


def _backends(kind: str) -> Any:
    if kind == "dynamodb":
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends
    from moto.sqs.models import sqs_backends

    return sqs_backends


_STATE_ATTRIBUTE = {"dynamodb": "tables", "sqs": "queues"}


def capture(kind: str) -> dict[tuple[str, str], Any]:
    """{(account, region): the backend's tables / queues} of every backend moto has made."""
    attribute = _STATE_ATTRIBUTE[kind]
    out: dict[tuple[str, str], Any] = {}
    for account, regions in list(_backends(kind).items()):
        for region, backend in list(regions.items()):
            value = getattr(backend, attribute, None)
            if value:
                out[(account, region)] = value
    return out


def install(kind: str, state: dict[tuple[str, str], Any]) -> None:
    attribute = _STATE_ATTRIBUTE[kind]
    backends = _backends(kind)
    for (account, region), value in state.items():
        setattr(backends[account][region], attribute, value)


def dump(kind: str) -> bytes:
    register_reducers()  # whoever dumps, not only an opened EmulatorState: moto's queues hold locks
    buffer = io.BytesIO()
    pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump({"kind": kind, "state": capture(kind)})
    return _sealed(buffer.getvalue())


def load(kind: str, path: Path) -> dict[tuple[str, str], Any]:
    found = pickle.loads(_unsealed(path.read_bytes(), path))
    if not isinstance(found, dict) or found.get("kind") != kind:
        raise ValueError(f"{path}: not a {kind} snapshot")
    state: dict[tuple[str, str], Any] = found["state"]
    return state


def replay(entries: list[tuple[Any, ...]]) -> int:
    """Apply journalled writes through moto's backends; how many did not apply (logged)."""
    backends = _backends("dynamodb")
    failed = 0
    for account, region, name, args, kwargs in entries:
        try:
            getattr(backends[account][region], name)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- one write that no longer applies must not stop the rest
            failed += 1
            log.warning("journal: %s did not apply again (%s)", name, exc)
    return failed


# -- the store ------------------------------------------------------------------------------------


class EmulatorState:
    """Loads the DynamoDB and SQS state at start, keeps it on disk while the emulator runs."""

    def __init__(self, root: Path, lock: Any, written_by: str = "",
                 invalidate: Callable[[], None] = lambda: None) -> None:
        self._invalidate = invalidate  # the emulator's read caches, dropped after a load (emulator._invalidate_all)
        self.ddb = root / "dynamodb"
        self._written_by = written_by  # another moto version wrote it: unreadable is not damage
        self.sqs = root / "sqs"
        self._lock = lock  # the emulator's DynamoDB lock (local_runtime.emulator.server._lock)
        self.generation = 0
        self.report: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._compacted_at = time.monotonic()
        self._sqs_seen = 0
        self.snapshots = 0
        self.close_in_child: list[int] = []  # descriptors a snapshot process must not keep (the lock)

    # -- start
    def open(self) -> list[str]:
        """Load what is on disk into moto, then journal from here on; what was found, in lines."""
        self.ddb.mkdir(parents=True, exist_ok=True)
        self.sqs.mkdir(parents=True, exist_ok=True)
        register_reducers()
        for stale in [*self.ddb.glob(".*.tmp"), *self.sqs.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)  # a snapshot a crash interrupted
        self._load_dynamodb()
        self._load_sqs()
        journal = Journal(self._journal_path(self.generation))
        _journal[0] = journal
        self._sqs_seen = _sqs_changes[0]
        return self.report

    def _snapshot_path(self, generation: int) -> Path:
        return self.ddb / f"snapshot-{generation}.bin"

    def _journal_path(self, generation: int) -> Path:
        return self.ddb / f"journal-{generation}.bin"

    def _generations(self, prefix: str) -> list[int]:
        found = []
        for path in self.ddb.glob(f"{prefix}-*.bin"):
            try:
                found.append(int(path.stem.split("-", 1)[1]))
            except ValueError:
                continue
        return sorted(found)

    def _set_aside(self, path: Path, why: str) -> None:
        if self._written_by:
            import moto

            from .datadir import DataDirError

            raise DataDirError(
                f"{path} was written with moto {self._written_by}; this Haul runs moto {moto.__version__}, "
                f"which cannot read it ({why}). Start the Haul version that wrote it, or back the data "
                "directory up and start fresh (README, 'Where the data lives')"
            )
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        path.rename(aside)
        self.report.append(f"{path.name}: {why}; kept as {aside.name}")
        log.error("state: %s: %s; set aside as %s", path, why, aside.name)

    def _load_dynamodb(self) -> None:
        journals = self._generations("journal")
        base: int | None = None
        for generation in reversed(self._generations("snapshot")):
            path = self._snapshot_path(generation)
            try:
                state = load("dynamodb", path)
            except Exception as exc:  # noqa: BLE001 -- any damage: fall back to the one before
                self._set_aside(path, f"unreadable ({exc})")
                continue
            install("dynamodb", state)
            base = generation
            break
        if base is None:
            base = 0
            if journals and journals[0] != 0:
                self.report.append(
                    f"no readable DynamoDB snapshot and the journals start at {journals[0]}: the tables "
                    "start from those journals only (older writes are in the *.corrupt files)"
                )
        replayed = 0
        for generation in [g for g in journals if g >= base]:
            path = self._journal_path(generation)
            entries, good, size = read_journal(path)
            failed = replay(entries)
            replayed += len(entries) - failed
            if good < size:
                # A write torn by a crash (never acknowledged), or damage: cut it off, keep a copy.
                aside = path.with_name(f"{path.name}.tail-{int(time.time())}")
                with path.open("rb") as src:
                    src.seek(good)
                    aside.write_bytes(src.read())
                os.truncate(path, good)
                self.report.append(f"{path.name}: {size - good} bytes after the last whole write cut off "
                                   f"(kept as {aside.name})")
        self.generation = max([base, *journals])
        self._invalidate()
        tables = sum(len(v) for v in capture("dynamodb").values())
        self.report.append(f"DynamoDB: {tables} table(s) from snapshot {base} and {replayed} journalled write(s)")

    def _load_sqs(self) -> None:
        current = self.sqs / "snapshot.bin"
        for path in (current, self.sqs / "snapshot.bin.prev"):
            if not path.exists():
                continue
            try:
                state = load("sqs", path)
            except Exception as exc:  # noqa: BLE001 -- any damage: the previous snapshot
                self._set_aside(path, f"unreadable ({exc})")
                continue
            install("sqs", state)
            messages = sum(len(q._messages) for queues in state.values() for q in queues.values())
            self.report.append(f"SQS: {sum(len(q) for q in state.values())} queue(s), {messages} message(s)"
                               + (" (from the previous snapshot)" if path != current else ""))
            return

    # -- while running
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="emulator-state", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SQS_SECONDS):
            try:
                self.tick()
            except Exception:  # the next tick tries again; the journal keeps DynamoDB safe meanwhile
                log.exception("state: a snapshot failed")

    def _compaction_due(self) -> bool:
        journal = _journal[0]
        if journal is None or not journal.entries:
            return False
        return journal.entries >= COMPACT_EVERY or time.monotonic() - self._compacted_at >= COMPACT_SECONDS

    def tick(self, force: bool = False) -> bool:
        """Snapshot what changed; True if a snapshot was written. SQS in this process (a few
        messages: well under a millisecond), DynamoDB in a forked child (see the module)."""
        compact = force or self._compaction_due()
        sqs = force or _sqs_changes[0] != self._sqs_seen
        if sqs:
            self._sqs_seen = _sqs_changes[0]
            self._write_sqs()
        if not compact:
            return sqs
        generation = self.generation + 1
        # The DynamoDB lock only to move the journal on: the cut must fall between two writes.
        with self._lock:
            old = _journal[0]
            _journal[0] = Journal(self._journal_path(generation))
            if old is not None:
                old.close()
            pid = os.fork()
            if pid == 0:  # the child: one thread, a frozen copy of the state; write, then leave
                self._child(generation)
        _, status = os.waitpid(pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            raise RuntimeError(f"the snapshot process ended with status {status}")
        self.snapshots += 1
        self.generation = generation
        self._compacted_at = time.monotonic()
        self._forget_before(generation - 1)
        return True

    def _write_sqs(self) -> None:
        """The queues, pickled while moto's SQS goes on (a change mid-way is tried again; one
        that keeps failing waits for the next tick)."""
        for _ in range(5):
            try:
                data = dump("sqs")
                break
            except RuntimeError:  # a dict or list changed size while it was read
                continue
        else:
            return
        current = self.sqs / "snapshot.bin"
        if current.exists():
            os.replace(current, self.sqs / "snapshot.bin.prev")
        # (No fsync every second: on ext4 it would flush every file's dirty pages with it,
        # the gigabytes of parts being written included. A process crash cannot lose a
        # renamed file; only a power cut could, and that is not promised.)
        atomic_write(current, data, durable=False)

    def _child(self, generation: int) -> None:
        code = 1
        try:
            # Dies with its parent (a snapshot the runtime did not live to see is not needed:
            # the journal has it), and does not hold the data directory's lock for it.
            set_parent_death_signal(signal.SIGKILL)
            for fd in self.close_in_child:
                os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            gc.disable()
            atomic_write(self._snapshot_path(generation), dump("dynamodb"))
            code = 0
        finally:
            os._exit(code)

    def _forget_before(self, generation: int) -> None:
        """Snapshots and journals older than ``generation`` (kept: it, its journals and newer)."""
        for kind in ("snapshot", "journal"):
            for g in self._generations(kind):
                if g < generation:
                    (self.ddb / f"{kind}-{g}.bin").unlink(missing_ok=True)

    def close(self) -> None:
        """A clean stop: a last snapshot of everything, then no more journalling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        try:
            self.tick(force=True)
        finally:
            journal, _journal[0] = _journal[0], None
            if journal is not None:
                journal.close()


