"""A covered ticket under drift detection: decided without the LLM, or updated with the smallest change.

Triage (`triage_drift`) reads the ticket and the suite index only. An unchanged ticket, one whose
baseline is being recorded and an orphaned one are settled `skipped` on the spot; a drifted one is
`drifted` and, unless a backlog run finds its update MR already open, goes on to `update_drifted`.

The update goes through the same pipeline as a new test (slot, planner, writer, static checks,
dryrun, robocop, publisher): the planner is given only the criteria whose test cases change, and
each draft is merged into the existing suite (`generator.write.provenance.merge`) before it is
validated, so what the dryrun proves is the file the MR carries. Criteria that only went away
need no LLM: their test cases are removed from the suite, validated, and the MR says why.
"""

from __future__ import annotations

import anyio

from generator.clients.llm.budget import TicketBudget
from generator.gather.criteria import case_criteria
from generator.gather.drift import DriftCheck, check_drift, keep_cases
from generator.gather.jira import fetch_ticket
from generator.gather.repo import SuiteInfo, tag_key
from generator.models import (
    GeneratedTest,
    SpecMeta,
    SpecRF,
    SpecTestCase,
    TestSpec,
    Ticket,
    TicketResult,
)
from generator.outputs.logs import TicketLog
from generator.plan import PlanError
from generator.publish.dashboard import CLOSED_PREFIX
from generator.publish.history import edited_by_people
from generator.run.context import RunContext
from generator.run.steps import (
    covers,
    gather_context,
    publish_test,
    save_spec,
    settle,
    validate_file,
    write_and_validate,
)
from generator.write.provenance import merge, stamp

#: A settings section alone: the candidate of an update that only removes test cases.
_SETTINGS_ONLY = "*** Settings ***\n"


def covering_suite(rc_suites: list[SuiteInfo], paths: list[str]) -> SuiteInfo:
    """The suite a drift check reads: the first covering one that records criteria, else the first."""
    by_path = {s.path: s for s in rc_suites if s.path in paths}
    suites = [by_path[p] for p in paths if p in by_path]
    return next((s for s in suites if any(n.startswith("Jira Criterion ") for n in s.suite_metadata)), suites[0])


async def triage_drift(rc: RunContext, key: str, needs_slot: dict[str, bool]) -> None:
    """Check one covered ticket; only a drifted one that needs an update lands in `needs_slot`."""
    cfg = rc.settings.repo_config
    suite = covering_suite(rc.suites, rc.coverage[tag_key(key)])
    check = await check_drift(
        rc.jira, key, suite, cfg.tools, acceptance_field=cfg.acceptance_field, baseline=rc.baselines.get(key)
    )
    if check.drift.state == "orphaned" and key in rc.remove:
        outcome = await rc.publisher.propose_removal(key, [check.drift.test_path], check.reason)
        rc.report.record(
            TicketResult(
                key=key, status=outcome.status, reason=outcome.reason, mr_url=outcome.mr_url, drift=check.drift
            )
        )
        return
    if check.drift.state != "drifted":
        settle(rc, key, "skipped", check.reason, check.drift)
        return
    if (covered := await rc.publisher.covered(key)) and covered.startswith(CLOSED_PREFIX):
        # A reviewer closed the update MR: a final "no" until the dashboard's regenerate box says otherwise.
        settle(rc, key, "drifted", f"{check.reason}; {covered}", check.drift)
        return
    if key in rc.backlog_keys and (mr := await rc.publisher.open_mr(key)):
        reason = f"{check.reason}; update MR {mr} is open (backlog runs do not regenerate open MRs)"
        settle(rc, key, "drifted", reason, check.drift)
        return
    rc.drifts[key] = check
    rc.publisher.allow_update({key})
    needs_slot[key] = await rc.publisher.needs_new_mr(key)


def _remaining_spec(ticket: Ticket, path: str, text: str, criteria: dict[str, str]) -> TestSpec:
    """The spec of a suite updated without the planner: its test cases and the criteria they carry."""
    cases = [
        SpecTestCase(name=name, covers=[criteria[fp] for fp in fps if fp in criteria], steps=["(unchanged)"])
        for name, fps in case_criteria(text).items()
    ]
    return TestSpec(
        meta=SpecMeta(jira_key=ticket.key, title=ticket.summary), rf=SpecRF(target_path=path, test_cases=cases)
    )


async def update_drifted(
    rc: RunContext, check: DriftCheck, log: TicketLog, budget: TicketBudget, result: TicketResult
) -> None:
    """Propose the smallest change of the drifted suite as a draft MR (or into the working tree)."""
    cfg, key, plan, path = rc.settings.repo_config, result.key, check.plan, check.drift.test_path
    result.drift = check.drift
    log.info(f"{check.reason}: rewriting {plan.rewritten or 'no'} test case(s), removing {plan.removed or 'none'}")
    ticket = await fetch_ticket(rc.jira, key, cfg.tools, acceptance_field=cfg.acceptance_field)
    criteria = check.criteria
    existing = (rc.settings.repo / path).read_text(encoding="utf-8")
    if kept := await anyio.to_thread.run_sync(edited_by_people, rc.settings.repo, path, existing, plan.gone):
        log.info(f"kept as people edited them since jira2robot's last commit: {kept}")
        plan = keep_cases(plan, kept)
        check.drift.tests_kept = kept
        check.drift.tests_rewritten, check.drift.tests_removed = plan.rewritten, plan.removed
    if plan.regenerate:
        asked = ticket.model_copy(update={"acceptance_criteria": plan.regenerate})
        ctx = await gather_context(rc, asked, log, result, target=path)
        spec = await rc.planner.plan(ctx, budget, log)
        spec.rf.target_path = path  # the update goes into the suite that drifted, wherever the planner aimed
        save_spec(rc, key, spec, result)

        test, validation = await write_and_validate(
            rc,
            spec,
            ctx,
            log,
            budget,
            result,
            shape=lambda text: merge(
                existing,
                stamp(text, key, criteria, covers(spec, criteria)),
                gone=plan.gone,
                replaced_by=plan.replaced_by,
            ),
        )
    else:
        text = merge(existing, stamp(_SETTINGS_ONLY, key, criteria, {}), gone=plan.gone, replaced_by={})
        if not case_criteria(text):
            raise PlanError(f"every test case of {path} covers only removed criteria: remove the suite by hand")
        spec = _remaining_spec(ticket, path, text, criteria)
        test = GeneratedTest(target_path=path, text=text, tests=len(spec.rf.test_cases))
        if leaked := rc.redact.found(text):
            raise PlanError(f"the updated suite would hold a configured secret ({', '.join(leaked)}): not published")
        validation = await validate_file(rc, test.text, path)
        result.diagnostics = validation.diagnostics
    result.test_path = path
    shown = ctx.examples if plan.regenerate else []
    await publish_test(rc, ticket, spec, test, validation, log, result, examples=shown)
    if result.status in ("created", "updated", "skipped"):
        result.status, result.reason = "drifted", f"{check.reason}; {result.reason}"
