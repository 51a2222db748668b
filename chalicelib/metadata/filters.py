"""Listing downloads by metadata without a Scan: the index keys a task carries, and the
checks applied to the tasks an index returns. Pure.

Two sparse, keys-only indexes of the tasks table (chalicelib/persistence/indexes.py):

- ``by-meta-id``: ``meta_id`` = ``<owner>#tmdb:<tmdb_id>``: ``?tmdb_id=``;
- ``by-meta-name``: ``meta_name`` = ``<owner>#t:<title>`` for media, ``<owner>#a:<first artist>``
  for music (normalised: NFKC, case-folded, blanks collapsed): ``?title=`` and ``?artist=``.

and their every-owner twins ``by-meta-id-all`` / ``by-meta-name-all`` (the same keys without the
owner: an admin's list of everyone's downloads). All are ordered by ``created_key`` like the other lists, so a page of a
metadata filter reads
``per_page + 1`` index entries and one BatchGetItem. The narrower filters (``season``,
``episode``, ``kind``, ``year``, ``album``) are checked on the tasks the index returned
(:func:`holds`), so they need one of the three above.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

ENTRY = ("tmdb_id", "title", "artist")
NARROW = ("season", "episode", "kind", "year", "album")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()[:400]


def index_keys(owner: str, metadata: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(meta_id, meta_name) of a task: None where the metadata has nothing to index."""
    if not metadata:
        return None, None
    meta_id = f"{owner}#tmdb:{metadata['tmdb_id']}" if metadata.get("tmdb_id") else None
    if metadata.get("artist_names"):
        meta_name: str | None = f"{owner}#a:{normalise(str(metadata['artist_names'][0]))}"
    elif metadata.get("title"):
        meta_name = f"{owner}#t:{normalise(str(metadata['title']))}"
    else:
        meta_name = None
    return meta_id, meta_name


def every_owner(key: str | None) -> str | None:
    """An index key without its owner: the every-owner indexes' (an admin's list)."""
    return key.split("#", 1)[1] if key else None


def partition(field: str, value: Any, owner: str | None) -> str:
    """The index partition of an entry filter (``tmdb_id``, ``title`` or ``artist``) of one
    owner's downloads, or (None) of every owner's."""
    if field == "tmdb_id":
        found = f"tmdb:{value}"
    else:
        found = f"{'a' if field == 'artist' else 't'}:{normalise(str(value))}"
    return found if owner is None else f"{owner}#{found}"


def holds(metadata: dict[str, Any] | None, field: str, value: Any) -> bool:
    """Whether a task's metadata matches one filter (``artist`` matches any of its artists)."""
    meta = metadata or {}
    if field == "artist":
        return any(normalise(str(a)) == normalise(str(value)) for a in meta.get("artist_names") or [])
    if field in ("title", "album"):
        found = meta.get("title" if field == "title" else "album_name")
        return found is not None and normalise(str(found)) == normalise(str(value))
    return bool(meta.get(field) == value)


def search_words(metadata: dict[str, Any] | None) -> str:
    """The metadata's names, for the list's text search (``q``)."""
    meta = metadata or {}
    words = [meta.get(n) for n in ("title", "episode_title", "track_name", "album_name")]
    words += list(meta.get("artist_names") or [])
    return " ".join(str(w) for w in words if w)
