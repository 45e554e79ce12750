"""Ranking the repo's keywords for a spec's steps.

The matcher (generator/retrieval/matcher.py) decides whether a step *is* a keyword: names, values,
arguments. Ranking decides which keywords are worth *offering* for a step, which a paraphrase
("the HTTP status of the reply is "200"") defeats when only names are compared. So keywords
are ranked by BM25 (rank_bm25, measured against the matcher's own name index on
bench/bench_retrieval.py) over their names, argument names and documentation, then weighed by
how the repo's tests use them:

- usage: keywords the tests of the target folder call, then the repo's, before unused ones;
- area: a keyword whose file or library the target folder's tests never touch (a browser
  library in an API folder) counts half;
- wrappers: a library keyword some resource keyword wraps counts less than the wrapper;
- deprecated keywords (libdoc's `*DEPRECATED` doc prefix) are never offered.
"""

from __future__ import annotations

import itertools
import math
import posixpath
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from robot.utils import normalize

from generator.gather.corpus import CaseDoc, SuiteDoc, bm25
from generator.models import Keyword, KeywordInventory, StepMapping
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import VARIABLE_ARGUMENT
from generator.retrieval.synonyms import expand, synonyms_of
from generator.retrieval.words import bdd_phase, content_words, split_bdd_prefix

if TYPE_CHECKING:  # the suite index imports retrieval for its examples
    from generator.gather.repo import SuiteInfo

#: Weights of the usage signals against the lexical score (normalised to 1 per step).
_AREA_USAGE = 0.5
_REPO_USAGE = 0.2
_FOREIGN_AREA = 0.5  # factor for a keyword whose owner the area's tests never use
_WRAPPED = 0.6  # factor for a library keyword a repo resource keyword wraps
_BUILTIN = 0.5
#: Weight of a step word's synonyms (generator/retrieval/synonyms.py) against the word itself.
_SYNONYM = 0.5
#: Per step, keywords offered: the best, and the next ones scoring at least this share of it.
_PER_STEP = 3
_CLOSE = 0.6
#: Keywords a step looks through for one not offered yet, when its best is another step's best.
_WIDER = 10
#: Keywords added to the writer's list for co-occurring in the area's tests with the chosen ones.
_COMPANIONS = 3
#: Share of a step's words a ranked keyword's text must hold for the offline writer to call it.
_COVERED = 0.3


def is_deprecated(keyword: Keyword) -> bool:
    """Libdoc's rule: a keyword is deprecated when its documentation starts with `*DEPRECATED`."""
    return keyword.doc.lstrip().upper().startswith("*DEPRECATED")


def _key(name: str) -> str:
    return normalize(name, ignore="_")


class Retriever(KeywordMatcher):
    """A `KeywordMatcher` whose offers (`relevant`, `search`) and offline mapping use ranking.

    A subclass so every consumer of the matcher (LLM writer, lookup tool, offline writer) gets
    the same ranking through the same calls; `area` is the target file's folder.
    """

    def __init__(self, inventory: KeywordInventory, suites: Sequence[SuiteInfo] = (), **kwargs: float):
        super().__init__(inventory, **kwargs)
        self.docs: list[SuiteDoc] = [s.doc for s in suites if s.test_names and s.doc is not None]
        self._ranked_ids = [i for i, e in enumerate(self._entries) if not is_deprecated(e.keyword)]
        corpus: list[list[str]] = []
        for i in self._ranked_ids:
            kw = self._entries[i].keyword
            args = " ".join(a.split("=")[0].strip("${}@&") for a in kw.args)
            # The name counts twice: it is what a human reads first.
            corpus.append(content_words(f"{kw.name} {kw.name} {args} {kw.doc}") or ["_"])
        self._bm25 = bm25(corpus) if corpus else None
        self._terms = {
            (self._entries[i].keyword.owner, self._entries[i].keyword.name): frozenset(doc)
            for i, doc in zip(self._ranked_ids, corpus, strict=True)
        }
        wrapped = {_key(call) for e in self._entries if e.keyword.owner_kind == "resource" for call in e.keyword.calls}
        self._wrapped = {i for i in self._ranked_ids if self._entries[i].norm in wrapped}
        self._wrapped_names = {self._entries[i].keyword.name for i in self._wrapped}
        self._cases = [case for doc in self.docs for case in (*doc.cases, *doc.local)]
        self._area_cache: dict[str, list[CaseDoc]] = {}
        self._usage_cache: dict[str, Counter[str]] = {}
        self._resolved: dict[str, str] = {}
        self._total = Counter(self._called(call) for case in self._cases for call in case.calls)
        self._owners_by_folder: dict[str, set[str]] = {}

    # ---------------------------------------------------------------- signals

    def _called(self, call: str) -> str:
        """The normalised name of the keyword a test's call runs, as Robot Framework resolves it.

        `Then welcome page should be open` (a BDD prefix) and `User "demo" logs in` (embedded
        arguments) are calls of `Welcome Page Should Be Open` and `User "${name}" logs in`:
        counted under the call's own text, Gherkin-style suites would show no usage at all.
        """
        if call not in self._resolved:
            kw = self.lookup(call)
            self._resolved[call] = _key(kw.name if kw is not None else call)
        return self._resolved[call]

    def _area_cases(self, area: str | None) -> list[CaseDoc]:
        """The tests of `area` (and below), else of its nearest ancestor holding tests."""
        folder = area or ""
        if folder not in self._area_cache:
            probe: str | None = folder
            found: list[CaseDoc] = []
            while probe is not None and not found:
                found = [c for c in self._cases if not probe or c.folder == probe or c.folder.startswith(probe + "/")]
                probe = posixpath.dirname(probe) if probe else None
            self._area_cache[folder] = found
        return self._area_cache[folder]

    def _area_usage(self, area: str | None) -> Counter[str]:
        """Calls per keyword in the area's tests, counted once per area (every step asks)."""
        folder = area or ""
        if folder not in self._usage_cache:
            self._usage_cache[folder] = Counter(
                self._called(call) for case in self._area_cases(area) for call in case.calls
            )
        return self._usage_cache[folder]

    def _area_owners(self, area: str | None, usage: Counter[str]) -> set[str]:
        key = area or ""
        if key not in self._owners_by_folder:
            owners = set()
            for name in usage:
                kw = self.lookup(name)
                if kw is not None:
                    owners.add(kw.owner)
                    owners.update(self._callee_owners(kw))
            self._owners_by_folder[key] = owners
        return self._owners_by_folder[key]

    def _callee_owners(self, kw: Keyword) -> set[str]:
        """Owners of what a resource keyword calls: a folder calling wrappers uses their library."""
        return {callee.owner for call in kw.calls if (callee := self.lookup(call)) is not None}

    def rank(self, step: str, *, area: str | None = None, limit: int = 10) -> list[tuple[Keyword, float]]:
        """Keywords for one step, best first, with scores in [0, ~1.7]; never a deprecated one."""
        terms = content_words(step)
        if self._bm25 is None or not terms:
            return []
        raw = self._bm25.get_scores(terms)
        if extra := expand(terms):
            raw = raw + _SYNONYM * self._bm25.get_scores(extra)
        top = max(raw) if len(raw) else 0.0
        if top <= 0:
            return []
        usage = self._area_usage(area)
        total = self._total
        area_max, total_max = max(usage.values(), default=0), max(total.values(), default=0)
        owners = self._area_owners(area, usage) if usage else set()
        scored = []
        for pos, i in enumerate(self._ranked_ids):
            if raw[pos] <= 0:
                continue
            entry = self._entries[i]
            score = raw[pos] / top
            if area_max:
                score += _AREA_USAGE * math.log1p(usage[entry.norm]) / math.log1p(area_max) * score
            if total_max:
                score += _REPO_USAGE * math.log1p(total[entry.norm]) / math.log1p(total_max) * score
            if owners and entry.keyword.owner not in owners:
                score *= _FOREIGN_AREA
            if i in self._wrapped and entry.keyword.owner_kind == "library":
                score *= _WRAPPED
            if entry.keyword.owner == "BuiltIn":
                score *= _BUILTIN
            scored.append((score, self._sort_key(i), i))
        scored.sort()
        scored.sort(key=lambda s: -s[0])
        return [(self._entries[i].keyword, round(float(score), 4)) for score, _, i in scored[:limit]]

    def covers(self, keyword: Keyword, step: str) -> bool:
        """Whether the keyword's name, arguments and doc hold most of the step's words.

        Ranking is relative (the best of a step scores 1); this is the absolute test a
        keyword must pass before the offline writer calls it instead of leaving a gap. A step
        word counts when the keyword holds it or one of its synonyms ("removes" for `Delete`).
        """
        terms = set(content_words(step))
        known = self._terms.get((keyword.owner, keyword.name), frozenset())
        held = [t for t in terms if t in known or synonyms_of(t) & known]
        return bool(terms) and len(held) / len(terms) >= _COVERED

    # ---------------------------------------------------------------- the matcher's offers

    def search(self, query: str, limit: int = 10, *, area: str | None = None) -> list[tuple[Keyword, float]]:
        """The lookup tool's answer: exact names first (the matcher's), then the ranking."""
        exact = [(kw, s) for kw, s in super().search(query, limit) if s >= 1.0 and not is_deprecated(kw)]
        seen = {(kw.owner, kw.name) for kw, _ in exact}
        ranked = [(kw, s) for kw, s in self.rank(query, area=area, limit=limit) if (kw.owner, kw.name) not in seen]
        return (exact + ranked)[:limit]

    def relevant(self, texts: Sequence[str], limit: int = 40, *, area: str | None = None) -> list[Keyword]:
        """Per step, the keyword it maps to and the few ranked closest to the best: a short list."""
        chosen: dict[tuple[str, str], Keyword] = {}
        claimed: set[tuple[str, str]] = set()  # the best of a step so far
        for text, mapping in zip(texts, self.match_case(texts, area=area), strict=True):
            kw = self.keyword_of(mapping)
            if kw is not None:
                chosen.setdefault((kw.owner, kw.name), kw)
            # Robot Framework's own BuiltIn keywords are known to any writer and never imported:
            # offered only when a step maps to one, they would crowd out the repo's.
            ranked = [(k, s) for k, s in self.rank(text, area=area, limit=_WIDER) if k.owner != "BuiltIn"]
            for kw, score in ranked[:_PER_STEP]:
                if score >= _CLOSE * ranked[0][1]:
                    chosen.setdefault((kw.owner, kw.name), kw)
            if ranked and (ranked[0][0].owner, ranked[0][0].name) in claimed:
                # Another step's best is this one's too: one of them is misread, so this step
                # also offers its best keyword not offered yet (usage cannot rank a keyword no
                # test calls yet: `Welcome Page Should Be Open` when only failed logins exist).
                new = next((kw for kw, _ in ranked if (kw.owner, kw.name) not in chosen), None)
                if new is not None:
                    chosen[(new.owner, new.name)] = new
            claimed.update((kw.owner, kw.name) for kw, _ in ranked[:1])
        for kw in self._companions(list(chosen.values()), area):
            chosen.setdefault((kw.owner, kw.name), kw)
        return list(chosen.values())[:limit]

    def _companions(self, chosen: list[Keyword], area: str | None) -> list[Keyword]:
        """Keywords the area's tests call alongside most of the chosen ones.

        Co-occurrence bridges what words cannot: "the user confirms the login form" shares no
        word with `Submit Credentials`, but every test calling `Input Password` calls it too.
        """
        names = {_key(kw.name) for kw in chosen}
        peers = [case for case in self._area_cases(area) if len(names & {self._called(c) for c in case.calls}) >= 2]
        counts = Counter(k for case in peers for k in {self._called(c) for c in case.calls} - names)
        found = []
        for name, count in counts.most_common(_COMPANIONS):
            kw = self.lookup(name) if count * 2 >= len(peers) else None
            if kw is not None and not is_deprecated(kw) and kw.owner != "BuiltIn":
                found.append(kw)
        return found

    def match_case(self, steps: Sequence[str], *, area: str | None = None) -> list[StepMapping]:
        """The matcher's mapping, unless the ranking knows better what the step means.

        Exact and embedded matches stand, and so does a similar match to one of the repo's own
        keywords that the ranking also puts among the step's best. Then the keyword the area's
        tests usually call right after the previous step's (`_successor`), when the step's
        words point to it too. Otherwise the best ranked keyword wins when the step's values fill its
        arguments and its text covers the step (`covers`); a library keyword only when the
        repo's tests call it directly, so the repo's wrapper is called, as a human would. A
        deprecated keyword is never called.
        """
        mappings = super().match_case(steps)
        phase: str | None = None
        out: list[StepMapping] = []
        for step, mapping in zip(steps, mappings, strict=True):
            phase = bdd_phase(step) or phase
            kw = self.keyword_of(mapping)
            if mapping.how in ("exact", "embedded") and kw is not None and not is_deprecated(kw):
                out.append(mapping)
                continue
            ranked = [k for k, _ in self.rank(step, area=area, limit=_PER_STEP)]
            own = kw is not None and kw.owner_kind == "resource" and not is_deprecated(kw)
            if own and kw in ranked:
                out.append(mapping)
                continue
            nxt = self._successor(self.keyword_of(out[-1]) if out else None, area)
            if nxt is not None and nxt != kw and (nxt in ranked or self.covers(nxt, step)):
                fitted = self.call_for(nxt, step, phase)
                if fitted is not None:
                    out.append(fitted)
                    continue
            best = ranked[0] if ranked else None
            usable = best is not None and (best.owner_kind == "resource" or self._total[_key(best.name)] > 0)
            fitted = None
            if usable and self.covers(best, step):
                fitted = self._call_as_usual(best, step, phase, area) or self.call_for(best, step, phase)
            if fitted is None and (
                own or (kw is not None and not is_deprecated(kw) and kw.name not in self._wrapped_names)
            ):
                fitted = mapping
            out.append(fitted or StepMapping(step=mapping.step))
        return out

    def _call_as_usual(self, keyword: Keyword, step: str, phase: str | None, area: str | None) -> StepMapping | None:
        """A call whose first argument is the variable the area's tests pass it in most calls.

        A ticket says "a DELETE request on the session "/anything"", never which session: the
        tests say it, `DELETE On Session    ${GLOBAL_SESSION}    /anything` in most calls.
        Only a plain variable is taken (a test's literal value is its own data), and only when
        the step's values fill the rest without passing more than the tests' calls usually do
        (a step naming its own session "crtsession" keeps it).
        """
        calls = [
            args
            for case in self._area_cases(area)
            for call, args in zip(case.calls, case.args, strict=False)
            if args and self._called(call) == _key(keyword.name)
        ]
        if not calls:
            return None
        usual, count = Counter(args[0] for args in calls).most_common(1)[0]
        if count * 2 < len(calls) or not VARIABLE_ARGUMENT.fullmatch(usual):
            return None
        most = max(len(args) for args in calls if args[0] == usual)
        prefix, body = split_bdd_prefix(step)
        found = self.call_for(keyword, f'{prefix} "{usual}" {body}'.strip(), phase)
        if found is None or found.args[:1] != [usual] or len(found.args) > most:
            return None
        return found.model_copy(update={"step": " ".join(step.split())})

    def _successor(self, previous: Keyword | None, area: str | None) -> Keyword | None:
        """The keyword the area's tests call right after `previous` at least half the time."""
        if previous is None:
            return None
        key = _key(previous.name)
        following = Counter(
            after
            for case in self._area_cases(area)
            for before, after in itertools.pairwise(self._called(c) for c in case.calls)
            if before == key
        )
        if not following:
            return None
        name, count = following.most_common(1)[0]
        found = self.lookup(name) if count * 2 >= following.total() else None
        return found if found is not None and not is_deprecated(found) else None
