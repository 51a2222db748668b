"""Pure parts of the metadata providers: the shared rate limit's slots (with a fake clock),
the two-level cache, Sharktooth's release date, MusicBrainz query escaping."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.metadata.providers.cache import MemoryCache, ResponseCache, cache_key
from chalicelib.metadata.providers.errors import ProviderBusy
from chalicelib.metadata.providers.models import ProviderSettings, ReleaseDate
from chalicelib.metadata.providers.musicbrainz import lucene_phrase
from chalicelib.metadata.providers.pacing import MemorySlots, SharedPacer, interval_ms


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_slots_follow_each_other_one_interval_apart() -> None:
    clock = Clock()
    pacer = SharedPacer(MemorySlots(), clock_ms=clock, max_wait_seconds=10)
    assert [pacer.reserve("mb", 1.0) for _ in range(3)] == [0, 1000, 2000]
    clock.ms += 5000  # idle: the next request goes at once
    assert pacer.reserve("mb", 1.0) == 0
    assert [pacer.reserve("tmdb", 40.0) for _ in range(3)] == [0, 25, 50]  # names are separate
    assert interval_ms(40) == 25 and interval_ms(0.5) == 2000


def test_a_slot_too_far_away_is_refused_with_retry_after() -> None:
    clock = Clock()
    pacer = SharedPacer(MemorySlots(), clock_ms=clock, max_wait_seconds=2)
    for _ in range(3):
        pacer.reserve("mb", 1.0)
    with pytest.raises(ProviderBusy) as busy:
        pacer.reserve("mb", 1.0)
    assert busy.value.status == 503 and busy.value.headers["Retry-After"] == "3"


def test_a_lost_race_takes_the_following_slot() -> None:
    slots = MemorySlots()
    clock = Clock()

    class Racing(MemorySlots):
        raced = False

        def next_slot(self, name: str) -> int | None:
            seen = slots.next_slot(name)
            if not self.raced:  # another sandbox claims the slot between the read and the write
                self.raced = True
                slots.claim_slot(name, seen, clock.ms + 1000)
            return seen

        def claim_slot(self, name: str, seen: int | None, following: int) -> bool:
            return slots.claim_slot(name, seen, following)

    assert SharedPacer(Racing(), clock_ms=clock).reserve("mb", 1.0) == 1000


def test_cache_levels() -> None:
    now = [1000.0]
    shared: dict[str, tuple[bytes, int]] = {}

    class Store:
        def load(self, key: str, t: int) -> bytes | None:
            hit = shared.get(key)
            return hit[0] if hit and hit[1] > t else None

        def save(self, key: str, blob: bytes, expires: int) -> None:
            shared[key] = (blob, expires)

    cache = ResponseCache(Store(), MemoryCache(size=2, clock=lambda: now[0]), clock=lambda: now[0])
    cache.put("a", {"x": 1}, 3600)
    assert cache.get("a") == {"x": 1} and cache.hits == 1
    other = ResponseCache(Store(), clock=lambda: now[0])  # another sandbox
    assert other.get("a") == {"x": 1}
    now[0] += 3601
    assert other.get("a") is None and ResponseCache(Store(), clock=lambda: now[0]).get("a") is None
    cache.put("nothing", {"y": 2}, 0)  # not cached at all
    assert "nothing" not in shared
    key = cache_key("tmdb", "http://h/3/tv/1", {"language": "en", "page": 1})
    assert key == cache_key("tmdb", "http://h/3/tv/1", {"page": 1, "language": "en"}) and key.startswith("tmdb#")


@pytest.mark.parametrize(("text", "want"), [
    ("2019-05-04", (2019, 5, 4)), ("2019-05", (2019, 5, None)), ("2019", (2019, None, None)),
    ("2019-13-01", (2019, None, None)), ("", None), ("abc", None), (None, None),
])
def test_release_date_day_is_null_when_month_is(text: str | None, want: Any) -> None:
    got = ReleaseDate.parse(text)
    assert (None if got is None else (got.year, got.month, got.day)) == want


def test_lucene_phrase_escapes_the_query_syntax() -> None:
    assert lucene_phrase('AC/DC: "Live"  (1992)') == '"AC\\/DC\\: \\"Live\\" \\(1992\\)"'


def test_settings_round_trip() -> None:
    raw = {"tmdb": {"language": "de-DE", "unknown": 1}, "indexers": [{"name": "a", "url": "http://i/api",
                                                                     "categories": [5000]}],
           "quality": {"resolutions": ["720p"]}}
    settings = ProviderSettings.of(raw)
    assert settings.tmdb.language == "de-DE" and settings.indexers[0].categories == (5000,)
    assert ProviderSettings.of(settings.stored()) == settings
