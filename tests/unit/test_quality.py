"""Smart grab's choice of a file per episode (chalicelib/domain/quality.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.quality import Preference, best, rank_key, ranked, refusal

GB = 1024**3


@dataclass(frozen=True)
class C:
    title: str
    size: int | None = None
    resolution: str | None = None
    group: str | None = None
    quality_source: str | None = None


def test_the_most_wanted_resolution_wins_over_size_and_group() -> None:
    pref = Preference(resolutions=("1080p", "720p"))
    files = [C("a", 9 * GB, "2160p"), C("b", 1 * GB, "720p"), C("c", 2 * GB, "1080p"), C("d", 3 * GB, None)]
    assert [c.title for c in ranked(files, pref)] == ["c", "b", "a", "d"]


def test_preferred_group_then_source_then_larger_size() -> None:
    pref = Preference(resolutions=("1080p",), prefer_groups=("GOOD",), prefer_sources=("Web", "HDTV"))
    files = [C("big-hdtv", 5 * GB, "1080p", "X", "HDTV"), C("web", 2 * GB, "1080p", "X", "Web"),
             C("good", 1 * GB, "1080p", "good", "HDTV"), C("web-bigger", 3 * GB, "1080p", "Y", "Web")]
    assert [c.title for c in ranked(files, pref)] == ["good", "web-bigger", "web", "big-hdtv"]


def test_avoided_groups_and_size_bounds_are_refused() -> None:
    pref = Preference(min_size=1 * GB, max_size=4 * GB, avoid_groups=("BAD",))
    assert refusal(C("x", 2 * GB, group="bad"), pref) == "release group bad is avoided"
    assert refusal(C("x", GB // 2), pref) == f"smaller than {GB} bytes"
    assert refusal(C("x", 5 * GB), pref) == f"larger than {4 * GB} bytes"
    assert refusal(C("x", None), pref) is None  # an unknown size is not refused...
    assert rank_key(C("x", None, "1080p"), pref) > rank_key(C("y", 2 * GB, "1080p"), pref)  # ...but comes later
    assert best([C("x", 5 * GB, "1080p"), C("y", 2 * GB, "480p", "BAD")], pref) is None


def test_no_candidates_and_ties_are_stable() -> None:
    assert best([], Preference()) is None
    pref = Preference()
    a, b = C("Show.S01E01.b", GB, "1080p"), C("Show.S01E01.a", GB, "1080p")
    assert best([a, b], pref) == best([b, a], pref) == b
