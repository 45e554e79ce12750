"""Write: spec → `.robot` text (LLM writer; the offline one is in offline.py).

A writer opens a session per ticket so the repair round continues the same conversation:
the model sees its own file and the dryrun diagnostics, not a fresh prompt.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from robot.api import get_model
from robot.api.parsing import Comment, Documentation, EmptyLine, KeywordCall, ModelVisitor, Tags, TestCase, Token

from generator.budget import TicketBudget
from generator.imports import example_imports, import_lines_for
from generator.llm import ChatModel, Tool
from generator.logs import TicketLog
from generator.matcher import KeywordMatcher
from generator.models import Conventions, Diagnostic, GeneratedTest, TestSpec, TicketContext
from generator.prompts import repair_messages, writer_messages
from generator.text import strip_fences
from generator.trust import escape_cell

PLACEHOLDER_MARK = "PLACEHOLDER (jira2robot)"


class WriterSession(Protocol):
    async def draft(self) -> GeneratedTest: ...

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest: ...


class Writer(Protocol):
    def session(
        self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, budget: TicketBudget, log: TicketLog
    ) -> WriterSession: ...


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


def measure(text: str, marker: str) -> Gaps:
    """Test cases of `text` with their missing-step markers, legacy `Log PLACEHOLDER` lines,
    and whether any call checks an outcome (a `Then` phase call or a name like `... Should ...`)."""
    cases: list[_Case] = []

    class Visitor(ModelVisitor):
        def visit_TestCase(self, node: TestCase) -> None:
            case = _Case(name=node.name, name_line=node.lineno, last_line=node.lineno, settings_end=node.lineno)
            phase, steps_seen = "", False
            for item in node.body:
                if isinstance(item, EmptyLine):
                    continue
                case.last_line = max(case.last_line, item.end_lineno)
                if isinstance(item, Documentation) and not steps_seen:
                    case.settings_end = item.end_lineno
                steps_seen = steps_seen or isinstance(item, KeywordCall | Comment)
                if isinstance(item, Tags):
                    case.tags_line = item.lineno
                elif isinstance(item, Comment) and (step := _comment_text(item, marker)) is not None:
                    case.missing.append(step)
                elif isinstance(item, KeywordCall) and item.keyword:
                    call = " ".join([item.keyword, *item.args])
                    if PLACEHOLDER_MARK in call:
                        case.missing.append(call.split(PLACEHOLDER_MARK, 1)[1].split(":", 1)[-1].strip(" :WARN"))
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
    for case in sorted(gaps.incomplete, key=lambda c: -c.name_line):
        tags = [t for t in conventions.incomplete_tags]
        if not case.ended:
            lines.insert(case.last_line, _ending(case, conventions))
        if case.tags_line is not None:
            row = lines[case.tags_line - 1]
            tags = [t for t in tags if t.lower() not in row.lower().split()]
            lines[case.tags_line - 1] = "    ".join([row.rstrip(), *tags]) if tags else row
        else:
            lines.insert(case.settings_end, "    ".join(["    [Tags]", *tags]))
    return "\n".join(lines).rstrip() + "\n"


def measured(test: GeneratedTest, conventions: Conventions) -> GeneratedTest:
    """`test` with its gaps counted from its own text: the same numbers whichever writer wrote it."""
    gaps = measure(test.text, conventions.missing_marker)
    test.open_questions = gaps.questions()
    test.steps_missing = len(gaps.missing_steps)
    test.incomplete_tests = len(gaps.incomplete)
    test.tests = len(gaps.cases)
    return test


class LLMWriter:
    def __init__(self, model: ChatModel, model_name: str, *, tools: Sequence[Tool] = (), max_tool_rounds: int = 6):
        self.model = model
        self.model_name = model_name
        self.tools = list(tools)
        self.max_tool_rounds = max_tool_rounds

    def session(
        self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, budget: TicketBudget, log: TicketLog
    ) -> LLMWriterSession:
        return LLMWriterSession(self, spec, ctx, matcher, budget, log)


class LLMWriterSession:
    def __init__(
        self,
        writer: LLMWriter,
        spec: TestSpec,
        ctx: TicketContext,
        matcher: KeywordMatcher,
        budget: TicketBudget,
        log: TicketLog,
    ):
        self.writer = writer
        self.spec = spec
        self.conventions = ctx.repo.conventions
        self.budget = budget
        self.log = log
        steps = [step for case in spec.rf.test_cases for step in case.steps]
        self.keywords = matcher.relevant(steps, limit=60)
        repo = ctx.repo
        target = spec.rf.target_path
        needed = import_lines_for(self.keywords, root=repo.root, common=repo.common_resource, target_path=target)
        common = [f"Resource    {posixpath.relpath(repo.common_resource, posixpath.dirname(target) or '.')}"]
        self.imports = list(
            dict.fromkeys([*(common if repo.common_resource else []), *needed, *example_imports(ctx.examples, target)])
        )
        self.messages: list[dict] = writer_messages(
            spec,
            ctx.ticket,
            repo.convention or "",
            self.keywords,
            self.imports,
            ctx.examples,
            repo.inventory.variable_names,
            self.conventions,
        )

    async def _ask(self, what: str) -> GeneratedTest:
        self.budget.check()
        self.log.progress(f"writer: {what} with {self.writer.model_name}")
        result = await self.writer.model.chat(
            self.messages,
            model=self.writer.model_name,
            tools=self.writer.tools,
            on_text=lambda delta: self.log.stream("writer", delta),
            max_tool_rounds=self.writer.max_tool_rounds,
        )
        self.log.flush_stream("writer")
        self.budget.charge(result.usage)
        if result.tool_calls:
            self.log.info(f"writer: used {result.tool_calls} tool call(s)")
        self.messages = result.messages  # already ends with the answer
        text = seal_incomplete(strip_fences(result.text).strip() + "\n", self.conventions)
        return measured(GeneratedTest(target_path=self.spec.rf.target_path, text=text), self.conventions)

    async def draft(self) -> GeneratedTest:
        return await self._ask("writing the test")

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest:
        self.messages = repair_messages(
            self.messages[0]["content"], previous.target_path, previous.text, diagnostics, self.keywords, self.imports
        )
        return await self._ask(f"repairing {sum(d.severity == 'error' for d in diagnostics)} error(s)")
