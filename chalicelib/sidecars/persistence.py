"""The sidecars' objects in the bucket: a folder's listing, whole small objects in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..domain.task import iso
from .models import StoredObject

MAX_LISTED = 5000  # objects of one title's folder read at most (5 pages)


def _iso(when: datetime) -> str:
    return iso(int(when.timestamp() * 1000)) or ""


class TooLarge(Exception):
    pass


class SidecarObjects:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def folder(self, prefix: str) -> dict[str, StoredObject]:
        """The objects under ``prefix`` (its sub-folders included), at most MAX_LISTED."""
        found: dict[str, StoredObject] = {}
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
        while len(found) < MAX_LISTED:
            page = self._s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                found[item["Key"]] = StoredObject(item["Key"], int(item["Size"]),
                                                  _iso(item["LastModified"]))
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
        return found

    def put(self, key: str, body: bytes, content_type: str, owner: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                            Metadata={"haul-owner": owner, "haul-sidecar": "true"})

    def get(self, key: str, max_bytes: int) -> tuple[bytes, StoredObject] | None:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        body = answer["Body"]
        try:
            if int(answer.get("ContentLength") or 0) > max_bytes:
                raise TooLarge(key)
            data: bytes = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise TooLarge(key)
        modified = _iso(answer["LastModified"])
        return data, StoredObject(key, len(data), modified)
