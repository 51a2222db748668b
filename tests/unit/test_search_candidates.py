"""Smart search's pure parts: reading an indexer's Torznab/Newznab RSS, and candidates read
with guessit, matched to a title and grouped by episode."""

from __future__ import annotations

import pytest

from chalicelib.metadata.providers.errors import ProviderFailed
from chalicelib.search.candidates import INDEXER, group_by_episode, movie_candidates, normal, read
from chalicelib.search.indexer import SearchUnsupported, parse

TORZNAB = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel><title>x</title>
<item><title>Show.S01E01.1080p.WEB.h264-GRP</title><guid>a</guid><link>https://i.example/dl/1</link>
<enclosure url="https://i.example/dl/1.torrent" length="0" type="application/x-bittorrent"/>
<torznab:attr name="size" value="1234"/><torznab:attr name="seeders" value="7"/></item>
<item><title>Show.S01E02.1080p.WEB.h264-GRP</title><guid>b</guid><size>99</size>
<enclosure url="magnet:?xt=urn:btih:abc" length="99" type="application/x-bittorrent"/></item>
<item><title>Show  S01E03   720p</title><link>http://i.example/dl/3 file.mkv</link><size>55</size></item>
</channel></rss>"""
NEWZNAB = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:newznab="http://www.newznab.com/DTD/2010/feeds/attributes/"><channel>
<item><title>Film.1999.720p</title><link>https://n.example/getnzb/1</link>
<newznab:attr name="size" value="4096"/></item></channel></rss>"""


def test_torznab_items_sizes_and_only_direct_links() -> None:
    answer = parse(TORZNAB, "t")
    assert [(i.title, i.url, i.size, i.seeders) for i in answer.items] == [
        ("Show.S01E01.1080p.WEB.h264-GRP", "https://i.example/dl/1.torrent", 1234, 7),
        ("Show S01E03 720p", "http://i.example/dl/3%20file.mkv", 55, None)]
    assert answer.unusable == 1  # the magnet: item
    assert [(i.url, i.size) for i in parse(NEWZNAB, "n").items] == [("https://n.example/getnzb/1", 4096)]


def test_indexer_errors_and_hostile_xml() -> None:
    with pytest.raises(ProviderFailed, match="Incorrect user credentials"):
        parse(b'<?xml version="1.0"?><error code="100" description="Incorrect user credentials"/>', "t")
    with pytest.raises(SearchUnsupported):
        parse(b'<error code="203" description="Function not available"/>', "t")
    with pytest.raises(ProviderFailed, match="DTD or entities"):
        parse(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel>&a;</channel></rss>', "t")
    with pytest.raises(ProviderFailed, match="not XML"):
        parse(b"<html", "t")
    with pytest.raises(ProviderFailed, match="not an RSS"):
        parse(b"<feed/>", "t")


def c(title: str) -> object:
    return read(title, f"https://x/{title}", 1, INDEXER, "t")


def test_candidates_are_grouped_by_episode() -> None:
    files = [c("Show.S01E01.1080p.WEB.h264-GRP"), c("Show.S01E02E03.720p.HDTV.x264-GRP"), c("Show.S01.1080p.WEB"),
             c("Show.2008.S01E04.1080p"), c("The.Other.Show.S01E01.1080p"), c("Show.S02E01.1080p"),
             c("Show.S01E01.1080p.WEB.h264-GRP")]
    grouped = group_by_episode(files, ["Show"], 1, [1, 2, 3, 4], 2008)  # type: ignore[arg-type]
    assert {n: [x.title for x in v] for n, v in grouped.episodes.items()} == {
        1: ["Show.S01E01.1080p.WEB.h264-GRP"], 2: ["Show.S01E02E03.720p.HDTV.x264-GRP"],
        3: ["Show.S01E02E03.720p.HDTV.x264-GRP"], 4: ["Show.2008.S01E04.1080p"]}
    assert [p.title for p in grouped.packs] == ["Show.S01.1080p.WEB"] and grouped.unmatched == 2
    first = grouped.episodes[1][0]
    assert (first.resolution, first.group, first.quality_source, first.episodes) == ("1080p", "GRP", "Web", (1,))


def test_titles_compare_loosely_and_films_need_their_year() -> None:
    assert normal("Marvel's Agents of S.H.I.E.L.D.") == normal("marvels agents of shield")
    assert normal("Law & Order") == normal("Law and Order")
    films, other = movie_candidates([c("Film.1999.1080p.BluRay"), c("Film.2005.1080p"), c("Film.S01E01")],  # type: ignore[list-item]
                                    ["Film"], 1999)
    assert [f.title for f in films] == ["Film.1999.1080p.BluRay"] and other == 2


def test_the_feed_search_word_and_the_loose_mention() -> None:
    from chalicelib.search.service import mentions, search_word

    assert search_word("The Big Bang Theory") == "theory" and search_word("M*A*S*H") == "m"
    assert search_word("Show") == "show"
    assert mentions("The.Big.Bang.Theory.S01E01.720p", ["The Big Bang Theory"])
    assert not mentions("Theory.of.Everything.2014.1080p", ["The Big Bang Theory"])
