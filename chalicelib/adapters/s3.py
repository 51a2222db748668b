"""The S3 bucket: one multipart upload per task, one part per ranged chunk."""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError


def crc32_of(body: memoryview) -> str:
    """The ``x-amz-checksum-crc32`` of a body, computed over the buffer itself. Given to botocore,
    it is sent as is; otherwise botocore computes it by reading the body through the file
    interface in 1 MiB copies (about twice the CPU, docs/performance.md)."""
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode("ascii")


class UploadGone(Exception):
    """The multipart upload no longer exists (aborted, completed or expired)."""


class ViewReader(io.RawIOBase):
    """A seekable, read-only file over a memoryview, so a part is sent without a copy."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._view)

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    checksum_crc32: str | None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class ObjectStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def start_upload(self, key: str, content_type: str | None, metadata: dict[str, str] | None = None) -> str:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if metadata:
            extra["Metadata"] = metadata
        result = self._s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32", **extra
        )
        return str(result["UploadId"])

    def upload_part(self, key: str, upload_id: str, number: int, body: memoryview) -> UploadedPart:
        try:
            result = self._s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=ViewReader(body),
                ContentLength=len(body),
                ChecksumAlgorithm="CRC32",
                ChecksumCRC32=crc32_of(body),
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise UploadGone(upload_id) from exc
            raise
        return UploadedPart(number, result["ETag"], result.get("ChecksumCRC32"))

    def complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        listed = []
        for part in sorted(parts, key=lambda p: p.number):
            entry: dict[str, Any] = {"PartNumber": part.number, "ETag": part.etag}
            if part.checksum_crc32:
                entry["ChecksumCRC32"] = part.checksum_crc32
            listed.append(entry)
        try:
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise UploadGone(upload_id) from exc
            raise

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) not in {"NoSuchUpload", "NoSuchKey", "404"}:
                raise

    def size(self, key: str) -> int | None:
        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def put(self, key: str, body: memoryview, content_type: str | None, metadata: dict[str, str] | None = None) -> None:
        """Store a whole object in one request (a file that fits in one part)."""
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if metadata:
            extra["Metadata"] = metadata
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=ViewReader(body), ContentLength=len(body), ChecksumAlgorithm="CRC32",
            ChecksumCRC32=crc32_of(body), **extra,
        )

    def put_empty(self, key: str, content_type: str | None, metadata: dict[str, str] | None = None) -> None:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if metadata:
            extra["Metadata"] = metadata
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=b"", **extra)

    def copy(self, source: str, key: str, metadata: dict[str, str], content_type: str | None) -> None:
        """A server-side copy of ``source`` to ``key`` with ``metadata`` replacing the source's
        (boto3's managed copy: one CopyObject, or UploadPartCopy parts above its threshold,
        so objects over 5 GB copy too)."""
        extra: dict[str, Any] = {"Metadata": metadata, "MetadataDirective": "REPLACE"}
        if content_type:
            extra["ContentType"] = content_type
        self._s3.copy({"Bucket": self.bucket, "Key": source}, self.bucket, key, ExtraArgs=extra)

    def user_metadata(self, key: str) -> dict[str, str]:
        """The object's user metadata (``x-amz-meta-*``, names without the prefix)."""
        return dict(self._s3.head_object(Bucket=self.bucket, Key=key).get("Metadata") or {})

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def read(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            while True:
                data = body.read(chunk)
                if not data:
                    return
                yield data
        finally:
            body.close()

    def presign(self, key: str, filename: str, expires: int) -> str:
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=expires,
            )
        )
