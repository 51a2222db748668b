"""URL identity for duplicate detection (two spellings of one URL are one download), and
redaction: what of a URL may appear in logs, the activity log and error messages."""

from __future__ import annotations

import hashlib
import re
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


REDACTED = "***"
# scheme://user:password@ -> scheme://***@
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,15}://)[^/\s@?#]+@")
# Every query (or fragment) parameter's value, in a full URL or a bare path such as the
# "url: /file?token=..." requests puts in its errors: signatures, tokens and keys live there.
_PARAM = re.compile(r"([?&#;][^=&\s'\"#?/]{1,128}=)[^&\s'\"#]*")


def redact(text: str) -> str:
    """``text`` with URL credentials (``user:pass@``) and every query parameter's value
    (``token=``, ``sig=``, ``X-Amz-Signature=``...) replaced by ``***``; names stay, so a log
    still says which parameters there were."""
    if "@" in text:
        text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    if "=" in text:
        text = _PARAM.sub(rf"\1{REDACTED}", text)
    return text


def redact_data(value: object) -> object:
    """:func:`redact` applied to every string inside ``value`` (dicts, lists)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value
