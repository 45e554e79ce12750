"""Plan: ticket context → validated `TestSpec` (LLM planner; the offline one is in offline.py).

Structured output is asked for where the server supports it; otherwise the JSON is dug out
of noisy output. An invalid spec goes back to the planner once with the validation errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from generator.budget import TicketBudget
from generator.gather.repo import owned_by
from generator.llm import ChatModel
from generator.logs import TicketLog
from generator.models import TestSpec, TicketContext
from generator.prompts import planner_messages, planner_retry_message
from generator.text import extract_json_object
from generator.validate import UnsafePathError, safe_target_path


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


def check_spec(data: dict, ctx: TicketContext) -> tuple[TestSpec | None, list[str]]:
    """Validate planner output against the schema and the safety rules; return errors for the retry."""
    try:
        spec = TestSpec.model_validate(data)
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    errors = []
    try:
        spec.rf.target_path = safe_target_path(spec.rf.target_path, ctx.repo.tests_dir, key=ctx.ticket.key)
    except UnsafePathError as exc:
        errors.append(f"rf.target_path: {exc}")
    else:
        if problem := overwrite_error(ctx, spec.rf.target_path):
            errors.append(f"rf.target_path: {problem}")
    # The key is known for certain; a model typo there is corrected, not argued about.
    spec.meta.jira_key = ctx.ticket.key
    return (None, errors) if errors else (spec, [])


class LLMPlanner:
    def __init__(self, model: ChatModel, model_name: str, *, tests_folders_hint: int = 30):
        self.model = model
        self.model_name = model_name
        self.tests_folders_hint = tests_folders_hint

    async def plan(self, ctx: TicketContext, budget: TicketBudget, log: TicketLog) -> TestSpec:
        messages = planner_messages(
            ctx.ticket,
            ctx.pages,
            ctx.repo.convention or "",
            ctx.repo.tests_dir,
            ctx.repo.folders[: self.tests_folders_hint],
            ctx.examples,
        )
        schema = TestSpec.model_json_schema()
        errors: list[str] = []
        for attempt in (1, 2):
            budget.check()
            log.progress(f"planner: asking {self.model_name} for the test spec (attempt {attempt})")
            result = await self.model.chat(
                messages,
                model=self.model_name,
                json_schema=schema,
                on_text=lambda delta: log.stream("planner", delta),
            )
            log.flush_stream("planner")
            budget.charge(result.usage)
            try:
                spec, errors = check_spec(extract_json_object(result.text), ctx)
            except ValueError as exc:
                spec, errors = None, [str(exc)]
            if spec is not None:
                return spec
            log.info("planner: spec rejected: " + "; ".join(errors))
            messages = [*messages, {"role": "assistant", "content": result.text}, planner_retry_message(errors)]
        raise PlanError("planner spec never valid: " + "; ".join(errors))
