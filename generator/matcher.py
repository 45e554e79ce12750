"""Map a spec step ("When the user logs in as "alice"") to a keyword the repo already has.

Used by the offline writer (the whole test from mappings), by the LLM writer's keyword lookup
tool, and to pick the slice of the inventory worth a prompt's tokens.

Matching order, strongest first:

1. **exact** — Robot Framework's own rule: BDD prefix (RF's list, `Given/When/Then/And/But`
   in English) stripped, names compared normalised (case, spaces, underscores ignored). The
   step's values (see below) may stand beside the name as its arguments.
2. **embedded** — keywords with embedded arguments, matched with RF's own
   `EmbeddedArguments` machinery; the Robot line is then the step text itself, since RF will
   match it the same way at run time.
3. **similar** — ranked similarity over names and docs (IDF-weighted token overlap with
   light stemming, joined words such as "log in" ~ "login", a difflib ratio on word order,
   a little doc overlap, a bonus for the repo's resources and a penalty for RF's standard
   libraries so `Log` or `Set Variable` never win a business step). Keywords with embedded
   arguments take part as *templates*: their literal words are compared with the step's, the
   step's values fill the embedded arguments and the call is the keyword's own text with the
   values in place (`And The cart contains "1" of "Coffee Mug"`), provided the values sit
   where the template puts its arguments. Among the keywords above the threshold the final
   choice also weighs how literally the name follows the step, how well the values fit the
   arguments, the step's phase (a `Then` checks: `... Should ...` keywords; a `Given` sets
   up) and a penalty for library keywords: a repo's resources wrap its libraries, and suites
   are meant to call the resource. Keywords that only return a value (`Get Cart Total`,
   `Is Account Locked`) are never a step by resemblance.
   When a *library* keyword still wins, the repo's resource keywords that wrap it (call it,
   directly or through one other resource keyword: `Keyword.calls`) are tried with the same
   values, and the best one that can be called sensibly is written instead: "the customer
   puts 2 "Notebook" in the cart" is `Add "2" Of "Notebook" To Cart`, not the library's
   `Put In Cart`. With no such wrapper the library keyword stays.
4. **placeholder** — nothing fits. See `format_call` for the line written then.

Values are what a step passes: quoted text, stand-alone numbers and code-like ALL-CAPS words
(`WELCOME10`, `CANCELLED`); parenthesised asides such as "(10 % off 39.98)" are explanation,
not values. Each value is assigned to an argument by the argument's *name* against the cue
words next to the value in the step ("with the message "X"" goes to `${message}`, "as "alice""
to `${user}`, "3 times" to `${times}`), so a message never lands in a password. A keyword is
rejected when a mandatory argument stays empty, when a value would go to an argument its cue
contradicts, or when a quoted or cued value would be silently dropped.

A step may also refer to one of the repo's variables (`KeywordInventory.variable_names`)
without a value: "with the correct password" is `${DEFAULT_PASSWORD}`, "a valid card"
`${VALID_CARD}`. Only a few nouns are cues (password, card, url, user, email, product), and
the words before the noun must name the variable ("valid card" -> `${VALID_CARD}`, "declined
card" -> `${DECLINED_CARD}`) or say "the usual one" ("correct", "default", "valid"...) when
the variable's other words say it too (`DEFAULT_PASSWORD`). "A wrong password" is never
`${DEFAULT_PASSWORD}`; two equally good variables mean none. Such a value goes only to an
argument named for it, may be dropped (the keyword may use it by default) and is left out
when it is the argument's own default (`Login As    bob`, not `Login As    bob    ${DEFAULT_PASSWORD}`).
"""

from __future__ import annotations

import difflib
import heapq
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import PurePosixPath

from robot.conf import Languages
from robot.errors import DataError
from robot.libraries import STDLIBS
from robot.running.arguments.embedded import EmbeddedArguments
from robot.utils import escape, normalize
from robot.variables import VariableMatches

from generator.models import Keyword, KeywordInventory, StepMapping

PLACEHOLDER_MESSAGE = "PLACEHOLDER (jira2robot): no existing keyword for: "

_LANGUAGES = Languages()
_BDD_PREFIX = _LANGUAGES.bdd_prefix_regexp
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
# inside a word is an apostrophe), stand-alone numbers, and code-like ALL-CAPS words of four
# characters or more (`WELCOME10`, `CANCELLED`; `API` or `OK` are words, not values).
_VALUE = re.compile(
    r"\"(?P<dq>[^\"]*)\"|“(?P<cq>[^”]*)”|(?<!\w)'(?P<sq>[^']*)'(?!\w)"
    r"|(?<![\w.,])(?P<num>-?\d+(?:[.,]\d+)?)(?![\w.,])"
    r"|(?<![\w'-])(?P<caps>[A-Z][A-Z0-9_-]{2,}[A-Z0-9])(?![\w'-])"
)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
# An aside in parentheses explains ("35.98 (10 % off 39.98)"); its numbers are no arguments.
_PARENTHETICAL = re.compile(r"\s*\([^()\"“”]*\)")
_CELL_SEPARATOR = re.compile(r"\s{2,}|\t")
# A repo variable as `_with_variables` passes it: a plain scalar name, no item access or code.
_VARIABLE_ARGUMENT = re.compile(r"\$\{[^\W\d]\w*(?: \w+)*\}")
# Letter runs (any script: tickets are not always in English) and digit runs.
_WORD = re.compile(r"[^\W\d_]+|\d+")
_CAMEL = re.compile(r"(?<=[^\W\d_])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])")
_STOPWORDS = frozenset({
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "to", "of", "in", "on",
    "at", "as", "with", "and", "or", "for", "by", "from", "that", "this", "these", "those", "it",
    "its", "has", "have", "had", "should", "must", "will", "shall", "can", "do", "does", "did",
    "then", "when", "given", "but", "i", "we", "you", "he", "she", "they", "his", "her", "their",
    "my", "our", "your",
})  # fmt: skip
_STD_LIBRARY_FACTOR = 0.8
# BuiltIn's best possible similarity (0.5) stays under the default threshold: `Log` or
# `Set Variable` are reached only by their exact name, never by resemblance to a business step.
_BUILTIN_FACTOR = 0.5
_RESOURCE_BONUS = 0.05
# Subtracted when choosing among keywords above the threshold: a library keyword wins only
# when no resource keyword comes close, since the repo's resources are the layer suites call
# (and usually wrap the library: `The order has been shipped` around `Ship Order`).
_LIBRARY_PENALTY = 0.25
# Weights of the tie-breakers among candidates above the threshold: how literally the
# keyword's words (stopwords included) follow the step's, and how well the step's values fit
# the keyword's arguments (`_Assignment.quality`, about -1 to 3).
_LITERAL_WEIGHT = 0.1
_ARGUMENT_WEIGHT = 0.05
# A `Then` step checks, a `Given` step sets up: "Then the cart contains 2 "Mug"" is
# `Cart Should Contain`, "Given the cart contains 2 "Mug"" the precondition keyword.
_PHASE_WEIGHT = 0.1
_ASSERTION_WORDS = ("should", "must", "verify", "expect", "assert", "validate", "ensure")
# Below this a search hit is noise, not worth a prompt's tokens.
_RELEVANT_FLOOR = 0.2
_CANDIDATES = 40  # keywords re-scored precisely per query after the cheap index pass
_FORM_CREDIT = 0.5  # a word matched in another form: "logs" for "Logged" (see `_forms`)
# More values than this in one step is a table or a list, not one keyword call (and keeps
# trying every arrangement of values over arguments cheap).
_MAX_VALUES = 5
# Share of an embedded template's words that must stand on the right side of its arguments.
_PLACEMENT = 0.75

# Cue words a step puts before a value, and argument names, grouped by the role they name.
# Compared as stems, on both sides, so "times" meets `${times}` and "copies" `${copies}`.
_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "user": ("user", "username", "login", "customer", "account", "member", "person", "name"),
    "password": ("password", "passwd", "pwd", "passphrase"),
    "message": ("message", "msg", "error", "text", "warning", "notice", "reject", "refuse", "fail", "say", "read"),
    "code": ("code", "coupon", "voucher", "promo"),
    "product": ("product", "item", "article", "book", "title", "sku"),
    "quantity": ("quantity", "qty", "count", "times", "copies", "units", "pieces", "attempts"),
    "amount": ("amount", "total", "price", "sum", "cost", "balance", "subtotal"),
    "status": ("status", "state"),
    "card": ("card",),
    "place": ("page", "screen", "tab", "menu", "section", "url", "link", "location", "folder"),
}  # fmt: skip
_NUMERIC_ROLES = frozenset({"quantity", "amount"})
_TEXT_ROLES = frozenset({"user", "message", "product", "status"})
# "from "My orders"", "on page 2": where something happens, not what it is called with.
_PLACE_PREPOSITIONS = frozenset({"from", "in", "on", "at", "via", "into", "onto", "inside", "within"})
# Words between a cue and its value that say nothing: "the total *is* 35.98".
_FILLERS = frozenset({"the", "a", "an", "is", "are", "was", "were", "be", "been", "being", "should",
                      "must", "still", "now", "exactly", "s"})  # fmt: skip
# Words that end the search for a cue without naming a role ("count of "bob"" is not a count).
_NEUTRAL_PREPOSITIONS = frozenset({"of", "to", "for", "about", "than", "per", "after", "before", "until"})


def split_bdd_prefix(step: str) -> tuple[str, str]:
    """(`Given`, `the rest`) with RF's own prefix rule; ("", step) without a prefix."""
    step = " ".join(step.split())
    match = _BDD_PREFIX.match(step)
    if not match:
        return "", step
    return step[: match.end()].strip(), step[match.end() :].strip()


def _value_matches(text: str) -> list[re.Match[str]]:
    """The value matches of `text`; ALL-CAPS words count only when the text is not shouted."""
    matches = list(_VALUE.finditer(text))
    outside = list(text)
    for m in matches:
        if m.group("caps") is None and m.group("num") is None:
            outside[m.start() : m.end()] = " " * (m.end() - m.start())
    if not any(c.islower() for c in outside):
        matches = [m for m in matches if m.group("caps") is None]
    return matches


def _value_text(m: re.Match[str]) -> str:
    return next(
        g for g in (m.group("dq"), m.group("cq"), m.group("sq"), m.group("num"), m.group("caps")) if g is not None
    )


def step_values(text: str) -> tuple[list[str], list[str]]:
    """(all values in order, quoted values only) of a step's text."""
    values: list[str] = []
    quoted: list[str] = []
    for m in _value_matches(_PARENTHETICAL.sub(" ", text)):
        value = _value_text(m)
        values.append(value)
        if m.group("num") is None and m.group("caps") is None:
            quoted.append(value)
    return values, quoted


def _without_values(text: str) -> str:
    """The step's words only: values and asides taken out, for comparing with keyword names."""
    text = _PARENTHETICAL.sub(" ", text)
    pieces, last = [], 0
    for m in _value_matches(text):
        pieces.append(text[last : m.start()])
        last = m.end()
    pieces.append(text[last:])
    return " ".join(pieces)


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
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


def _words(text: str) -> list[str]:
    """Stemmed words; `camelCase` and `snake_case` names split like spaced ones."""
    return [_stem(part) for word in _WORD.findall(text) for part in _CAMEL.split(word) if part]


def _forms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(stems written as an "-ed" participle, stems written otherwise) in `text`.

    Stemming meets "logs in" and "is logged in" halfway, but one is an action and the other
    a state: "the user logs in as "bob"" is `Login As`, "the user is logged in" is a check or
    a precondition. Matching a stem in a different form earns less credit (`_FORM_CREDIT`).
    """
    participle: set[str] = set()
    plain: set[str] = set()
    for word in _WORD.findall(text):
        for part in _CAMEL.split(word):
            if part:
                stem = _stem(part)
                is_participle = len(part) > 4 and part.lower().endswith("ed") and stem != part.lower()
                (participle if is_participle else plain).add(stem)
    return frozenset(participle), frozenset(plain)


def _content(stems: Sequence[str]) -> list[str]:
    kept = [w for w in stems if w not in _STOPWORDS]
    return kept or list(stems)


def content_words(text: str) -> list[str]:
    """`text`'s stemmed content words, values removed: the terms retrieval ranks by."""
    return _content(_words(_without_values(text)))


def _embedded(name: str) -> EmbeddedArguments | None:
    try:
        return EmbeddedArguments.from_name(name)
    except DataError:
        return None


def _literal_affixes(name: str) -> tuple[str, str]:
    """The literal text before the first and after the last embedded argument, lower-cased.

    RF's embedded regexps match whole names, so a step must start and end with these: a
    cheap test that spares running hundreds of regexps per step.
    """
    matches = list(VariableMatches(name, identifiers="$"))
    if not matches:
        return "", ""
    return _spaces(matches[0].before), _spaces(matches[-1].after)


def _spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def _name_text(name: str, embedded: EmbeddedArguments | None) -> str:
    """The literal words of a name: embedded `${arg}` parts are not words to match on."""
    return re.sub(r"\$\{[^}]*\}", " ", name) if embedded else name


@dataclass(frozen=True)
class _Entry:
    keyword: Keyword
    norm: str
    embedded: EmbeddedArguments | None
    tokens: tuple[str, ...]
    doc_tokens: frozenset[str]
    mandatory: int
    max_positional: int | None  # None: accepts any number (`@{varargs}`)
    factor: float
    bonus: float
    literal: tuple[str, ...]  # every word of the name, stopwords included, for word order
    params: tuple[_Param, ...]  # what a step's values can fill: embedded, else positional
    slots: tuple[tuple[str, int], ...]  # embedded only: content words and their segment
    participles: frozenset[str]  # stems the name writes as "-ed" participles
    getter: bool  # only returns a value: never a step by resemblance (`_is_getter`)


def _arity(args: Sequence[str]) -> tuple[int, int | None]:
    """Mandatory positional arguments and the most positional ones accepted.

    Named-only mandatory arguments (after `@{...}`) cannot come from a step's values, so a
    keyword with one can never be called from a step: it gets an impossible mandatory count.
    """
    mandatory = 0
    positional = 0
    named_only = False
    varargs = False
    for arg in args:
        if arg.startswith("@{"):
            named_only = True
            varargs = varargs or arg != "@{}"
        elif arg.startswith("&{"):
            continue
        elif named_only:
            if "=" not in arg:
                mandatory = 10**6
        else:
            positional += 1
            if "=" not in arg:
                mandatory += 1
    return mandatory, None if varargs else positional


_ROLE_OF = {_stem(word): role for role, words in _ROLE_WORDS.items() for word in words}
_ASSERTION_STEMS = frozenset(_stem(word) for word in _ASSERTION_WORDS)

# Nouns after which a step may mean one of the repo's variables ("the correct password").
# A short, fixed list: a variable is test data the repo chose, and guessing one for any noun
# would put values in places the ticket never asked for.
_VARIABLE_CUES = frozenset(
    _stem(word) for word in ("password", "passwd", "pwd", "card", "url", "user", "username", "email", "product")
)
# Words saying "the usual one": "the correct password" is the repo's `${DEFAULT_PASSWORD}`.
_DEFAULT_WORDS = frozenset(
    _stem(word) for word in ("default", "correct", "valid", "right", "usual", "standard", "proper")
)
_MAX_MODIFIERS = 2  # words before the cue noun read as naming the variable ("the shop admin url")
# Not passing a variable the step mentions costs little: the keyword may use it by default.
_VARIABLE_DROP_COST = 0.1
# A wrapper must resemble the step or the library keyword it wraps: it is chosen for what it
# calls, but a keyword about something else entirely (`The user "${user}" has a placed order`,
# two levels above `Put In Cart`) would take the values only because nothing forbids it.
_WRAPPER_FLOOR = _RELEVANT_FLOOR
# Weight, among wrappers, of resembling the wrapped keyword's name and doc: `Add "${quantity}"
# Of "${product}" To Cart` says what `Put In Cart` does ("Adds ``quantity`` units..."), the
# precondition `The cart contains ...` around the same call says something else.
_KIN_WEIGHT = 1.0
# Per extra level between the wrapper and the library keyword: the direct wrapper is closer.
_WRAPPER_DEPTH_PENALTY = 0.05


def bdd_phase(step: str) -> str | None:
    """`given`, `when` or `then` for a step opening that phase; None for `And`/`But`/no prefix."""
    prefix, _ = split_bdd_prefix(step)
    return _PHASES.get(prefix.lower())


def _phase_fit(phase: str | None, literal: Sequence[str]) -> float:
    """+1 when a keyword's kind suits the phase (a check under `Then`, an action under
    `Given`), -1 when it contradicts it; half that under `When`, where the repo's
    `... Should Fail With Message` keywords are legitimate actions; 0 with no phase known.
    (Checks under `Given` never get this far: `_similar` rejects them.)"""
    if phase is None:
        return 0.0
    fit = 1.0 if _asserts(literal) == (phase == "then") else -1.0
    return fit / 2 if phase == "when" else fit


def _asserts(literal: Sequence[str]) -> bool:
    """Whether a keyword name reads as a check (`Cart Should Contain`, `Verify Total`)."""
    return any(word in _ASSERTION_STEMS for word in literal)


def _is_getter(keyword: Keyword) -> bool:
    """A keyword that only returns a value (`Get Cart Total`, `Is Account Locked`).

    As a step on its own it neither does nor checks anything, so "the cart total is 35.98"
    must never become `Get Cart Total`: such keywords are left to exact-name calls.
    """
    first = keyword.name.split(" ", 1)[0].lower()
    return first in ("get", "is", "has", "fetch") or keyword.doc.lower().startswith(("returns ", "gets "))


@dataclass(frozen=True)
class _Value:
    """A value of a step with what the words around it say it is."""

    text: str
    quoted: bool
    numeric: bool
    role: str | None  # from the cue: "user", "message", "place"...; None when nothing says
    cues: frozenset[str]  # the stemmed cue words, matched against argument names directly
    position: int  # index among the step's words and values, for word-order checks
    variable: bool = False  # one of the repo's variables the words name, not text of the step


@dataclass(frozen=True)
class _StepText:
    """A step body split into its values and its (stemmed) words, with their positions."""

    values: tuple[_Value, ...]
    words: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class _Param:
    """An argument a step's value can fill, with the role its name says."""

    stems: frozenset[str]
    role: str | None
    mandatory: bool
    default: str | None = None  # as written after `=`, normalised by RF's rule


def _left_cue(words: list[str]) -> tuple[str | None, frozenset[str]]:
    """Role and cue of a value from the words before it (nearest first), up to the previous value.

    "the message "X"" -> message; "rejected with "X"" -> message (the word before `with`);
    "as "alice"" -> user; "from "My orders"" -> place; "count of "bob"" -> no role.
    """
    rest = list(reversed(words))
    for hop in range(2):
        rest = list(itertools.dropwhile(lambda w: w in _FILLERS, rest))
        if not rest:
            return None, frozenset()
        word = rest[0]
        if word in _PLACE_PREPOSITIONS and hop == 0:
            return "place", frozenset({word})
        if word == "as" and hop == 0:
            return "user", frozenset({word})
        if word in ("with", "by") and hop == 0:
            rest = rest[1:]
            continue
        if word in _NEUTRAL_PREPOSITIONS or word in _PLACE_PREPOSITIONS:
            return None, frozenset({word})
        stem = _stem(word)
        return _ROLE_OF.get(stem), frozenset({stem})
    return None, frozenset()


def _analyse(body: str) -> _StepText:
    """The step's values in order, each with the role its neighbouring words give it."""
    text = _PARENTHETICAL.sub(" ", body)
    matches = _value_matches(text)
    values: list[_Value] = []
    words: list[tuple[int, str]] = []
    for n, m in enumerate([*matches, None]):
        before = text[matches[n - 1].end() if n else 0 : m.start() if m else len(text)]
        gap = [w.lower() for w in _WORD.findall(before)]
        start = len(words) + len(values)
        words += [(start + k, _stem(w)) for k, w in enumerate(gap)]
        if m is None:
            break
        after = text[m.end() : matches[n + 1].start() if n + 1 < len(matches) else len(text)]
        value = _value_text(m)
        numeric = bool(_NUMBER.fullmatch(value))
        role, cues = _left_cue(gap)
        following = _WORD.findall(after)[:1]
        if numeric and following:
            # "3 times", "2 items": a unit after a number says more than the word before it.
            unit = _stem(following[0])
            if _ROLE_OF.get(unit) in _NUMERIC_ROLES:
                role, cues = _ROLE_OF[unit], cues | {unit}
        quoted = m.group("num") is None and m.group("caps") is None
        position = len(words) + len(values)
        values.append(_Value(value, quoted, numeric, role, cues, position))
    return _StepText(values=tuple(values), words=tuple(words))


def _slots(name: str, embedded: EmbeddedArguments | None) -> tuple[tuple[str, int], ...]:
    """The content words of an embedded name, each with how many arguments come before it."""
    if embedded is None:
        return ()
    matches = list(VariableMatches(name, identifiers="$"))
    segments = [m.before for m in matches] + [matches[-1].after] if matches else [name]
    return tuple((stem, k) for k, segment in enumerate(segments) for stem in _words(segment) if stem not in _STOPWORDS)


def _same_word(a: str, b: str) -> bool:
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and long_.startswith(short))


def _placed(slots: Sequence[tuple[str, int]], step: _StepText, chosen: Sequence[int]) -> bool:
    """Whether the values sit among the step's words where the template puts its arguments.

    `The user "${name}" is logged in` fits "the user "bob" is logged in" but not "the user
    logs in as "bob"": there "logs in" comes before the value, not after it. Of the template
    words the step has, most (`_PLACEMENT`) must be on the right side of every argument.
    """
    positions = [step.values[v].position for v in chosen]
    consistent = total = 0
    for stem, segment in slots:
        seen = [p for p, word in step.words if _same_word(word, stem)]
        if not seen:
            continue
        for k, position in enumerate(positions):
            total += 1
            before = segment <= k
            consistent += any((p < position) == before for p in seen)
    return total == 0 or consistent >= _PLACEMENT * total


def _param(name: str, mandatory: bool, default: str | None = None) -> _Param:
    stems = _words(name)
    role = next((_ROLE_OF[s] for s in stems if s in _ROLE_OF), None)
    return _Param(stems=frozenset(stems), role=role, mandatory=mandatory, default=default)


def _params(args: Sequence[str], embedded: EmbeddedArguments | None) -> tuple[_Param, ...]:
    """Embedded arguments (all mandatory), else the positional ones before any `@{...}`."""
    if embedded is not None:
        return tuple(_param(name, True) for name in embedded.args)
    params = []
    for arg in args:
        if arg.startswith(("@{", "&{")):
            break
        name, _, rest = arg[2:].partition("}")
        default = normalize(rest[1:], ignore="_") if rest.startswith("=") else None
        params.append(_param(name, "=" not in arg, default))
    return tuple(params)


def _affinity(value: _Value, param: _Param) -> float | None:
    """How well a value fits an argument; None when the cue contradicts the argument's name.

    A repo variable goes only to an argument named for it: `${VALID_CARD}` to `${card}`.
    """
    if value.variable:
        return 1.0 if value.cues & param.stems or (value.role is not None and value.role == param.role) else None
    if value.cues & param.stems:
        return 1.0
    if value.role is not None:
        return 1.0 if value.role == param.role else None
    if param.role in _NUMERIC_ROLES:
        return 0.5 if value.numeric else None
    if value.numeric and param.role in _TEXT_ROLES:
        return -0.5
    return 0.0


def _drop_cost(value: _Value) -> float | None:
    """The cost of not passing a value; None when dropping it would lose what the step says.

    A place ("from "My orders"") or a bare number nothing names ("a 2 step wizard") may be
    incidental; a quoted value, a code word (`WELCOME10`) or any value the step names a role
    for is the point of the step: a keyword that cannot take it does something else.
    """
    if value.variable:
        return _VARIABLE_DROP_COST
    if value.role == "place":
        return 0.2
    if value.role is not None or value.quoted or not value.numeric:
        return None
    return 0.3


@dataclass(frozen=True)
class _Assignment:
    args: tuple[str, ...]
    quality: float  # sum of affinities, +0.3 when in the step's order, minus drop costs
    dropped: int  # values of the step's own text left out (repo variables not counted)


def _assign(
    params: Sequence[_Param], values: Sequence[_Value], placed: Callable[[Sequence[int]], bool] | None = None
) -> _Assignment | None:
    """The best way to pass the step's values to the first positional arguments, or None.

    Every mandatory argument gets a value; arguments are filled from the left (no named
    syntax); each value goes to at most one argument; `placed`, for templates, vetoes an
    arrangement whose values stand at the wrong place in the sentence. Few values and
    arguments per step make trying every arrangement cheap and exact where a greedy pass
    would be fooled by order.
    """
    if len(values) > _MAX_VALUES:
        return None
    mandatory = sum(p.mandatory for p in params)
    if mandatory > len(values):
        return None
    affinity = [[_affinity(v, p) for v in values] for p in params[: len(values)]]
    drops = [_drop_cost(v) for v in values]
    best: tuple[float, tuple[int, ...]] | None = None
    for k in range(mandatory, min(len(params), len(values)) + 1):
        for chosen in itertools.permutations(range(len(values)), k):
            scores = [affinity[p][v] for p, v in enumerate(chosen)]
            left_out = [drops[v] for v in range(len(values)) if v not in chosen]
            fits = [s for s in scores if s is not None]
            costs = [c for c in left_out if c is not None]
            if len(fits) < len(scores) or len(costs) < len(left_out) or (placed and not placed(chosen)):
                continue
            quality = sum(fits) - sum(costs) + (0.3 if list(chosen) == sorted(chosen) else 0.0)
            if best is None or quality > best[0]:
                best = (quality, chosen)
    if best is None:
        return None
    chosen = list(best[1])
    dropped = sum(1 for v, value in enumerate(values) if v not in chosen and not value.variable)
    # `Login As    bob`, not `Login As    bob    ${DEFAULT_PASSWORD}` when that is the default.
    while (
        chosen
        and values[chosen[-1]].variable
        and params[len(chosen) - 1].default == normalize(values[chosen[-1]].text, ignore="_")
    ):
        chosen.pop()
    return _Assignment(args=tuple(values[v].text for v in chosen), quality=best[0], dropped=dropped)


def _variable_fit(modifiers: frozenset[str], rest: frozenset[str]) -> int | None:
    """How the words before a cue noun name a variable whose other name words are `rest`.

    2: they name it ("declined card" for `DECLINED_CARD`, "correct password" for `PASSWORD`);
    1: both say "the usual one" ("correct password" for `DEFAULT_PASSWORD`); None: no word
    before the noun, or one that points elsewhere ("wrong password", "admin password" for
    `DEFAULT_PASSWORD`).
    """
    if not modifiers or not modifiers <= rest | _DEFAULT_WORDS:
        return None
    if rest <= modifiers:
        return 2
    if rest <= modifiers | _DEFAULT_WORDS and modifiers & _DEFAULT_WORDS:
        return 1
    return None


@dataclass(frozen=True)
class _Query:
    """A text's words as `_score` compares them with keyword names."""

    content: list[str]
    joined: dict[str, tuple[str, str]]  # "login" -> ("log", "in"): adjacent words written as one
    forms: tuple[frozenset[str], frozenset[str]]
    weight: float


class KeywordMatcher:
    """Matches steps against one inventory; build once, call `match` per step.

    All per-keyword work (normalised names, tokens, embedded patterns, inverted index, IDF)
    happens in the constructor so thousands of keywords times hundreds of steps stays far
    below a second. Results are deterministic: ties are broken by keyword name, then owner.
    """

    def __init__(self, inventory: KeywordInventory, *, threshold: float = 0.55):
        self.threshold = threshold
        self._entries: list[_Entry] = []
        by_name: dict[str, list[int]] = defaultdict(list)
        self._embedded: list[tuple[int, EmbeddedArguments]] = []
        self._affixes: dict[int, tuple[str, str]] = {}
        importable = set(inventory.resources)
        for kw in inventory.keywords:
            if kw.owner_kind == "resource" and kw.owner.endswith(".robot") and kw.owner not in importable:
                continue  # a suite's own keywords: no other file can import them
            embedded = _embedded(kw.name) if kw.embedded or "${" in kw.name else None
            literal = _name_text(kw.name, embedded)
            words = _words(literal)
            mandatory, max_positional = _arity(kw.args)
            if kw.owner_kind == "resource":
                factor, bonus = 1.0, _RESOURCE_BONUS
            elif kw.owner == "BuiltIn":
                factor, bonus = _BUILTIN_FACTOR, 0.0
            elif kw.owner in STDLIBS:
                factor, bonus = _STD_LIBRARY_FACTOR, 0.0
            else:
                factor, bonus = 1.0, 0.0
            index = len(self._entries)
            self._entries.append(
                _Entry(
                    keyword=kw,
                    norm=normalize(kw.name, ignore="_"),
                    embedded=embedded,
                    tokens=tuple(dict.fromkeys(_content(words))),
                    doc_tokens=frozenset(_content(_words(kw.doc))),
                    mandatory=mandatory,
                    max_positional=max_positional,
                    factor=factor,
                    bonus=bonus,
                    literal=tuple(words),
                    params=_params(kw.args, embedded),
                    slots=_slots(kw.name, embedded),
                    participles=_forms(literal)[0],
                    getter=_is_getter(kw),
                )
            )
            if embedded is not None:
                self._embedded.append((index, embedded))
                self._affixes[index] = _literal_affixes(kw.name)
            else:
                by_name[self._entries[index].norm].append(index)
        # RF prefers resource keywords over library ones when a name exists in both.
        self._by_name = {
            norm: sorted(ids, key=lambda i: (self._entries[i].keyword.owner_kind != "resource", self._sort_key(i)))
            for norm, ids in by_name.items()
        }
        self._index: dict[str, list[int]] = defaultdict(list)
        self._prefix: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._doc_index: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self._entries):
            for token in entry.tokens:
                self._index[token].append(i)
                if len(token) >= 4:
                    self._prefix[token[:4]].append((i, token))
            for token in entry.doc_tokens:
                self._doc_index[token].append(i)
        total = max(len(self._entries), 1)
        self._unknown_idf = math.log(1 + total)
        self._idf = {token: math.log(1 + total / len(ids)) for token, ids in self._index.items()}
        self._name_weight = [sum(self._weight(t) for t in e.tokens) or 1.0 for e in self._entries]
        # Who calls what, for wrappers: normalised call name -> calling resource keywords, and
        # the call texts as written (embedded calls carry values RF matches against patterns).
        self._callers: dict[str, list[int]] = defaultdict(list)
        self._call_texts: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self._entries):
            if entry.keyword.owner_kind != "resource":
                continue
            for call in entry.keyword.calls:
                _, bare = split_bdd_prefix(call)
                for text in dict.fromkeys((call, bare)):
                    self._callers[normalize(text, ignore="_")].append(i)
                    self._call_texts[text].append(i)
        self._wrapper_cache: dict[int, tuple[tuple[int, int], ...]] = {}
        # Cue noun -> (variable, its other name words). Plain scalars only: a list is not one
        # value, and `format_call` writes unescaped only what `_VARIABLE_ARGUMENT` accepts.
        self._variables: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for name in sorted(set(inventory.variable_names)):
            if not _VARIABLE_ARGUMENT.fullmatch(name):
                continue
            stems = _words(name[2:-1])
            heads = [stem for stem in stems if stem in _VARIABLE_CUES]
            if heads:  # the last cue is the noun: `USER_PASSWORD` is a password
                self._variables[heads[-1]].append((name, frozenset(s for s in stems if s != heads[-1])))

    # ------------------------------------------------------------------ public

    def match(self, step: str, *, phase: str | None = None) -> StepMapping:
        """The best existing keyword for `step`, or a placeholder mapping (see module doc).

        `phase` (`given`/`when`/`then`) is the phase an `And`/`But` step continues; a step's
        own `Given`/`When`/`Then` prefix takes precedence. See `match_case`.
        """
        cells = _CELL_SEPARATOR.split(step.strip())
        # Values come from the raw text: a quoted "a  b" keeps both spaces.
        values, quoted = step_values(step)
        prefix = _BDD_PREFIX.match(step.strip())
        raw_body = step.strip()[prefix.end() :].strip() if prefix else step.strip()
        _, body = split_bdd_prefix(step)
        step = " ".join(step.split())
        for found in (
            self._exact_cells(cells),
            self._exact(body, values, quoted),
            self._embedded_match(body, step),
        ):
            if found is not None:
                return found.model_copy(update={"step": step})
        similar = self._similar(step, body, self._with_variables(_analyse(raw_body)), bdd_phase(step) or phase)
        return similar or StepMapping(step=step, how="placeholder")

    def match_case(self, steps: Sequence[str], *, area: str | None = None) -> list[StepMapping]:
        """`match` for the steps of one test case, `And`/`But` taking the phase before them.

        `area` (the target file's folder) is for subclasses that know how the repo's tests
        use keywords (generator/retrieval); names alone do not depend on it.

        "And the cart contains 2 "Mug"" after a `Then` is a check, after a `Given` a set-up;
        matched alone the step cannot tell.
        """
        mappings = []
        phase: str | None = None
        for step in steps:
            phase = bdd_phase(step) or phase
            mappings.append(self.match(step, phase=phase))
        return mappings

    def search(self, query: str, limit: int = 10, *, area: str | None = None) -> list[tuple[Keyword, float]]:
        """Keywords ranked for a free-text query (the writer's lookup tool), best first.

        An exact name (with or without BDD prefix) ranks first with score 1.0; embedded and
        library keywords are included since the caller reads the names itself.
        """
        _, body = split_bdd_prefix(query)
        results: dict[int, float] = {}
        for i in self._by_name.get(normalize(body, ignore="_"), []):
            results[i] = 1.0
        for i, embedded in self._embedded:
            if embedded.matches(body):
                results[i] = 1.0
        for i, score in self._ranked(_VALUE.sub(" ", body), keep_embedded=True):
            if score <= 0 or len(results) >= limit * 2:
                break
            results.setdefault(i, score)
        ranked = sorted(results.items(), key=lambda item: (-item[1], self._sort_key(item[0])))
        return [(self._entries[i].keyword, round(score, 4)) for i, score in ranked[:limit]]

    def relevant(self, texts: Sequence[str], limit: int = 40, *, area: str | None = None) -> list[Keyword]:
        """The slice of the inventory worth showing an LLM for these steps.

        Each step's own match comes first (in step order), then every step's best search
        results by score, so one verbose step cannot crowd out the others.
        """
        chosen: dict[tuple[str, str], Keyword] = {}
        for text in texts:
            mapping = self.match(text)
            if mapping.keyword is None:
                continue
            for i in self._ids_named(mapping.keyword):
                kw = self._entries[i].keyword
                chosen.setdefault((kw.owner, kw.name), kw)
                break
        per_text = max(3, limit // max(len(texts), 1))
        pool: dict[tuple[str, str], tuple[float, Keyword]] = {}
        for text in texts:
            for kw, score in self.search(text, per_text):
                if score < _RELEVANT_FLOOR:
                    break
                key = (kw.owner, kw.name)
                if key not in pool or pool[key][0] < score:
                    pool[key] = (score, kw)
        for key, (_, kw) in sorted(pool.items(), key=lambda item: (-item[1][0], item[0][1].lower(), item[0][0])):
            if len(chosen) >= limit:
                break
            chosen.setdefault(key, kw)
        return list(chosen.values())[:limit]

    def lookup(self, call: str) -> Keyword | None:
        """The keyword a Robot call's name resolves to, RF's way, whatever its arguments.

        For reading existing or generated `.robot` code (which keywords does it reuse?), where
        `match` would be too strict: it refuses a name whose mandatory arguments a step
        cannot supply. Handles BDD prefixes, embedded arguments and `Owner.Keyword` names.
        """
        call = " ".join(call.split())
        _, body = split_bdd_prefix(call)
        for text in dict.fromkeys((body, call)):
            ids = self._by_name.get(normalize(text, ignore="_"))
            if ids:
                return self._entries[ids[0]].keyword
            hit = self._embedded_hit(text, callable_only=False)
            if hit is not None:
                return self._entries[hit[0]].keyword
            owner, dot, name = text.rpartition(".")
            if dot and owner:
                for i in self._by_name.get(normalize(name, ignore="_"), []):
                    kw = self._entries[i].keyword
                    if normalize(owner) in (normalize(kw.owner), normalize(PurePosixPath(kw.owner).stem)):
                        return kw
        return None

    def call_for(self, keyword: Keyword, step: str, phase: str | None = None) -> StepMapping | None:
        """A call of `keyword` for `step` when the step's values fill its arguments, else None.

        For a keyword chosen by other means than its name's resemblance (retrieval's ranking
        of docs and usage), so the placement of values in the name is not checked.
        """
        prefix = _BDD_PREFIX.match(step.strip())
        raw_body = step.strip()[prefix.end() :].strip() if prefix else step.strip()
        _, body = split_bdd_prefix(step)
        words = _words(_without_values(body))
        # The words around a value named it for name matching ("status "200""); here the
        # keyword was chosen for its meaning, so its arguments take the values in order, and
        # when the step quotes its values, an unquoted `HTTP` is a word, not a value.
        analysed = _analyse(raw_body)
        values = [v for v in analysed.values if v.quoted] or list(analysed.values)
        text = replace(analysed, values=tuple(replace(v, role=None, cues=frozenset()) for v in values))
        for i in self._ids_named(keyword.name):
            if self._entries[i].keyword.owner != keyword.owner:
                continue
            found = self._call(i, 0.0, words, text, bdd_phase(step) or phase, check_placement=False)
            if found is not None:
                return StepMapping(
                    step=" ".join(step.split()), keyword=keyword.name, args=list(found[1].args), how="similar"
                )
        return None

    def keyword_of(self, mapping: StepMapping) -> Keyword | None:
        """The inventory keyword a mapping calls, for its owner (the import the test needs).

        When several share the name, RF's preference applies: a resource before a library.
        """
        if mapping.keyword is None:
            return None
        ids = self._ids_named(mapping.keyword)
        return self._entries[ids[0]].keyword if ids else None

    # ------------------------------------------------------------------ stages

    def _exact_cells(self, cells: list[str]) -> StepMapping | None:
        """A step already in Robot syntax (`Given Login As    alice`): name cell, then values."""
        if len(cells) < 2:
            return None
        _, name = split_bdd_prefix(cells[0])
        for i in self._by_name.get(normalize(name, ignore="_"), []):
            args = self._fit(self._entries[i], cells[1:], [])
            if args is not None:
                kw = self._entries[i].keyword
                return StepMapping(step=name, keyword=kw.name, args=args, score=1.0, how="exact")
        return None

    def _exact(self, body: str, values: list[str], quoted: list[str]) -> StepMapping | None:
        for i in self._by_name.get(normalize(body, ignore="_"), []):
            if self._entries[i].mandatory == 0:
                return StepMapping(step=body, keyword=self._entries[i].keyword.name, score=1.0, how="exact")
        # "Login As "alice" "secret"": the name once the values are taken out. Every value
        # stood where an argument goes, so none may be dropped.
        if values:
            for i in self._by_name.get(normalize(_VALUE.sub(" ", body), ignore="_"), []):
                args = self._fit(self._entries[i], values, values)
                if args is not None:
                    kw = self._entries[i].keyword
                    return StepMapping(step=body, keyword=kw.name, args=args, score=1.0, how="exact")
        return None

    def _embedded_match(self, body: str, step: str) -> StepMapping | None:
        """RF tries the name without its BDD prefix first, then the full text."""
        if _unsafe_as_keyword_cell(step):
            return None
        for text in dict.fromkeys((body, step)):
            hit = self._embedded_hit(text, callable_only=True)
            if hit is not None:
                i, embedded = hit
                args = list(embedded.parse_args(text))
                kw = self._entries[i].keyword
                return StepMapping(step=step, keyword=kw.name, args=args, score=1.0, how="embedded")
        return None

    def _similar(self, step: str, body: str, text: _StepText, phase: str | None) -> StepMapping | None:
        """The best keyword above the threshold whose arguments the step's values fill.

        Similarity decides who is in; among those, the final choice also weighs how literally
        the name follows the step, how well the values fit the arguments and the phase, minus
        a penalty for library keywords, so `Account "${user}" Should Be Locked` beats the
        library's `Is Account Locked` it wraps, and the precondition `The cart contains
        "${quantity}" of "${product}"` beats the check `Cart Should Contain` for "Given the
        cart contains 1 "Mug"" (and loses to it after a `Then`). A library keyword that still
        wins gives way to a resource keyword wrapping it (`_wrapper_call`).
        """
        bare = _without_values(body)
        query = self._query(bare)
        if query is None:
            return None
        words = _words(bare)
        candidates: list[tuple[float, tuple[str, str, str], int, _Assignment, float]] = []
        for i, score in self._rank(query, keep_embedded=True):
            if score < self.threshold:
                break
            entry = self._entries[i]
            if entry.embedded is None and self._by_name[entry.norm][0] != i:
                continue  # a same-named twin would be the one RF calls (and `keyword_of` reports)
            found = self._call(i, score, words, text, phase, check_placement=True)
            if found is not None:
                candidates.append((-found[0], self._sort_key(i), i, found[1], score))
        if not candidates:
            return None
        _, _, i, assignment, score = min(candidates, key=lambda c: c[:2])
        args = assignment.args
        if self._entries[i].keyword.owner_kind == "library":
            wrapper = self._wrapper_call(i, assignment, words, text, phase, query)
            if wrapper is not None:
                i, args = wrapper
        # The score stays the one that made the step match: the wrapper is chosen for what it calls.
        return StepMapping(
            step=step, keyword=self._entries[i].keyword.name, args=list(args), score=round(score, 4), how="similar"
        )

    def _call(
        self, i: int, score: float, words: list[str], text: _StepText, phase: str | None, *, check_placement: bool
    ) -> tuple[float, _Assignment] | None:
        """(final score, arguments) of calling keyword `i` for the step, or None when it cannot.

        `check_placement` vetoes a template whose arguments stand elsewhere in the sentence
        than the step's values: right when the name's resemblance is the reason to call it,
        not when the template was chosen for the library keyword it wraps.
        """
        entry = self._entries[i]
        if entry.embedded is not None and entry.mandatory:
            return None  # also needs normal arguments, which the step's sentence cannot carry
        if entry.getter or (entry.embedded is None and entry.mandatory > len(text.values)):
            return None  # a getter; or more mandatory (or named-only) arguments than values
        if phase == "given" and _asserts(entry.literal):
            return None  # a `Given` sets state up: a check there would fail, not arrange
        placed = partial(_placed, entry.slots, text) if entry.embedded is not None and check_placement else None
        assignment = _assign(entry.params, text.values, placed)
        if assignment is None:
            return None
        if entry.embedded is not None and not self._renders_back(i, assignment.args):
            return None
        literal = difflib.SequenceMatcher(None, words, entry.literal, autojunk=False).ratio()
        final = (
            score
            + _LITERAL_WEIGHT * literal
            + _ARGUMENT_WEIGHT * assignment.quality
            + _PHASE_WEIGHT * _phase_fit(phase, entry.literal)
        )
        if entry.keyword.owner_kind == "library":
            final -= _LIBRARY_PENALTY
        return final, assignment

    def _wrapper_call(
        self,
        library: int,
        library_call: _Assignment,
        words: list[str],
        text: _StepText,
        phase: str | None,
        query: _Query,
    ) -> tuple[int, tuple[str, ...]] | None:
        """The best resource keyword wrapping library keyword `library` that the step's values
        can call, with its arguments; None when no wrapper can be called sensibly.

        Sensibly: the same argument rules as any candidate (every mandatory argument filled,
        no value against its cue, none silently dropped), no value left out that the library
        call passes (`Record Weight    P-7` loses the "250 grams" `Weigh Parcel` takes), a
        name resembling the step or the wrapped keyword (`_WRAPPER_FLOOR`), and the same kind
        as the library keyword: a check wrapping an action (`... Should Fail`) does the
        opposite of what the step asks. The best is the usual final score plus how much it
        resembles the wrapped keyword.
        """
        wrapped = self._entries[library].keyword
        kin_query = self._query(f"{wrapped.name} {wrapped.doc}")
        asserts = _asserts(self._entries[library].literal)
        options: list[tuple[float, tuple[str, str, str], int, tuple[str, ...]]] = []
        for w, depth in self._wrappers(library):
            entry = self._entries[w]
            if _asserts(entry.literal) != asserts:
                continue
            if entry.embedded is None and self._by_name[entry.norm][0] != w:
                continue
            similarity = self._score(w, query)
            kin = self._score(w, kin_query) if kin_query is not None else 0.0
            if max(similarity, kin) < _WRAPPER_FLOOR:
                continue
            found = self._call(w, similarity, words, text, phase, check_placement=False)
            if found is not None and found[1].dropped <= library_call.dropped:
                final = found[0] + _KIN_WEIGHT * kin - _WRAPPER_DEPTH_PENALTY * (depth - 1)
                options.append((-final, self._sort_key(w), w, found[1].args))
        if not options:
            return None
        _, _, w, args = min(options, key=lambda o: o[:2])
        return w, args

    def _wrappers(self, i: int) -> tuple[tuple[int, int], ...]:
        """Resource keywords calling keyword `i` (depth 1) or calling one of those (depth 2)."""
        if i not in self._wrapper_cache:
            direct = [w for w in self._callers_of(i) if w != i]
            found = dict.fromkeys(direct, 1)
            for r in direct:
                for w in self._callers_of(r):
                    if w != i:
                        found.setdefault(w, 2)
            self._wrapper_cache[i] = tuple(sorted(found.items(), key=lambda item: (item[1], self._sort_key(item[0]))))
        return self._wrapper_cache[i]

    def _callers_of(self, i: int) -> list[int]:
        """Resource keywords whose body calls keyword `i`, resolved RF's way.

        A plain name counts when `i` is the keyword RF picks for it (a resource twin of a
        library keyword takes its calls); `Owner.Name` always counts; an embedded keyword is
        called through its pattern, by any call text it matches that is no plain name.
        """
        entry = self._entries[i]
        kw = entry.keyword
        callers: dict[int, None] = {}
        if entry.embedded is None:
            keys = [normalize(f"{owner}.{kw.name}", ignore="_") for owner in (kw.owner, PurePosixPath(kw.owner).stem)]
            if self._by_name[entry.norm][0] == i:
                keys.append(entry.norm)
            for key in keys:
                callers.update(dict.fromkeys(self._callers.get(key, ())))
        else:
            for call, ids in self._call_texts.items():
                if normalize(call, ignore="_") not in self._by_name and entry.embedded.matches(call):
                    callers.update(dict.fromkeys(ids))
        return list(callers)

    def _with_variables(self, text: _StepText) -> _StepText:
        """The step's values plus the repo variables its words name (see the module doc)."""
        if not self._variables:
            return text
        at = dict(text.words)
        taken = {value.position for value in text.values}
        found: list[_Value] = []
        for position, stem in text.words:
            if stem not in self._variables or position + 1 in taken:
                continue  # no cue, or the step gives the value itself: "password "x""
            modifiers: list[str] = []
            before = position - 1
            while before in at and at[before] not in _STOPWORDS and len(modifiers) < _MAX_MODIFIERS:
                modifiers.append(at[before])
                before -= 1
            fits: dict[int, list[str]] = defaultdict(list)
            for name, rest in self._variables[stem]:
                fit = _variable_fit(frozenset(modifiers), rest)
                if fit is not None:
                    fits[fit].append(name)
            best = fits.get(2) or fits.get(1) or []
            if len(best) == 1:
                role, cues = _ROLE_OF.get(stem), frozenset({stem})
                found.append(_Value(best[0], False, False, role, cues, position, variable=True))
        if not found:
            return text
        return _StepText(values=tuple(sorted([*text.values, *found], key=lambda v: v.position)), words=text.words)

    def _renders_back(self, i: int, args: Sequence[str]) -> bool:
        """Whether the call written for embedded keyword `i` with `args` is what RF resolves.

        RF looks the name up without its BDD prefix first, so the rendered name alone must be
        one safe cell, resolve to this keyword only (not to a normal keyword of that name, nor
        to a more specific or equally good embedded one) and give back exactly these values.
        """
        if not all(_embeddable(a) for a in args):
            return False
        body = render_embedded(self._entries[i].keyword.name, args)
        if _unsafe_as_keyword_cell(body) or normalize(body, ignore="_") in self._by_name:
            return False
        if [hit[0] for hit in self._embedded_best(body, callable_only=False)] != [i]:
            return False
        embedded = self._entries[i].embedded
        return embedded is not None and list(embedded.parse_args(body)) == list(args)

    def _embedded_hit(self, text: str, *, callable_only: bool) -> tuple[int, EmbeddedArguments] | None:
        """The embedded keyword RF would pick for `text`, if any.

        `callable_only` skips keywords that also need normal arguments, which the step text
        alone cannot give.
        """
        best = self._embedded_best(text, callable_only=callable_only)
        return min(best, key=lambda hit: self._sort_key(hit[0])) if best else None

    def _embedded_best(self, text: str, *, callable_only: bool) -> list[tuple[int, EmbeddedArguments]]:
        """Every embedded keyword matching `text` that no other match beats by RF's rule."""
        lowered = text.lower()
        hits = [
            (i, embedded)
            for i, embedded in self._embedded
            if lowered.startswith(self._affixes[i][0])
            and lowered.endswith(self._affixes[i][1])
            and not (callable_only and self._entries[i].mandatory)
            and embedded.matches(text)
        ]
        return [hit for hit in hits if not self._worse_than_others(hit, hits)] or hits

    def _worse_than_others(
        self, hit: tuple[int, EmbeddedArguments], hits: Sequence[tuple[int, EmbeddedArguments]]
    ) -> bool:
        """RF's tie rule: a pattern is worse than another when it also matches the other's name
        but not the reverse (`${anything}` loses to `"${x}" is active`)."""
        i, mine = hit
        name = self._entries[i].keyword.name
        return any(
            j != i and mine.matches(self._entries[j].keyword.name) and not theirs.matches(name) for j, theirs in hits
        )

    def _fit(self, entry: _Entry, values: list[str], quoted: list[str]) -> list[str] | None:
        """The step's values as positional arguments, or None when they cannot fit.

        Numbers are often incidental ("page 2"), so when all values are too many, the quoted
        ones alone are tried before giving up; values are never silently dropped otherwise.
        """
        for candidate in (values, quoted):
            fits_max = entry.max_positional is None or len(candidate) <= entry.max_positional
            if entry.mandatory <= len(candidate) and fits_max:
                return list(candidate)
        return None

    # ------------------------------------------------------------------ ranking

    def _weight(self, token: str) -> float:
        return self._idf.get(token, self._unknown_idf)

    def _sort_key(self, i: int) -> tuple[str, str, str]:
        kw = self._entries[i].keyword
        return kw.name.lower(), kw.name, kw.owner

    def _ids_named(self, name: str) -> list[int]:
        norm = normalize(name, ignore="_")
        if norm in self._by_name:
            return self._by_name[norm]
        return sorted((i for i, _ in self._embedded if self._entries[i].keyword.name == name), key=self._sort_key)

    def _ranked(self, text: str, *, keep_embedded: bool = False) -> list[tuple[int, float]]:
        """Keywords scored against `text` (values already removed), best first."""
        query = self._query(text)
        return self._rank(query, keep_embedded=keep_embedded) if query is not None else []

    def _query(self, text: str) -> _Query | None:
        stems = _words(text)
        content = list(dict.fromkeys(_content(stems)))
        if not content:
            return None
        joined = {a + b: (a, b) for a, b in itertools.pairwise(stems)}
        return _Query(content, joined, _forms(text), sum(self._weight(t) for t in content))

    def _rank(self, query: _Query, *, keep_embedded: bool) -> list[tuple[int, float]]:
        """A cheap pass over the inverted index bounds the work to keywords sharing a word with
        the text; the best `_CANDIDATES` are then scored precisely."""
        content, joined, query_weight = query.content, query.joined, query.weight
        overlap: dict[int, float] = defaultdict(float)
        for token in [*content, *joined]:
            weight = self._weight(token)
            for i in self._index.get(token, ()):
                overlap[i] += weight
            if len(token) >= 4:
                for i, name_token in self._prefix.get(token[:4], ()):
                    if name_token != token and (name_token.startswith(token) or token.startswith(name_token)):
                        overlap[i] += 0.8 * self._weight(name_token)
        for token in content:
            for i in self._doc_index.get(token, ()):
                overlap[i] += 0.1 * self._weight(token)
        cheap = (
            (0.6 * min(1.0, acc / self._name_weight[i]) + 0.4 * min(1.0, acc / query_weight), i)
            for i, acc in overlap.items()
            if keep_embedded or self._entries[i].embedded is None
        )
        best = heapq.nlargest(_CANDIDATES, cheap, key=lambda item: (item[0], -item[1]))
        scored = [(i, self._score(i, query)) for _, i in best]
        scored.sort(key=lambda item: (-item[1], self._sort_key(item[0])))
        return scored

    def _score(self, i: int, query: _Query) -> float:
        entry = self._entries[i]
        content, joined, query_weight = query.content, query.joined, query.weight
        participle, plain = query.forms

        def form_credit(name_token: str, step_token: str) -> float:
            same = step_token in (participle if name_token in entry.participles else plain)
            return 1.0 if same else _FORM_CREDIT

        matched_weight = 0.0
        covered: dict[str, float] = {}
        for name_token in entry.tokens:
            credit = 0.0
            if name_token in content:
                credit = form_credit(name_token, name_token)
                covered[name_token] = credit
            elif name_token in joined:
                credit = form_credit(name_token, joined[name_token][0])
                covered.update(dict.fromkeys(joined[name_token], credit))
            else:
                for token in content:
                    short, long_ = sorted((token, name_token), key=len)
                    if len(short) >= 4 and long_.startswith(short):
                        credit = 0.8
                        covered[token] = credit
                        break
            matched_weight += credit * self._weight(name_token)
        precision = matched_weight / self._name_weight[i]
        recall = sum(self._weight(t) * covered.get(t, 0.0) for t in content) / query_weight
        doc = sum(self._weight(t) for t in content if t in entry.doc_tokens) / query_weight
        # Word order, on stems: "create order" is closer to "Create Order" than to "Order Create".
        ratio = difflib.SequenceMatcher(None, content, entry.tokens, autojunk=False).ratio()
        score = 0.5 * precision + 0.25 * recall + 0.15 * ratio + 0.1 * doc
        return max(0.0, min(1.0, score * entry.factor + entry.bonus))


# --------------------------------------------------------------------------- rendering


def _unsafe_as_keyword_cell(text: str) -> bool:
    """Text RF would not read back verbatim as a keyword name: variables, escapes, a comment
    start, or a trailing `=` (an assignment). Such steps are never written as-is."""
    return bool(re.search(r"[$@&%]\{|\\", text)) or text.startswith("#") or text.rstrip().endswith("=")


def _embeddable(value: str) -> bool:
    """Whether a value can stand inside an embedded-argument call exactly as it is.

    The call is one cell of step text: whitespace runs would split it, and variable syntax
    or escapes in untrusted ticket text would be evaluated or altered by RF. Such values make
    the template a non-match (the step may still map elsewhere or become a placeholder)
    rather than be rewritten into something the ticket did not say.
    """
    return (
        bool(value)
        and value == value.strip()
        and not re.search(r"\s{2,}|[\n\r\t\\]|[$@&%]\{", value)
        and not value.startswith("#")
    )


def render_embedded(name: str, args: Sequence[str]) -> str:
    """An embedded-argument keyword's own name with `args` in place of its `${...}` parts.

    The keyword's literal text is kept as written (case included) so the call reads like
    the repo's existing tests: `The cart contains "1" of "Coffee Mug"`.
    """
    parts: list[str] = []
    rest = name
    for match, value in zip(VariableMatches(name, identifiers="$"), args, strict=False):
        parts += [match.before, escape(value)]
        rest = match.after
    return "".join(parts) + rest


def escape_cell(value: str) -> str:
    """One Robot data cell holding exactly `value` (RF's own `escape` plus whitespace rules).

    Step values are untrusted text: without this a `${...}` would be evaluated, two spaces
    would split the cell, and a leading `#` would comment out the rest of the line.
    """
    if value == "":
        return "${EMPTY}"
    cell = escape(value)
    cell = cell.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if cell.startswith("#"):
        cell = "\\" + cell
    cell = re.sub(r" (?= )", "${SPACE}", cell)
    if cell.startswith(" "):
        cell = "${SPACE}" + cell[1:]
    if cell.endswith(" "):
        cell = cell[:-1] + "${SPACE}"
    return cell


def format_call(mapping: StepMapping, *, separator: str = "    ") -> str:
    """The Robot line for a mapping, without indentation.

    - exact/similar: `Given Login As    alice    secret` (the step's BDD prefix kept, RF
      strips it when looking the keyword up); values are escaped, except a repo variable
      the matcher chose for the step's words (`${DEFAULT_PASSWORD}`, see `_argument_cell`);
    - similar to an embedded-argument keyword: the keyword's own text with the values in
      place, `And The cart contains "1" of "Coffee Mug"` (checked at match time to resolve
      back to that keyword with those values);
    - embedded: the step text itself, whitespace collapsed — RF matches it at run time;
    - placeholder: `Log    PLACEHOLDER (jira2robot): no existing keyword for: <step>    WARN`.

    The placeholder passes `robot --dryrun` and the real run, so one unmapped step does not
    hide whether the rest of the generated test works; the WARN level makes it show in the
    log and in RF's console summary, and the caller lists it as an open question in the
    merge request. `Fail` was rejected: the test would be red for a reason the reviewer
    already knows, masking real failures of the mapped steps.
    """
    step = " ".join(mapping.step.split())
    if mapping.how == "placeholder" or mapping.keyword is None:
        return separator.join(["Log", escape_cell(PLACEHOLDER_MESSAGE + step), "WARN"])
    if mapping.how == "embedded":
        return step
    prefix, _ = split_bdd_prefix(step)
    if mapping.how == "similar" and VariableMatches(mapping.keyword, identifiers="$"):
        body = render_embedded(mapping.keyword, mapping.args)
        return f"{prefix} {body}" if prefix else body
    name = f"{prefix} {mapping.keyword}" if prefix else mapping.keyword
    return separator.join([name, *(_argument_cell(a, step) for a in mapping.args)])


def _argument_cell(arg: str, step: str) -> str:
    """A plain `${NAME}` the step's text does not contain came from the repo's variable names
    (`_with_variables`) and is written as the variable; anything else is a value, escaped."""
    return arg if _VARIABLE_ARGUMENT.fullmatch(arg) and arg not in step else escape_cell(arg)
