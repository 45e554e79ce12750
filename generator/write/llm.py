"""The LLM writer: spec → `.robot` text, written and repaired by a model.

A repair sends the model its current file, the dryrun and robocop diagnostics, the keywords
and the imports: not the whole first context again, so a repair costs a fraction of the first
request. Gaps are sealed and counted in generator/write/gaps.py.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from generator.clients.llm.budget import TicketBudget
from generator.clients.llm.client import ChatModel, Tool
from generator.clients.llm.text import strip_fences
from generator.models import Diagnostic, GeneratedTest, TestSpec, TicketContext
from generator.outputs.logs import TicketLog
from generator.retrieval.matcher import KeywordMatcher
from generator.write.gaps import measured, seal_incomplete
from generator.write.imports import example_imports, import_lines_for
from generator.write.prompts import repair_messages, writer_messages
from generator.write.repo_tools import must_read

#: Characters of the planner's `must_read_files` put in the writer's first request, all files
#: together: the rest stays one `read_file` call away.
MAX_MUST_READ_CHARS = 6000


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
        self.keywords = matcher.relevant(steps, limit=60, area=posixpath.dirname(spec.rf.target_path))
        repo = ctx.repo
        target = spec.rf.target_path
        needed = import_lines_for(self.keywords, root=repo.root, common=repo.common_resource, target_path=target)
        common = (
            [f"Resource    {posixpath.relpath(repo.common_resource, posixpath.dirname(target) or '.')}"]
            if repo.common_resource
            else []
        )
        self.imports = list(dict.fromkeys([*common, *needed, *example_imports(ctx.examples, target)]))
        self.messages: list[dict] = writer_messages(
            spec,
            ctx.ticket,
            repo.convention or "",
            self.keywords,
            self.imports,
            ctx.examples,
            repo.inventory.variable_names,
            self.conventions,
            must_read(
                Path(repo.root),
                spec.writer_constraints.must_read_files,
                skip=[repo.convention_path, *(e.path for e in ctx.examples)],
                limit=MAX_MUST_READ_CHARS,
            ),
            tools=bool(writer.tools),
        )

    async def _ask(self, what: str) -> GeneratedTest:
        self.budget.check()
        self.log.info(f"writer: {what} with {self.writer.model_name}")
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
