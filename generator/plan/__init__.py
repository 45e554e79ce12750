"""Plan: ticket context → validated `TestSpec`.

Two planners share the `Planner` interface: `llm.py` (a model writes the spec) and
`offline.py` (the acceptance criteria parsed deterministically). `overwrite_error` is the rule
every spec obeys whoever planned it: the LLM planner feeds it back to the model, the run
checks it again before writing. Beside them: where a new file goes (`placement.py`), the house
style of names, slugs and gap markers (`conventions.py`, also the writers'), and what the
planner's and the writer's prompts share (`prompt_blocks.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from generator.clients.llm.budget import TicketBudget
from generator.gather.repo import owned_by
from generator.models import TestSpec, TicketContext
from generator.outputs.logs import TicketLog


class PlanError(Exception):
    """The planner never produced a valid spec; the message lists the last errors."""


class Planner(Protocol):
    async def plan(self, ctx: TicketContext, budget: TicketBudget, log: TicketLog) -> TestSpec: ...


def overwrite_error(ctx: TicketContext, target_path: str) -> str | None:
    """A target that is an existing file of someone else's (not tagged with this ticket's key).

    A ticket's own earlier file may be regenerated; a hand-written suite must never be
    replaced by a generated one just because the planner picked its name.
    """
    existing = Path(ctx.repo.root) / target_path
    if existing.is_file() and not owned_by(existing, ctx.ticket.key):
        return f"{target_path} already exists and is not {ctx.ticket.key}'s file: choose a new file name"
    return None
