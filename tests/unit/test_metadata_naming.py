"""Naming templates and key sanitising (chalicelib/metadata/naming.py), hostile values
included, and the library layouts Kodi, Jellyfin and Plex read."""

from __future__ import annotations

import pytest

from chalicelib.metadata import naming
from chalicelib.metadata.models import Metadata
from chalicelib.metadata.settings import CategoryNaming, NamingSettings

TV = Metadata(title="Breaking Bad", year=2008, season=1, episode=2, kind="tv")
MOVIE = Metadata(title="Blade Runner", year=1982, kind="movie")
SONG = Metadata(artist_names=["Daft Punk", "Romanthony"], track_name="One More Time", album_name="Discovery",
                track_number=1, disc_number=1)


def key(meta: Metadata | None, filename: str = "file.mkv", **kw: str | None) -> str:
    return naming.key_for("id-1", filename, meta, naming.Naming(kw.get("path"), kw.get("template")))


def test_library_layouts_by_default() -> None:
    assert key(TV) == "Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mkv"
    assert key(MOVIE) == "Blade Runner (1982)/Blade Runner (1982).mkv"
    assert key(SONG, "x.FLAC") == "Daft Punk/Discovery/1-01 One More Time.flac"
    assert key(TV, path="TV Shows") == "TV Shows/Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mkv"


def test_no_metadata_no_path_keeps_the_id_unique_key() -> None:
    assert key(None, "a.iso") == "downloads/id-1/a.iso"
    assert not naming.is_named("downloads/id-1/a.iso", "id-1")
    assert key(None, "a.iso", path="ISOs") == "ISOs/a.iso"
    # Metadata a default template cannot use keeps the file's name.
    assert key(Metadata(season=1), "a.mkv") == "downloads/id-1/a.mkv"


def test_empty_fields_leave_no_debris() -> None:
    assert key(Metadata(title="Show", season=1, episode=3)) == "Show/Season 01/Show - S01E03.mkv"
    song = Metadata(artist_names=["A"], track_name="T", track_number=4)
    assert key(song, "x.mp3") == "A/04 T.mp3"
    assert key(TV, template="{title} [{tmdb_id}] - {episode_title}.{ext}") == "Breaking Bad.mkv"


def test_template_fields_padding_and_labels() -> None:
    meta = Metadata(title="X", season=3, episode=7, labels={"quality": "1080p"})
    assert key(meta, template="{title}/S{season:03}E{episode:04} {label.quality}.{ext}") == "X/S003E0007 1080p.mkv"
    assert key(meta, "My File.tar.gz", template="{name} - {id}.{ext}") == "My File.tar - id-1.gz"
    assert key(meta, "noext", template="{filename}") == "noext"


@pytest.mark.parametrize("template", [
    "{title.__class__.__mro__}.{ext}", "{title[0]}.{ext}", "{title!s}.{ext}", "{season:>10}.{ext}",
    "{title:02}.{ext}", "{season:{episode}}.{ext}", "{label}.{ext}", "{}.{ext}", "{0}.{ext}", "",
    "/abs/{title}.{ext}", "a\\b/{title}.{ext}", "a/../{title}.{ext}", "./{title}.{ext}", "{title}/{year}",
    "{title}\x07.{ext}", "x" * 600 + "{ext}",
])
def test_hostile_templates_are_refused(template: str) -> None:
    with pytest.raises(naming.TemplateError):
        naming.check(template)


@pytest.mark.parametrize(("title", "folder"), [
    ("../../etc/passwd", "etc-passwd"),
    ("..", None),
    ("/leading", "-leading"),
    ("Star Wars: A New Hope", "Star Wars - A New Hope"),
    ("a\x00b\x1fc\u202ed\u200be", "abcde"),
    ('CON<>:"|?*', "CON___'___"),
    ("back\\slash", "back_slash"),
    ("  spaced   out  ", "spaced out"),
])
def test_hostile_values_never_escape_their_segment(title: str, folder: str | None) -> None:
    # Built without validation: the naming layer defends itself whatever reaches it.
    got = key(Metadata.model_construct(title=title, kind="movie", labels={}), "f.mkv", template="{title}/{filename}")
    segments = got.split("/")
    assert segments[-1] == "f.mkv"
    assert all(s not in {".", "..", ""} for s in segments)
    assert not got.startswith("/") and all(ord(c) >= 32 for c in got)
    if folder is None:
        assert segments == ["f.mkv"]
    else:
        assert segments[0].lstrip("-") == folder.lstrip("-")


@pytest.mark.parametrize("raw", [
    "/a/b", "a//b", "a/./b", "a/../b", "..", "../..", "a/\x00/b", " . / .. /c", "\\\\server\\share\\x",
])
def test_safe_key_has_no_dot_segments_or_leading_slash(raw: str) -> None:
    got = naming.safe_key(raw)
    assert not got.startswith("/") and "//" not in got
    assert all(s not in {".", ".."} and s == s.strip() for s in got.split("/"))


def test_long_keys_fit_s3_and_keep_the_extension() -> None:
    title = "é" * 290  # 580 bytes
    got = key(Metadata(title=title, season=1, episode=1), "x.mkv", path="p" * 500)
    assert len(got.encode()) <= naming.MAX_KEY_BYTES
    assert got.endswith(".mkv")
    assert all(len(s.encode()) <= naming.MAX_SEGMENT_BYTES for s in got.split("/"))
    deep = naming.safe_key("/".join(["abc"] * 400) + "/f.mkv")
    assert len(deep.encode()) <= naming.MAX_KEY_BYTES and deep.endswith("/f.mkv")
    again = naming.numbered(got, 99)
    assert len(again.encode()) <= 1024 and again.endswith(" (99).mkv")


def test_numbered_alternatives() -> None:
    assert naming.numbered("Show/S01E01.mkv", 2) == "Show/S01E01 (2).mkv"
    assert naming.numbered("noext", 3) == "noext (3)"


def test_settings_resolve_download_then_category_then_kind() -> None:
    settings = NamingSettings(
        templates={"tv": "{title}/{season}x{episode:02}.{ext}"},
        categories={"tv": CategoryNaming(path="TV", template=None),
                    "anime": CategoryNaming(path="Anime", template="{title} - {episode:03}.{ext}")},
    )
    tv = settings.resolve("tv", None, None)
    assert naming.key_for("i", "f.mkv", TV, tv, settings.effective_templates()) == "TV/Breaking Bad/1x02.mkv"
    anime = settings.resolve("anime", None, None)
    assert naming.key_for("i", "f.mkv", TV, anime, settings.effective_templates()) == "Anime/Breaking Bad - 002.mkv"
    own = settings.resolve("anime", "Mine", "{title}.{ext}")
    assert naming.key_for("i", "f.mkv", TV, own, settings.effective_templates()) == "Mine/Breaking Bad.mkv"
    assert settings.effective_templates()["movie"] == naming.DEFAULT_TEMPLATES["movie"]


def test_a_plain_download_is_named_without_reading_the_settings() -> None:
    from chalicelib.metadata.service import KeyPlanner

    class NoSettings:
        def get(self) -> NamingSettings:
            raise AssertionError("read the naming settings")

    planner = KeyPlanner(None, NoSettings(), None, lambda task_id: ())  # type: ignore[arg-type]
    assert planner.plan("i", "a.iso", None, None, None, None) == "downloads/i/a.iso"
    assert planner.claim("downloads/i/a.iso", "i") == "downloads/i/a.iso"  # unique by its id: nothing claimed


def test_guess_reads_a_release_name_and_claims_little_from_a_plain_one() -> None:
    from chalicelib.metadata.guess import guess

    assert guess("Breaking.Bad.S02E03.720p.BluRay.x264-DEMAND.mkv") == {
        "title": "Breaking Bad", "season": 2, "episode": 3, "kind": "tv", "resolution": "720p", "group": "DEMAND"}
    assert guess("Blade.Runner.1982.1080p.mkv") == {"title": "Blade Runner", "year": 1982, "kind": "movie",
                                                     "resolution": "1080p"}
    assert "kind" not in guess("notes.txt")
    shown = guess("Breaking.Bad.S02E03.720p.BluRay.x264-DEMAND.mkv")
    shown["title"] = "changed"  # a caller's copy: the remembered answer stays
    assert guess("Breaking.Bad.S02E03.720p.BluRay.x264-DEMAND.mkv")["title"] == "Breaking Bad"


def test_a_plain_download_keeps_its_exact_file_name_in_its_key() -> None:
    for name in ("report (1) [].pdf", "a - .mkv", "résumé.bin", "x..y"):
        assert key(None, name) == f"downloads/id-1/{name}"
    assert key(None, "../../etc/passwd") == "downloads/id-1/passwd"
