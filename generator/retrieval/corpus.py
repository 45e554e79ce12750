"""The repo's existing test cases, parsed once per run with Robot Framework's parser.

Keyword ranking reads how tests use keywords (usage counts, which libraries and resources a
folder's tests call); example selection reads the test cases themselves. Both come from here so
the suites are parsed once, from the text the suite index already holds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from robot.api import get_model
from robot.api.parsing import Keyword, KeywordCall, ModelVisitor, SettingSection, Template, TestCase, TestTemplate
from robot.parsing.model import Statement

if TYPE_CHECKING:  # the suite index imports retrieval for its examples; rank_bm25 pulls in
    # numpy, loaded when an index is first built
    from rank_bm25 import BM25Okapi

    from generator.gather.repo import SuiteInfo


@dataclass(frozen=True)
class CaseDoc:
    """One existing test case: where it lives, its text and the keywords it calls."""

    suite: str
    name: str
    text: str
    calls: tuple[str, ...]

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
        self.template = template

    def visit_KeywordCall(self, node: KeywordCall) -> None:
        if node.keyword:
            self.calls.append(" ".join(node.keyword.split()))

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


def parse_suite(suite: SuiteInfo) -> SuiteDoc:
    return parse_text(suite.path, suite.text)


@lru_cache(maxsize=8192)
def parse_text(path: str, text: str) -> SuiteDoc:
    """Cached by content: ranking and example selection of every ticket share one parse."""
    model = get_model(text, data_only=False) if text else None
    settings, template, cases, local = "", None, [], []
    for section in model.sections if model else []:
        if isinstance(section, SettingSection):
            settings = _source(section).strip()
            template = next((node.value for node in section.body if isinstance(node, TestTemplate)), None)
        for block in section.body:
            if isinstance(block, TestCase | Keyword):
                visitor = _Calls(template if isinstance(block, TestCase) else None)
                visitor.visit(block)
                doc = CaseDoc(path, block.name, _source(block).rstrip(), visitor.called())
                (cases if isinstance(block, TestCase) else local).append(doc)
    return SuiteDoc(path, settings, tuple(cases), tuple(local))


def parse_suites(suites: list[SuiteInfo]) -> list[SuiteDoc]:
    return [parse_suite(s) for s in suites if s.test_names]


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
