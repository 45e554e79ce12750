"""The test repository side of gathering: conventions, existing suites, coverage by tag.

Existing suites are parsed once per run with Robot Framework's own parser; every ticket
then picks its examples from that index, and the backlog skip rule ("a test tagged with
the key already exists") reads the same index without any LLM call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from robot.api import get_model
from robot.api.parsing import ModelVisitor
from robot.utils import normalize

from generator.models import ExampleTest, Ticket

#: Folders never walked: tooling, virtualenvs and caches hold third-party files, not the repo's tests.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
#: jira2robot's own output folder at the repo root: generated copies must not count as the repo's
#: files (a `generated/` folder deeper down, e.g. `tests/generated/`, is ordinary test code).
OUTPUT_DIR_NAME = "generated"
MAX_EXAMPLE_CHARS = 6000
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class SuiteInfo:
    path: str
    text: str
    tags: set[str] = field(default_factory=set)
    test_names: list[str] = field(default_factory=list)


class _SuiteVisitor(ModelVisitor):
    def __init__(self, info: SuiteInfo):
        self.info = info

    def visit_TestCase(self, node):
        self.info.test_names.append(node.name)
        self.generic_visit(node)

    def visit_Tags(self, node):
        self.info.tags.update(node.values)

    def visit_TestTags(self, node):
        self.info.tags.update(node.values)

    def visit_ForceTags(self, node):
        self.info.tags.update(node.values)

    def visit_DefaultTags(self, node):
        self.info.tags.update(node.values)


def tag_key(tag: str) -> str:
    """A tag as Robot Framework compares it: case, spaces and underscores ignored."""
    return normalize(tag, ignore="_")


def owned_by(path: Path, key: str) -> bool:
    """Whether the suite at `path` is the ticket's own: its parsed model carries the key as a tag.

    Structure, not text: a file tagged QA-123, or one that merely mentions QA-12 in a
    comment, is not QA-12's, so it is never replaced by QA-12's generated test.
    """
    info = SuiteInfo(path=str(path), text="")
    _SuiteVisitor(info).visit(get_model(path))
    return tag_key(key) in {tag_key(t) for t in info.tags}


def skip_dir(name: str, *, at_root: bool) -> bool:
    """The one rule every walker of the repo follows (inventory, suite index, writer tools)."""
    return name in SKIP_DIRS or name.startswith(".") or (at_root and name == OUTPUT_DIR_NAME)


def skipped(rel: PurePath) -> bool:
    """A repo-relative file no walker reads: hidden itself (dryrun temp files) or in a skipped folder."""
    *folders, name = rel.parts
    return name.startswith(".") or any(skip_dir(part, at_root=i == 0) for i, part in enumerate(folders))


def index_suites(repo: Path, tests_dir: str) -> list[SuiteInfo]:
    base = repo / tests_dir
    suites = []
    for path in sorted((base if base.is_dir() else repo).rglob("*.robot")):
        rel = path.relative_to(repo)
        if skipped(rel) or not path.is_file() or not path.resolve().is_relative_to(repo.resolve()):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        info = SuiteInfo(path=rel.as_posix(), text=text)
        _SuiteVisitor(info).visit(get_model(path))
        suites.append(info)
    return suites


def read_convention(repo: Path, path: str) -> str | None:
    doc = (repo / path).resolve()
    if not doc.is_relative_to(repo.resolve()) or not doc.is_file():
        return None
    return doc.read_text(encoding="utf-8", errors="replace")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def coverage_index(suites: list[SuiteInfo]) -> dict[str, list[str]]:
    """Normalised tag (`tag_key`) → suites carrying it, compared the way Robot compares tags.

    Built once per run, so the backlog skip rule ("a test tagged with the key exists") is a
    dictionary lookup per ticket, not a scan of every suite.
    """
    index: dict[str, list[str]] = {}
    for suite in suites:
        for tag in {tag_key(t) for t in suite.tags}:
            index.setdefault(tag, []).append(suite.path)
    return index


def find_examples(suites: list[SuiteInfo], ticket: Ticket, *, limit: int) -> list[ExampleTest]:
    """Most similar existing suites: shared component/label tags, folder named like a component, words."""
    if limit <= 0:
        return []
    components = {c.lower() for c in ticket.components}
    labels = {label.lower() for label in ticket.labels}
    ticket_words = _words(" ".join([ticket.summary, *ticket.acceptance_criteria]))
    scored = []
    for suite in suites:
        tags = {t.lower() for t in suite.tags}
        folders = {p.lower() for p in Path(suite.path).parts[:-1]}
        score = 3.0 * len(tags & components) + 1.5 * len(tags & labels) + 2.0 * len(folders & components)
        suite_words = _words(" ".join([Path(suite.path).stem, *suite.test_names]))
        if ticket_words:
            score += len(ticket_words & suite_words) / len(ticket_words) * 2.0
        scored.append((score, suite.path, suite))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        ExampleTest(path=s.path, text=s.text[:MAX_EXAMPLE_CHARS], score=round(score, 3))
        for score, _, s in scored[:limit]
    ]
