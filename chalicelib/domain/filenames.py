"""Filenames: from a Content-Disposition header or a URL, made safe for an S3 key."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from email.message import Message
from urllib.parse import unquote, urlsplit

MAX_FILENAME_BYTES = 255
DEFAULT_FILENAME = "download"
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')


def _trim(name: str) -> str:
    """``name`` without leading and trailing whitespace and dots ("..", "name.", " name"), in linear time."""
    start, end = 0, len(name)
    while start < end and (name[start].isspace() or name[start] == "."):
        start += 1
    while end > start and (name[end - 1].isspace() or name[end - 1] == "."):
        end -= 1
    return name[start:end]


def sanitize(name: str) -> str:
    """A filename with no path, no control or reserved characters, at most 255 UTF-8 bytes.

    Unicode is kept (normalised to NFC); an empty result becomes ``download``.
    """
    # Keep only the last path segment, whichever separator the sender used.
    name = re.split(r"[/\\]", name)[-1]
    name = _FORBIDDEN.sub("_", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    # Normalised after the removals, which can bring a letter and its accent together.
    name = unicodedata.normalize("NFC", name)
    name = _trim(name)
    if not name:
        return DEFAULT_FILENAME
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        keep_ext = dot and 0 < len(ext.encode()) <= 16
        room = MAX_FILENAME_BYTES - (len(ext.encode()) + 1 if keep_ext else 0)
        head = (stem if keep_ext else name).encode("utf-8")[:room].decode("utf-8", "ignore")
        # The cut may leave a trailing space or dot, which the strip above has to catch too.
        head = _trim(head)
        name = (f"{head}.{ext}" if keep_ext else head) if head else DEFAULT_FILENAME
    return name


def from_content_disposition(header: str | None) -> str | None:
    """The filename a Content-Disposition header names (RFC 6266, ``filename*`` first)."""
    if not header:
        return None
    msg = Message()
    msg["content-disposition"] = header
    # Message.get_filename() returns the first ``filename`` parameter, which is the plain
    # fallback when a header carries both; the RFC 2231 form (``filename*``) arrives as a
    # (charset, language, value) tuple and must win.
    values = [v for k, v in (msg.get_params(header="content-disposition") or [])[1:] if k == "filename"]
    values.sort(key=lambda v: not isinstance(v, tuple))
    name = email.utils.collapse_rfc2231_value(values[0]) if values else None
    if not name:
        return None
    return sanitize(name)


def from_url(url: str) -> str:
    path = urlsplit(url).path
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path else ""
    return sanitize(segment)


def choose(content_disposition: str | None, url: str) -> str:
    return from_content_disposition(content_disposition) or from_url(url)
