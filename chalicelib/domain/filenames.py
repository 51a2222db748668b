"""Filenames: from a Content-Disposition header or a URL, made safe for an S3 key."""

from __future__ import annotations

import re
import unicodedata
from email.message import Message
from urllib.parse import unquote, urlsplit

MAX_FILENAME_BYTES = 255
DEFAULT_FILENAME = "download"
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')


def sanitize(name: str) -> str:
    """A filename with no path, no control or reserved characters, at most 255 UTF-8 bytes.

    Unicode is kept (normalised to NFC); an empty result becomes ``download``.
    """
    name = unicodedata.normalize("NFC", name)
    # Keep only the last path segment, whichever separator the sender used.
    name = re.split(r"[/\\]", name)[-1]
    name = _FORBIDDEN.sub("_", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = name.strip().strip(".").strip()
    if not name:
        return DEFAULT_FILENAME
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        keep_ext = dot and 0 < len(ext.encode()) <= 16
        room = MAX_FILENAME_BYTES - (len(ext.encode()) + 1 if keep_ext else 0)
        head = (stem if keep_ext else name).encode("utf-8")[:room].decode("utf-8", "ignore")
        name = f"{head}.{ext}" if keep_ext else head
    return name


def from_content_disposition(header: str | None) -> str | None:
    """The filename a Content-Disposition header names (RFC 6266, ``filename*`` first)."""
    if not header:
        return None
    msg = Message()
    msg["content-disposition"] = header
    name = msg.get_filename()
    if not name:
        return None
    return sanitize(name)


def from_url(url: str) -> str:
    path = urlsplit(url).path
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path else ""
    return sanitize(segment)


def choose(content_disposition: str | None, url: str) -> str:
    return from_content_disposition(content_disposition) or from_url(url)
