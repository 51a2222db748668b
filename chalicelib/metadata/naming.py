"""Where a download lands and what it is called: naming templates and safe S3 keys. Pure.

A template is text with fields in braces, e.g.
``{title} ({year})/Season {season:02}/{title} - S{season:02}E{episode:02}.{ext}``: ``/``
separates folders, a number field may be zero-padded (``{season:02}``), nothing else of
Python's format language is allowed (no attributes, indexes or conversions: a template is
user input). A field without a value renders empty, and the empty brackets and dangling
separators it leaves are tidied away (``Title ()`` -> ``Title``).

Every value is cleaned before it goes in (a ``/`` in a title never makes a folder), and the
whole key after (:func:`safe_key`): no ``.``/``..`` segment, no leading ``/``, no empty
segment, no control or format characters, none of ``<>:"|?*\\`` (the file may end up on a
Windows or SMB share that Kodi, Jellyfin or Plex reads), segments of at most 255 bytes, the
key at most :data:`MAX_KEY_BYTES` (S3 allows 1024; the rest is room for a uniqueness suffix).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import filenames
from .models import Metadata

MAX_KEY_BYTES = 1000  # S3's limit is 1024 bytes: room for " (99)" and a sidecar's longer extension
MAX_SEGMENT_BYTES = 255  # a file or folder name on the file systems a library is served from
MAX_TEMPLATE = 512
LEGACY_PREFIX = "downloads"

# field -> what it is (the OpenAPI document and the settings page list these)
FIELDS: dict[str, str] = {
    "title": "media title", "year": "year", "season": "season number", "episode": "episode number",
    "episode_title": "episode title", "kind": "movie or tv", "tmdb_id": "TMDB id", "imdb_id": "IMDb id",
    "artist": "first artist", "artists": "every artist, comma-separated", "album": "album name",
    "track": "track number", "track_name": "track name", "disc": "disc number", "codec": "audio codec",
    "bitrate": "bitrate (kbit/s)", "release_year": "release year (music)", "label": "labels.<name> (see below)",
    "filename": "the file's name", "name": "the file's name without its extension", "ext": "its extension",
    "id": "the download's id", "category": "the download's category",
}
NUMBERS = frozenset({"year", "season", "episode", "tmdb_id", "track", "disc", "bitrate", "release_year"})
DEFAULT_TEMPLATES: dict[str, str] = {
    "tv": "{title} ({year})/Season {season:02}/{title} - S{season:02}E{episode:02}.{ext}",
    "movie": "{title} ({year})/{title} ({year}).{ext}",
    "music": "{artist}/{album}/{disc}-{track:02} {track_name}.{ext}",
}
# What a default template needs; without it the file keeps its own name.
_NEEDS: dict[str, tuple[str, ...]] = {
    "tv": ("title", "season", "episode"), "movie": ("title",), "music": ("artist", "track_name"),
}
_SPEC = re.compile(r"^0[1-9]$")
_RESERVED = str.maketrans({"<": "_", ">": "_", '"': "'", "|": "_", "?": "_", "*": "_", "\\": "_", ":": "_"})
_DROP_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")
_SPACES = re.compile(r"\s+")
_DANGLING = re.compile(r"\s*-\s*(?=\.[A-Za-z0-9]{1,16}$)")
_DOUBLE_SEP = re.compile(r"\s-(\s+-)+\s")
_EXT = re.compile(r"^[A-Za-z0-9]{1,16}$")
_LABEL = re.compile(r"^label\.([A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")


class TemplateError(ValueError):
    """A template Haul will not render; the message says why."""


# -- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    literal: str
    field: str | None
    spec: str


def parse(template: str) -> list[_Part]:
    """The template's literal text and fields; TemplateError for anything not allowed."""
    if not template.strip():
        raise TemplateError("must not be empty")
    if len(template) > MAX_TEMPLATE:
        raise TemplateError(f"must be at most {MAX_TEMPLATE} characters")
    if any(unicodedata.category(c) in _DROP_CATEGORIES for c in template):
        raise TemplateError("must not contain control characters")
    if template.startswith("/") or "\\" in template:
        raise TemplateError("must be a relative path with '/' between folders (no leading '/', no '\\')")
    try:
        raw = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"is not a template: {exc} (a literal brace is written {{{{ or }}}})") from None
    parts: list[_Part] = []
    for literal, field, spec, conversion in raw:
        if field is None:
            parts.append(_Part(literal, None, ""))
            continue
        if conversion is not None:
            raise TemplateError(f"{{{field}!{conversion}}}: conversions are not allowed")
        if field not in FIELDS and not _LABEL.match(field):
            known = ", ".join(f for f in FIELDS if f != "label")
            raise TemplateError(f"{{{field}}} is not a field; use {known} or label.<name>")
        if field == "label":
            raise TemplateError("{label} needs a name: {label.<name>}")
        if spec and ("{" in spec or not _SPEC.match(spec)):
            raise TemplateError(f"{{{field}:{spec}}}: the only format is zero padding, e.g. {{season:02}}")
        if spec and field not in NUMBERS:
            raise TemplateError(f"{{{field}:{spec}}}: only numbers ({', '.join(sorted(NUMBERS))}) can be padded")
        parts.append(_Part(literal, field, spec or ""))
    segments = "".join(p.literal + ("{}" if p.field else "") for p in parts).split("/")
    if any(s.strip() in {".", ".."} for s in segments):
        raise TemplateError("must not contain '.' or '..' folders")
    last = template.rsplit("/", 1)[-1]
    if "{ext}" not in last and "{filename}" not in last:
        raise TemplateError("the file name (after the last '/') must use {ext} or {filename}")
    return parts


def check(template: str) -> str:
    """The template if it can be rendered; TemplateError saying why not."""
    parse(template)
    return template


def _value_text(value: Any, spec: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:{spec}d}" if spec else str(value)
    return clean_value(str(value))


def clean_value(text: str) -> str:
    """A value for inside one key segment: no '/' (it never makes a folder), no reserved or
    control characters; ``A: B`` reads ``A - B``."""
    text = text.replace(": ", " - ").replace("/", "-")
    text = "".join(c for c in text if unicodedata.category(c) not in _DROP_CATEGORIES)
    return _SPACES.sub(" ", text.translate(_RESERVED)).strip()


def render(template: str, values: Mapping[str, Any]) -> str:
    """The template filled with ``values`` (field -> value; absent or None renders empty),
    before :func:`safe_key`."""
    out: list[str] = []
    for part in parse(template):
        out.append(part.literal)
        if part.field is not None:
            out.append(_value_text(values.get(part.field), part.spec))
    return "".join(out)


# -- values ----------------------------------------------------------------------------------


def split_ext(filename: str) -> tuple[str, str]:
    """(name, extension) of a file name; the extension without its dot, '' when none."""
    stem, dot, ext = filename.rpartition(".")
    if dot and stem and _EXT.match(ext):
        return stem, ext.lower() if ext.upper() == ext else ext
    return filename, ""


def values_of(
    metadata: Metadata | None, filename: str, task_id: str = "", category: str | None = None
) -> dict[str, Any]:
    """The template fields of a download."""
    stem, ext = split_ext(filename)
    out: dict[str, Any] = {"filename": filename, "name": stem, "ext": ext, "id": task_id, "category": category}
    if metadata is None:
        return out
    out.update(
        title=metadata.title, year=metadata.year, season=metadata.season, episode=metadata.episode,
        episode_title=metadata.episode_title, kind=metadata.kind, tmdb_id=metadata.tmdb_id,
        imdb_id=metadata.imdb_id, artist=metadata.primary_artist,
        artists=", ".join(metadata.artist_names) if metadata.artist_names else None,
        album=metadata.album_name, track=metadata.track_number, track_name=metadata.track_name,
        disc=metadata.disc_number, codec=metadata.codec, bitrate=metadata.bitrate,
        release_year=metadata.release_date.year if metadata.release_date else None,
    )
    for name, text in metadata.labels.items():
        out[f"label.{name}"] = text
    return out


def default_template(metadata: Metadata | None, templates: Mapping[str, str] | None = None) -> str | None:
    """The template a download with this metadata gets when nothing names one: the family's
    (tv, movie, music), if the metadata has what it needs; else None (the file keeps its name)."""
    family = metadata.family if metadata is not None else None
    if metadata is None or family is None:
        return None
    values = values_of(metadata, "")
    if any(values.get(name) in (None, "") for name in _NEEDS[family]):
        return None
    return (templates or {}).get(family) or DEFAULT_TEMPLATES[family]


# -- keys --------------------------------------------------------------------------------------


def _segment(text: str) -> str:
    text = unicodedata.normalize("NFC", "".join(c for c in text if unicodedata.category(c) not in _DROP_CATEGORIES))
    text = text.translate(_RESERVED)
    previous = None
    while previous != text:  # "Title ( [] )" -> "Title"
        previous = text
        text = _SPACES.sub(" ", _EMPTY_BRACKETS.sub("", text))
    # A separator an empty field left before the extension ("Title - .mkv") or doubled ("A - - B").
    text = _DANGLING.sub("", text)
    text = _DOUBLE_SEP.sub(" - ", text)
    # Leading/trailing blanks, dots and dashes: what an empty field leaves ("- S01E01", "Title -"),
    # and never a "." or ".." segment or a hidden file.
    return text.strip(" .-\t")


def _cut(text: str, limit: int, keep_ext: bool) -> str:
    if len(text.encode()) <= limit:
        return text
    stem, ext = split_ext(text) if keep_ext else (text, "")
    tail = f".{ext}" if ext else ""
    head = stem.encode()[: max(1, limit - len(tail.encode()))].decode("utf-8", "ignore")
    return _segment(head) + tail


def safe_key(key: str, limit: int = MAX_KEY_BYTES) -> str:
    """``key`` made safe for S3 and for a media library's file system (see the module doc)."""
    raw = key.replace("\\", "/").split("/")
    segments = [s for s in (_segment(r) for r in raw) if s]
    if not segments:
        return "download"
    segments = [_cut(s, MAX_SEGMENT_BYTES, i == len(segments) - 1) for i, s in enumerate(segments)]
    while len("/".join(segments).encode()) > limit:
        excess = len("/".join(segments).encode()) - limit
        longest = max(range(len(segments)), key=lambda i: len(segments[i].encode()))
        size = len(segments[longest].encode())
        if size <= 16:  # every segment tiny: too many folders; keep the deepest ones
            segments = segments[1:]
            continue
        segments[longest] = _cut(segments[longest], max(16, size - excess), longest == len(segments) - 1)
    return "/".join(s for s in segments if s) or "download"


def numbered(key: str, n: int) -> str:
    """The n-th alternative of a key that is taken: ``a/b (2).mkv``."""
    folder, _, name = key.rpartition("/")
    stem, ext = split_ext(name)
    tail = f" ({n})" + (f".{ext}" if ext else "")
    stem = _segment(stem.encode()[: MAX_SEGMENT_BYTES - len(tail.encode())].decode("utf-8", "ignore")) or "file"
    candidate = stem + tail
    return safe_key(f"{folder}/{candidate}" if folder else candidate, MAX_KEY_BYTES + 24)


def clean_path(path: str) -> str:
    """A folder prefix (a download's ``path``, a category's folder) as safe key segments;
    '' when nothing is left."""
    if not any(_segment(s) for s in path.replace("\\", "/").split("/")):
        return ""
    return safe_key(path, 512)


@dataclass(frozen=True)
class Naming:
    """How one download is named: its folder prefix and its template (either may be None)."""

    path: str | None = None
    template: str | None = None


def key_for(task_id: str, filename: str, metadata: Metadata | None, naming: Naming,
            templates: Mapping[str, str] | None = None, category: str | None = None) -> str:
    """The S3 key of a download. With no path, no template and no metadata a default template
    fits: ``downloads/<id>/<filename>`` (unique by its id). Otherwise ``<path>/<rendered>``,
    made safe; its uniqueness is claimed when the transfer starts (chalicelib/metadata/keys.py)."""
    template = naming.template or default_template(metadata, templates)
    folder = clean_path(naming.path) if naming.path else ""
    if template is None and not folder:
        # As before issue #18: the file's own name (sanitize is idempotent on the names Haul keeps).
        return f"{LEGACY_PREFIX}/{task_id}/{filenames.sanitize(filename)}"
    rendered = render(template, values_of(metadata, filename, task_id, category)) if template else filename
    return safe_key(f"{folder}/{rendered}" if folder else rendered)


def is_named(key: str, task_id: str) -> bool:
    """Whether ``key`` is a library key (not the legacy, id-unique ``downloads/<id>/...``)."""
    return not key.startswith(f"{LEGACY_PREFIX}/{task_id}/")
