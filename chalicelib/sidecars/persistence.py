"""The sidecars' storage: their objects in the bucket (a folder's listing, whole small objects
in and out), and the owner's library read from the tasks table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..domain.states import TaskState
from ..domain.task import iso
from ..metadata import filters
from ..persistence.models import TaskModel
from .models import Kind, MediaFile, StoredObject, Title

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

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def owner(self, key: str) -> str | None:
        """The ``haul-owner`` an object was written for ("" when it names none); None when there
        is no such object."""
        try:
            answer = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return str((answer.get("Metadata") or {}).get("haul-owner", ""))

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


def _kind_of(metadata: dict[str, Any]) -> Kind | None:
    """A download's kind of title: its metadata's ``kind``, else a series when it has a season."""
    kind = metadata.get("kind")
    if kind in (Kind.TV.value, Kind.MOVIE.value):
        return Kind(kind)
    if metadata.get("artist_names") or metadata.get("track_name"):
        return None
    return Kind.TV if metadata.get("season") is not None else Kind.MOVIE


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class DownloadsLibrary:
    """The owner's library (:class:`~.sources.Library`): their completed downloads with a TMDB id.

    A title's files come from the tasks table's sparse ``by-meta-id`` index (one owner's tasks of
    one TMDB id, keys only) and one BatchGetItem per 100; the owner's titles from their completed
    tasks (``by-owner-state``), newest first, reading at most :data:`MAX_TITLE_READS` of them.
    """

    MAX_FILES = 2000
    MAX_TITLE_READS = 5000

    def files(self, owner: str, kind: Kind, tmdb_id: int) -> list[MediaFile]:
        found = TaskModel.by_meta_id.query(filters.partition("tmdb_id", tmdb_id, owner), limit=self.MAX_FILES)
        ids = [m.id for m in found]
        files = []
        for chunk in range(0, len(ids), 100):
            for m in TaskModel.batch_get(ids[chunk:chunk + 100]):
                metadata = m.metadata if isinstance(m.metadata, dict) else {}
                if m.owner != owner or m.state != TaskState.COMPLETED.value or _kind_of(metadata) is not kind:
                    continue
                files.append(MediaFile(m.id, m.key, _int_or_none(metadata.get("season")),
                                       _int_or_none(metadata.get("episode")), _number(m.size)))
        return sorted(files, key=lambda f: f.key)

    def titles(self, owner: str, limit: int) -> list[Title]:
        seen: dict[tuple[Kind, int], Title] = {}
        query = TaskModel.by_owner_state.query(f"{owner}#{TaskState.COMPLETED.value}", scan_index_forward=False,
                                               limit=self.MAX_TITLE_READS, page_size=500)
        for m in query:
            metadata = m.metadata if isinstance(m.metadata, dict) else {}
            tmdb_id, kind = _int_or_none(metadata.get("tmdb_id")), _kind_of(metadata)
            if tmdb_id is None or kind is None or (kind, tmdb_id) in seen:
                continue
            seen[(kind, tmdb_id)] = Title(kind, tmdb_id, metadata.get("title"), _int_or_none(metadata.get("year")))
            if len(seen) >= limit:
                break
        return list(seen.values())
