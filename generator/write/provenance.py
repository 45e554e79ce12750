"""Provenance in a generated suite, and the smallest edit of a suite whose ticket drifted.

Each generated file records, in forms Robot Framework, robocop and a reviewer all accept:

- `Metadata    Jira Ticket    QA-202` and one `Metadata    Jira Criterion <fp>    <criterion text>`
  per acceptance criterion the ticket had when the file was written (shown in log.html; the text
  is the normalised criterion, escaped so it is never a variable);
- an `ac:<fp>` tag on each test case, naming the criteria it covers.

Everything here works on Robot Framework's own model (`get_model`, `ModelTransformer`,
`model.save`): statements not touched are saved from their original tokens, so every other test
case, comment and blank line of a suite, and every line a reviewer edited in them, stays byte for byte.
"""

from __future__ import annotations

import io
import textwrap

from robot.api import get_model
from robot.api.parsing import EmptyLine, Metadata, ModelTransformer, Tags, TestCase, Token
from robot.parsing.model.blocks import File, SettingSection, TestCaseSection
from robot.parsing.model.statements import Documentation, LibraryImport, ResourceImport, VariablesImport
from robot.utils import escape, normalize

from generator.gather.criteria import (
    CRITERION_METADATA,
    TAG_PREFIX,
    TICKET_METADATA,
    case_fingerprints,
    suite_cases,
)

_WRAP = 90
_IMPORTS = (LibraryImport, ResourceImport, VariablesImport)


def is_provenance(node: object) -> bool:
    """A `Metadata` line jira2robot owns (the ticket and its criteria)."""
    return isinstance(node, Metadata) and (node.name == TICKET_METADATA or node.name.startswith(CRITERION_METADATA))


def _metadata(name: str, text: str, column: int = 0) -> Metadata:
    """One Metadata statement, its value at `column` like the file's other settings; a long text
    continues on `...` lines (joined back when read)."""
    lines = textwrap.wrap(escape(text), _WRAP, break_long_words=False, break_on_hyphens=False) or [""]
    # A cell starting with `#` is a comment and `...` a continuation: escaped, they stay text.
    lines = ["\\" + line if line.startswith(("#", "...")) else line for line in lines]
    statement = Metadata.from_params(name, "\n".join(lines))
    for before, token in zip(statement.tokens, statement.tokens[1:], strict=False):
        if token.type == Token.SEPARATOR and before.type in (Token.METADATA, Token.CONTINUATION):
            # The value column of the other settings, as robocop lays them out.
            token.value = " " * max(4, column - len(before.value))
    return statement


def _value_column(section: SettingSection) -> int:
    """Where the section's first setting puts its value (`Documentation     x`: 18), 0 if unknown."""
    for statement in section.body:
        tokens = [t for t in getattr(statement, "tokens", []) if t.type != Token.EOL]
        if len(tokens) >= 3 and tokens[1].type == Token.SEPARATOR:
            return len(tokens[0].value) + len(tokens[1].value)
    return 0


class _Stamp(ModelTransformer):
    """Replaces the provenance lines and `ac:` tags with the given ones; nothing else changes."""

    def __init__(self, key: str, criteria: dict[str, str], covers: dict[str, list[str]]) -> None:
        self.key, self.criteria = key, criteria
        self.covers = {normalize(name): fps for name, fps in covers.items()}

    def visit_SettingSection(self, node: SettingSection) -> SettingSection:
        column = _value_column(node)
        self.lines = [
            _metadata(TICKET_METADATA, self.key, column),
            *(_metadata(CRITERION_METADATA + fp, t, column) for fp, t in self.criteria.items()),
        ]
        kept = [n for n in node.body if not is_provenance(n)]
        at = next((i + 1 for i, n in enumerate(kept) if isinstance(n, Documentation)), 0)
        node.body = [*kept[:at], *self.lines, *kept[at:]]
        return node

    def visit_TestCase(self, node: TestCase) -> TestCase:
        fps = self.covers.get(normalize(node.name))
        if fps is None:
            return node
        wanted = [TAG_PREFIX + fp for fp in fps]
        for i, statement in enumerate(node.body):
            if isinstance(statement, Tags):
                values = [t for t in statement.values if not t.startswith(TAG_PREFIX)]
                node.body[i] = Tags.from_params([*values, *wanted])
                return node
        if wanted:
            at = next((i + 1 for i, n in enumerate(node.body) if isinstance(n, Documentation)), 0)
            node.body.insert(at, Tags.from_params(wanted))
        return node


def _save(model: File) -> str:
    out = io.StringIO()
    model.save(out)
    return out.getvalue()


def stamp(text: str, key: str, criteria: dict[str, str], covers: dict[str, list[str]]) -> str:
    """The file with its provenance: the ticket, every criterion, and each named case's `ac:` tags.

    `covers` maps test case names (as the spec names them) to criterion fingerprints.
    """
    model = get_model(text)
    if not any(isinstance(s, SettingSection) for s in model.sections):
        return text  # a file without settings is not one the writer produced: validation says why
    _Stamp(key, criteria, covers).visit(model)
    return _save(model)


class _Replace(ModelTransformer):
    """Drop the `gone` cases; new ones go where the first case they replace stood, or at the end."""

    def __init__(self, gone: set[str], placed: dict[str, list[TestCase]], extra: list[TestCase]) -> None:
        self.gone, self.placed, self.extra = gone, placed, extra

    def visit_TestCaseSection(self, node: TestCaseSection) -> TestCaseSection:
        body: list[object] = []
        for case in node.body:
            if isinstance(case, TestCase) and case.name in self.gone:
                body += self.placed.pop(case.name, [])
                continue
            body.append(case)
        body += self.extra
        cases = [c for c in body if isinstance(c, TestCase)]
        for case in cases[:-1]:  # one blank line between cases, as the writer's own file has
            if not isinstance(case.body[-1], EmptyLine):
                case.body.append(EmptyLine.from_params())
        node.body = body
        return node


def merge(existing: str, candidate: str, *, gone: list[str], replaced_by: dict[str, list[str]]) -> str:
    """`existing` with the `gone` cases removed and the candidate's new cases in, provenance from the candidate.

    `replaced_by`: a removed case → fingerprints whose new cases take its place (the rest are
    appended). Imports the new cases need and `existing` lacks are added after its own.
    """
    model, new = get_model(existing), get_model(candidate)
    # A case the existing suite keeps is the suite's, whatever the candidate holds under its name
    # (a writer shown the suite as an example may copy its cases: they are not added twice).
    kept = {normalize(case.name) for case in suite_cases(model) if case.name not in gone}
    fresh = [_trimmed(case) for case in suite_cases(new) if normalize(case.name) not in kept]
    placed: dict[str, list[TestCase]] = {}
    used: set[int] = set()
    for name, fps in replaced_by.items():
        placed[name] = [c for c in fresh if set(case_fingerprints(c)) & set(fps) and id(c) not in used]
        used |= {id(c) for c in placed[name]}
    _Replace(set(gone), placed, [c for c in fresh if id(c) not in used]).visit(model)
    _merge_settings(model, new)
    return _save(model)


def _trimmed(case: TestCase) -> TestCase:
    while case.body and isinstance(case.body[-1], EmptyLine):
        case.body.pop()
    return case


def _merge_settings(model: File, new: File) -> None:
    settings = next((s for s in model.sections if isinstance(s, SettingSection)), None)
    theirs = next((s for s in new.sections if isinstance(s, SettingSection)), None)
    if settings is None or theirs is None:
        return
    first = next((i for i, n in enumerate(settings.body) if is_provenance(n)), None)
    body = [n for n in settings.body if not is_provenance(n)]
    at = first if first is not None else next((i + 1 for i, n in enumerate(body) if isinstance(n, Documentation)), 0)
    body[at:at] = [n for n in theirs.body if is_provenance(n)]
    have = {(type(n).__name__, n.name) for n in body if isinstance(n, _IMPORTS)}
    imports = [n for n in theirs.body if isinstance(n, _IMPORTS) and (type(n).__name__, n.name) not in have]
    last_import = max((i + 1 for i, n in enumerate(body) if isinstance(n, _IMPORTS)), default=len(body))
    body[last_import:last_import] = imports
    settings.body = body
