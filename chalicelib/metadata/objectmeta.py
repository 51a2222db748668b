"""A download's metadata as the stored S3 object's user metadata (``x-amz-meta-haul-*``).

S3 allows 2 KB of user metadata per object and header-safe ASCII values, so each value is
percent-encoded UTF-8 (``Caf%C3%A9``), one ``haul-<field>`` per field (labels as
``haul-label-<name>``), and what does not fit in the 2 KB is left out, labels first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

MAX_BYTES = 2048
_SAFE = " !#$&'()*+,/:;=?@[]~"
# In this order of importance: the first ones are kept when space runs out.
_ORDER = (
    "kind", "tmdb_id", "imdb_id", "title", "year", "season", "episode", "episode_title",
    "artist_names", "track_name", "album_name", "track_number", "disc_number", "release_date", "codec", "bitrate",
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):  # release_date
        value = "-".join(f"{value[k]:02d}" if k != "year" else str(value[k])
                         for k in ("year", "month", "day") if value.get(k) is not None)
    return quote(str(value), safe=_SAFE)


def object_metadata(task_id: str, metadata: dict[str, Any] | None) -> dict[str, str]:
    """The user metadata to store with a download's object (boto3's ``Metadata=``)."""
    out = {"haul-task-id": task_id}
    if not metadata:
        return out
    wanted = [(f"haul-{name.replace('_', '-')}", metadata[name]) for name in _ORDER if metadata.get(name) is not None]
    wanted += [(f"haul-label-{name.lower()}", text) for name, text in (metadata.get("labels") or {}).items()]
    size = sum(len(k) + len(v) for k, v in out.items())
    for name, value in wanted:
        text = _text(value)
        if size + len(name) + len(text) > MAX_BYTES:
            continue
        out[name] = text
        size += len(name) + len(text)
    return out
