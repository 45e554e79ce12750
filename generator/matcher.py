"""Map a spec step ("When the user logs in as "alice"") to a keyword the repo already has.

Used by the offline writer (the whole test from mappings), by the LLM writer's keyword lookup
tool, and to pick the slice of the inventory worth a prompt's tokens.

Matching order, strongest first:

1. **exact** — Robot Framework's own rule: BDD prefix (RF's list, `Given/When/Then/And/But`
   in English) stripped, names compared normalised (case, spaces, underscores ignored). The
   step's quoted values and numbers may stand beside the name as its arguments.
2. **embedded** — keywords with embedded arguments, matched with RF's own
   `EmbeddedArguments` machinery; the Robot line is then the step text itself, since RF will
   match it the same way at run time.
3. **similar** — ranked similarity over names and docs (IDF-weighted token overlap with
   light stemming, joined words such as "log in" ~ "login", a difflib ratio on word order,
   a little doc overlap, a bonus for the repo's resources and a penalty for RF's standard
   libraries so `Log` or `Set Variable` never win a business step). Arguments are the step's quoted values
   and numbers, in order; a keyword needing more mandatory arguments than the step gives is
   not a match.
4. **placeholder** — nothing fits. See `format_call` for the line written then.
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
# Values a step passes to a keyword: "double", “curly” or 'single' quoted (a single quote
# inside a word is an apostrophe), and stand-alone numbers.
_VALUE = re.compile(
    r"\"(?P<dq>[^\"]*)\"|“(?P<cq>[^”]*)”|(?<!\w)'(?P<sq>[^']*)'(?!\w)|(?<![\w.,])(?P<num>-?\d+(?:[.,]\d+)?)(?![\w.,])"
)
_CELL_SEPARATOR = re.compile(r"\s{2,}|\t")
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
# Below this a search hit is noise, not worth a prompt's tokens.
_RELEVANT_FLOOR = 0.2
_CANDIDATES = 40  # keywords re-scored precisely per query after the cheap index pass


def split_bdd_prefix(step: str) -> tuple[str, str]:
    """(`Given`, `the rest`) with RF's own prefix rule; ("", step) without a prefix."""
    step = " ".join(step.split())
    match = _BDD_PREFIX.match(step)
    if not match:
        return "", step
    return step[: match.end()].strip(), step[match.end() :].strip()


def step_values(text: str) -> tuple[list[str], list[str]]:
    """(quoted and numeric values in order, quoted values only) of a step's text."""
    values: list[str] = []
    quoted: list[str] = []
    for m in _VALUE.finditer(text):
        if m.group("num") is not None:
            values.append(m.group("num"))
        else:
            value = next(g for g in (m.group("dq"), m.group("cq"), m.group("sq")) if g is not None)
            values.append(value)
            quoted.append(value)
    return values, quoted


def _stem(word: str) -> str:
    """Light stemming: enough to meet "logs/logged/logging" and "creates/created" halfway."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
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


def _content(stems: Sequence[str]) -> list[str]:
    kept = [w for w in stems if w not in _STOPWORDS]
    return kept or list(stems)


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
                    tokens=tuple(dict.fromkeys(_content(_words(literal)))),
                    doc_tokens=frozenset(_content(_words(kw.doc))),
                    mandatory=mandatory,
                    max_positional=max_positional,
                    factor=factor,
                    bonus=bonus,
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

    # ------------------------------------------------------------------ public

    def match(self, step: str) -> StepMapping:
        """The best existing keyword for `step`, or a placeholder mapping (see module doc)."""
        cells = _CELL_SEPARATOR.split(step.strip())
        # Values come from the raw text: a quoted "a  b" keeps both spaces.
        values, quoted = step_values(step)
        _, body = split_bdd_prefix(step)
        step = " ".join(step.split())
        for found in (
            self._exact_cells(cells),
            self._exact(body, values, quoted),
            self._embedded_match(body, step),
        ):
            if found is not None:
                return found.model_copy(update={"step": step})
        bare = _VALUE.sub(" ", body)
        for i, score in self._ranked(bare):
            if score < self.threshold:
                break
            entry = self._entries[i]
            # A same-named twin would be the one RF calls (and `keyword_of` reports).
            if entry.embedded is not None or self._by_name[entry.norm][0] != i:
                continue
            args = self._fit(entry, values, quoted)
            if args is not None:
                return StepMapping(
                    step=step, keyword=entry.keyword.name, args=args, score=round(score, 4), how="similar"
                )
        return StepMapping(step=step, how="placeholder")

    def search(self, query: str, limit: int = 10) -> list[tuple[Keyword, float]]:
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

    def relevant(self, texts: Sequence[str], limit: int = 40) -> list[Keyword]:
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

    def _embedded_hit(self, text: str, *, callable_only: bool) -> tuple[int, EmbeddedArguments] | None:
        """The embedded keyword RF would pick for `text`, if any.

        `callable_only` skips keywords that also need normal arguments, which the step text
        alone cannot give.
        """
        lowered = text.lower()
        hits = [
            (i, embedded)
            for i, embedded in self._embedded
            if lowered.startswith(self._affixes[i][0])
            and lowered.endswith(self._affixes[i][1])
            and not (callable_only and self._entries[i].mandatory)
            and embedded.matches(text)
        ]
        if not hits:
            return None
        best = [hit for hit in hits if not self._worse_than_others(hit, hits)] or hits
        return min(best, key=lambda hit: self._sort_key(hit[0]))

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
        """Keywords scored against `text` (values already removed), best first.

        A cheap pass over the inverted index bounds the work to keywords sharing a word with
        the text; the best `_CANDIDATES` are then scored precisely.
        """
        stems = _words(text)
        content = list(dict.fromkeys(_content(stems)))
        if not content:
            return []
        joined = {a + b: (a, b) for a, b in itertools.pairwise(stems)}
        query_weight = sum(self._weight(t) for t in content)
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
        scored = [(i, self._score(i, content, joined, query_weight)) for _, i in best]
        scored.sort(key=lambda item: (-item[1], self._sort_key(item[0])))
        return scored

    def _score(self, i: int, content: list[str], joined: dict[str, tuple[str, str]], query_weight: float) -> float:
        entry = self._entries[i]
        matched_weight = 0.0
        covered: set[str] = set()
        for name_token in entry.tokens:
            credit = 0.0
            if name_token in content:
                credit = 1.0
                covered.add(name_token)
            elif name_token in joined:
                credit = 1.0
                covered.update(joined[name_token])
            else:
                for token in content:
                    short, long_ = sorted((token, name_token), key=len)
                    if len(short) >= 4 and long_.startswith(short):
                        credit = 0.8
                        covered.add(token)
                        break
            matched_weight += credit * self._weight(name_token)
        precision = matched_weight / self._name_weight[i]
        recall = sum(self._weight(t) for t in content if t in covered) / query_weight
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
      strips it when looking the keyword up);
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
    name = f"{prefix} {mapping.keyword}" if prefix else mapping.keyword
    return separator.join([name, *(escape_cell(a) for a in mapping.args)])
