"""URL identity for duplicate detection: two spellings of one URL are one download."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    """The URL's host name in lower case ("" when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def normalize(url: str) -> str:
    """Scheme and host in lower case, the default port and the fragment dropped, an empty
    path as "/"; the path and query are kept exactly (they are the origin's to interpret)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username is not None:
        cred = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{cred}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def dedupe_key(owner: str, url: str) -> str:
    """The by-url index key of ``url`` added by ``owner``."""
    return f"{owner}#{hashlib.sha256(normalize(url).encode()).hexdigest()}"
