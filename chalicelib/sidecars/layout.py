"""Where sidecars go in the bucket (pure functions): next to a title's media files.

A series' folder is the folder its episodes share, less a trailing season folder
(``Show (2008)/Season 01/…`` -> ``Show (2008)/``); a movie's is the folder of its file. Any
naming template gives a folder this way (docs/library.md); a title whose files share no
folder (an old ``downloads/<id>/`` layout across several downloads) has none, and gets no NFO.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterable

from .models import Art, Kind, MediaFile

_SEASON_DIR = re.compile(r"^(season[ ._-]*\d{1,4}|s\d{1,4}|specials?|extras)$", re.IGNORECASE)
VIDEO_EXTENSIONS = frozenset({
    "mkv", "mp4", "m4v", "avi", "mov", "wmv", "ts", "m2ts", "webm", "mpg", "mpeg", "flv", "ogv", "divx", "iso",
})
NFO_NAME = {Kind.TV: "tvshow.nfo", Kind.MOVIE: "movie.nfo"}
# The artwork's file names, as Kodi and Jellyfin look for them in a title's folder.
ART_EXTENSIONS = {Art.POSTER: ("jpg", "png"), Art.FANART: ("jpg", "png"), Art.LOGO: ("png",)}


def _directory(key: str) -> str:
    head = posixpath.dirname(key)
    return f"{head}/" if head else ""


def is_video(key: str) -> bool:
    return posixpath.splitext(key)[1].lstrip(".").lower() in VIDEO_EXTENSIONS


def title_folder(kind: Kind, key: str) -> str:
    """The folder of one file's title: its own folder, less a season folder for a series."""
    folder = _directory(key)
    if kind is Kind.TV and folder:
        parent, last = posixpath.split(folder.rstrip("/"))
        if _SEASON_DIR.match(last):
            folder = f"{parent}/" if parent else ""
    return folder


def folder_of(kind: Kind, files: Iterable[MediaFile]) -> str | None:
    """The title's folder (ends with ``/``): the one most of its files are in (the shorter
    on a tie). None when there is none but the bucket's root: sidecars are never written
    there, nor into a parent folder other titles share (``downloads/``)."""
    counts = Counter(title_folder(kind, f.key) for f in files)
    counts.pop("", None)
    if not counts:
        return None
    return min(counts, key=lambda folder: (-counts[folder], len(folder), folder))


def nfo_key(kind: Kind, folder: str) -> str:
    return f"{folder}{NFO_NAME[kind]}"


def episode_nfo_key(video_key: str) -> str:
    """``<episode file name>.nfo`` beside the episode's video."""
    return f"{posixpath.splitext(video_key)[0]}.nfo"


def art_key(folder: str, art: Art, extension: str) -> str:
    return f"{folder}{art.value}.{extension}"


def art_keys(folder: str, art: Art) -> list[str]:
    """Every name the artwork may have (a poster may be a PNG)."""
    return [art_key(folder, art, ext) for ext in ART_EXTENSIONS[art]]


def season_poster_name(season: int) -> str:
    """Kodi's name for a season's poster in the series' folder: ``season01-poster``,
    ``season-specials-poster`` for season 0."""
    return "season-specials-poster" if season == 0 else f"season{season:02d}-poster"


def season_poster_keys(folder: str, season: int) -> list[str]:
    return [f"{folder}{season_poster_name(season)}.{ext}" for ext in ART_EXTENSIONS[Art.POSTER]]
