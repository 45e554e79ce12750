"""A step's values onto a keyword's arguments: which value goes to which argument, by the
cue words next to the value and the argument's name, and which repo variables the step's
words name (see generator/retrieval/matcher.py's module documentation)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from robot.running.arguments.embedded import EmbeddedArguments
from robot.utils import normalize
from robot.variables import VariableMatches

from generator.retrieval.render import VARIABLE_ARGUMENT
from generator.retrieval.words import (
    NUMBER,
    PARENTHETICAL,
    STOPWORDS,
    WORD,
    stem_of,
    stems_of,
    value_matches,
    value_text,
)

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


def arity(args: Sequence[str]) -> tuple[int, int | None]:
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


ROLE_OF = {stem_of(word): role for role, words in _ROLE_WORDS.items() for word in words}
# Nouns after which a step may mean one of the repo's variables ("the correct password").
# A short, fixed list: a variable is test data the repo chose, and guessing one for any noun
# would put values in places the ticket never asked for.
_VARIABLE_CUES = frozenset(
    stem_of(word) for word in ("password", "passwd", "pwd", "card", "url", "user", "username", "email", "product")
)
# Words saying "the usual one": "the correct password" is the repo's `${DEFAULT_PASSWORD}`.
_DEFAULT_WORDS = frozenset(
    stem_of(word) for word in ("default", "correct", "valid", "right", "usual", "standard", "proper")
)
_MAX_MODIFIERS = 2  # words before the cue noun read as naming the variable ("the shop admin url")
# Not passing a variable the step mentions costs little: the keyword may use it by default.
_VARIABLE_DROP_COST = 0.1


@dataclass(frozen=True)
class Value:
    """A value of a step with what the words around it say it is."""

    text: str
    quoted: bool
    numeric: bool
    role: str | None  # from the cue: "user", "message", "place"...; None when nothing says
    cues: frozenset[str]  # the stemmed cue words, matched against argument names directly
    position: int  # index among the step's words and values, for word-order checks
    variable: bool = False  # one of the repo's variables the words name, not text of the step


@dataclass(frozen=True)
class StepText:
    """A step body split into its values and its (stemmed) words, with their positions."""

    values: tuple[Value, ...]
    words: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Param:
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
        stem = stem_of(word)
        return ROLE_OF.get(stem), frozenset({stem})
    return None, frozenset()


def _is_word(text: str, m: re.Match[str]) -> bool:
    """Whether a bare ALL-CAPS match is a word of the sentence rather than a value.

    "an HTTP GET request" names a protocol and a method: passing `HTTP` as the URL passes the
    dryrun and fails at run time. A capitalised word is a value only when it reads as a code
    (`WELCOME10`, `PAYMENT_FAILED`) or a role word names it ("the status CANCELLED").
    """
    caps = m.group("caps")
    if caps is None or re.search(r"[\d_-]", caps):
        return False
    role, _ = _left_cue([w.lower() for w in WORD.findall(text[: m.start()])])
    return role is None


def analyse(body: str) -> StepText:
    """The step's values in order, each with the role its neighbouring words give it."""
    text = PARENTHETICAL.sub(" ", body)
    matches = [m for m in value_matches(text) if not _is_word(text, m)]
    values: list[Value] = []
    words: list[tuple[int, str]] = []
    for n, m in enumerate([*matches, None]):
        before = text[matches[n - 1].end() if n else 0 : m.start() if m else len(text)]
        gap = [w.lower() for w in WORD.findall(before)]
        start = len(words) + len(values)
        words += [(start + k, stem_of(w)) for k, w in enumerate(gap)]
        if m is None:
            break
        after = text[m.end() : matches[n + 1].start() if n + 1 < len(matches) else len(text)]
        value = value_text(m)
        numeric = bool(NUMBER.fullmatch(value))
        role, cues = _left_cue(gap)
        following = WORD.findall(after)[:1]
        if numeric and following:
            # "3 times", "2 items": a unit after a number says more than the word before it.
            unit = stem_of(following[0])
            if ROLE_OF.get(unit) in _NUMERIC_ROLES:
                role, cues = ROLE_OF[unit], cues | {unit}
        quoted = m.group("num") is None and m.group("caps") is None
        position = len(words) + len(values)
        values.append(Value(value, quoted, numeric, role, cues, position))
    return StepText(values=tuple(values), words=tuple(words))


def slots_of(name: str, embedded: EmbeddedArguments | None) -> tuple[tuple[str, int], ...]:
    """The content words of an embedded name, each with how many arguments come before it."""
    if embedded is None:
        return ()
    matches = list(VariableMatches(name, identifiers="$"))
    segments = [m.before for m in matches] + [matches[-1].after] if matches else [name]
    return tuple((stem, k) for k, segment in enumerate(segments) for stem in stems_of(segment) if stem not in STOPWORDS)


def _same_word(a: str, b: str) -> bool:
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and long_.startswith(short))


def placed_well(slots: Sequence[tuple[str, int]], step: StepText, chosen: Sequence[int]) -> bool:
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


def _param(name: str, mandatory: bool, default: str | None = None) -> Param:
    stems = stems_of(name)
    role = next((ROLE_OF[s] for s in stems if s in ROLE_OF), None)
    return Param(stems=frozenset(stems), role=role, mandatory=mandatory, default=default)


def params_of(args: Sequence[str], embedded: EmbeddedArguments | None) -> tuple[Param, ...]:
    """Embedded arguments (all mandatory), else the positional ones before any `@{...}`.

    A keyword whose only positional argument is `@{args}` (a library decorator that hid the
    signature: `GET On Session    *args    **kwargs`) takes the step's values in order, each
    optional: its documentation, not its signature, says what they are.
    """
    if embedded is not None:
        return tuple(_param(name, True) for name in embedded.args)
    if args and args[0].startswith("@{"):
        return tuple(_param(args[0][2:-1], False) for _ in range(_MAX_VALUES))
    params = []
    for arg in args:
        if arg.startswith(("@{", "&{")):
            break
        name, _, rest = arg[2:].partition("}")
        default = normalize(rest[1:], ignore="_") if rest.startswith("=") else None
        params.append(_param(name, "=" not in arg, default))
    return tuple(params)


def _affinity(value: Value, param: Param) -> float | None:
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


def _drop_cost(value: Value) -> float | None:
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
class Assignment:
    args: tuple[str, ...]
    quality: float  # sum of affinities, +0.3 when in the step's order, minus drop costs
    dropped: int  # values of the step's own text left out (repo variables not counted)


def assign(
    params: Sequence[Param], values: Sequence[Value], placed: Callable[[Sequence[int]], bool] | None = None
) -> Assignment | None:
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
    return Assignment(args=tuple(values[v].text for v in chosen), quality=best[0], dropped=dropped)


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


class RepoVariables:
    """The repo's variables a step's words may name ("the correct password"), by cue noun."""

    def __init__(self, variable_names: Sequence[str]):
        # Cue noun -> (variable, its other name words). Plain scalars only: a list is not one
        # value, and `format_call` writes unescaped only what `VARIABLE_ARGUMENT` accepts.
        self._by_cue: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for name in sorted(set(variable_names)):
            if not VARIABLE_ARGUMENT.fullmatch(name):
                continue
            stems = stems_of(name[2:-1])
            heads = [stem for stem in stems if stem in _VARIABLE_CUES]
            if heads:  # the last cue is the noun: `USER_PASSWORD` is a password
                self._by_cue[heads[-1]].append((name, frozenset(s for s in stems if s != heads[-1])))

    def named_in(self, text: StepText) -> StepText:
        """The step's values plus the repo variables its words name (see the module doc)."""
        if not self._by_cue:
            return text
        at = dict(text.words)
        taken = {value.position for value in text.values}
        found: list[Value] = []
        for position, stem in text.words:
            if stem not in self._by_cue or position + 1 in taken:
                continue  # no cue, or the step gives the value itself: "password "x""
            modifiers: list[str] = []
            before = position - 1
            while before in at and at[before] not in STOPWORDS and len(modifiers) < _MAX_MODIFIERS:
                modifiers.append(at[before])
                before -= 1
            fits: dict[int, list[str]] = defaultdict(list)
            for name, rest in self._by_cue[stem]:
                fit = _variable_fit(frozenset(modifiers), rest)
                if fit is not None:
                    fits[fit].append(name)
            best = fits.get(2) or fits.get(1) or []
            if len(best) == 1:
                role, cues = ROLE_OF.get(stem), frozenset({stem})
                found.append(Value(best[0], False, False, role, cues, position, variable=True))
        if not found:
            return text
        return StepText(values=tuple(sorted([*text.values, *found], key=lambda v: v.position)), words=text.words)
