"""The inventory's keywords indexed by name: RF's name resolution and a similarity score.

`KeywordIndex` resolves a call the way Robot Framework does (normalised names, embedded
arguments, `Owner.Name`), knows which resource keywords wrap which, and scores keyword
names against free text (IDF-weighted token overlap with light stemming, joined words,
word order, a little doc overlap). `KeywordMatcher` builds the step matching on it.
"""

from __future__ import annotations

import difflib
import heapq
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from robot.errors import DataError
from robot.libraries import STDLIBS
from robot.running.arguments.embedded import EmbeddedArguments
from robot.utils import normalize
from robot.variables import VariableMatches

from generator.models import Keyword, KeywordInventory, StepMapping
from generator.retrieval.arguments import Param, arity, params_of, slots_of
from generator.retrieval.words import content_of, forms_of, split_bdd_prefix, stems_of
from generator.validate.trust import never_a_step

_STD_LIBRARY_FACTOR = 0.8
# BuiltIn's best possible similarity (0.5) stays under the default threshold: `Log` or
# `Set Variable` are reached only by their exact name, never by resemblance to a business step.
_BUILTIN_FACTOR = 0.5
_RESOURCE_BONUS = 0.05
_CANDIDATES = 40  # keywords re-scored precisely per query after the cheap index pass
_FORM_CREDIT = 0.5  # a word matched in another form: "logs" for "Logged" (see `forms_of`)


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
class Entry:
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
    params: tuple[Param, ...]  # what a step's values can fill: embedded, else positional
    slots: tuple[tuple[str, int], ...]  # embedded only: content words and their segment
    participles: frozenset[str]  # stems the name writes as "-ed" participles
    getter: bool  # only returns a value: never a step by resemblance (`_is_getter`)


def _is_getter(keyword: Keyword) -> bool:
    """A keyword that only returns a value (`Get Cart Total`, `Is Account Locked`).

    As a step on its own it neither does nor checks anything, so "the cart total is 35.98"
    must never become `Get Cart Total`: such keywords are left to exact-name calls. A first
    word in capitals is an HTTP method, not the verb: `GET On Session` sends a request.
    """
    first = keyword.name.split(" ", 1)[0]
    if first.isupper():
        return False
    return first.lower() in ("get", "is", "has", "fetch") or keyword.doc.lower().startswith(("returns ", "gets "))


@dataclass(frozen=True)
class Query:
    """A text's words as `_score` compares them with keyword names."""

    content: list[str]
    joined: dict[str, tuple[str, str]]  # "login" -> ("log", "in"): adjacent words written as one
    forms: tuple[frozenset[str], frozenset[str]]
    weight: float


class KeywordIndex:
    """The inventory's keywords by name; build once per run.

    All per-keyword work (normalised names, tokens, embedded patterns, inverted index, IDF)
    happens in the constructor so thousands of keywords times hundreds of steps stays far
    below a second. Results are deterministic: ties are broken by keyword name, then owner.
    """

    def __init__(self, inventory: KeywordInventory):
        self._entries: list[Entry] = []
        by_name: dict[str, list[int]] = defaultdict(list)
        self._embedded: list[tuple[int, EmbeddedArguments]] = []
        self._affixes: dict[int, tuple[str, str]] = {}
        importable = set(inventory.resources)
        forbidden = never_a_step()
        for kw in inventory.keywords:
            if kw.owner_kind == "resource" and kw.owner.endswith(".robot") and kw.owner not in importable:
                continue  # a suite's own keywords: no other file can import them
            if kw.owner == "BuiltIn" and normalize(kw.name, ignore="_") in forbidden:
                continue  # imports, run-keyword variants, Evaluate, Set Variable: text would become code
            embedded = _embedded(kw.name) if kw.embedded or "${" in kw.name else None
            literal = _name_text(kw.name, embedded)
            words = stems_of(literal)
            mandatory, max_positional = arity(kw.args)
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
                Entry(
                    keyword=kw,
                    norm=normalize(kw.name, ignore="_"),
                    embedded=embedded,
                    tokens=tuple(dict.fromkeys(content_of(words))),
                    doc_tokens=frozenset(content_of(stems_of(kw.doc))),
                    mandatory=mandatory,
                    max_positional=max_positional,
                    factor=factor,
                    bonus=bonus,
                    literal=tuple(words),
                    params=params_of(kw.args, embedded),
                    slots=slots_of(kw.name, embedded),
                    participles=forms_of(literal)[0],
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

    def embedded_args(self, call: str) -> list[str]:
        """The values RF passes to the embedded-argument keyword `call` resolves to, or []."""
        kw = self.lookup(call)
        embedded = _embedded(kw.name) if kw is not None and "${" in kw.name else None
        if embedded is None:
            return []
        call = " ".join(call.split())
        _, body = split_bdd_prefix(call)
        return list(embedded.parse_args(body if embedded.matches(body) else call))

    def keyword_of(self, mapping: StepMapping) -> Keyword | None:
        """The inventory keyword a mapping calls, for its owner (the import the test needs).

        When several share the name, RF's preference applies: a resource before a library.
        """
        if mapping.keyword is None:
            return None
        ids = self._ids_named(mapping.keyword)
        return self._entries[ids[0]].keyword if ids else None

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

    def _query(self, text: str) -> Query | None:
        stems = stems_of(text)
        content = list(dict.fromkeys(content_of(stems)))
        if not content:
            return None
        joined = {a + b: (a, b) for a, b in itertools.pairwise(stems)}
        return Query(content, joined, forms_of(text), sum(self._weight(t) for t in content))

    def _rank(self, query: Query, *, keep_embedded: bool) -> list[tuple[int, float]]:
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

    def _score(self, i: int, query: Query) -> float:
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
