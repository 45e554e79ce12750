"""Write: spec → `.robot` text.

Two writers share the `Writer` interface: `llm.py` (a model writes and repairs the file) and
`offline.py` (steps mapped to the repo's keywords deterministically). A writer opens a
session per ticket, so a repair can build on what the draft learnt (the model's conversation,
the offline step mappings). What both writers' files are checked and stamped with, read from the
file itself: its gaps (`gaps.py`), the imports it needs (`imports.py`), where each argument came
from (`evidence.py`) and the ticket's criteria it records (`provenance.py`); the LLM writer's
read-only tools (`repo_tools.py`).
"""

from __future__ import annotations

from typing import Protocol

from generator.clients.llm.budget import TicketBudget
from generator.models import Diagnostic, GeneratedTest, TestSpec, TicketContext
from generator.outputs.logs import TicketLog
from generator.retrieval.matcher import KeywordMatcher


class WriterSession(Protocol):
    async def draft(self) -> GeneratedTest: ...

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest: ...


class Writer(Protocol):
    def session(
        self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, budget: TicketBudget, log: TicketLog
    ) -> WriterSession: ...
