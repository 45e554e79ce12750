"""A step's words and values, Robot Framework's BDD prefixes and phases.

Everything that reads a step's text (matching by name, ranking by BM25, the offline writer)
splits it the same way: values (quoted text, numbers, code-like ALL-CAPS words) apart from
the words, words lightly stemmed so "logs/logged/logging" meet halfway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from robot.conf import Languages

_LANGUAGES = Languages()
BDD_PREFIX = _LANGUAGES.bdd_prefix_regexp
# The phase a BDD prefix opens (`And`/`But` continue the previous one), in RF's languages.
_PHASES = {
    prefix.lower(): phase
    for language in _LANGUAGES
    for phase, prefixes in (
        ("given", language.given_prefixes),
        ("when", language.when_prefixes),
        ("then", language.then_prefixes),
    )
    for prefix in prefixes
}
# Values a step passes to a keyword: "double", “curly” or 'single' quoted (a single quote
# inside a word is an apostrophe), URL paths (`/api/v1/orders`: a ticket rarely quotes them),
# stand-alone numbers, and code-like ALL-CAPS words of four characters or more (`WELCOME10`,
# `CANCELLED`; `API` or `OK` are words, not values).
VALUE = re.compile(
    r"\"(?P<dq>[^\"]*)\"|“(?P<cq>[^”]*)”|(?<!\w)'(?P<sq>[^']*)'(?!\w)"
    r"|(?<![\w/.-])(?P<path>/[\w~%{}-]+(?:[/.][\w~%{}-]+)*/?)(?![\w/])"
    r"|(?<![\w.,])(?P<num>-?\d+(?:[.,]\d+)?)(?![\w.,])"
    r"|(?<![\w'-])(?P<caps>[A-Z][A-Z0-9_-]{2,}[A-Z0-9])(?![\w'-])"
)
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
# An aside in parentheses explains ("35.98 (10 % off 39.98)"); its numbers are no arguments.
PARENTHETICAL = re.compile(r"\s*\([^()\"“”]*\)")
CELL_SEPARATOR = re.compile(r"\s{2,}|\t")
# Letter runs (any script: tickets are not always in English) and digit runs.
WORD = re.compile(r"[^\W\d_]+|\d+")
_CAMEL = re.compile(r"(?<=[^\W\d_])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])")
STOPWORDS = frozenset({
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "to", "of", "in", "on",
    "at", "as", "with", "and", "or", "for", "by", "from", "that", "this", "these", "those", "it",
    "its", "has", "have", "had", "should", "must", "will", "shall", "can", "do", "does", "did",
    "then", "when", "given", "but", "i", "we", "you", "he", "she", "they", "his", "her", "their",
    "my", "our", "your",
})  # fmt: skip
_ASSERTION_WORDS = ("should", "must", "verify", "expect", "assert", "validate", "ensure")


def split_bdd_prefix(step: str) -> tuple[str, str]:
    """(`Given`, `the rest`) with RF's own prefix rule; ("", step) without a prefix."""
    step = " ".join(step.split())
    match = BDD_PREFIX.match(step)
    if not match:
        return "", step
    return step[: match.end()].strip(), step[match.end() :].strip()


def value_matches(text: str) -> list[re.Match[str]]:
    """The value matches of `text`; ALL-CAPS words count only when the text is not shouted."""
    matches = list(VALUE.finditer(text))
    outside = list(text)
    for m in matches:
        if m.group("caps") is None and m.group("num") is None:
            outside[m.start() : m.end()] = " " * (m.end() - m.start())
    if not any(c.islower() for c in outside):
        matches = [m for m in matches if m.group("caps") is None]
    return matches


def value_text(m: re.Match[str]) -> str:
    return next(
        g
        for g in (m.group("dq"), m.group("cq"), m.group("sq"), m.group("path"), m.group("num"), m.group("caps"))
        if g is not None
    )


def step_values(text: str) -> tuple[list[str], list[str]]:
    """(all values in order, quoted values only) of a step's text."""
    values: list[str] = []
    quoted: list[str] = []
    for m in value_matches(PARENTHETICAL.sub(" ", text)):
        value = value_text(m)
        values.append(value)
        if m.group("num") is None and m.group("caps") is None:
            quoted.append(value)
    return values, quoted


def without_values(text: str) -> str:
    """The step's words only: values and asides taken out, for comparing with keyword names."""
    text = PARENTHETICAL.sub(" ", text)
    pieces, last = [], 0
    for m in value_matches(text):
        pieces.append(text[last : m.start()])
        last = m.end()
    pieces.append(text[last:])
    return " ".join(pieces)


@lru_cache(maxsize=1 << 16)
def stem_of(word: str) -> str:
    """Light stemming: enough to meet "logs/logged/logging", "creates/created" and
    "applies/applied/apply" halfway. Cached: an inventory and its steps reuse few words."""
    w = word.lower()
    if len(w) > 4 and w.endswith(("ies", "ied")):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "aeiouls":
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def stems_of(text: str) -> list[str]:
    """Stemmed words; `camelCase` and `snake_case` names split like spaced ones."""
    return [stem_of(part) for word in WORD.findall(text) for part in _CAMEL.split(word) if part]


def forms_of(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(stems written as an "-ed" participle, stems written otherwise) in `text`.

    Stemming meets "logs in" and "is logged in" halfway, but one is an action and the other
    a state: "the user logs in as "bob"" is `Login As`, "the user is logged in" is a check or
    a precondition. Matching a stem in a different form earns less credit (`_FORM_CREDIT`).
    """
    participle: set[str] = set()
    plain: set[str] = set()
    for word in WORD.findall(text):
        for part in _CAMEL.split(word):
            if part:
                stem = stem_of(part)
                is_participle = len(part) > 4 and part.lower().endswith("ed") and stem != part.lower()
                (participle if is_participle else plain).add(stem)
    return frozenset(participle), frozenset(plain)


def content_of(stems: Sequence[str]) -> list[str]:
    kept = [w for w in stems if w not in STOPWORDS]
    return kept or list(stems)


def content_words(text: str) -> list[str]:
    """`text`'s stemmed content words, values removed: the terms retrieval ranks by.

    An ALL-CAPS value is a word too: it may fill an argument, but "sends a DELETE request"
    names the keyword by it (`DELETE On Session`), and a `CANCELLED` state is in the docs. So is
    a URL path: repos name keywords by their endpoint (`DELETE Endpoint /produtos`).
    """
    matches = value_matches(PARENTHETICAL.sub(" ", text))
    named = " ".join(m.group("caps") or m.group("path") for m in matches if m.group("caps") or m.group("path"))
    return content_of(stems_of(f"{without_values(text)} {named}"))


_ASSERTION_STEMS = frozenset(stem_of(word) for word in _ASSERTION_WORDS)


def bdd_phase(step: str) -> str | None:
    """`given`, `when` or `then` for a step opening that phase; None for `And`/`But`/no prefix."""
    prefix, _ = split_bdd_prefix(step)
    return _PHASES.get(prefix.lower())


def phase_fit(phase: str | None, literal: Sequence[str]) -> float:
    """+1 when a keyword's kind suits the phase (a check under `Then`, an action under
    `Given`), -1 when it contradicts it; half that under `When`, where the repo's
    `... Should Fail With Message` keywords are legitimate actions; 0 with no phase known.
    (Checks under `Given` never get this far: `_similar` rejects them.)"""
    if phase is None:
        return 0.0
    fit = 1.0 if is_check(literal) == (phase == "then") else -1.0
    return fit / 2 if phase == "when" else fit


def is_check(literal: Sequence[str]) -> bool:
    """Whether a keyword name reads as a check (`Cart Should Contain`, `Verify Total`)."""
    return any(word in _ASSERTION_STEMS for word in literal)
