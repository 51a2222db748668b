"""moto's S3 CompleteMultipartUpload in about one pass over the data (emulator performance).

moto 5.2's ``FakeMultipart.complete`` reads every part twice (each read copies the part out of
its temporary file, then ``copy.copy``), gathers the whole object in a bytearray, gathers it
again for the checksum, makes ``bytes`` of both and checksums the whole object; then
``put_object`` builds a ``FakeKey`` that writes the whole object once more into a new temporary
file. That is super-linear in practice (figures: docs/performance.md, "Measurements behind
the code") and holds several copies of the object in memory, where S3 answers in well under a
second whatever the size.

Here ``FakeMultipart.complete`` validates the parts exactly as moto does (same checks, same
order, same errors: ``InvalidPart``, ``EntityTooSmall``, ``MalformedXML``), then streams each
part once, in chunks, from its temporary file straight into the temporary file that becomes
the new key's buffer, updating the checksum as it goes (incrementally, with the very
functions moto's ``compute_checksum`` would pick). Once the object's disk space is reserved,
each part's file is emptied right after its copy: moto disposes of all the parts as soon as
``complete`` returns, and the new object's page cache costs far more in fresh memory than in
the pages the parts give back (docs/performance.md). (Completions of one upload
are serialised, so a racing second completion fails as it would in moto, rather than reading
emptied parts.) It returns, in place of the object's bytes, an :class:`_Assembled` holding
that buffer; moto's own ``complete_multipart_upload`` then runs unchanged (deleting the upload,
which disposes of its parts; ``put_object``, metadata, checksum fields, tags, ACL,
notifications), and the patched ``FakeKey.value`` setter adopts the buffer instead of writing
bytes. The new key ends up as moto would build it: same bytes, ``contentsize``, ETag
(``"<md5 of part md5s>-<n>"``), checksum algorithm/type/value/parts, a ``SpooledTemporaryFile``
of the default size rolled over exactly when moto's would be. A failed completion (bad part,
small part, no part) fails before any data moves, leaving the upload intact, as in moto.

Checksum algorithms whose library moto would use but whose incremental form does not check out
(``crc32c``, ``awscrt``), fall back to moto's original ``complete``.

UploadPart takes what only the bytes give, while it has them in memory: the part's ETag (the
MD5 moto's ``FakeKey.etag`` would compute on first use by reading the part back from its file)
and its checksum with the upload's algorithm (kept on the part's key). ``complete`` then uses
those digests (composite) or combines the parts' CRC32s (full object, :func:`crc32_combine`)
instead of reading every part again (UploadPartCopy's parts too: they come through the same
``set_part``); a part without one (restored from a data directory written before) is read as
before. The answers are the same bytes either way.

The patched ``FakeKey.value`` setter also writes a value larger than the key's buffer size
straight to the rolled-over file, instead of into a ``BytesIO`` first and then copying it to
the file (the state afterwards is the same); that saves a copy of every uploaded part.
"""

from __future__ import annotations

import base64
import codecs
import functools
import hashlib
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .files import DiskBuffer, JoinedBuffer, joined, new_buffer, owned_buffer

_CHUNK = 8 << 20

_Update = Callable[[bytes | memoryview, Any], Any]


class _Assembled:
    """A completed object, already in the buffer its key will adopt (see ``_value_setter``)."""

    __slots__ = ("buffer", "size")

    def __init__(self, buffer: tempfile.SpooledTemporaryFile[bytes] | DiskBuffer | JoinedBuffer, size: int) -> None:
        self.buffer = buffer
        self.size = size

    def __len__(self) -> int:
        return self.size

    def adopt(self, key: Any) -> None:
        buffer, self.buffer = self.buffer, None  # type: ignore[assignment]
        if buffer is None:
            raise RuntimeError("an assembled multipart object can only be adopted once")
        if isinstance(buffer, (DiskBuffer, JoinedBuffer)):  # a data directory's blobs: the key's own now
            old = key._value_buffer
            key._value_buffer = buffer
            old.close()
        elif getattr(buffer, "_max_size", None) != key._max_buffer_size:
            # Not the buffer moto would have made: copy into the key's own, chunk by chunk.
            try:
                key._value_buffer.seek(0)
                key._value_buffer.truncate()
                buffer.seek(0)
                while block := buffer.read(_CHUNK):
                    key._value_buffer.write(block)
            finally:
                buffer.close()
        else:
            old, key._value_buffer = key._value_buffer, buffer
            old.close()
        key.contentsize = self.size


# -- checksums: moto's compute_checksum, incrementally -----------------------------------------


class _Hasher:
    """One checksum, fed in chunks; ``digest()`` is what compute_checksum(..., encode_base64=False)
    returns for the same bytes."""

    __slots__ = ("_update", "_state", "_width")

    def __init__(self, update: _Update | None, width: int, factory: Callable[[], Any] | None = None) -> None:
        self._update = update
        self._width = width
        self._state: Any = factory() if factory is not None else 0

    @property
    def is_crc32(self) -> bool:
        """Plain CRC32 (zlib's): parts' values combine arithmetically (:func:`crc32_combine`)."""
        return self._update is _crc32

    def update(self, data: bytes | memoryview) -> None:
        if self._update is None:
            self._state.update(data)
        else:
            self._state = self._update(data, self._state)

    def digest(self) -> bytes:
        if self._update is None:
            return bytes(self._state.digest())
        return int(self._state).to_bytes(self._width, "big")


def _crc32(data: bytes | memoryview, value: int) -> int:
    return zlib.crc32(data, value)  # (binascii.crc32's value; zlib's lets go of the GIL)


# -- CRC32 of a concatenation from its pieces' CRC32s (zlib's crc32_combine) ---------------------
# CRC32 is linear over GF(2): appending len2 bytes to a message multiplies its CRC by a fixed
# 32x32 bit matrix (the "zeros operator" for len2 bytes), so crc(a + b) is that matrix times
# crc(a), xor crc(b). The matrix for a length is built by repeated squaring (as zlib does) and
# kept: the parts of an upload are mostly one size.


def _gf2_times(matrix: tuple[int, ...], vector: int) -> int:
    total = 0
    i = 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_product(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The matrix applying ``b``, then ``a``."""
    return tuple(_gf2_times(a, column) for column in b)


@functools.lru_cache(maxsize=64)
def _zeros_operator(length: int) -> tuple[int, ...]:
    """The matrix taking crc(m) to crc(m + ``length`` zero bytes) before the final xors cancel."""
    one_bit = (0xEDB88320,) + tuple(1 << n for n in range(31))  # one zero bit
    power = _gf2_product(one_bit, one_bit)  # two bits
    power = _gf2_product(power, power)  # four bits
    result: tuple[int, ...] | None = None
    while length:
        power = _gf2_product(power, power)  # 8, 16, 32... bits: 1, 2, 4... bytes
        if length & 1:
            result = power if result is None else _gf2_product(power, result)
        length >>= 1
    return result if result is not None else tuple(1 << n for n in range(32))


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """zlib's crc32_combine: the CRC32 of ``a + b`` from crc32(a), crc32(b) and len(b)."""
    if length2 <= 0:
        return crc1
    return _gf2_times(_zeros_operator(length2), crc1) ^ crc2


def _incremental_ok(fn: Callable[..., int]) -> bool:
    """The library's running form agrees with its one-shot form (else: moto's original code)."""
    try:
        sample = bytes(range(256)) * 3
        return bool(fn(sample[300:], fn(sample[:300], 0)) == fn(sample))
    except Exception:  # noqa: BLE001 - any surprise: do not use it
        return False


_library_checks: dict[str, bool] = {}


def _checked(name: str, fn: Callable[..., int]) -> bool:
    ok = _library_checks.get(name)
    if ok is None:
        ok = _library_checks[name] = _incremental_ok(fn)
    return ok


def _hasher_factory(algorithm: str) -> Callable[[], _Hasher] | None:
    """How moto's compute_checksum(body, algorithm) hashes, as a running hasher; None: not
    handled here."""
    from moto.s3 import utils as s3_utils

    if algorithm == "SHA1":
        return lambda: _Hasher(None, 0, lambda: hashlib.sha1(usedforsecurity=False))
    if algorithm == "CRC32C":
        try:
            import crc32c  # optional, as in moto
        except Exception:  # noqa: BLE001 - moto falls back to CRC32 on any failure
            return lambda: _Hasher(_crc32, 4)
        if not _checked("crc32c", crc32c.crc32c):
            return None
        fn = crc32c.crc32c
        return lambda: _Hasher(lambda data, value: fn(data, value), 4)
    if algorithm == "CRC32":
        return lambda: _Hasher(_crc32, 4)
    if algorithm == "CRC64NVME":
        if not s3_utils.HAS_CRT:
            return lambda: _Hasher(_crc32, 4)
        try:
            from awscrt import checksums
        except Exception:  # noqa: BLE001
            return None
        if not _checked("crc64nvme", checksums.crc64nvme):
            return None
        crc64 = checksums.crc64nvme
        return lambda: _Hasher(lambda data, value: crc64(data, value), 8)
    return lambda: _Hasher(None, 0, lambda: hashlib.sha256(usedforsecurity=False))


# -- CompleteMultipartUpload --------------------------------------------------------------------


def _chunks(part: Any, scratch: memoryview) -> Iterator[memoryview]:
    """A part's bytes, in chunks, without copying it whole (the caller holds ``part.lock``)."""
    spool = part._value_buffer
    if isinstance(spool, tempfile.SpooledTemporaryFile) and not getattr(spool, "_rolled", True):
        with spool._file.getbuffer() as view:  # type: ignore[attr-defined]
            for start in range(0, len(view), _CHUNK):
                yield view[start : start + _CHUNK]
        return
    if isinstance(spool, tempfile.SpooledTemporaryFile):
        spool.flush()
        fd = spool.fileno()
        offset = 0
        while True:
            n = os.preadv(fd, [scratch], offset)
            if n <= 0:
                return
            yield scratch[:n]
            offset += n
    if isinstance(spool, DiskBuffer):  # a data directory's blob: into the scratch buffer too
        fd = os.open(spool.name, os.O_RDONLY)
        try:
            offset = 0
            while (n := os.preadv(fd, [scratch], offset)) > 0:
                yield scratch[:n]
                offset += n
        finally:
            os.close(fd)
        return
    # Not moto's buffer: read it as moto's value property does, but in chunks.
    spool.seek(0)
    while block := spool.read(_CHUNK):
        yield memoryview(block)


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data = data[n:]
        offset += n


def _assemble(
    parts: list[Any], algorithm: str, composite: bool, new_hasher: Callable[[], _Hasher]
) -> tuple[_Assembled, list[bytes], _Hasher]:
    """The parts, once, into the buffer the new key will adopt; their checksums on the way.

    Once the whole object's disk space is reserved (nothing can fail after that but the parts
    changing under us), each part file is emptied as soon as it has been copied (after its last
    use): moto disposes of every part as soon as ``complete`` returns, and reusing the part's
    pages for the next part's copy is far cheaper than touching fresh memory (docs/performance.md)."""
    from moto.settings import get_s3_default_key_buffer_size

    known = _known_checksum(parts, algorithm, composite, new_hasher)
    handed_over = joined(parts)
    if handed_over is not None:
        return _checksummed(parts, known, composite, new_hasher, handed_over)
    max_size = get_s3_default_key_buffer_size()
    total = sum(int(part.contentsize) for part in parts)
    # With a data directory, straight into the blob the object keeps (emulator_files).
    buffer: tempfile.SpooledTemporaryFile[bytes] | DiskBuffer = new_buffer() or tempfile.SpooledTemporaryFile(max_size)
    whole = new_hasher()
    part_digests: list[bytes] = []
    scratch = memoryview(bytearray(min(_CHUNK, max(total, 1))))
    last_use = {id(part): i for i, part in enumerate(parts)}
    try:
        # (as moto's single write of the whole object would leave it)
        rolled = isinstance(buffer, DiskBuffer) or total > max_size
        release = False
        if rolled:
            buffer.rollover()
            buffer.flush()
            fd = buffer.fileno()
            try:
                os.posix_fallocate(fd, 0, total)
                release = True
            except OSError:
                pass  # then the parts stay whole until moto disposes of them
        offset = 0
        for i, part in enumerate(parts):
            hasher = new_hasher() if composite else whole
            with part.lock:
                for chunk in _chunks(part, scratch):
                    if known is None:
                        hasher.update(chunk)
                    if rolled:
                        _write_all(fd, chunk, offset)
                    else:
                        buffer.write(chunk)
                    offset += len(chunk)
                if release and last_use[id(part)] == i and offset <= total:
                    _release(part)
            if composite and known is None:
                part_digests.append(hasher.digest())
        if offset != total:
            raise RuntimeError(f"multipart parts changed while completing ({offset} != {total} bytes)")
        if known is not None:
            part_digests, whole = known
        buffer.seek(total)
        if isinstance(buffer, DiskBuffer):
            buffer.close()  # (its descriptor: the blob stays, opened again when read)
    except BaseException:
        buffer.close()
        if isinstance(buffer, DiskBuffer):
            os.unlink(buffer.name)
        raise
    return _Assembled(buffer, total), part_digests, whole


def _checksummed(
    parts: list[Any], known: tuple[list[bytes], _Hasher] | None, composite: bool,
    new_hasher: Callable[[], _Hasher], buffer: JoinedBuffer,
) -> tuple[_Assembled, list[bytes], _Hasher]:
    """With a data directory: the object is its parts' files, handed over as they are (nothing
    copied); the parts are read once, for the checksums, unless UploadPart already took them
    (:func:`_known_checksum`: then nothing is read at all)."""
    total = sum(int(part.contentsize) for part in parts)
    if known is not None:
        return _Assembled(buffer, total), known[0], known[1]
    whole = new_hasher()
    part_digests: list[bytes] = []
    scratch = memoryview(bytearray(min(_CHUNK, max(total, 1))))
    offset = 0
    for part in parts:
        hasher = new_hasher() if composite else whole
        with part.lock:
            for chunk in _chunks(part, scratch):
                hasher.update(chunk)
                offset += len(chunk)
        if composite:
            part_digests.append(hasher.digest())
    if offset != total:
        raise RuntimeError(f"multipart parts changed while completing ({offset} != {total} bytes)")
    return _Assembled(buffer, total), part_digests, whole


def _release(part: Any) -> None:
    """Empty a part's file (moto is about to dispose of it): its pages go back to the kernel."""
    spool = part._value_buffer
    if isinstance(spool, tempfile.SpooledTemporaryFile) and getattr(spool, "_rolled", False):
        os.ftruncate(spool.fileno(), 0)



# -- each part's checksum, taken at UploadPart ----------------------------------------------------
# The part's bytes are in memory then; CompleteMultipartUpload would otherwise read every part
# again (from its file) just to checksum it, on the completion's critical path.

_PART_DIGEST = "_haul_part_digest"  # on a part's FakeKey: (algorithm, contentsize, digest)


def _part_digest(original: Callable[..., Any]) -> Callable[..., Any]:
    """FakeMultipart.set_part: also the part's checksum, with the upload's algorithm, from the
    bytes in hand (what ``complete`` would compute from the part's file)."""

    @functools.wraps(original)
    def set_part(self: Any, part_id: int, value: bytes) -> Any:
        key = original(self, part_id, value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            from moto.s3.models import MultipartChecksumBuilder

            algorithm = MultipartChecksumBuilder(
                self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type")
            ).checksum_algorithm
            new_hasher = _hasher_factory(algorithm)
            if new_hasher is not None:
                hasher = new_hasher()
                hasher.update(value)
                setattr(key, _PART_DIGEST, (algorithm, len(value), hasher.digest()))
        return key

    return set_part


def _known_checksum(
    parts: list[Any], algorithm: str, composite: bool, new_hasher: Callable[[], _Hasher]
) -> tuple[list[bytes], _Hasher] | None:
    """The parts' digests and the whole object's hasher from the digests UploadPart took, without
    reading a byte: composite, the digests themselves; full object, CRC32 only, combined
    (:func:`crc32_combine`). None: some part has none (restored from a data directory written
    before, or its size changed) or the algorithm does not combine."""
    whole = new_hasher()
    if not composite and not whole.is_crc32:
        return None
    digests: list[bytes] = []
    for part in parts:
        known = getattr(part, _PART_DIGEST, None)
        if known is None or known[0] != algorithm or known[1] != int(part.contentsize):
            return None
        digests.append(known[2])
    if composite:
        return digests, whole
    crc = 0
    for part, digest in zip(parts, digests, strict=True):
        crc = crc32_combine(crc, int.from_bytes(digest, "big"), int(part.contentsize))
    whole._state = crc
    return [], whole


_completions: dict[str, list[Any]] = {}  # upload id: [lock, users]
_completions_guard = threading.Lock()


@contextmanager
def _completing(upload_id: str) -> Iterator[None]:
    """One completion of an upload at a time (``_assemble`` empties the parts it has copied).
    Not an attribute of the FakeMultipart: keys (which hold it) must stay deep-copyable."""
    with _completions_guard:
        entry = _completions.setdefault(upload_id, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _completions_guard:
            entry[1] -= 1
            if not entry[1]:
                del _completions[upload_id]


def _fast_complete(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)  # __wrapped__: moto's own, for the tests' comparisons
    def complete(self: Any, body: Iterator[tuple[int, str]]) -> tuple[Any, str, tuple[str, str, int] | None]:
        """No UploadPart of the listed parts runs while they are assembled: one (a duplicate
        delivery of a part already stored) replaced a part and closed its file under
        ``_assemble``, which had emptied the parts copied before it, so the completion failed and
        so did every later one of that upload (its parts were gone). S3 completes from the parts
        it holds; an UploadPart that waited for the completion answers NoSuchUpload (server.py's
        ``_no_such_upload`` reads ``COMPLETED``), as S3 answers for a completed upload."""
        pairs = list(body)
        with _parts_held(self.id, [number for number, _ in pairs]):
            answer = one_pass(self, iter(pairs))
            if answer[0] is not None:
                setattr(self, COMPLETED, True)
        return answer

    def one_pass(self: Any, body: Iterator[tuple[int, str]]) -> tuple[Any, str, tuple[str, str, int] | None]:
        from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
        from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE, MultipartChecksumBuilder
        from moto.s3.utils import compute_checksum
        from moto.utilities.utils import md5_hash

        checksum_algo: str | None = self.metadata.get("x-amz-checksum-algorithm")
        checksum_type: str | None = self.metadata.get("x-amz-checksum-type")
        defaults = MultipartChecksumBuilder(checksum_algo, checksum_type)
        new_hasher = _hasher_factory(defaults.checksum_algorithm)
        if new_hasher is None:
            return original(self, body)
        composite = defaults.checksum_type == "COMPOSITE"

        # moto's checks, in moto's order, before any data moves.
        decode_hex = codecs.getdecoder("hex_codec")
        md5s = bytearray()
        parts: list[Any] = []
        last = None
        for pn, etag in body:
            part = self.parts.get(pn)
            part_etag = None
            if part is not None:
                part_etag = part.etag.replace('"', "")
                etag = etag.replace('"', "")
            if part is None or part_etag != etag:
                raise InvalidPart()
            if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
                raise EntityTooSmall()
            md5s.extend(decode_hex(part_etag)[0])  # type: ignore[arg-type]
            parts.append(part)
            last = part
        if not parts:
            raise MalformedXML

        with _completing(self.id):
            assembled, part_digests, whole = _assemble(parts, defaults.checksum_algorithm, composite, new_hasher)
        full_etag = md5_hash()
        full_etag.update(bytes(md5s))
        if composite:
            checksum = (
                defaults.checksum_type,
                compute_checksum(b"".join(part_digests), defaults.checksum_algorithm).decode(),
                len(parts),
            )
        else:
            checksum = (defaults.checksum_type, base64.b64encode(whole.digest()).decode(), 1)
        return assembled, f"{full_etag.hexdigest()}-{len(parts)}", checksum

    return complete


# -- FakeKey.value -----------------------------------------------------------------------------


class _ValueProperty(property):
    """FakeKey.value, whose setter adopts an :class:`_Assembled` (a property that can be marked
    as patched); ``original``: moto's."""

    original: property


def _etag_from(key: Any, value: Any) -> None:
    """The ETag moto's ``FakeKey.etag`` would compute on first use (the MD5 of the bytes, read
    back from the key's file), from the bytes in hand instead: no second read of every part.
    Only where moto would compute it (no ETag given), so a key's ETag is the same either way."""
    if key.__dict__.get("_etag") is None and isinstance(value, (bytes, bytearray, memoryview)):
        from moto.utilities.utils import md5_hash

        digest = md5_hash()
        digest.update(value)
        key._etag = digest.hexdigest()


def _value_setter(original: property) -> property:
    fset = original.fset
    assert fset is not None

    def set_value(self: Any, new_value: Any) -> None:
        if isinstance(new_value, _Assembled):
            new_value.adopt(self)
            return
        self.__dict__.pop(_PART_DIGEST, None)  # (set_part takes it again for a part's new bytes)
        owned_buffer(self)  # with a data directory, the bytes go to a file of their own
        spool = getattr(self, "_value_buffer", None)
        if (
            isinstance(new_value, (bytes, bytearray))
            and isinstance(spool, tempfile.SpooledTemporaryFile)
            and not getattr(spool, "_rolled", True)
            and len(new_value) > getattr(spool, "_max_size", 0) > 0
        ):
            # moto writes it into the BytesIO, which then rolls over to a file (another copy):
            # roll over first and write once. Same state afterwards.
            spool.seek(0)
            spool.truncate()
            spool.rollover()
            spool.write(new_value)
            self.contentsize = len(new_value)
        else:
            fset(self, new_value)
        _etag_from(self, new_value)

    patched = _ValueProperty(original.fget, set_value, original.fdel, original.__doc__)
    patched.original = original
    return patched


# UploadParts of the same part of the same upload, one at a time (striped locks, bounded); a
# completion holds the locks of all its parts.
_PART_LOCKS = [threading.Lock() for _ in range(64)]
# Set on a FakeMultipart by a successful completion, before moto removes it from its bucket.
COMPLETED = "haul_completed"


def _stripe(upload_id: Any, number: Any) -> int:
    """The lock of one part of one upload (its number as UploadPart's query string has it)."""
    return hash((str(upload_id), str(number))) % len(_PART_LOCKS)


@contextmanager
def _parts_held(upload_id: str, numbers: list[int]) -> Iterator[None]:
    """The locks of these parts, taken in one order (no deadlock with another completion)."""
    with ExitStack() as stack:
        for stripe in sorted({_stripe(upload_id, n) for n in numbers}):
            stack.enter_context(_PART_LOCKS[stripe])
        yield


def _one_upload_per_part(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's UploadPart stores the part, then reads it back for the ETag it answers with. A
    second UploadPart of the same part number in between (a duplicate delivery, a retry racing
    the first try) replaces the stored part and closes its file, and the first answers 500
    ("read of closed file"). S3 takes such uploads side by side, the last one wins; here they
    take turns, still side by side with every other part."""

    @functools.wraps(original)
    def upload_part(self: Any) -> Any:
        with _PART_LOCKS[_stripe(self._get_param("uploadId"), self._get_param("partNumber"))]:
            return original(self)

    return upload_part


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from moto.s3.models import FakeKey, FakeMultipart
    from moto.s3.responses import S3Response

    return [(FakeMultipart, "complete", _fast_complete), (FakeKey, "value", _value_setter),
            (FakeMultipart, "set_part", _part_digest), (S3Response, "upload_part", _one_upload_per_part)]
