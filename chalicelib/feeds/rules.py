"""Feed rules as pure functions: validate a rule set, compile it, judge an item.

A rule set is a list of rules; an item is **matched** by the first rule that accepts it and
**excluded** otherwise (a feed without rules takes every item). A rule accepts an item when:

- none of its ``exclude`` patterns is found in the item's title and/or link (``match_on``);
- one of its ``include`` patterns is (a rule without include patterns includes everything);
- its size is within ``min_size``..``max_size`` (an item of unknown size passes: a feed
  that states no length cannot be judged by it);
- its season is at least ``min_season`` (an item whose title names no season fails);
- with ``new_episodes_only``, its (season, episode) comes after the newest one the feed has
  enqueued (an item whose title names no episode fails).

Patterns are keywords (every whitespace-separated word must appear, in any order) or, with
``regex``, regular expressions run by RE2 (``google-re2``): linear time in the text, so a
user's pattern can never hang a worker. Matching ignores case unless ``case_sensitive``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

MAX_PATTERN = 500
# RE2 refuses to build a program bigger than this: a pathological pattern fails to compile
# with "pattern too large" instead of using memory without bound.
RE2_MAX_MEM = 1 << 20


class RuleError(ValueError):
    """A rule set that cannot be used; ``details`` name each offending field."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details[:3]))
        self.details = details


@dataclass(frozen=True)
class Facts:
    """What rules look at in an item."""

    title: str
    link: str = ""
    size: int | None = None
    season: int | None = None
    episode: int | None = None


@dataclass(frozen=True)
class Verdict:
    matched: bool
    rule: str | None  # the rule that matched or excluded the item (None: no rules at all)
    reason: str

    def view(self) -> dict[str, Any]:
        return {"matched": self.matched, "rule": self.rule, "reason": self.reason}


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    options.max_mem = RE2_MAX_MEM
    return options


def regex_problem(pattern: str, case_sensitive: bool = False) -> str | None:
    """Why RE2 refuses ``pattern`` (with the position of the offending part), or None."""
    try:
        re2.compile(pattern, _options(case_sensitive))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        what, _, fragment = text.partition(": ")
        position = _position(pattern, fragment)
        where = f" at position {position}" if position >= 0 else ""
        hint = ""
        if "perl operator" in what or "escape sequence" in what:
            hint = " (lookaround and backreferences are not supported: patterns run in linear time)"
        return f"not a valid regular expression{where}: {what}" + (f" ({fragment!r})" if fragment else "") + hint
    return None


def _position(pattern: str, fragment: str) -> int:
    """Where the error in ``pattern`` is: Python's parser knows the offset (it only parses
    here, it never matches anything); else where RE2's quoted fragment starts; else -1."""
    try:
        re.compile(pattern)
    except re.error as exc:
        if exc.pos is not None:
            return int(exc.pos)
    except (RecursionError, OverflowError):
        pass
    return pattern.find(fragment) if fragment else -1


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: Any | None  # a compiled RE2 program, or None for keywords
    words: tuple[str, ...] = ()

    def found_in(self, text: str, case_sensitive: bool) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        hay = text if case_sensitive else text.lower()
        return all(word in hay for word in self.words)


@dataclass(frozen=True)
class Rule:
    label: str
    include: tuple[_Pattern, ...]
    exclude: tuple[_Pattern, ...]
    case_sensitive: bool
    match_on: tuple[str, ...]
    min_size: int | None
    max_size: int | None
    min_season: int | None
    new_episodes_only: bool

    @property
    def needs_episodes(self) -> bool:
        return self.min_season is not None or self.new_episodes_only


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def needs_episodes(self) -> bool:
        return any(r.needs_episodes for r in self.rules)

    @property
    def needs_history(self) -> bool:
        """Whether a verdict depends on what the feed enqueued before (``new_episodes_only``):
        then items are judged one by one as they are enqueued, not when they are recorded."""
        return any(r.new_episodes_only for r in self.rules)


def _pattern(text: str, regex: bool, case_sensitive: bool) -> _Pattern:
    if regex:
        return _Pattern(text, re2.compile(text, _options(case_sensitive)))
    words = tuple(text.split() if case_sensitive else text.lower().split())
    return _Pattern(text, None, words)


def validate(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Field-level problems of a rule set (already shaped by the request schema): empty
    patterns, patterns RE2 refuses (naming the rule, the pattern and the position), sizes in
    the wrong order. An empty list: the set compiles."""
    problems: list[dict[str, str]] = []
    for i, rule in enumerate(rules):
        regex, case = bool(rule.get("regex")), bool(rule.get("case_sensitive"))
        for kind in ("include", "exclude"):
            for j, pattern in enumerate(rule.get(kind) or []):
                where = f"rules.{i}.{kind}.{j}"
                if not isinstance(pattern, str) or not pattern.strip():
                    problems.append({"field": where, "message": "must not be empty"})
                    continue
                if len(pattern) > MAX_PATTERN:
                    problems.append({"field": where, "message": f"must be at most {MAX_PATTERN} characters"})
                    continue
                if regex:
                    why = regex_problem(pattern, case)
                    if why:
                        problems.append({"field": where, "message": why})
        low, high = rule.get("min_size"), rule.get("max_size")
        if low is not None and high is not None and low > high:
            problems.append({"field": f"rules.{i}.max_size", "message": "must not be less than min_size"})
    return problems


def compile_rules(rules: Sequence[Mapping[str, Any]]) -> RuleSet:
    """The rule set ready to judge items; RuleError if :func:`validate` finds a problem."""
    problems = validate(rules)
    if problems:
        raise RuleError(problems)
    out = []
    for i, rule in enumerate(rules):
        regex, case = bool(rule.get("regex")), bool(rule.get("case_sensitive"))
        out.append(Rule(
            label=str(rule.get("name") or f"rule {i + 1}"),
            include=tuple(_pattern(p, regex, case) for p in rule.get("include") or []),
            exclude=tuple(_pattern(p, regex, case) for p in rule.get("exclude") or []),
            case_sensitive=case,
            match_on=tuple(rule.get("match_on") or ("title",)),
            min_size=rule.get("min_size"),
            max_size=rule.get("max_size"),
            min_season=rule.get("min_season"),
            new_episodes_only=bool(rule.get("new_episodes_only")),
        ))
    return RuleSet(tuple(out))


def episode_label(season: int | None, episode: int | None) -> str:
    return f"S{season or 1:02d}E{episode or 0:02d}"


def _refusal(rule: Rule, item: Facts, last: tuple[int, int] | None) -> str | None:
    """Why ``rule`` does not accept ``item``; None when it does."""
    texts = [item.title if on == "title" else item.link for on in rule.match_on]
    for pattern in rule.exclude:
        if any(pattern.found_in(t, rule.case_sensitive) for t in texts):
            return f"excluded by {pattern.text!r}"
    if rule.include and not any(p.found_in(t, rule.case_sensitive) for p in rule.include for t in texts):
        return "no include pattern matched"
    if item.size is not None:
        if rule.min_size is not None and item.size < rule.min_size:
            return f"smaller than {rule.min_size} bytes"
        if rule.max_size is not None and item.size > rule.max_size:
            return f"larger than {rule.max_size} bytes"
    if rule.min_season is not None:
        if item.season is None:
            return "the title names no season"
        if item.season < rule.min_season:
            return f"season {item.season} is before season {rule.min_season}"
    if rule.new_episodes_only:
        if item.episode is None:
            return "the title names no episode"
        here = (item.season or 1, item.episode)
        if last is not None and here <= last:
            return f"{episode_label(*here)} is not past {episode_label(*last)}, the last one enqueued"
    return None


def _accepted(rule: Rule, item: Facts) -> str:
    texts = [item.title if on == "title" else item.link for on in rule.match_on]
    for pattern in rule.include:
        if any(pattern.found_in(t, rule.case_sensitive) for t in texts):
            return f"matched {pattern.text!r}"
    return "matched (the rule has no include pattern)"


def judge(rules: RuleSet, item: Facts, last: tuple[int, int] | None = None) -> Verdict:
    """Matched by the first rule that accepts ``item``, else excluded: by the first rule whose
    exclude pattern hit it, or else by the first rule. ``last``: the newest (season, episode)
    the feed has enqueued (for ``new_episodes_only``)."""
    if not rules.rules:
        return Verdict(True, None, "the feed has no rules: every item")
    refusals: list[tuple[Rule, str]] = []
    for rule in rules.rules:
        why = _refusal(rule, item, last)
        if why is None:
            return Verdict(True, rule.label, _accepted(rule, item))
        refusals.append((rule, why))
    rule, why = next(((r, w) for r, w in refusals if w.startswith("excluded by")), refusals[0])
    return Verdict(False, rule.label, why)
