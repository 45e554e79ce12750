"""The LLM planner: ticket context → validated `TestSpec`, asked of a model.

Structured output is asked for where the server supports it; otherwise the JSON is dug out
of noisy output. An invalid spec goes back to the planner once with the validation errors.
"""

from __future__ import annotations

import posixpath
import re

from pydantic import ValidationError

from generator.clients.llm.budget import TicketBudget
from generator.clients.llm.client import ChatModel
from generator.clients.llm.text import extract_json_object
from generator.models import TestSpec, TicketContext
from generator.outputs.logs import TicketLog
from generator.plan import PlanError, overwrite_error
from generator.plan.prompts import planner_messages, planner_retry_message
from generator.validate import UnsafePathError, safe_target_path


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


def ranked_folders(ctx: TicketContext, limit: int) -> list[str]:
    """The `limit` test folders most relevant to the ticket: the examples' folders first, then
    folders sharing words with its components, labels, summary and criteria (not the first N
    alphabetically, which on a big repo would never reach the ticket's component)."""
    ticket = ctx.ticket
    words = set(re.findall(r"[a-z0-9]+", " ".join([*ticket.components, *ticket.labels, ticket.summary,
                                                   *ticket.acceptance_criteria]).lower()))  # fmt: skip
    prefix = ctx.repo.tests_dir.rstrip("/") + "/"
    example_folders = [posixpath.dirname(e.path).removeprefix(prefix) for e in ctx.examples]

    def score(folder: str) -> tuple[int, int, str]:
        shared = len(words & set(re.findall(r"[a-z0-9]+", folder.lower())))
        return (0 if folder in example_folders else 1, -shared, folder)

    return sorted(ctx.repo.folders, key=score)[:limit]


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
            ranked_folders(ctx, self.tests_folders_hint),
            ctx.examples,
            ctx.repo.conventions,
        )
        schema = TestSpec.model_json_schema()
        errors: list[str] = []
        for attempt in (1, 2):
            budget.check()
            log.info(f"planner: asking {self.model_name} for the test spec (attempt {attempt})")
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
