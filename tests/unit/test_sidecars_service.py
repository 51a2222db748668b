"""The sidecars' service (chalicelib/sidecars/service.py) and folder layout (layout.py) over
in-memory fakes of its sources: check, create (409), refresh, content, batch, missing, the
deadline that hands the rest to the work queue, and owner scoping."""

from __future__ import annotations

from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from chalicelib.api.errors import ApiError, Conflict, NotFound, Unavailable
from chalicelib.sidecars import layout
from chalicelib.sidecars.models import Kind, MediaFile, StoredObject, Title
from chalicelib.sidecars.service import Options, SidecarService, image_kind
from chalicelib.sidecars.sources import Image, NotConfigured, SourceFailed
from tests.unit.test_sidecars_nfo import CONFIGURATION, MOVIE, SEASON, TV

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 100


class Objects:
    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, str, str]] = {}

    def folder(self, prefix: str) -> dict[str, StoredObject]:
        return {k: StoredObject(k, len(v[0]), "2026-01-01T00:00:00.000Z") for k, v in self.data.items()
                if k.startswith(prefix)}

    def put(self, key: str, body: bytes, content_type: str, owner: str) -> None:
        self.data[key] = (body, content_type, owner)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def owner(self, key: str) -> str | None:
        return self.data[key][2] if key in self.data else None

    def get(self, key: str, max_bytes: int) -> tuple[bytes, StoredObject] | None:
        if key not in self.data:
            return None
        return self.data[key][0], StoredObject(key, len(self.data[key][0]), "2026-01-01T00:00:00.000Z")


class Library:
    def __init__(self) -> None:
        self.by_owner: dict[str, dict[tuple[Kind, int], list[MediaFile]]] = {}

    def add(self, owner: str, kind: Kind, tmdb_id: int, *files: MediaFile) -> None:
        self.by_owner.setdefault(owner, {}).setdefault((kind, tmdb_id), []).extend(files)

    def files(self, owner: str, kind: Kind, tmdb_id: int) -> list[MediaFile]:
        return list(self.by_owner.get(owner, {}).get((kind, tmdb_id), []))

    def titles(self, owner: str, limit: int) -> list[Title]:
        return [Title(k, i) for (k, i) in self.by_owner.get(owner, {})][:limit]


class Details:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.configured = True

    def configuration(self) -> dict[str, Any]:
        if not self.configured:
            raise NotConfigured("providers.tmdb.api_key")
        return CONFIGURATION

    def details(self, kind: Kind, tmdb_id: int) -> dict[str, Any]:
        self.calls.append(f"{kind.value}/{tmdb_id}")
        if tmdb_id == 404:
            raise SourceFailed("not found", not_found=True)
        return {**(TV if kind is Kind.TV else MOVIE), "id": tmdb_id}

    def season(self, tmdb_id: int, season: int) -> dict[str, Any]:
        self.calls.append(f"tv/{tmdb_id}/season/{season}")
        if season != 1:
            raise SourceFailed("no such season", not_found=True)
        return SEASON


class Images:
    def __init__(self) -> None:
        self.fetched: list[str] = []

    def fetch(self, url: str) -> Image:
        self.fetched.append(url)
        if "backdrop" in url:
            raise SourceFailed("the origin answered HTTP 500")
        return Image(PNG if url.endswith(".png") else JPEG, "image/jpeg")


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], delay: float = 0) -> None:
        self.sent.append(message)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


SHOW = "Show (2008)/"


def episode(n: int, season: int = 1, folder: str = SHOW + "Season 01/") -> MediaFile:
    return MediaFile(f"d{season}{n}", f"{folder}Show - S{season:02d}E{n:02d}.mkv", season, n, 10)


@pytest.fixture
def world() -> tuple[SidecarService, Library, Objects, Details, Images, Queue, Clock]:
    library, objects, details, images, queue, clock = Library(), Objects(), Details(), Images(), Queue(), Clock()
    service = SidecarService(library, details, images, objects, queue, None, monotonic=clock, threads=1)  # type: ignore[arg-type]
    library.add("alice", Kind.TV, 1399, episode(1), episode(2))
    for f in library.files("alice", Kind.TV, 1399):
        objects.put(f.key, b"video", "video/x-matroska", "alice")
    return service, library, objects, details, images, queue, clock


# -- layout --------------------------------------------------------------------------------
def test_a_series_folder_is_its_episodes_folder_less_the_season() -> None:
    assert layout.folder_of(Kind.TV, [episode(1), episode(1, 2, SHOW + "Season 02/")]) == SHOW
    assert layout.folder_of(Kind.TV, [MediaFile("a", "lib/tv/Show/S01/x.mkv", 1, 1)]) == "lib/tv/Show/"
    assert layout.folder_of(Kind.TV, [MediaFile("a", "Show/Specials/x.mkv", 0, 1)]) == "Show/"
    assert (
        layout.folder_of(Kind.MOVIE, [MediaFile("a", "Movies/The Matrix (1999)/m.mkv")]) == "Movies/The Matrix (1999)/"
    )
    # a movie's folder named like a season is still the movie's own
    assert layout.folder_of(Kind.MOVIE, [MediaFile("a", "Season 1/m.mkv")]) == "Season 1/"


def test_no_folder_at_the_root_and_the_majority_wins() -> None:
    assert layout.folder_of(Kind.TV, [MediaFile("a", "x.mkv", 1, 1)]) is None
    assert layout.folder_of(Kind.TV, [MediaFile("a", "Season 01/x.mkv", 1, 1)]) is None
    assert layout.folder_of(Kind.TV, []) is None
    files = [episode(1), episode(2), MediaFile("x", "downloads/x/stray.mkv", 1, 3)]
    assert layout.folder_of(Kind.TV, files) == SHOW


def test_season_poster_names() -> None:
    assert layout.season_poster_keys("S/", 1) == ["S/season01-poster.jpg", "S/season01-poster.png"]
    assert layout.season_poster_keys("S/", 0)[0] == "S/season-specials-poster.jpg"
    assert layout.season_poster_keys("S/", 112)[1] == "S/season112-poster.png"


def test_sidecar_names() -> None:
    assert layout.episode_nfo_key("S/Season 01/S - S01E01.mkv") == "S/Season 01/S - S01E01.nfo"
    assert layout.nfo_key(Kind.MOVIE, "M/") == "M/movie.nfo" and layout.nfo_key(Kind.TV, "S/") == "S/tvshow.nfo"
    assert layout.art_keys("S/", layout.Art.LOGO) == ["S/clearlogo.png"]
    assert image_kind(Image(JPEG, "")) == ("jpg", "image/jpeg") and image_kind(Image(b"<svg", "")) is None


# -- the service ---------------------------------------------------------------------------
def test_check_before_and_after_create(world: Any) -> None:
    service, _, objects, details, images, queue, _ = world
    before = service.status("alice", Kind.TV, 1399)
    assert before["has_nfo"] is False and before["folder"] == SHOW
    assert before["videos"] == {"total": 2, "present": 2, "outside_folder": 0}
    assert [e["has_nfo"] for e in before["episodes"]] == [False, False]

    done = service.create("alice", "alice", Kind.TV, 1399, Options())
    assert done["has_nfo"] is True and done["nfo_key"] == SHOW + "tvshow.nfo"
    assert fromstring(objects.data[SHOW + "tvshow.nfo"][0]).findtext("title") == "Show & Co"
    assert objects.data[SHOW + "tvshow.nfo"][1:] == ("text/xml; charset=utf-8", "alice")
    episode_nfo = fromstring(objects.data[SHOW + "Season 01/Show - S01E01.nfo"][0])
    assert (episode_nfo.findtext("title"), episode_nfo.findtext("season")) == ("Pilot", "1")
    assert done["media_files"]["poster_key"] == SHOW + "poster.jpg"
    assert done["media_files"]["logo_key"] == SHOW + "clearlogo.png"
    assert done["media_files"]["season_posters"] == [1] and SHOW + "season01-poster.jpg" in objects.data
    assert done["media_files"]["has_fanart"] is False  # its fetch failed: a warning, not a failure
    assert any("fanart" in w for w in done["warnings"])
    assert [e["has_nfo"] for e in done["episodes"]] == [True, True]
    assert queue.sent == [] and "tv/1399/season/1" in details.calls
    assert all(u.startswith("https://image.tmdb.org/t/p/") for u in images.fetched)


def test_create_twice_is_a_conflict_unless_overwrite(world: Any) -> None:
    service, _, objects, _, images, _, _ = world
    service.create("alice", "alice", Kind.TV, 1399, Options())
    with pytest.raises(Conflict, match="exists already"):
        service.create("alice", "alice", Kind.TV, 1399, Options())
    objects.data[SHOW + "tvshow.nfo"] = (b"old", "text/xml", "alice")
    fetched = len(images.fetched)
    service.create("alice", "alice", Kind.TV, 1399, Options(fanart=False), overwrite=True)
    assert objects.data[SHOW + "tvshow.nfo"][0].startswith(b"<?xml")
    assert len(images.fetched) == fetched + 3  # overwrite fetches the art again (poster, logo, season poster)


def test_refresh_needs_an_nfo_and_rewrites_it(world: Any) -> None:
    service, _, objects, _, _, _, _ = world
    with pytest.raises(NotFound, match="no NFO yet"):
        service.refresh("alice", "alice", Kind.TV, 1399, Options())
    service.create("alice", "alice", Kind.TV, 1399, Options(poster=False, fanart=False, logo=False))
    objects.data[SHOW + "Season 01/Show - S01E02.nfo"] = (b"stale", "text/xml", "alice")
    service.refresh("alice", "alice", Kind.TV, 1399, Options(poster=False, fanart=False, logo=False))
    assert objects.data[SHOW + "Season 01/Show - S01E02.nfo"][0].startswith(b"<?xml")


def test_content_reads_the_nfo_back(world: Any) -> None:
    service = world[0]
    with pytest.raises(NotFound):
        service.content("alice", Kind.TV, 1399)
    service.create("alice", "alice", Kind.TV, 1399, Options(episodes=False))
    content = service.content("alice", Kind.TV, 1399)
    assert fromstring(content["content"].encode()).tag == "tvshow"
    assert content["file_size"] == len(content["content"].encode())


def test_another_owner_sees_nothing(world: Any) -> None:
    service = world[0]
    with pytest.raises(NotFound):
        service.status("bob", Kind.TV, 1399)
    with pytest.raises(NotFound):
        service.create("bob", "bob", Kind.TV, 1399, Options())


def test_tmdb_not_configured_is_a_503_naming_the_setting(world: Any) -> None:
    service, _, _, details, _, _, _ = world
    details.configured = False
    with pytest.raises(Unavailable) as caught:
        service.create("alice", "alice", Kind.TV, 1399, Options())
    assert caught.value.status == 503 and "providers.tmdb.api_key" in caught.value.message


def test_a_title_tmdb_does_not_know_is_a_404(world: Any) -> None:
    service, library, objects, *_ = world
    library.add("alice", Kind.MOVIE, 404, MediaFile("m", "Movies/X (1999)/x.mkv"))
    with pytest.raises(NotFound, match="TMDB does not know"):
        service.create("alice", "alice", Kind.MOVIE, 404, Options())
    assert "Movies/X (1999)/movie.nfo" not in objects.data


def test_episodes_missing_on_tmdb_are_warnings(world: Any) -> None:
    service, library, objects, *_ = world
    library.add("alice", Kind.TV, 1399, episode(9), episode(1, 2, SHOW + "Season 02/"))
    done = service.create("alice", "alice", Kind.TV, 1399, Options(poster=False, fanart=False, logo=False))
    assert "TMDB has no episode S01E09" in done["warnings"] and "TMDB has no season 2 of 1399" in done["warnings"]
    assert SHOW + "Season 01/Show - S01E09.nfo" not in objects.data


def test_past_the_deadline_the_remaining_seasons_are_queued(world: Any) -> None:
    service, library, objects, details, _, queue, clock = world
    library.add("alice", Kind.TV, 1399, episode(1, 2, SHOW + "Season 02/"))

    original = details.season

    def slow(tmdb_id: int, season: int) -> dict[str, Any]:
        clock.now += 25  # the first season takes the whole budget
        return original(tmdb_id, season)

    details.season = slow
    done = service.create("alice", "alice", Kind.TV, 1399, Options(poster=False, fanart=False, logo=False))
    assert done["queued_seasons"] == [2]
    assert queue.sent and queue.sent[0]["kind"] == "sidecars" and queue.sent[0]["seasons"] == [2]
    details.season = original
    service.on_message(queue.sent[0])  # the worker's turn: season 2 (which TMDB lacks) only
    assert details.calls[-1] == "tv/1399/season/2"


def test_a_movie(world: Any) -> None:
    service, library, objects, *_ = world
    library.add("alice", Kind.MOVIE, 603, MediaFile("m", "Movies/The Matrix (1999)/The Matrix (1999).mkv"))
    done = service.create("alice", "alice", Kind.MOVIE, 603, Options())
    assert done["nfo_key"] == "Movies/The Matrix (1999)/movie.nfo" and "episodes" not in done
    assert fromstring(objects.data[done["nfo_key"]][0]).findtext("set/name") == "The Matrix Collection"
    assert done["media_files"]["has_poster"] and not done["media_files"]["has_fanart"]  # TMDB has no backdrop


def test_batch_creates_skips_fails_and_queues(world: Any) -> None:
    service, library, objects, details, _, queue, clock = world
    library.add("alice", Kind.MOVIE, 603, MediaFile("m", "Movies/M (1999)/m.mkv"))
    library.add("alice", Kind.MOVIE, 604, MediaFile("n", "Movies/N (2000)/n.mkv"))
    objects.put("Movies/M (1999)/movie.nfo", b"x", "text/xml", "alice")
    original = details.details

    def slow(kind: Kind, tmdb_id: int) -> dict[str, Any]:
        clock.now += 25 if tmdb_id == 1399 else 0
        return original(kind, tmdb_id)

    details.details = slow
    answer = service.batch("alice", "alice", [(Kind.MOVIE, 603), (Kind.MOVIE, 999), (Kind.TV, 1399),
                                              (Kind.MOVIE, 604), (Kind.MOVIE, 603)], Options())
    # the series' NFO is written, but its episodes are past the deadline: queued, like the next title
    assert [r["status"] for r in answer["results"]] == ["skipped", "failed", "queued", "queued"]
    assert (answer["total"], answer["created"], answer["skipped"], answer["failed"], answer["queued"]) == (
        4,
        0,
        1,
        1,
        2,
    )
    assert SHOW + "tvshow.nfo" in objects.data and "no completed movie" in answer["results"][1]["message"]
    assert [(m["tmdb_id"], m.get("seasons")) for m in queue.sent] == [(1399, [1]), (604, None)]
    for message in queue.sent:
        service.on_message(message)
    assert "Movies/N (2000)/movie.nfo" in objects.data and SHOW + "Season 01/Show - S01E01.nfo" in objects.data


def test_missing_lists_titles_without_an_nfo(world: Any) -> None:
    service, library, *_ = world
    library.add("alice", Kind.MOVIE, 603, MediaFile("m", "Movies/M (1999)/m.mkv"))
    library.add("alice", Kind.MOVIE, 605, MediaFile("r", "root.mkv"))
    service.create("alice", "alice", Kind.MOVIE, 603, Options(poster=False, fanart=False, logo=False))
    answer = service.missing("alice", 10)
    assert [(t["kind"], t["tmdb_id"]) for t in answer["titles"]] == [("tv", 1399), ("movie", 605)]
    assert answer["titles"][1]["reason"] and answer["total_titles"] == 3 and not answer["truncated"]
    assert service.missing("alice", 1)["truncated"] is True
    assert service.missing("bob", 10)["titles"] == []


def test_errors_are_api_errors() -> None:
    assert issubclass(NotFound, ApiError) and Unavailable.status == 503


def test_titles_show_each_with_its_nfo_state(world: Any) -> None:
    service, library, *_ = world
    library.add("alice", Kind.MOVIE, 603, MediaFile("m", "Movies/M (1999)/m.mkv"))
    service.create("alice", "alice", Kind.TV, 1399, Options(fanart=False, logo=False, episodes=False))
    answer = service.titles("alice", 10)
    assert [(t["tmdb_id"], t["has_nfo"], t["has_media"]) for t in answer["titles"]] == [(1399, True, True),
                                                                                         (603, False, False)]
    assert answer["titles"][0]["nfo_key"] == SHOW + "tvshow.nfo" and answer["titles"][0]["media_files"]["has_poster"]
    assert service.titles("alice", 1) == {**service.titles("alice", 1), "total_titles": 1, "truncated": True}


def test_a_replaced_art_of_another_type_is_removed(world: Any) -> None:
    service, _, objects, *_ = world
    objects.put(SHOW + "poster.png", PNG, "image/png", "alice")
    done = service.create("alice", "alice", Kind.TV, 1399, Options(fanart=False, logo=False, episodes=False),
                          overwrite=True)
    assert done["media_files"]["poster_key"] == SHOW + "poster.jpg" and SHOW + "poster.png" not in objects.data


def test_a_worker_message_is_retried_only_when_tmdb_fails(world: Any) -> None:
    service, _, _, details, _, queue, _ = world
    message = {"kind": "sidecars", "owner": "alice", "media_kind": "tv", "tmdb_id": 1399, "options": {},
               "overwrite": False}
    details.configured = False
    with pytest.raises(Unavailable):  # 503: SQS delivers it again
        service.on_message(message)
    service.on_message({**message, "tmdb_id": 7})  # 404: not yours, dropped (logged)
    details.configured = True
    service.on_message(message)
    assert service.status("alice", Kind.TV, 1399)["has_nfo"] is True


def test_a_user_sharing_the_folder_neither_replaces_nor_deletes_anothers_sidecars(world: Any) -> None:
    service, library, objects, _, images, _, _ = world
    bobs_episode = episode(2, folder=SHOW + "Season 1/")  # same series folder, his own file
    library.add("bob", Kind.TV, 1399, bobs_episode)
    objects.put(bobs_episode.key, b"video", "video/x-matroska", "bob")
    service.create("alice", "alice", Kind.TV, 1399, Options())
    alices = {k: v for k, v in objects.data.items() if v[2] == "alice"}
    assert SHOW + "tvshow.nfo" in alices and SHOW + "poster.jpg" in alices
    images.fetch = lambda url: Image(PNG, "image/png")  # Alice's .jpg art would be stale

    done = service.create("bob", "bob", Kind.TV, 1399, Options(), overwrite=True)
    assert {k: v for k, v in objects.data.items() if v[2] == "alice"} == alices
    assert done["has_nfo"] is False and done["nfo_last_modified"] is None
    assert [k for k in done["written"] if k.endswith(".nfo")] == [SHOW + "Season 1/Show - S01E02.nfo"]
    assert any("another user's" in w for w in done["warnings"]), done["warnings"]
    with pytest.raises(NotFound):
        service.content("bob", Kind.TV, 1399)
    with pytest.raises(NotFound):
        service.refresh("bob", "bob", Kind.TV, 1399, Options())
    assert service.batch("bob", "bob", [(Kind.TV, 1399)], Options())["results"][0]["status"] == "created"
    assert {k: v for k, v in objects.data.items() if v[2] == "alice"} == alices
