"""A fake TMDB, MusicBrainz, Cover Art Archive and Torznab indexer on loopback.

One real HTTP server answers the providers' paths with JSON (and the indexer's RSS) shaped
like theirs, written by hand from their public API references: TMDB v3 (``/3/search/tv``,
``/3/tv/{id}``, ``/3/tv/{id}/season/{n}``, ``/3/{kind}/{id}/images``, images under
``/t/p/{size}/...``), MusicBrainz WS/2 (``/ws/2/recording``, ``/ws/2/release``, ``fmt=json``),
the Cover Art Archive (``/caa/release/{mbid}``) and a Torznab endpoint (``/torznab/api``,
``t=search|tvsearch|movie``). Tests add the shows, recordings and releases they need.

Every request is recorded (path, query, headers, monotonic time). ``api_key`` is checked like
TMDB does (401 with its error body); ``fail`` makes a path answer a status (``429`` with
``Retry-After``, ``503``...).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
TMDB_KEY = "fake-tmdb-v3-key-0123456789abcdef"
INDEXER_KEY = "fake-indexer-key-42"


@dataclass
class Show:
    id: int
    name: str
    first_air_date: str
    seasons: dict[int, list[str]]  # season -> episode names
    imdb_id: str = "tt0000001"
    tvdb_id: int = 100001
    overview: str = "A show made up for the tests."


@dataclass
class Movie:
    id: int
    title: str
    release_date: str
    imdb_id: str = "tt0000002"
    overview: str = "A film made up for the tests."


@dataclass
class Recording:
    id: str
    title: str
    artist: str
    release_id: str
    release_title: str
    date: str
    disc: int = 1
    track: int = 1
    score: int = 100
    length: int = 215000


@dataclass
class Torrent:
    """One item of the indexer's RSS."""

    title: str
    url: str  # the enclosure: http(s), or a magnet: link Haul cannot use
    size: int
    category: int = 5040
    seeders: int = 10


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class ProviderServer:
    def __init__(self) -> None:
        self.shows: dict[int, Show] = {}
        self.movies: dict[int, Movie] = {}
        self.recordings: list[Recording] = []
        self.covers: dict[str, bool] = {}  # release id -> has cover art
        self.torrents: list[Torrent] = []
        self.requests: list[Seen] = []
        self.fail: dict[str, tuple[int, dict[str, str]]] = {}  # path prefix -> (status, headers)
        self.delay: dict[str, float] = {}  # path prefix -> seconds before answering
        self.bodies: dict[str, bytes] = {}  # path prefix -> a 200 answer with this body, whatever was asked
        self.tmdb_key = TMDB_KEY
        self.indexer_key = INDEXER_KEY
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with fake._lock:
                    fake.requests.append(Seen(parts.path, query, {k.lower(): v for k, v in self.headers.items()}))
                    failing = next((v for k, v in fake.fail.items() if parts.path.startswith(k)), None)
                    pause = next((v for k, v in fake.delay.items() if parts.path.startswith(k)), 0.0)
                if pause:
                    time.sleep(pause)
                raw = next((v for k, v in fake.bodies.items() if parts.path.startswith(k)), None)
                if raw is not None:
                    self._send(200, raw, "application/json", {})
                    return
                if failing:
                    self._send(failing[0], json.dumps({"status_code": 25, "status_message": "failing on purpose",
                                                       "success": False}).encode(), "application/json", failing[1])
                    return
                try:
                    status, body, ctype = fake.answer(parts.path, query, self.headers)
                except KeyError:
                    status, body, ctype = (
                        404,
                        json.dumps(
                            {
                                "success": False,
                                "status_code": 34,
                                "status_message": "The resource you requested could not be found.",
                            }
                        ).encode(),
                        "application/json",
                    )
                self._send(status, body, ctype, {})

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the base URLs to configure ---------------------------------------------------------
    @property
    def tmdb_url(self) -> str:
        return f"{self.base}/3"

    @property
    def image_url(self) -> str:
        return f"{self.base}/t/p"

    @property
    def musicbrainz_url(self) -> str:
        return f"{self.base}/ws/2"

    @property
    def coverart_url(self) -> str:
        return f"{self.base}/caa"

    @property
    def torznab_url(self) -> str:
        return f"{self.base}/torznab/api"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def seen(self, prefix: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # -- the answers -----------------------------------------------------------------------
    def answer(self, path: str, q: dict[str, str], headers: Any) -> tuple[int, bytes, str]:
        if path.startswith("/3/"):
            key = q.get("api_key") or (headers.get("Authorization") or "").removeprefix("Bearer ")
            if key != self.tmdb_key:
                return (
                    401,
                    _json(
                        {
                            "status_code": 7,
                            "status_message": "Invalid API key: You must be granted a valid key.",
                            "success": False,
                        }
                    ),
                    "application/json",
                )
            return 200, _json(self._tmdb(path[2:], q)), "application/json;charset=utf-8"
        if path.startswith("/t/p/"):
            return 200, PNG, "image/png"
        if path.startswith("/ws/2/"):
            if "user-agent" not in {k.lower() for k in headers}:
                return 403, b"{}", "application/json"
            return 200, _json(self._musicbrainz(path[5:], q)), "application/json; charset=utf-8"
        if path.startswith("/caa/release/"):
            mbid = path.rsplit("/", 1)[-1]
            if not self.covers.get(mbid):
                raise KeyError(mbid)
            img = f"{self.base}/caa-images/{mbid}/1.jpg"
            return 200, _json({"images": [{"approved": True, "back": False, "comment": "", "edit": 1, "front": True,
                                           "id": 1, "image": img, "types": ["Front"],
                                           "thumbnails": {"250": img.replace(".jpg", "-250.jpg"),
                                                          "500": img.replace(".jpg", "-500.jpg"),
                                                          "small": img.replace(".jpg", "-250.jpg"),
                                                          "large": img.replace(".jpg", "-500.jpg")}}],
                               "release": f"https://musicbrainz.org/release/{mbid}"}), "application/json"
        if path == "/torznab/api":
            return 200, self._torznab(q), "application/rss+xml; charset=utf-8"
        raise KeyError(path)

    def _tmdb(self, path: str, q: dict[str, str]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if parts == ["configuration"]:
            return {"images": {"base_url": f"{self.image_url}/", "secure_base_url": f"{self.image_url}/",
                               "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                               "logo_sizes": ["w92", "w185", "w500", "original"],
                               "poster_sizes": ["w92", "w185", "w342", "w500", "w780", "original"],
                               "profile_sizes": ["w45", "h632", "original"],
                               "still_sizes": ["w92", "w185", "w300", "original"]},
                    "change_keys": ["air_date", "images", "name", "overview"]}
        if parts[0] == "search":
            text = q.get("query", "").lower()
            if parts[1] == "tv":
                year = q.get("first_air_date_year")
                found = [s for s in self.shows.values() if text in s.name.lower()
                         and (not year or s.first_air_date.startswith(year))]
                results: list[dict[str, Any]] = [self._tv_result(s) for s in found]
            else:
                year = q.get("year")
                found_m = [m for m in self.movies.values() if text in m.title.lower()
                           and (not year or m.release_date.startswith(year))]
                results = [{"adult": False, "backdrop_path": None, "genre_ids": [18], "id": m.id,
                            "original_language": "en", "original_title": m.title, "overview": m.overview,
                            "popularity": 12.5, "poster_path": f"/poster-{m.id}.jpg", "release_date": m.release_date,
                            "title": m.title, "video": False, "vote_average": 7.1, "vote_count": 300}
                           for m in found_m]
            return {"page": 1, "results": results, "total_pages": 1, "total_results": len(results)}
        kind, ident = parts[0], int(parts[1])
        if kind == "tv":
            show = self.shows[ident]
            if len(parts) == 2:
                return self._tv_details(show, q)
            if parts[2] == "season":
                return self._season(show, int(parts[3]))
            if parts[2] == "images":
                return _images(ident)
        if kind == "movie":
            movie = self.movies[ident]
            if len(parts) == 2:
                return {"adult": False, "backdrop_path": f"/backdrop-{ident}.jpg", "budget": 0,
                        "genres": [{"id": 18, "name": "Drama"}], "homepage": "", "id": ident,
                        "imdb_id": movie.imdb_id, "original_language": "en", "original_title": movie.title,
                        "overview": movie.overview, "popularity": 12.5, "poster_path": f"/poster-{ident}.jpg",
                        "production_companies": [{"id": 1, "logo_path": None, "name": "Loopback Pictures",
                                                  "origin_country": "US"}],
                        "release_date": movie.release_date, "revenue": 0, "runtime": 101, "status": "Released",
                        "tagline": "", "title": movie.title, "video": False, "vote_average": 7.1, "vote_count": 300}
            if parts[2] == "images":
                return _images(ident)
        raise KeyError(path)

    @staticmethod
    def _tv_result(s: Show) -> dict[str, Any]:
        return {"adult": False, "backdrop_path": f"/backdrop-{s.id}.jpg", "first_air_date": s.first_air_date,
                "genre_ids": [18, 80], "id": s.id, "name": s.name, "origin_country": ["US"],
                "original_language": "en", "original_name": s.name, "overview": s.overview, "popularity": 99.5,
                "poster_path": f"/poster-{s.id}.jpg", "vote_average": 8.9, "vote_count": 12000}

    def _tv_details(self, s: Show, q: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self._tv_result(s), "created_by": [], "episode_run_time": [45], "genres": [{"id": 18, "name": "Drama"}],
            "homepage": "", "in_production": False, "languages": ["en"], "last_air_date": s.first_air_date,
            "networks": [{"id": 174, "logo_path": None, "name": "Loopback TV", "origin_country": "US"}],
            "number_of_episodes": sum(len(e) for e in s.seasons.values()), "number_of_seasons": len(s.seasons),
            "seasons": [{"air_date": s.first_air_date, "episode_count": len(eps), "id": s.id * 100 + n,
                         "name": f"Season {n}", "overview": "", "poster_path": f"/season-{s.id}-{n}.jpg",
                         "season_number": n, "vote_average": 8.0} for n, eps in sorted(s.seasons.items())],
            "status": "Ended", "tagline": "", "type": "Scripted",
        }
        appended = q.get("append_to_response") or ""
        if "credits" in appended:
            body["credits"] = {"id": s.id, "cast": [
                {"adult": False, "gender": 2, "id": 17419, "known_for_department": "Acting", "name": "Ann Actor",
                 "original_name": "Ann Actor", "popularity": 20.1, "profile_path": "/ann.jpg",
                 "character": "Lead", "credit_id": "52542282760ee313280017f9", "order": 0}],
                "crew": [{"adult": False, "gender": 2, "id": 66633, "known_for_department": "Writing",
                          "name": "Wes Writer", "original_name": "Wes Writer", "popularity": 3.2,
                          "profile_path": None, "credit_id": "52542286760ee31328001a7b", "department": "Writing",
                          "job": "Writer"}]}
        if "images" in appended:
            body["images"] = _images(s.id)
        if "external_ids" in appended:
            body["external_ids"] = {"imdb_id": s.imdb_id, "tvdb_id": s.tvdb_id, "freebase_mid": None,
                                    "freebase_id": None, "tvrage_id": None, "facebook_id": None,
                                    "instagram_id": None, "twitter_id": None}
        return body

    def _season(self, s: Show, n: int) -> dict[str, Any]:
        names = s.seasons[n]
        return {
            "_id": f"5256c8{s.id:06d}{n:02d}", "air_date": s.first_air_date, "name": f"Season {n}", "overview": "",
            "id": s.id * 100 + n, "poster_path": f"/season-{s.id}-{n}.jpg", "season_number": n, "vote_average": 8.0,
            "episodes": [{"air_date": s.first_air_date, "episode_number": e, "episode_type": "standard",
                          "id": s.id * 10000 + n * 100 + e, "name": name, "overview": f"Episode {e}.",
                          "production_code": "", "runtime": 45, "season_number": n, "show_id": s.id,
                          "still_path": f"/still-{s.id}-{n}-{e}.jpg", "vote_average": 8.2, "vote_count": 100,
                          "crew": [], "guest_stars": []} for e, name in enumerate(names, start=1)],
        }

    def _musicbrainz(self, path: str, q: dict[str, str]) -> dict[str, Any]:
        query = q.get("query", "").lower()
        limit = int(q.get("limit", "25"))
        matched = [r for r in self.recordings if r.title.lower() in query or r.artist.lower() in query
                   or r.release_title.lower() in query]
        if path.startswith("/recording"):
            return {"created": "2026-12-03T10:00:00.000Z", "count": len(matched), "offset": 0, "recordings": [
                {"id": r.id, "score": r.score, "title": r.title, "length": r.length, "video": None,
                 "artist-credit": [{"name": r.artist, "artist": {"id": f"artist-{r.artist}", "name": r.artist,
                                                                 "sort-name": r.artist}}],
                 "first-release-date": r.date,
                 "releases": [{"id": r.release_id, "status-id": "4e304316", "count": 1, "title": r.release_title,
                               "status": "Official", "release-group": {"id": f"rg-{r.release_id}",
                                                                       "type-id": "f529b476", "primary-type": "Album",
                                                                       "title": r.release_title},
                               "date": r.date, "country": "XW", "track-count": 10,
                               "media": [{"position": r.disc, "format": "Digital Media", "track": [
                                   {"id": f"track-{r.id}", "number": str(r.track), "title": r.title,
                                    "length": r.length}], "track-count": 10, "track-offset": r.track - 1}]}],
                 "isrcs": []} for r in matched[:limit]]}
        return {"created": "2026-12-03T10:00:00.000Z", "count": len(matched), "offset": 0, "releases": [
            {"id": r.release_id, "score": r.score, "status-id": "4e304316", "count": 1, "title": r.release_title,
             "status": "Official", "artist-credit": [{"name": r.artist, "artist": {"id": f"artist-{r.artist}",
                                                                                   "name": r.artist}}],
             "release-group": {"id": f"rg-{r.release_id}", "primary-type": "Album"}, "date": r.date,
             "country": "XW", "track-count": 10, "media": [{"format": "Digital Media", "disc-count": 0,
                                                            "track-count": 10}]} for r in matched[:limit]]}

    def _torznab(self, q: dict[str, str]) -> bytes:
        if q.get("apikey") != self.indexer_key:
            return b'<?xml version="1.0" encoding="UTF-8"?><error code="100" description="Invalid API Key"/>'
        text = q.get("q", "").lower().split()
        items = [t for t in self.torrents if all(w in t.title.lower().replace(".", " ") for w in text)]
        body = "".join(
            f"<item><title>{escape(t.title)}</title><guid>{escape(t.url)}</guid>"
            f"<link>{escape(t.url)}</link><pubDate>Thu, 03 Dec 2026 10:00:00 +0000</pubDate>"
            f"<size>{t.size}</size><category>{t.category}</category>"
            f"<enclosure url={quoteattr(t.url)} length=\"{t.size}\" type=\"application/x-bittorrent\"/>"
            f"<torznab:attr name=\"category\" value=\"{t.category}\"/>"
            f"<torznab:attr name=\"size\" value=\"{t.size}\"/>"
            f"<torznab:attr name=\"seeders\" value=\"{t.seeders}\"/></item>"
            for t in items)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
                'xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel>'
                '<title>Fake indexer</title><description>loopback</description>'
                f"{body}</channel></rss>").encode()


def _images(ident: int) -> dict[str, Any]:
    def image(name: str, width: int, height: int, rating: float, lang: str | None = "en") -> dict[str, Any]:
        return {"aspect_ratio": round(width / height, 3), "height": height, "iso_639_1": lang,
                "file_path": f"/{name}-{ident}.jpg", "vote_average": rating, "vote_count": 10, "width": width}

    return {"id": ident,
            "backdrops": [image("backdrop", 1920, 1080, 5.3, None), image("backdrop-best", 3840, 2160, 5.9, None)],
            "logos": [{**image("logo", 800, 310, 5.2), "file_path": f"/logo-{ident}.png"}],
            "posters": [image("poster", 1000, 1500, 5.5), image("poster-best", 2000, 3000, 5.7)]}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def forget_providers(svc: Any) -> None:
    """The process's provider settings and cached answers forgotten (the ``svc`` fixture empties
    the control table under the settings' two-second cache)."""
    from chalicelib.metadata.providers.persistence import CacheItems

    svc.providers._cached = None
    svc.providers.http.cache.memory.clear()
    CacheItems().forget("")
