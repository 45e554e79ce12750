"""One ticket, isolated: decide whether it needs generating (covered by a test or an MR), then
gather → plan → write → validate → publish under the ticket's deadline and budget. Whatever goes
wrong becomes the ticket's own `failed` entry; `generator.run` selects tickets and runs them."""

from __future__ import annotations

import time
import traceback

import anyio

from generator.clients.breaker import EndpointDown, is_transport_failure
from generator.clients.llm.budget import BudgetExceeded, RunBudgetSpent, TicketBudget
from generator.clients.llm.client import LLMError
from generator.clients.mcp.client import McpError
from generator.gather.criteria import fingerprints
from generator.gather.jira import TicketError, fetch_ticket
from generator.gather.repo import tag_key
from generator.models import (
    TicketResult,
)
from generator.outputs.logs import TicketLog
from generator.plan import PlanError, overwrite_error
from generator.publish import PublishError
from generator.retrieval.examples import find_examples
from generator.run.context import RunContext
from generator.run.steps import (
    covers,
    gather_context,
    publish_test,
    save_spec,
    settle,
    write_and_validate,
)
from generator.validate import UnsafePathError
from generator.write.provenance import stamp

EXPECTED_ERRORS = (TicketError, PlanError, LLMError, McpError, BudgetExceeded, UnsafePathError, PublishError)


async def process_ticket(rc: RunContext, key: str) -> TicketResult:
    cfg = rc.settings.repo_config
    log = TicketLog(rc.console, key, buffered=rc.buffered_logs)
    budget = TicketBudget(rc.run_budget, cfg.limits.max_tokens_per_ticket)
    shard_index = rc.settings.node_index if rc.settings.node_total > 1 else None
    result = TicketResult(key=key, status="failed", llm=budget.usage, shard=shard_index)
    started = time.monotonic()
    log.open("generating a Robot Framework test")
    try:
        with anyio.move_on_after(cfg.limits.ticket_timeout) as deadline:
            await _generate(rc, key, log, budget, result)
        if deadline.cancelled_caught:
            result.status = "failed"
            result.reason = f"ticket deadline of {cfg.limits.ticket_timeout:g} s exceeded (limits.ticket_timeout)"
    except (RunBudgetSpent, EndpointDown) as exc:
        result.status, result.reason = "skipped", str(exc)
    except EXPECTED_ERRORS as exc:
        result.status, result.reason = "failed", str(exc)
        count_endpoint_failure(rc, exc)
    except anyio.get_cancelled_exc_class():
        result.status, result.reason = "interrupted", "interrupted before it finished (the job was stopped)"
        raise
    except Exception as exc:  # one ticket's bug never stops the others
        result.status, result.reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.info(traceback.format_exc())
    finally:
        result.seconds = round(time.monotonic() - started, 3)
        log.info(f"{result.status}: {result.reason}")
        log.close()
        rc.report.record(result)
    return result


def count_endpoint_failure(rc: RunContext, exc: Exception) -> None:
    """A ticket that failed because GitLab did not answer counts for GitLab's breaker.

    LLM and MCP failures are counted per call, where they happen (`OpenAIChat`, `GuardedMcp`).
    """
    if isinstance(exc, PublishError) and is_transport_failure(exc):
        rc.breakers.gitlab.failure(str(exc))


async def _skip_reason(rc: RunContext, key: str) -> str | None:
    """Why the ticket needs no generation at all (covered by a test or an MR), else None.

    Raises EndpointDown when GitLab is known to be unreachable: no ticket waits for it again."""
    if not rc.settings.recreate and (reason := covered_by(rc.coverage, key)):
        return reason
    rc.breakers.check(llm=False, gitlab=rc.settings.publish == "gitlab")
    reason = await rc.publisher.covered(key)
    if reason is None and key in rc.backlog_keys and (mr := await rc.publisher.open_mr(key)):
        reason = f"open MR {mr} already exists (backlog runs do not regenerate open MRs)"
    return reason


def covered_by(coverage: dict[str, list[str]], key: str) -> str | None:
    covering = coverage.get(tag_key(key))
    return f"already covered by {covering[0]} (tagged {key})" if covering else None


async def triage_ticket(rc: RunContext, key: str, needs_slot: dict[str, bool]) -> None:
    """Checks made before any LLM call; a ticket to generate lands in `needs_slot` (new MR or not).

    A covered ticket is checked for drift first (when on): only a drifted one goes on, to an update MR.
    """
    try:
        drift_on = rc.settings.drift_on or key in rc.regenerate | rc.remove
        if drift_on and not rc.settings.recreate and covered_by(rc.coverage, key):
            from generator.run.update import triage_drift  # drift code loads only when a run checks drift

            await triage_drift(rc, key, needs_slot)
            return
        reason = await _skip_reason(rc, key)
        if reason is None:
            needs_slot[key] = await rc.publisher.needs_new_mr(key)
            return
        settle(rc, key, "skipped", reason)
    except EndpointDown as exc:
        settle(rc, key, "skipped", str(exc))
    except EXPECTED_ERRORS as exc:
        settle(rc, key, "failed", str(exc))
        count_endpoint_failure(rc, exc)


async def _generate(rc: RunContext, key: str, log: TicketLog, budget: TicketBudget, result: TicketResult) -> None:
    settings, cfg = rc.settings, rc.settings.repo_config
    rc.breakers.check(llm=settings.llm == "openai", gitlab=settings.publish == "gitlab")
    if rc.run_budget.exhausted:
        result.status, result.reason = "skipped", rc.run_budget.reason()
        return

    if key in rc.drifts:
        from generator.run.update import update_drifted  # loaded with the first drifted ticket

        await update_drifted(rc, rc.drifts[key], log, budget, result)
        return
    log.info("gathering ticket, Confluence pages, conventions")
    ticket = await fetch_ticket(rc.jira, key, cfg.tools, acceptance_field=cfg.acceptance_field)
    criteria = fingerprints(ticket.acceptance_criteria)  # of the whole ticket, before any capping
    ctx = await gather_context(rc, ticket, log, result)

    spec = await rc.planner.plan(ctx, budget, log)
    # The plan chose the file's folder: the writer's first example is a suite of that folder.
    examples = find_examples(rc.suites, ticket, limit=cfg.limits.examples, target=spec.rf.target_path)
    ctx = ctx.model_copy(update={"examples": examples})
    if problem := overwrite_error(ctx, spec.rf.target_path):
        raise PlanError(f"refusing to overwrite: {problem}")
    save_spec(rc, key, spec, result)
    test, validation = await write_and_validate(
        rc, spec, ctx, log, budget, result, shape=lambda text: stamp(text, key, criteria, covers(spec, criteria))
    )
    await publish_test(rc, ticket, spec, test, validation, log, result, examples=ctx.examples)
