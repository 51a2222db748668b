"""Feed rules as pure functions: validation with field-level errors, keywords, RE2, sizes,
seasons and episodes (chalicelib/feeds/rules.py), and the refresh schedule's backoff."""

from __future__ import annotations

import time

import pytest

from chalicelib.feeds.models import MAX_BACKOFF_SECONDS, next_refresh
from chalicelib.feeds.parsing import metadata, season_episode
from chalicelib.feeds.rules import Facts, RuleError, compile_rules, judge, validate


def rule(**kw: object) -> dict[str, object]:
    return {"include": [], "exclude": [], "regex": False, "case_sensitive": False, "match_on": ["title"],
            "min_size": None, "max_size": None, "min_season": None, "new_episodes_only": False, **kw}


def test_no_rules_take_every_item() -> None:
    verdict = judge(compile_rules([]), Facts("anything"))
    assert verdict.matched and verdict.rule is None


def test_keywords_need_every_word_in_any_order_ignoring_case() -> None:
    rules = compile_rules([rule(name="hd show", include=["show 1080P"])])
    assert judge(rules, Facts("The Show - 03 [1080p]")).matched
    assert judge(rules, Facts("The Show - 03 [1080p]")).rule == "hd show"
    missed = judge(rules, Facts("The Show - 03 [720p]"))
    assert not missed.matched and missed.reason == "no include pattern matched"


def test_exclude_wins_and_names_the_pattern() -> None:
    rules = compile_rules([rule(include=["show"], exclude=["720p", "cam"])])
    verdict = judge(rules, Facts("Show 720p"))
    assert not verdict.matched and verdict.rule == "rule 1" and verdict.reason == "excluded by '720p'"


def test_the_first_accepting_rule_matches_and_an_exclusion_is_reported_before_a_miss() -> None:
    rules = compile_rules([rule(name="a", include=["alpha"]), rule(name="b", include=["beta"], exclude=["bad"])])
    assert judge(rules, Facts("beta thing")).rule == "b"
    refused = judge(rules, Facts("beta bad thing"))
    assert (refused.matched, refused.rule, refused.reason) == (False, "b", "excluded by 'bad'")
    assert judge(rules, Facts("gamma")).rule == "a"


def test_regex_runs_on_re2_case_insensitive_unless_asked() -> None:
    rules = compile_rules([rule(include=[r"s\d{2}e\d{2}"], regex=True)])
    assert judge(rules, Facts("Show S01E02")).matched
    strict = compile_rules([rule(include=[r"S\d{2}E\d{2}"], regex=True, case_sensitive=True)])
    assert not judge(strict, Facts("show s01e02")).matched


def test_a_catastrophic_pattern_is_linear_in_re2() -> None:
    # (a+)+$ takes exponential time in a backtracking engine on this input; RE2 is linear.
    rules = compile_rules([rule(include=[r"(a+)+$"], regex=True)])
    started = time.monotonic()
    assert not judge(rules, Facts("a" * 5000 + "!")).matched
    assert time.monotonic() - started < 5


def test_match_on_link() -> None:
    rules = compile_rules([rule(include=["example.org/hd"], match_on=["link"])])
    assert judge(rules, Facts("x", link="https://example.org/hd/1.mkv")).matched
    assert not judge(rules, Facts("example.org/hd", link="https://other/1")).matched


def test_sizes_bound_known_sizes_and_pass_unknown_ones() -> None:
    rules = compile_rules([rule(min_size=100, max_size=1000)])
    assert judge(rules, Facts("x", size=500)).matched
    assert judge(rules, Facts("x", size=None)).matched
    assert judge(rules, Facts("x", size=50)).reason == "smaller than 100 bytes"
    assert judge(rules, Facts("x", size=5000)).reason == "larger than 1000 bytes"


def test_season_and_new_episode_filters() -> None:
    rules = compile_rules([rule(min_season=2, new_episodes_only=True)])
    assert judge(rules, Facts("x", season=2, episode=5), last=(2, 4)).matched
    assert judge(rules, Facts("x", season=1, episode=9)).reason == "season 1 is before season 2"
    assert judge(rules, Facts("x")).reason == "the title names no season"
    old = judge(rules, Facts("x", season=2, episode=4), last=(2, 4))
    assert old.reason == "S02E04 is not past S02E04, the last one enqueued"
    assert judge(rules, Facts("x", season=3, episode=1), last=(2, 9)).matched


def test_validation_names_the_rule_the_pattern_and_the_position() -> None:
    problems = validate([rule(include=["ok"]), rule(regex=True, include=["fine", "abc(def"], exclude=[" "])])
    fields = {p["field"]: p["message"] for p in problems}
    assert set(fields) == {"rules.1.include.1", "rules.1.exclude.0"}
    assert "at position 3" in fields["rules.1.include.1"] and "missing )" in fields["rules.1.include.1"]
    assert fields["rules.1.exclude.0"] == "must not be empty"
    lookbehind = validate([rule(regex=True, include=[r"(?<=x)y"])])[0]
    assert lookbehind["field"] == "rules.0.include.0" and "linear time" in lookbehind["message"]
    assert validate([rule(min_size=10, max_size=5)]) == [{"field": "rules.0.max_size",
                                                          "message": "must not be less than min_size"}]
    with pytest.raises(RuleError) as refused:
        compile_rules([rule(regex=True, include=["[z-a]"])])
    assert refused.value.details[0]["field"] == "rules.0.include.0"


def test_guessit_metadata_and_episodes() -> None:
    meta = metadata("[SubsPlease] Frieren - 12 (1080p) [ABCD1234].mkv")
    assert meta["episode"] == 12 and meta["screen_size"] == "1080p" and meta["release_group"] == "SubsPlease"
    assert season_episode(metadata("Show.Name.S02E03.720p.WEB-DL.x264-GROUP")) == (2, 3)
    assert season_episode({"season": 1, "episode": [4, 5]}) == (1, 5)
    assert season_episode({}) == (None, None)


def test_backoff_doubles_after_failures_up_to_a_day() -> None:
    assert next_refresh(0, 600, 0) == 600_000
    assert next_refresh(0, 600, 1) == 600_000
    assert next_refresh(0, 600, 3) == 2_400_000
    assert next_refresh(0, 600, 30) == MAX_BACKOFF_SECONDS * 1000
    assert next_refresh(0, 2 * MAX_BACKOFF_SECONDS, 5) == 2 * MAX_BACKOFF_SECONDS * 1000
