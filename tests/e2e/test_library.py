"""Issue #18 end to end on the local runtime: a fake TMDB and a fake Torznab indexer
(tests/support/providers.py) and a local origin, all on loopback. Smart-grab of a 3-episode
season -> one batch, 3 downloads completed into ``Show (2008)/Season 01/…`` with their metadata
on the S3 objects; then the series' NFO created through the library routes and parsed back."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from tests.support.origin import Origin, Resource
from tests.support.providers import INDEXER_KEY, PNG, TMDB_KEY, ProviderServer, Show, Torrent
from tests.support.runtime import RuntimeProcess
from tests.support.wait import wait_for

KiB, MB = 1024, 1024**2
SHOW_ID = 1399
FOLDER = "Show (2008)/"
EPISODES = ["Pilot", "Cat's in the Bag & <More>", "...And the Bag's in the River"]


@pytest.fixture()
def providers() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[SHOW_ID] = Show(SHOW_ID, "Show", "2008-01-20", {1: EPISODES})
        yield server


def test_smart_grab_a_season_then_write_its_nfo(runtime: RuntimeProcess, origin: Origin,
                                                providers: ProviderServer) -> None:
    api, http = runtime.api, runtime.http
    files = {n: os.urandom(200 * KiB + n) for n in (1, 2, 3)}
    for n, data in files.items():
        origin.add(f"/Show.S01E{n:02d}.1080p.WEB.h264-GRP.mkv", Resource(data=data))
        providers.torrents.append(Torrent(f"Show.S01E{n:02d}.1080p.WEB.h264-GRP",
                                          origin.url(f"/Show.S01E{n:02d}.1080p.WEB.h264-GRP.mkv"), 1400 * MB))
        # a worse candidate for each episode: the quality preference must not pick it
        providers.torrents.append(Torrent(f"Show.S01E{n:02d}.720p.HDTV.x264-LOW",
                                          origin.url(f"/low-{n}.mkv"), 700 * MB))
    configured = http.patch(f"{api}/settings/providers", json={
        "tmdb": {"api_key": TMDB_KEY, "base_url": providers.tmdb_url, "image_base_url": providers.image_url},
        "indexers": [{"name": "fake", "url": providers.torznab_url, "api_key": INDEXER_KEY}],
        "quality": {"resolutions": ["1080p", "720p"]},
    }, timeout=10)
    assert configured.status_code == 200, configured.text

    # -- smart grab: one batch of three downloads with metadata and library keys -----------
    grab = http.post(f"{api}/search/smart-grab", json={"tmdb_id": SHOW_ID, "kind": "tv", "season": 1}, timeout=30)
    assert grab.status_code in (200, 201), grab.text
    grabbed = grab.json()
    assert grabbed["tasks_created"] == 3 and grabbed["missing_episodes"] == [], grabbed
    batch_id = grabbed["batch_id"]

    def completed() -> list[dict[str, Any]] | None:
        tasks = http.get(f"{api}/downloads", params={"batch_id": batch_id, "per_page": 50}, timeout=10).json()["tasks"]
        assert not [t for t in tasks if t["state"] == "failed"], tasks
        return tasks if len(tasks) == 3 and all(t["state"] == "completed" for t in tasks) else None

    tasks = sorted(wait_for(completed, 120, 0.5, "the season's 3 downloads to complete"),
                   key=lambda t: t["metadata"]["episode"])
    s3 = runtime.client("s3")
    bucket = f"haul-{runtime.stage}-bucket"
    for n, task in enumerate(tasks, start=1):
        assert task["key"] == f"{FOLDER}Season 01/Show - S01E{n:02d}.mkv", task
        assert task["url"].endswith(f"/Show.S01E{n:02d}.1080p.WEB.h264-GRP.mkv")
        meta = task["metadata"]
        assert (meta["tmdb_id"], meta["title"], meta["year"], meta["season"], meta["episode"], meta["kind"]) == (
            SHOW_ID, "Show", 2008, 1, n, "tv")
        body = runtime.object_bytes(task["key"])
        assert hashlib.sha256(body).digest() == hashlib.sha256(files[n]).digest()
        head = s3.head_object(Bucket=bucket, Key=task["key"])
        assert head["Metadata"]["haul-tmdb-id"] == str(SHOW_ID) and head["Metadata"]["haul-title"] == "Show"
        assert (head["Metadata"]["haul-season"], head["Metadata"]["haul-episode"]) == ("1", str(n))

    # -- the series' NFO: check, create, read back, 409, missing --------------------------
    nfo = f"{api}/library/tv/{SHOW_ID}/nfo"
    before = http.get(nfo, timeout=10).json()
    assert before["has_nfo"] is False and before["folder"] == FOLDER
    assert before["videos"] == {"total": 3, "present": 3, "outside_folder": 0}
    missing = http.get(f"{api}/library/nfo/missing", timeout=10).json()
    assert [(t["kind"], t["tmdb_id"]) for t in missing["titles"]] == [("tv", SHOW_ID)]

    made = http.post(nfo, json={}, timeout=30)
    assert made.status_code == 201, made.text
    done = made.json()
    assert done["has_nfo"] is True and done["nfo_key"] == FOLDER + "tvshow.nfo" and done["queued_seasons"] == []
    assert [e["has_nfo"] for e in done["episodes"]] == [True, True, True]
    assert done["media_files"]["has_poster"] and done["media_files"]["has_fanart"] and done["media_files"]["has_logo"]
    assert runtime.object_bytes(done["media_files"]["poster_key"]) == PNG
    assert done["media_files"]["season_posters"] == [1]
    assert runtime.object_bytes(FOLDER + "season01-poster.png") == PNG

    content = http.get(f"{nfo}/content", timeout=10).json()
    show = fromstring(content["content"].encode())
    assert show.tag == "tvshow" and show.findtext("title") == "Show" and show.findtext("year") == "2008"
    assert show.findtext("uniqueid[@type='tmdb']") == str(SHOW_ID)
    for n, name in enumerate(EPISODES, start=1):
        episode = fromstring(runtime.object_bytes(f"{FOLDER}Season 01/Show - S01E{n:02d}.nfo"))
        assert (episode.tag, episode.findtext("title"), episode.findtext("season"), episode.findtext("episode")) == (
            "episodedetails", name, "1", str(n))

    again = http.post(nfo, json={}, timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
    assert http.put(nfo, json={"download_poster": False}, timeout=30).status_code == 200
    assert http.get(f"{api}/library/nfo/missing", timeout=10).json()["titles"] == []
