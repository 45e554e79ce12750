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
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from robot.utils import normalize

from generator.models import Keyword, KeywordInventory, StepMapping
from generator.retrieval.arguments import Assignment, RepoVariables, StepText, analyse, assign, placed_well
from generator.retrieval.names import Entry, KeywordIndex, Query
from generator.retrieval.render import embeddable, render_embedded, unsafe_as_keyword_cell
from generator.retrieval.words import (
    BDD_PREFIX,
    CELL_SEPARATOR,
    VALUE,
    bdd_phase,
    is_check,
    phase_fit,
    split_bdd_prefix,
    stems_of,
    step_values,
    without_values,
)

# Subtracted when choosing among keywords above the threshold: a library keyword wins only
# when no resource keyword comes close, since the repo's resources are the layer suites call
# (and usually wrap the library: `The order has been shipped` around `Ship Order`).
_LIBRARY_PENALTY = 0.25
# Weights of the tie-breakers among candidates above the threshold: how literally the
# keyword's words (stopwords included) follow the step's, and how well the step's values fit
# the keyword's arguments (`Assignment.quality`, about -1 to 3).
_LITERAL_WEIGHT = 0.1
_ARGUMENT_WEIGHT = 0.05
# A `Then` step checks, a `Given` step sets up: "Then the cart contains 2 "Mug"" is
# `Cart Should Contain`, "Given the cart contains 2 "Mug"" the precondition keyword.
_PHASE_WEIGHT = 0.1
# Below this a search hit is noise, not worth a prompt's tokens.
_RELEVANT_FLOOR = 0.2
# A wrapper must resemble the step or the library keyword it wraps: it is chosen for what it
# calls, but a keyword about something else entirely (`The user "${user}" has a placed order`,
# two levels above `Put In Cart`) would take the values only because nothing forbids it.
_WRAPPER_FLOOR = _RELEVANT_FLOOR
# Weight, among wrappers, of resembling the wrapped keyword's name and doc: `Add "${quantity}"
# Of "${product}" To Cart` says what `Put In Cart` does ("Adds ``quantity`` units..."), the
# precondition `The cart contains ...` around the same call says something else.
_KIN_WEIGHT = 1.0
# A whole value in quotes, as a ticket writes it: "/orders", “Coffee Mug”.
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”')
# Per extra level between the wrapper and the library keyword: the direct wrapper is closer.
_WRAPPER_DEPTH_PENALTY = 0.05


class KeywordMatcher(KeywordIndex):
    """Matches steps against one inventory; build once, call `match` per step."""

    def __init__(self, inventory: KeywordInventory, *, threshold: float = 0.55):
        super().__init__(inventory)
        self.threshold = threshold
        self._variables = RepoVariables(inventory.variable_names)

    # ------------------------------------------------------------------ public

    def match(self, step: str, *, phase: str | None = None) -> StepMapping:
        """The best existing keyword for `step`, or a placeholder mapping (see module doc).

        `phase` (`given`/`when`/`then`) is the phase an `And`/`But` step continues; a step's
        own `Given`/`When`/`Then` prefix takes precedence. See `match_case`.
        """
        cells = CELL_SEPARATOR.split(step.strip())
        # Values come from the raw text: a quoted "a  b" keeps both spaces.
        values, quoted = step_values(step)
        prefix = BDD_PREFIX.match(step.strip())
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
        similar = self._similar(step, body, self._variables.named_in(analyse(raw_body)), bdd_phase(step) or phase)
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
        for i, score in self._ranked(VALUE.sub(" ", body), keep_embedded=True):
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

    def call_for(self, keyword: Keyword, step: str, phase: str | None = None) -> StepMapping | None:
        """A call of `keyword` for `step` when the step's values fill its arguments, else None.

        For a keyword chosen by other means than its name's resemblance (retrieval's ranking
        of docs and usage), so the placement of values in the name is not checked.
        """
        prefix = BDD_PREFIX.match(step.strip())
        raw_body = step.strip()[prefix.end() :].strip() if prefix else step.strip()
        _, body = split_bdd_prefix(step)
        words = stems_of(without_values(body))
        # The words around a value named it for name matching ("status "200""); here the
        # keyword was chosen for its meaning, so its arguments take the values in order, and
        # when the step quotes its values, an unquoted `HTTP` is a word, not a value.
        analysed = analyse(raw_body)
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
            for i in self._by_name.get(normalize(VALUE.sub(" ", body), ignore="_"), []):
                args = self._fit(self._entries[i], values, values)
                if args is not None:
                    kw = self._entries[i].keyword
                    return StepMapping(step=body, keyword=kw.name, args=args, score=1.0, how="exact")
        return None

    def _embedded_match(self, body: str, step: str) -> StepMapping | None:
        """RF tries the name without its BDD prefix first, then the full text.

        A ticket quotes its values ("a GET request to "/orders""), a template such as
        `A GET request to ${uri}` does not: RF would pass the quotes as part of the value.
        Then the step's words fill the template with the quotes taken off, and the call is
        the keyword's own text with those values (`_renders_back` proves RF reads it back).
        """
        if unsafe_as_keyword_cell(step):
            return None
        for text in dict.fromkeys((body, step)):
            hit = self._embedded_hit(text, callable_only=True)
            if hit is not None:
                i, embedded = hit
                args = list(embedded.parse_args(text))
                kw = self._entries[i].keyword
                if not any(_QUOTED.fullmatch(a) for a in args):
                    return StepMapping(step=step, keyword=kw.name, args=args, score=1.0, how="embedded")
        bare = _QUOTED.sub(lambda m: m.group(0)[1:-1], body)
        hit = self._embedded_hit(bare, callable_only=True) if bare != body else None
        if hit is not None:
            i, embedded = hit
            args = list(embedded.parse_args(bare))
            if self._renders_back(i, args):
                return StepMapping(
                    step=step, keyword=self._entries[i].keyword.name, args=args, score=1.0, how="similar"
                )
        return None

    def _similar(self, step: str, body: str, text: StepText, phase: str | None) -> StepMapping | None:
        """The best keyword above the threshold whose arguments the step's values fill.

        Similarity decides who is in; among those, the final choice also weighs how literally
        the name follows the step, how well the values fit the arguments and the phase, minus
        a penalty for library keywords, so `Account "${user}" Should Be Locked` beats the
        library's `Is Account Locked` it wraps, and the precondition `The cart contains
        "${quantity}" of "${product}"` beats the check `Cart Should Contain` for "Given the
        cart contains 1 "Mug"" (and loses to it after a `Then`). A library keyword that still
        wins gives way to a resource keyword wrapping it (`_wrapper_call`).
        """
        bare = without_values(body)
        query = self._query(bare)
        if query is None:
            return None
        words = stems_of(bare)
        candidates: list[tuple[float, tuple[str, str, str], int, Assignment, float]] = []
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
        self, i: int, score: float, words: list[str], text: StepText, phase: str | None, *, check_placement: bool
    ) -> tuple[float, Assignment] | None:
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
        if phase == "given" and is_check(entry.literal):
            return None  # a `Given` sets state up: a check there would fail, not arrange
        placed = partial(placed_well, entry.slots, text) if entry.embedded is not None and check_placement else None
        assignment = assign(entry.params, text.values, placed)
        if assignment is None:
            return None
        if entry.embedded is not None and not self._renders_back(i, assignment.args):
            return None
        literal = difflib.SequenceMatcher(None, words, entry.literal, autojunk=False).ratio()
        final = (
            score
            + _LITERAL_WEIGHT * literal
            + _ARGUMENT_WEIGHT * assignment.quality
            + _PHASE_WEIGHT * phase_fit(phase, entry.literal)
        )
        if entry.keyword.owner_kind == "library":
            final -= _LIBRARY_PENALTY
        return final, assignment

    def _wrapper_call(
        self,
        library: int,
        library_call: Assignment,
        words: list[str],
        text: StepText,
        phase: str | None,
        query: Query,
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
        asserts = is_check(self._entries[library].literal)
        options: list[tuple[float, tuple[str, str, str], int, tuple[str, ...]]] = []
        for w, depth in self._wrappers(library):
            entry = self._entries[w]
            if is_check(entry.literal) != asserts:
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

    def _renders_back(self, i: int, args: Sequence[str]) -> bool:
        """Whether the call written for embedded keyword `i` with `args` is what RF resolves.

        RF looks the name up without its BDD prefix first, so the rendered name alone must be
        one safe cell, resolve to this keyword only (not to a normal keyword of that name, nor
        to a more specific or equally good embedded one) and give back exactly these values.
        """
        if not all(embeddable(a) for a in args):
            return False
        body = render_embedded(self._entries[i].keyword.name, args)
        if unsafe_as_keyword_cell(body) or normalize(body, ignore="_") in self._by_name:
            return False
        if [hit[0] for hit in self._embedded_best(body, callable_only=False)] != [i]:
            return False
        embedded = self._entries[i].embedded
        return embedded is not None and list(embedded.parse_args(body)) == list(args)

    def _fit(self, entry: Entry, values: list[str], quoted: list[str]) -> list[str] | None:
        """The step's values as positional arguments, or None when they cannot fit.

        Numbers are often incidental ("page 2"), so when all values are too many, the quoted
        ones alone are tried before giving up; values are never silently dropped otherwise.
        """
        for candidate in (values, quoted):
            fits_max = entry.max_positional is None or len(candidate) <= entry.max_positional
            if entry.mandatory <= len(candidate) and fits_max:
                return list(candidate)
        return None
