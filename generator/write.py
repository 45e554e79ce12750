"""Write: spec → `.robot` text (LLM writer; the offline one is in offline.py).

A writer opens a session per ticket so the repair round continues the same conversation:
the model sees its own file and the dryrun diagnostics, not a fresh prompt.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Protocol

from generator.budget import TicketBudget
from generator.llm import ChatModel, Tool
from generator.logs import TicketLog
from generator.matcher import KeywordMatcher
from generator.models import Diagnostic, GeneratedTest, KeywordInventory, TestSpec, TicketContext
from generator.prompts import repair_message, writer_messages
from generator.text import strip_fences

PLACEHOLDER_MARK = "PLACEHOLDER (jira2robot)"


class WriterSession(Protocol):
    async def draft(self) -> GeneratedTest: ...

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest: ...


class Writer(Protocol):
    def session(
        self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, budget: TicketBudget, log: TicketLog
    ) -> WriterSession: ...


def import_lines(inventory: KeywordInventory, target_path: str) -> list[str]:
    """The repo's imports written as they must appear in a file at target_path."""
    folder = posixpath.dirname(target_path) or "."
    lines = [f"Library    {lib}" for lib in inventory.libraries if not lib.endswith(".py")]
    lines += [f"Library    {posixpath.relpath(lib, folder)}" for lib in inventory.libraries if lib.endswith(".py")]
    lines += [f"Resource    {posixpath.relpath(res, folder)}" for res in inventory.resources]
    lines += [f"Variables    {posixpath.relpath(var, folder)}" for var in inventory.variables]
    return lines


def open_questions(text: str) -> list[str]:
    """Placeholder steps left in a file, as questions for the MR description and the report."""
    questions = []
    for line in text.splitlines():
        if PLACEHOLDER_MARK in line:
            step = line.split(PLACEHOLDER_MARK, 1)[1].split("    ")[0]
            step = step.strip(" :").removeprefix("no existing keyword for:").strip()
            questions.append(f"No existing keyword for step: {step}")
    return questions


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
        self.budget = budget
        self.log = log
        steps = [step for case in spec.rf.test_cases for step in case.steps]
        keywords = matcher.relevant(steps, limit=60)
        self.messages: list[dict] = writer_messages(
            spec,
            ctx.ticket,
            ctx.repo.convention or "",
            keywords,
            import_lines(ctx.repo.inventory, spec.rf.target_path),
            ctx.examples,
            ctx.repo.inventory.variable_names,
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
        text = strip_fences(result.text).strip() + "\n"
        return GeneratedTest(target_path=self.spec.rf.target_path, text=text, open_questions=open_questions(text))

    async def draft(self) -> GeneratedTest:
        return await self._ask("writing the test")

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest:
        self.messages.append(repair_message(diagnostics))
        return await self._ask(f"repairing {sum(d.severity == 'error' for d in diagnostics)} error(s)")
