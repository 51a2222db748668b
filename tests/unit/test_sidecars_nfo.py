"""Kodi NFO builders (chalicelib/sidecars/nfo.py) and TMDB's JSON to NFO values
(chalicelib/sidecars/tmdb.py): every document parsed back, hostile text included."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from defusedxml.ElementTree import fromstring

from chalicelib.sidecars import nfo, tmdb
from chalicelib.sidecars.models import Art, Artwork, EpisodeInfo, MovieInfo, Person, Rating, ShowInfo

HOSTILE = [
    "Tom & Jerry",
    "<script>alert(1)</script>",
    'He said "hi" & \'bye\'',
    "]]> <![CDATA[ x ]]>",
    "&amp; &lt; &#0; &unknown;",
    "bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c",
    "lone surrogate \ud800 here",
    "not a char \ufffe\uffff",
    "Emoji 🎬 and 𝕏 (non-BMP) and 東京",
    "tab\tnew\nline\rcr",
]
STRIPPED = {
    "bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c": "bell nul esc vt ff",
    "lone surrogate \ud800 here": "lone surrogate  here",
    "not a char \ufffe\uffff": "not a char ",
}


def parse(document: bytes) -> ET.Element:
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root: ET.Element = fromstring(document)
    return root


def expected(text: str) -> str:
    value = STRIPPED.get(text, text)
    # XML parsers normalise line ends: a carriage return reads back as a newline.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def show(**kw: object) -> ShowInfo:
    base: dict[str, object] = dict(
        tmdb_id=1399, title="Show", original_title="Show O", plot="Plot", premiered="2008-01-20",
        status="Ended", runtime=47, imdb_id="tt0903747", tvdb_id=81189, rating=Rating(8.9, 12000),
        genres=("Drama", "Crime"), studios=("AMC",), actors=(Person("A B", "Walt", 0),),
        seasons=((1, "Season 1"),), art=Artwork("https://img/p.jpg", "https://img/f.jpg", "https://img/l.png"),
    )
    base.update(kw)
    return ShowInfo(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("title", HOSTILE)
def test_tvshow_nfo_carries_any_title_through_a_parser(title: str) -> None:
    root = parse(nfo.tvshow_nfo(show(title=title, plot=title, genres=(title,))))
    assert root.tag == "tvshow"
    assert root.findtext("title") == expected(title)
    assert root.findtext("plot") == expected(title)
    assert [g.text for g in root.findall("genre")] == [expected(title)]


@pytest.mark.parametrize("title", HOSTILE)
def test_episode_and_movie_nfo_carry_any_title_through_a_parser(title: str) -> None:
    episode = parse(nfo.episode_nfo(show(title=title), EpisodeInfo(1, 2, title, tmdb_id=7)))
    assert episode.tag == "episodedetails"
    assert episode.findtext("title") == expected(title)
    assert episode.findtext("showtitle") == expected(title)
    movie = parse(nfo.movie_nfo(MovieInfo(603, title, collection=title, actors=(Person(title, title),))))
    assert movie.tag == "movie"
    assert movie.findtext("title") == expected(title)
    assert movie.findtext("set/name") == expected(title)
    assert movie.findtext("actor/role") == expected(title)


def test_hostile_attribute_values_are_escaped() -> None:
    root = parse(nfo.tvshow_nfo(show(seasons=((1, 'A "quoted" <season> & \x01'),))))
    named = root.find("namedseason")
    assert named is not None and named.get("number") == "1"
    assert named.text == 'A "quoted" <season> & '
    rating = root.find("ratings/rating")
    assert rating is not None and rating.attrib == {"name": "themoviedb", "max": "10", "default": "true"}


def test_tvshow_nfo_has_what_kodi_reads() -> None:
    root = parse(nfo.tvshow_nfo(show()))
    assert root.findtext("title") == "Show" and root.findtext("showtitle") == "Show"
    assert root.findtext("originaltitle") == "Show O"
    assert root.findtext("premiered") == "2008-01-20" and root.findtext("year") == "2008"
    assert root.findtext("ratings/rating/value") == "8.9" and root.findtext("ratings/rating/votes") == "12000"
    ids = {u.get("type"): (u.text, u.get("default")) for u in root.findall("uniqueid")}
    assert ids == {"tmdb": ("1399", "true"), "imdb": ("tt0903747", None), "tvdb": ("81189", None)}
    thumbs = {t.get("aspect"): t.text for t in root.findall("thumb")}
    assert thumbs == {"poster": "https://img/p.jpg", "clearlogo": "https://img/l.png"}
    assert root.findtext("fanart/thumb") == "https://img/f.jpg"
    assert root.findtext("studio") == "AMC" and root.findtext("status") == "Ended"
    assert root.findtext("actor/name") == "A B" and root.findtext("actor/role") == "Walt"


def test_empty_fields_are_left_out() -> None:
    root = parse(nfo.tvshow_nfo(ShowInfo(tmdb_id=5, title="Bare")))
    assert [child.tag for child in root] == ["title", "showtitle", "uniqueid"]
    episode = parse(nfo.episode_nfo(ShowInfo(tmdb_id=5, title="Bare"), EpisodeInfo(0, 3, "Special")))
    assert [child.tag for child in episode] == ["title", "showtitle", "season", "episode"]
    assert episode.findtext("season") == "0"


def test_episode_nfo_numbers_and_dates() -> None:
    root = parse(nfo.episode_nfo(show(), EpisodeInfo(
        1, 3, "Third", tmdb_id=62087, plot="p", aired="2008-02-10", runtime=48, rating=Rating(8.44, 30),
        directors=("D",), writers=("W1", "W2"), still="https://img/s.jpg",
    )))
    assert (root.findtext("season"), root.findtext("episode")) == ("1", "3")
    assert root.findtext("aired") == "2008-02-10" and root.findtext("runtime") == "48"
    assert root.findtext("ratings/rating/value") == "8.4" and root.findtext("ratings/rating/votes") == "30"
    assert [c.text for c in root.findall("credits")] == ["W1", "W2"] and root.findtext("director") == "D"
    assert root.findtext("thumb") == "https://img/s.jpg"
    assert root.find("uniqueid[@type='tmdb']") is not None


def test_text_is_capped() -> None:
    root = parse(nfo.movie_nfo(MovieInfo(1, "x", plot="p" * 100_000)))
    assert len(root.findtext("plot") or "") == nfo.MAX_TEXT


# -- TMDB's JSON -> NFO values -------------------------------------------------------------
CONFIGURATION = {"images": {
    "base_url": "http://image.tmdb.org/t/p/", "secure_base_url": "https://image.tmdb.org/t/p/",
    "backdrop_sizes": ["w300", "w780", "w1280", "original"], "logo_sizes": ["w45", "w92", "w500", "original"],
    "poster_sizes": ["w92", "w342", "w780", "original"], "still_sizes": ["w92", "w185", "w300", "original"],
}}
TV = {
    "id": 1399,
    "name": "Show & Co",
    "original_name": "Show & Co",
    "overview": "Plot",
    "first_air_date": "2008-01-20",
    "status": "Ended",
    "episode_run_time": [47],
    "vote_average": 8.9,
    "vote_count": 1200,
    "tagline": "",
    "genres": [{"id": 18, "name": "Drama"}],
    "networks": [{"id": 174, "name": "AMC", "logo_path": "/n.png"}],
    "seasons": [
        {"season_number": 0, "name": "Specials"},
        {"season_number": 1, "name": "Season 1", "poster_path": "/s1.jpg"},
    ],
    "poster_path": "/poster.jpg",
    "backdrop_path": "/backdrop.jpg",
    "external_ids": {"imdb_id": "tt0903747", "tvdb_id": 81189},
    "credits": {
        "cast": [{"name": "B", "character": "Jesse", "order": 1}, {"name": "A", "character": "Walt", "order": 0}]
    },
    "images": {"logos": [{"file_path": "/de.png", "iso_639_1": "de"}, {"file_path": "/en.png", "iso_639_1": "en"}]},
}
SEASON = {"season_number": 1, "episodes": [
    {"id": 62085, "episode_number": 1, "season_number": 1, "name": "Pilot", "overview": "o", "air_date": "2008-01-20",
     "runtime": 58, "vote_average": 8.0, "vote_count": 10, "still_path": "/s1.jpg",
     "crew": [{"job": "Director", "name": "V"}, {"job": "Writer", "name": "W"}, {"job": "Editor", "name": "E"}]},
    {"id": 62086, "episode_number": 2, "name": None, "still_path": None},
    {"id": 9, "name": "no number"},
]}
MOVIE = {
    "id": 603, "title": "The Matrix", "original_title": "The Matrix", "overview": "o", "release_date": "1999-03-30",
    "runtime": 136, "imdb_id": "tt0133093", "vote_average": 8.2, "vote_count": 24000, "tagline": "t",
    "genres": [{"name": "Action"}], "production_companies": [{"name": "WB"}],
    "production_countries": [{"iso_3166_1": "US", "name": "United States of America"}],
    "belongs_to_collection": {"id": 2344, "name": "The Matrix Collection"}, "poster_path": "/m.jpg",
    "backdrop_path": None, "credits": {"cast": [], "crew": [{"job": "Director", "name": "L"}]},
}


def test_tv_details_become_show_info() -> None:
    info = tmdb.show_info(TV, tmdb.ImageUrls(CONFIGURATION))
    assert info.title == "Show & Co" and info.year == 2008 and info.runtime == 47
    assert info.imdb_id == "tt0903747" and info.tvdb_id == 81189
    assert info.rating == Rating(8.9, 1200) and info.tagline is None
    assert [a.name for a in info.actors] == ["A", "B"]
    assert info.seasons == ((0, "Specials"), (1, "Season 1"))
    assert info.season_posters == ((1, "https://image.tmdb.org/t/p/w780/s1.jpg"),)
    assert info.art == Artwork("https://image.tmdb.org/t/p/w780/poster.jpg",
                               "https://image.tmdb.org/t/p/w1280/backdrop.jpg",
                               "https://image.tmdb.org/t/p/w500/en.png")
    assert parse(nfo.tvshow_nfo(info)).findtext("title") == "Show & Co"


def test_season_becomes_episodes() -> None:
    found = tmdb.episodes(SEASON, tmdb.ImageUrls(CONFIGURATION))
    assert [(e.season, e.episode, e.title) for e in found] == [(1, 1, "Pilot"), (1, 2, "Episode 2")]
    assert found[0].directors == ("V",) and found[0].writers == ("W",)
    assert found[0].still == "https://image.tmdb.org/t/p/w300/s1.jpg" and found[1].still is None


def test_movie_details_become_movie_info() -> None:
    info = tmdb.movie_info(MOVIE, tmdb.ImageUrls(CONFIGURATION))
    assert info.collection == "The Matrix Collection" and info.directors == ("L",) and info.year == 1999
    assert info.art.poster == "https://image.tmdb.org/t/p/w780/m.jpg" and info.art.fanart is None
    root = parse(nfo.movie_nfo(info))
    assert root.findtext("uniqueid[@type='imdb']") == "tt0133093"
    assert root.findtext("country") == "United States of America"


def test_image_urls_fall_back_to_a_listed_size_and_refuse_odd_paths() -> None:
    urls = tmdb.ImageUrls({"images": {"secure_base_url": "https://i/", "poster_sizes": ["w92", "original"]}})
    assert urls.url(Art.POSTER, "/p.jpg") == "https://i/original/p.jpg"
    assert urls.url(Art.POSTER, "p.jpg") is None and urls.url(Art.POSTER, None) is None
    assert tmdb.ImageUrls({}).url(Art.POSTER, "/p.jpg") is None


def test_wrong_types_in_an_answer_are_ignored() -> None:
    info = tmdb.show_info({"id": 1, "name": 5, "genres": "x", "credits": [], "vote_average": "9",
                           "external_ids": None, "seasons": [None, {"season_number": "1"}]}, tmdb.ImageUrls({}))
    assert info.title == "1" and info.genres == () and info.rating is None and info.seasons == ()
