"""The existing test cases most like a ticket, shown to the planner and the writer.

Suites are not the unit: a 70k-character suite of 120 tests shares words with any ticket, and its
first 6,000 characters rarely hold the test that matters. So test cases are ranked (BM25, whose
length normalisation keeps a long test from winning by size), a case in a folder named like
the ticket's components counts more, and each example is a suite's settings (its imports,
setup and tags: how a file in that place starts) followed by its most similar cases. Product
lines that mirror each other's folders hold near-copies of the same suites: a suite whose file
name was already shown from another folder is skipped, so the two examples differ.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from robot.utils import normalize

from generator.gather.corpus import CaseDoc, SuiteDoc, bm25
from generator.gather.repo import SuiteInfo
from generator.models import ExampleTest, Ticket
from generator.retrieval.words import content_words, split_bdd_prefix

if TYPE_CHECKING:
    from rank_bm25 import BM25Okapi


#: Characters of one example at most (its settings and its best test cases).
MAX_EXAMPLE_CHARS = 6000
#: Test cases shown per example suite at most.
CASES_PER_EXAMPLE = 2
_FOLDER_BONUS = 0.5
_TAG_BONUS = 0.3
_KEYWORDS = "*** Keywords ***\n"


@lru_cache(maxsize=4)
def _index(docs: tuple[SuiteDoc, ...]) -> tuple[list[CaseDoc], BM25Okapi | None]:
    """The suites' cases and a BM25 index over them: built once per run."""
    cases = [case for doc in docs for case in doc.cases]
    corpus = [content_words(f"{case.name} {case.text}") or ["_"] for case in cases]
    return cases, bm25(corpus) if corpus else None


def _bonus(case: CaseDoc, components: set[str], tags: dict[str, set[str]]) -> float:
    """Folders and tags named like the ticket's components, by the share of components named."""
    if not components:
        return 0.0
    folders = {part.lower() for part in case.folder.split("/")}
    named = len(folders & components) * _FOLDER_BONUS + len(tags.get(case.suite, set()) & components) * _TAG_BONUS
    return named / len(components)


def _scored(
    suites: Sequence[SuiteInfo], docs: tuple[SuiteDoc, ...], ticket: Ticket
) -> tuple[list[CaseDoc], list[float], list[tuple[float, str, int]]]:
    """(cases, BM25 score per case, (score with the component bonus, suite, case) best first)."""
    cases, bm25 = _index(docs)
    terms = content_words(" ".join([ticket.summary, ticket.description, *ticket.acceptance_criteria]))
    raw = list(bm25.get_scores(terms)) if bm25 is not None and terms else [0.0] * len(cases)
    top = max(max(raw), 1e-9)
    components = {c.lower() for c in [*ticket.components, *ticket.labels]}
    tags = {s.path: {t.lower() for t in s.tags} for s in suites}
    scored = sorted(
        ((raw[n] / top + _bonus(case, components, tags), case.suite, n) for n, case in enumerate(cases)),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    return cases, raw, scored


def find_similar_suites(suites: Sequence[SuiteInfo], ticket: Ticket, *, limit: int) -> list[ExampleTest]:
    """The `limit` suites whose best case is most like the ticket, whole, best first: the
    evidence for where a new test goes (generator/plan/placement.py)."""
    docs = tuple(s.doc for s in suites if s.test_names and s.doc is not None)
    if limit <= 0 or not docs:
        return []
    best: dict[str, float] = {}
    for score, suite, _ in _scored(suites, docs, ticket)[2]:
        if len(best) >= limit:
            break
        best.setdefault(suite, score)
    texts = {s.path: s.text for s in suites}
    return [ExampleTest(path=path, text=texts[path], score=round(score, 3)) for path, score in best.items()]


def find_examples(
    suites: Sequence[SuiteInfo], ticket: Ticket, *, limit: int, target: str | None = None
) -> list[ExampleTest]:
    """Up to `limit` examples, each a suite's settings and its test cases most like the ticket.

    `target` is the new file's path once the plan has chosen it: the first example is then its
    folder's best suite (a sibling), never a mirror folder's copy of it, which a ticket naming
    only its domain cannot tell apart.
    """
    docs = tuple(s.doc for s in suites if s.test_names and s.doc is not None)
    if limit <= 0 or not docs:
        return []
    cases, raw, scored = _scored(suites, docs, ticket)
    folder = posixpath.dirname(target) if target else None
    chosen: dict[str, list[tuple[float, CaseDoc]]] = {}
    names_shown: set[str] = set()
    # The first example is the best suite of the target's own folder: how a file there starts
    # (imports relative to that folder, setup, tags). The others are the most similar wherever.
    sibling = next((suite for _, suite, n in scored if cases[n].folder == folder), None) if folder else None
    if sibling is not None and limit > 0:
        chosen[sibling] = []
        names_shown.add(posixpath.basename(sibling))
    for score, suite, n in scored:
        if suite not in chosen:
            if len(chosen) >= limit or posixpath.basename(suite) in names_shown:
                continue  # enough suites, or a mirror folder's copy of one already shown
            chosen[suite] = []
            names_shown.add(posixpath.basename(suite))
        shown = {case.calls for _, case in chosen[suite]}
        if not chosen[suite] or (len(chosen[suite]) < CASES_PER_EXAMPLE and raw[n] > 0 and cases[n].calls not in shown):
            chosen[suite].append((score, cases[n]))  # more cases only when they share words and differ
        if len(chosen) >= limit and all(len(c) >= CASES_PER_EXAMPLE for c in chosen.values()):
            break
    by_path = {doc.path: doc for doc in docs}
    return [
        ExampleTest(path=suite, text=_render(by_path[suite], [c for _, c in picked]), score=round(picked[0][0], 3))
        for suite, picked in chosen.items()
    ]


def _own_keywords(doc: SuiteDoc, cases: list[CaseDoc]) -> list[CaseDoc]:
    """The suite's own keywords the cases call, directly or through each other: a templated
    case (`Invalid Password    demo    wrong`) says nothing without its template's body."""
    local = {normalize(k.name, ignore="_"): k for k in doc.local}
    wanted: dict[str, CaseDoc] = {}
    pending = [call for case in cases for call in case.calls]
    while pending:
        key = normalize(split_bdd_prefix(pending.pop(0))[1], ignore="_")
        if key in local and key not in wanted:
            wanted[key] = local[key]
            pending += local[key].calls
    return list(wanted.values())


def _render(doc: SuiteDoc, cases: list[CaseDoc]) -> str:
    """The suite's settings, its chosen cases and the suite's own keywords they call, each cut
    at a block boundary within the budget."""
    text = (doc.settings + "\n\n" if doc.settings else "") + "*** Test Cases ***\n"
    for n, case in enumerate(cases):
        block = case.text.strip("\n") + "\n\n"
        if n and len(text) + len(block) > MAX_EXAMPLE_CHARS:
            break
        text += block
    own = [k.text.strip("\n") + "\n\n" for k in _own_keywords(doc, cases)]
    for n, block in enumerate(own):
        if len(text) + len(block) + (0 if n else len(_KEYWORDS)) > MAX_EXAMPLE_CHARS:
            break
        text += ("" if n else _KEYWORDS) + block
    return text[:MAX_EXAMPLE_CHARS].rstrip() + "\n"
