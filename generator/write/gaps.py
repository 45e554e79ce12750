"""Gaps of a generated file, read from the file itself: the same numbers whichever writer wrote it.

A step no keyword implements is a marker comment (the convention's, `# MISSING KEYWORD: <step>`
by default; the older `Log    PLACEHOLDER (jira2robot): ...` lines count too). A test with such a
step, or with no call that checks an outcome, is incomplete: `seal_incomplete` tags it and stops
it with `Skip` (or `Fail`) naming the missing steps, at the first gap (else at its end), so it
never passes, and `measure` counts
what report.json, the console and the MR description show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from robot.api import get_model
from robot.api.parsing import (
    Comment,
    Documentation,
    EmptyLine,
    KeywordCall,
    ModelVisitor,
    Tags,
    TestCase,
    TestTags,
    Token,
)

from generator.models import Conventions, GeneratedTest
from generator.plan.conventions import MARKER_CONTINUATION
from generator.validate.trust import escape_cell

PLACEHOLDER_MARK = "PLACEHOLDER (jira2robot)"
INCOMPLETE_MARK = "Incomplete (jira2robot)"
# A name that reads as a check: `Cart Should Contain`, `Verify Total`, `Check Status`.
_ASSERTS = re.compile(r"\b(should|verify|verifies|check|checks|assert|expect|must|validate)\b", re.IGNORECASE)
_BDD = re.compile(r"^(given|when|then|and|but)\s", re.IGNORECASE)


@dataclass
class _Case:
    name: str
    name_line: int
    tags_line: int | None = None
    settings_end: int = 0  # last line of the leading [Documentation]/[Tags]...: new tags go after it
    last_line: int = 0
    missing: list[str] = field(default_factory=list)
    asserts: bool = False
    ended: bool = False  # already ends with our Skip/Fail
    first_gap_line: int | None = None  # the first missing step: the test stops there


@dataclass
class Gaps:
    """What a generated file leaves unimplemented, read from the file itself (either writer)."""

    cases: list[_Case]

    @property
    def missing_steps(self) -> list[str]:
        return [step for case in self.cases for step in case.missing]

    @property
    def incomplete(self) -> list[_Case]:
        return [c for c in self.cases if c.missing or not c.asserts]

    def questions(self) -> list[str]:
        """Open questions for the MR and the report: missing steps first, then tests that check nothing."""
        return [f"No existing keyword for step: {s}" for s in self.missing_steps] + [
            f"Test {c.name!r} checks no outcome: add the assertion"
            for c in self.cases
            if not c.missing and not c.asserts
        ]


def _comment_text(node: Comment, marker: str) -> str | None:
    text = " ".join(t.value for t in node.tokens if t.type == Token.COMMENT)
    prefix = marker.strip()
    return text[len(prefix) :].strip() if text.startswith(prefix) else None


def _continuation(node: Comment) -> str | None:
    """The text of a marker's continuation line (`#   more words`), None for any other comment."""
    raw = "".join(t.value for t in node.tokens if t.type in (Token.COMMENT, Token.SEPARATOR)).strip()
    return raw[len(MARKER_CONTINUATION) :].strip() if raw.startswith(MARKER_CONTINUATION) else None


def measure(text: str, marker: str) -> Gaps:
    """Test cases of `text` with their missing-step markers, legacy `Log PLACEHOLDER` lines,
    and whether any call checks an outcome (a `Then` phase call or a name like `... Should ...`)."""
    cases: list[_Case] = []

    class Visitor(ModelVisitor):
        def visit_TestCase(self, node: TestCase) -> None:
            case = _Case(name=node.name, name_line=node.lineno, last_line=node.lineno, settings_end=node.lineno)
            phase, steps_seen, continuing = "", False, False
            for item in node.body:
                if isinstance(item, EmptyLine):
                    continue
                if continuing and isinstance(item, Comment) and (more := _continuation(item)) is not None:
                    case.missing[-1] += " " + more
                    case.last_line = max(case.last_line, item.end_lineno)
                    continue
                continuing = False
                case.last_line = max(case.last_line, item.end_lineno)
                if isinstance(item, Documentation) and not steps_seen:
                    case.settings_end = item.end_lineno
                steps_seen = steps_seen or isinstance(item, KeywordCall | Comment)
                if isinstance(item, Tags):
                    case.tags_line = item.lineno
                elif isinstance(item, Comment) and (step := _comment_text(item, marker)) is not None:
                    case.missing.append(step)
                    case.first_gap_line = case.first_gap_line or item.lineno
                    continuing = True
                elif isinstance(item, KeywordCall) and item.keyword:
                    if legacy := next((a for a in item.args if PLACEHOLDER_MARK in a), None):
                        step = legacy.split(PLACEHOLDER_MARK, 1)[1].strip(" :")
                        case.missing.append(step.removeprefix("no existing keyword for:").strip())
                        case.first_gap_line = case.first_gap_line or item.lineno
                        continue
                    if item.keyword in ("Skip", "Fail") and any(INCOMPLETE_MARK in a for a in item.args):
                        case.ended = True
                        continue
                    prefix = _BDD.match(item.keyword)
                    if prefix and prefix.group(1).lower() not in ("and", "but"):
                        phase = prefix.group(1).lower()
                    case.asserts = case.asserts or phase == "then" or bool(_ASSERTS.search(item.keyword))
            cases.append(case)

    Visitor().visit(get_model(text))
    return Gaps(cases)


def _ending(case: _Case, conventions: Conventions) -> str:
    """`Skip    <message naming the missing steps>` (or `Fail`), shortened at a word to the line limit."""
    if case.missing:
        what = f"{len(case.missing)} step(s) without a keyword: " + "; ".join(case.missing)
    else:
        what = "no step checks the expected outcome"
    head = f"    {conventions.incomplete.capitalize()}    "
    message = f"{INCOMPLETE_MARK}: {what}"
    room = conventions.line_length - len(head)
    if len(escape_cell(message)) > room:
        message = message[: max(room - 4, 20)].rsplit(" ", 1)[0] + " ..."
    return head + escape_cell(message)


def seal_incomplete(text: str, conventions: Conventions) -> str:
    """Every test with a missing step, or with nothing that checks an outcome, tagged and ended
    with `Skip` (or `Fail`): a generated test never passes while it verifies less than asked."""
    gaps = measure(text, conventions.missing_marker)
    lines = text.splitlines()
    # Every test incomplete: the tags go to the suite's `Test Tags` (robocop's could-be-test-tags).
    suite_tags = _test_tags_line(text) if gaps.cases and len(gaps.incomplete) == len(gaps.cases) else None
    for case in sorted(gaps.incomplete, key=lambda c: -c.name_line):
        tags = [t for t in conventions.incomplete_tags]
        if not case.ended:
            # At the first gap: what follows it would run on a state the missing step never
            # made, and fail where the honest verdict is "not implemented yet". The steps after
            # it are still proven by the dryrun, which does not run Skip.
            at = case.first_gap_line - 1 if case.first_gap_line else case.last_line
            lines.insert(at, _ending(case, conventions))
        if suite_tags is not None:
            continue
        if case.tags_line is not None:
            row = lines[case.tags_line - 1]
            tags = [t for t in tags if t.lower() not in row.lower().split()]
            lines[case.tags_line - 1] = "    ".join([row.rstrip(), *tags]) if tags else row
        else:
            lines.insert(case.settings_end, "    ".join(["    [Tags]", *tags]))
    if suite_tags is not None:
        row = lines[suite_tags - 1]
        tags = [t for t in conventions.incomplete_tags if t.lower() not in row.lower().split()]
        lines[suite_tags - 1] = "    ".join([row.rstrip(), *tags])
    return "\n".join(lines).rstrip() + "\n"


def _test_tags_line(text: str) -> int | None:
    """Line of the suite's one-line `Test Tags` setting (RF 7 parses `Force Tags` as the same), if any."""
    found: list[int] = []

    class Visitor(ModelVisitor):
        def visit_TestTags(self, node: TestTags) -> None:
            if node.lineno == node.end_lineno:
                found.append(node.lineno)

    Visitor().visit(get_model(text))
    return found[0] if found else None


def measured(test: GeneratedTest, conventions: Conventions) -> GeneratedTest:
    """`test` with its gaps counted from its own text: the same numbers whichever writer wrote it."""
    gaps = measure(test.text, conventions.missing_marker)
    test.open_questions = gaps.questions()
    test.steps_missing = len(gaps.missing_steps)
    test.incomplete_tests = len(gaps.incomplete)
    test.tests = len(gaps.cases)
    return test
