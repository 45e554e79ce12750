"""The repo's existing test cases, from the one parse per suite the suite index makes.

Keyword ranking reads how tests use keywords (usage counts, which libraries and resources a
folder's tests call); example selection reads the test cases themselves. Both read the
`SuiteDoc` that `gather.repo.index_suites` builds from its own parse of the suite and caches
with the index (by content), so a run parses each suite once, and a warm run none.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robot.api.parsing import Keyword, KeywordCall, ModelVisitor, SettingSection, Template, TestCase, TestTemplate
from robot.parsing.model import Statement

if TYPE_CHECKING:  # rank_bm25 pulls in numpy, loaded when an index is first built
    from rank_bm25 import BM25Okapi
    from robot.parsing.model import File


@dataclass(frozen=True)
class CaseDoc:
    """One existing test case: where it lives, its text and the keywords it calls."""

    suite: str
    name: str
    text: str
    calls: tuple[str, ...]
    #: Per call, the argument cells as written (`${GLOBAL_SESSION}`, `/anything`): what the
    #: repo's tests habitually pass (a template call has none).
    args: tuple[tuple[str, ...], ...] = ()

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.suite)


@dataclass(frozen=True)
class SuiteDoc:
    path: str
    settings: str
    cases: tuple[CaseDoc, ...]
    #: The suite's own keywords, as call groups: how the suite uses the repo's keywords too.
    local: tuple[CaseDoc, ...] = ()


class _Calls(ModelVisitor):
    """The keywords a test or keyword body calls; a templated test calls its template."""

    def __init__(self, template: str | None = None) -> None:
        self.calls: list[str] = []
        self.args: list[tuple[str, ...]] = []
        self.template = template

    def visit_KeywordCall(self, node: KeywordCall) -> None:
        if node.keyword:
            self.calls.append(" ".join(node.keyword.split()))
            self.args.append(tuple(node.args))

    def visit_Template(self, node: Template) -> None:
        self.template = node.value

    def called(self) -> tuple[str, ...]:
        template = self.template if self.template and self.template.upper() != "NONE" else None
        return tuple(self.calls + ([" ".join(template.split())] if template else []))


def _source(node: object) -> str:
    """The node's text as written (RF models keep every token)."""
    return "".join(token.value for statement in _statements(node) for token in statement.tokens)


def _statements(node: object) -> Iterator[Statement]:
    if isinstance(node, Statement):
        yield node
        return
    for attr in ("header", "body", "end"):
        value = getattr(node, attr, None)
        if value is None:
            continue
        for child in value if isinstance(value, list) else [value]:
            yield from _statements(child)


def suite_doc(path: str, model: File) -> SuiteDoc:
    """The suite's settings and its cases, from the model the suite index parsed (one parse per
    suite and run: `gather.repo.index_suites` builds both from it and caches both)."""
    settings, template, cases, local = "", None, [], []
    for section in model.sections:
        if isinstance(section, SettingSection):
            settings = _source(section).strip()
            template = next((node.value for node in section.body if isinstance(node, TestTemplate)), None)
        for block in section.body:
            if isinstance(block, TestCase | Keyword):
                visitor = _Calls(template if isinstance(block, TestCase) else None)
                visitor.visit(block)
                doc = CaseDoc(path, block.name, _source(block).rstrip(), visitor.called(), tuple(visitor.args))
                (cases if isinstance(block, TestCase) else local).append(doc)
    return SuiteDoc(path, settings, tuple(cases), tuple(local))


def doc_fields(doc: SuiteDoc, text: str) -> dict[str, Any]:
    """The document as JSON fields for the cache; case texts as offsets into the suite's text,
    which is read anyway, so the cache does not hold every suite twice."""
    cursor = 0

    def case(c: CaseDoc) -> list[Any]:
        nonlocal cursor
        start = text.index(c.text, cursor)  # cases are in file order, their text as written
        cursor = start + len(c.text)
        return [c.name, start, cursor, list(c.calls), [list(a) for a in c.args]]

    return {"settings": doc.settings, "cases": [case(c) for c in doc.cases], "local": [case(c) for c in doc.local]}


def doc_from_fields(path: str, fields: dict[str, Any], text: str) -> SuiteDoc:
    def cases(rows: list[list[Any]]) -> tuple[CaseDoc, ...]:
        return tuple(
            CaseDoc(path, name, text[start:end], tuple(calls), tuple(tuple(a) for a in args))
            for name, start, end, calls, args in rows
        )

    return SuiteDoc(path, fields["settings"], cases(fields["cases"]), cases(fields["local"]))


#: The least weight a word has: one in most documents still says something.
_MIN_IDF = 0.05


def bm25(corpus: list[list[str]]) -> BM25Okapi:
    """A BM25 index whose word weights are never negative.

    rank_bm25 floors a negative IDF at a share of the average, which is itself negative in a
    small corpus (five test cases, four saying "order"): matching words would then lower a score.
    """
    from rank_bm25 import BM25Okapi

    index = BM25Okapi(corpus)
    index.idf = {term: max(weight, _MIN_IDF) for term, weight in index.idf.items()}
    return index
