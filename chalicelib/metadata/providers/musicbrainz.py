"""MusicBrainz (web service v2, JSON) and the Cover Art Archive.

MusicBrainz needs no key but asks for a User-Agent naming the application and a way to
contact its operator (``musicbrainz.contact``: without it the provider counts as not
configured) and for at most one request a second per address: Haul paces every request of
the stage through one shared slot (pacing.py), and caches answers for a day.
"""

from __future__ import annotations

from typing import Any

from ...adapters import safehttp
from .errors import ProviderFailed, ProviderNotConfigured, ProviderNotFound
from .http import Call, ProviderHttp
from .models import MUSICBRAINZ, CoverArt, MediaMatch, MusicBrainzSettings, ReleaseDate, TrackMetadata

KINDS: tuple[str, ...] = ("recording", "release")
_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def lucene_phrase(text: str) -> str:
    """``text`` as a quoted phrase of MusicBrainz's (Lucene) query syntax."""
    escaped = "".join("\\" + c if c in _LUCENE_SPECIAL else c for c in " ".join(text.split()))
    return f'"{escaped}"'


def _artists(credit: Any) -> list[str]:
    return [str(c.get("name") or (c.get("artist") or {}).get("name")) for c in credit or []
            if isinstance(c, dict) and (c.get("name") or (c.get("artist") or {}).get("name"))]


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


class MusicBrainzClient:
    name = MUSICBRAINZ
    kinds = KINDS

    def __init__(self, http: ProviderHttp, settings: MusicBrainzSettings) -> None:
        if not settings.contact.strip():
            raise ProviderNotConfigured("MusicBrainz", "musicbrainz.contact",
                                        "is not set (MusicBrainz asks every client for a contact in its User-Agent)")
        self.http = http
        self.settings = settings
        http.check("MusicBrainz", "musicbrainz.base_url", settings.base_url)

    @property
    def user_agent(self) -> str:
        version = safehttp.USER_AGENT.split(" ", 1)[0]  # Haul/<version>
        return f"{version} ( {self.settings.contact.strip()} )"

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        call = Call(provider=MUSICBRAINZ, url=self.settings.base_url.rstrip("/") + path,
                    params={**params, "fmt": "json"}, headers={"User-Agent": self.user_agent},
                    requests_per_second=min(1.0, self.settings.requests_per_second),
                    cache_seconds=self.settings.cache_seconds)
        data = self.http.get_json(call)
        if not isinstance(data, dict):
            raise ProviderFailed("MusicBrainz answered JSON that is not an object")
        return data

    # -- the interface every provider has ------------------------------------------------
    def search(self, query: str, kind: str, year: int | None = None, limit: int = 20) -> list[MediaMatch]:
        """Recordings or releases matching ``query`` (MusicBrainz's search syntax is allowed)."""
        if kind not in KINDS:
            raise ValueError(f"MusicBrainz searches recording and release, not {kind!r}")
        q = query if year is None else f"({query}) AND date:{int(year)}*"
        data = self._get(f"/{kind}", {"query": q, "limit": max(1, min(100, limit))})
        out: list[MediaMatch] = []
        for r in data.get("recordings" if kind == "recording" else "releases") or []:
            if not isinstance(r, dict) or not r.get("id"):
                continue
            if kind == "recording":
                releases = [x for x in r.get("releases") or [] if isinstance(x, dict)]
                album = str(releases[0].get("title")) if releases and releases[0].get("title") else None
                date = r.get("first-release-date") or (releases[0].get("date") if releases else None)
            else:
                album, date = str(r.get("title") or ""), r.get("date")
            parsed = ReleaseDate.parse(str(date) if date else None)
            out.append(MediaMatch(
                provider=MUSICBRAINZ, id=str(r["id"]), kind=kind, title=str(r.get("title") or ""),
                year=parsed.year if parsed else None, artist_names=_artists(r.get("artist-credit")),
                album_name=album, date=str(date) if date else None,
                score=float(r["score"]) if isinstance(r.get("score"), (int, float)) else None,
            ))
        return out[:limit]

    # -- MusicBrainz's own --------------------------------------------------------------
    def recording(self, artist: str, track: str) -> TrackMetadata:
        """The best recording of ``track`` by ``artist``, in Sharktooth's ``GET /metadata``
        shape: the artists, the track, the album it was first released on, its disc and
        track number there, and the release date (day null when month is)."""
        query = f"artist:{lucene_phrase(artist)} AND recording:{lucene_phrase(track)}"
        data = self._get("/recording", {"query": query, "limit": 5})
        recordings = [r for r in data.get("recordings") or [] if isinstance(r, dict) and r.get("id")]
        if not recordings:
            raise ProviderNotFound(f"MusicBrainz knows no recording of {track!r} by {artist!r}")
        best = max(recordings, key=lambda r: int(r["score"]) if isinstance(r.get("score"), int) else 0)
        releases = [x for x in best.get("releases") or [] if isinstance(x, dict)]
        # The earliest official release (albums first), as a tagger would pick it.
        releases.sort(key=lambda x: (x.get("status") not in (None, "Official"),
                                     ((x.get("release-group") or {}).get("primary-type") or "") != "Album",
                                     str(x.get("date") or "9999")))
        release = releases[0] if releases else None
        disc = number = None
        if release:
            for index, medium in enumerate(release.get("media") or [], start=1):
                if not isinstance(medium, dict):
                    continue
                tracks = [t for t in medium.get("track") or medium.get("tracks") or [] if isinstance(t, dict)]
                if tracks:
                    disc = _int(medium.get("position")) or index
                    number = _int(tracks[0].get("number")) or _int(tracks[0].get("position"))
                    if number is None and _int(medium.get("track-offset")) is not None:
                        number = int(medium["track-offset"]) + 1
                    break
        date = best.get("first-release-date") or (release.get("date") if release else None)
        return TrackMetadata(
            artist_names=_artists(best.get("artist-credit")) or [artist], track_name=str(best.get("title") or track),
            album_name=str(release.get("title")) if release and release.get("title") else None,
            track_number=number, disc_number=disc, release_date=ReleaseDate.parse(str(date) if date else None),
            recording_id=str(best["id"]), release_id=str(release["id"]) if release and release.get("id") else None,
            length_ms=_int(best.get("length")),
        )

    def cover(self, release_id: str) -> CoverArt | None:
        """The release's cover art from the Cover Art Archive (None when it has none)."""
        self.http.check("MusicBrainz", "musicbrainz.coverart_base_url", self.settings.coverart_base_url)
        call = Call(
            provider=MUSICBRAINZ,
            url=f"{self.settings.coverart_base_url.rstrip('/')}/release/{release_id}",
            headers={"User-Agent": self.user_agent},
            requests_per_second=min(1.0, self.settings.requests_per_second),
            cache_seconds=self.settings.cache_seconds,
            pace="coverartarchive",
        )
        try:
            data = self.http.get_json(call)
        except ProviderNotFound:
            return None
        images = [i for i in (data.get("images") if isinstance(data, dict) else None) or [] if isinstance(i, dict)]
        if not images:
            return None
        front = next((i for i in images if i.get("front")), images[0])
        thumbs: dict[str, Any] = front["thumbnails"] if isinstance(front.get("thumbnails"), dict) else {}
        return CoverArt(
            release_id=release_id,
            front_url=str(front["image"]) if front.get("image") else None,
            thumbnails={str(k): str(v) for k, v in thumbs.items() if isinstance(v, str)},
            images=len(images),
        )
