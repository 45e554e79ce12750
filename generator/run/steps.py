"""The steps a new test and a drift update share: gather the ticket's context, write and validate
(with the repair loop), publish; and how a ticket decided without generation is recorded.

`ticket.py` decides what a ticket needs and runs the new-test flow; `update.py` updates a drifted
suite. Both call these steps, so this module imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from robot.api import get_model
from robot.api.parsing import KeywordCall, ModelVisitor

from generator.clients.llm.budget import TicketBudget, cap_context
from generator.clients.mcp.client import McpError
from generator.config.settings import Settings
from generator.gather.criteria import best_match
from generator.models import (
    CriteriaDrift,
    Diagnostic,
    ExampleTest,
    GeneratedTest,
    TestSpec,
    Ticket,
    TicketContext,
    TicketResult,
    TicketStatus,
    ValidationResult,
)
from generator.outputs.files import write_output
from generator.outputs.logs import Console, TicketLog
from generator.outputs.report import ReportWriter
from generator.plan import PlanError
from generator.plan.placement import VOTERS
from generator.retrieval.examples import find_examples, find_similar_suites
from generator.retrieval.matcher import KeywordMatcher
from generator.run.context import RunContext
from generator.validate import check_static, validate
from generator.write.evidence import Evidence, guessed_steps


def keywords_used(text: str, matcher: KeywordMatcher) -> list[str]:
    """Existing keywords the file calls, of its resources and its Python libraries (what the MR
    description lists as reused); BuiltIn's are Robot Framework's, not the repo's."""
    names: dict[str, None] = {}

    class Calls(ModelVisitor):
        def visit_KeywordCall(self, node: KeywordCall) -> None:
            keyword = matcher.lookup(node.keyword)
            if keyword is not None and keyword.owner != "BuiltIn":
                names.setdefault(keyword.name, None)

    Calls().visit(get_model(text))
    return list(names)


def settle(rc: RunContext, key: str, status: TicketStatus, reason: str, drift: CriteriaDrift | None = None) -> None:
    """Record a ticket decided without generation (its log section holds the one-line reason)."""
    decided(rc.settings, rc.console, rc.report, key, status, reason, buffered=rc.buffered_logs, drift=drift)


def decided(
    settings: Settings, console: Console, report: ReportWriter, key: str, status: TicketStatus, reason: str, *,
    buffered: bool, drift: CriteriaDrift | None = None,
) -> None:  # fmt: skip
    log = TicketLog(console, key, buffered=buffered)
    log.open("checking the ticket")
    log.info(f"{status}: {reason}")
    log.close()
    shard_index = settings.node_index if settings.node_total > 1 else None
    report.record(TicketResult(key=key, status=status, reason=reason, shard=shard_index, drift=drift))


async def gather_context(
    rc: RunContext, ticket: Ticket, log: TicketLog, result: TicketResult, *, target: str | None = None
) -> TicketContext:
    """The ticket (capped), the Confluence pages and the examples the planner and writer see."""
    cfg = rc.settings.repo_config
    result.conventions = rc.repo.convention_path if rc.repo.convention is not None else ""
    ticket, pages, result.truncated = cap_context(
        ticket, await rc.pages(), ticket_chars=cfg.limits.max_ticket_chars, page_chars=cfg.limits.max_page_chars
    )
    for note in result.truncated:
        log.info(f"input capped: {note}")
    ctx = TicketContext(
        ticket=ticket,
        pages=pages,
        repo=rc.repo,
        examples=find_examples(rc.suites, ticket, limit=cfg.limits.examples, target=target),
        similar_suites=find_similar_suites(rc.suites, ticket, limit=VOTERS),
    )
    log.info(
        f"ticket: {ticket.summary!r}, {len(ticket.acceptance_criteria)} acceptance-criteria line(s); "
        f"{len(ctx.pages)} page(s); examples: {', '.join(e.path for e in ctx.examples) or 'none'}"
    )
    return ctx


async def publish_test(
    rc: RunContext,
    ticket: Ticket,
    spec: TestSpec,
    test: GeneratedTest,
    validation: ValidationResult,
    log: TicketLog,
    result: TicketResult,
    *,
    examples: Sequence[ExampleTest] = (),
) -> None:
    """Write the output copy, count what the file covers, and publish it once it validated.
    `examples`: the suites the writer was shown, whose arguments count as evidence."""
    settings, cfg, key = rc.settings, rc.settings.repo_config, ticket.key
    if not any(d.source == "secret" for d in validation.diagnostics):  # a leaking candidate is never written
        write_output(settings.output_dir, key, Path(test.target_path).name, test.text, rc.redact)
    result.open_questions = test.open_questions
    result.keywords_used = keywords_used(test.text, rc.matcher)
    evidence = Evidence.of(ticket, list(examples), rc.repo.inventory.variable_names)
    guessed = guessed_steps(test.text, evidence, rc.matcher)
    result.steps_guessed_arguments = len(guessed)
    for step in guessed:
        log.info(f"argument not in the ticket nor an example: {step}")
    # Counted from the file written, whichever writer wrote it: console, report and MR agree.
    result.steps_mapped = max(result.steps_total - test.steps_missing, 0)
    result.tests_total, result.tests_incomplete = test.tests, test.incomplete_tests
    # A file that failed validation is never complete, whatever its steps say.
    result.complete = validation.ok and test.tests > 0 and test.incomplete_tests == 0
    log.info(
        f"{result.steps_mapped}/{result.steps_total} steps mapped; "
        f"{test.tests - test.incomplete_tests}/{test.tests} test(s) complete"
    )
    if not validation.ok:
        return

    log.info(f"publishing ({settings.publish})")
    outcome = await rc.publisher.publish(ticket, spec, test, validation, result)
    rc.breakers.gitlab.success()
    result.status, result.reason, result.mr_url = outcome.status, outcome.reason, outcome.mr_url
    result.test_path = outcome.test_path or result.test_path
    if outcome.mr_url and outcome.status == "created" and cfg.merge_request.comment_on_jira:
        await _comment_on_jira(rc, key, outcome.mr_url, log)


def save_spec(rc: RunContext, key: str, spec: TestSpec, result: TicketResult) -> None:
    """The planner's spec into the output folder (never one holding a secret); the result counts its steps."""
    spec_json = spec.model_dump_json(indent=2)
    if leaked := rc.redact.found(spec_json):
        raise PlanError(
            f"the planner's spec contains a configured secret ({', '.join(leaked)}): "
            "nothing written or published; check what the ticket asks the model to do"
        )
    spec_file = write_output(rc.settings.output_dir, key, "spec.json", spec_json, rc.redact)
    result.spec_path = spec_file.relative_to(rc.settings.output_dir.resolve()).as_posix()
    result.test_path = spec.rf.target_path
    result.steps_total = sum(len(c.steps) for c in spec.rf.test_cases)


def covers(spec: TestSpec, criteria: dict[str, str]) -> dict[str, list[str]]:
    """Test case name → fingerprints of the criteria its spec entry says it covers."""
    return {c.name: [fp for text in c.covers if (fp := best_match(text, criteria))] for c in spec.rf.test_cases}


async def write_and_validate(
    rc: RunContext,
    spec: TestSpec,
    ctx: TicketContext,
    log: TicketLog,
    budget: TicketBudget,
    result: TicketResult,
    *,
    shape: Callable[[str], str],
) -> tuple[GeneratedTest, ValidationResult]:
    """Draft, validate, repair within the attempts; then `shape` turns the writer's passing file into
    the file to publish (provenance stamped, or merged into the drifted suite), validated again as
    that file: what is validated is what is published, and the writer's diagnostics and robocop's
    gate stay about the writer's own lines."""
    cfg = rc.settings.repo_config
    session = rc.writer.session(spec, ctx, rc.matcher, budget, log)
    result.attempts = 1  # one writer request per draft and per repair
    test: GeneratedTest = await session.draft()
    while True:
        test.target_path = spec.rf.target_path  # the writer never chooses where the file goes
        log.info(f"validating {test.target_path} (attempt {result.attempts}/{cfg.limits.max_attempts})")
        if leaked := rc.redact.found(test.text):
            # Never written, never published: the writer gets it back to remove, like any error,
            # with what the static checks say of the rest (no dryrun runs a leaking file).
            test.text = rc.redact(test.text)  # the repair prompt shows the file, never the secret
            static = check_static(
                test.text, test.target_path, rc.repo.inventory, repo=rc.settings.repo, tests_dir=cfg.tests_dir
            )
            validation = ValidationResult(ok=False, diagnostics=[_secret_diagnostic(leaked), *static])
        else:
            test.text = rc.redact(test.text)  # what is validated is exactly what is written
            validation = await validate_file(rc, test.text, test.target_path)
        if validation.ok:
            log.info("dryrun passed")
            # Formatting keeps the meaning (robocop's formatter works on RF's own model), so the
            # dryrun verdict holds; diagnostics above refer to the writer's own line numbers.
            lint, lint_rate = await rc.linter()
            test.text = lint.format(test.text, test.target_path)
            linted = lint.lint(test.text, test.target_path)
            result.lint_issues = len(linted.issues)
            log.info(
                f"robocop: {len(linted.issues)} issue(s), {linted.per_100_lines:.1f} per 100 lines "
                f"(the repo's suites: {lint_rate:.1f})"
            )
            if gate := lint.gate(linted, lint_rate):
                validation = ValidationResult(ok=False, diagnostics=[*validation.diagnostics, *gate])
        result.diagnostics = validation.diagnostics
        for d in validation.diagnostics:
            log.info(f"  {d.severity} line {d.line if d.line is not None else '-'} [{d.source}]: {d.message}")
        if validation.ok:
            return await _publishable(rc, test, shape, log, result)
        if validation.environment_error:
            result.reason = "environment error (not the generated test): " + next(
                (d.message for d in validation.diagnostics if d.source == "environment"), "a repo library is missing"
            )
            return test, validation
        if result.attempts >= cfg.limits.max_attempts:
            errors = sum(d.severity == "error" for d in validation.diagnostics)
            result.reason = (
                f"{_failed_checks(validation)} still failing after {result.attempts} attempt(s): {errors} error(s)"
            )
            return test, validation
        result.attempts += 1
        repaired = await session.repair(test, validation.diagnostics)
        if repaired.text == test.text:
            result.reason = f"writer could not repair the file ({len(validation.diagnostics)} diagnostic(s))"
            return test, validation
        test = repaired


# What each diagnostic source is called in a failure reason, in the order the checks run.
_CHECK_NAMES = {
    "secret": "secret check",
    "parse": "parse",
    "path": "path check",
    "trust": "trust rule",
    "import": "import allow-list",
    "dryrun": "dryrun",
    "lint": "robocop gate",
}


def _failed_checks(validation: ValidationResult) -> str:
    """The checks that failed, by name: a reason never says "dryrun" when no dryrun ran."""
    failed = {d.source for d in validation.diagnostics if d.severity == "error"}
    names = [name for source, name in _CHECK_NAMES.items() if source in failed]
    return ", ".join(names) or "validation"


async def _publishable(
    rc: RunContext, test: GeneratedTest, shape: Callable[[str], str], log: TicketLog, result: TicketResult
) -> tuple[GeneratedTest, ValidationResult]:
    """The writer's validated file shaped for publishing, and that file's own validation."""
    test.text = shape(test.text)
    if leaked := rc.redact.found(test.text):  # ticket text went into the provenance lines
        validation = ValidationResult(ok=False, diagnostics=[_secret_diagnostic(leaked)])
    else:
        log.info(f"validating {test.target_path} as published (provenance, merge)")
        validation = await validate_file(rc, test.text, test.target_path)
    result.diagnostics = validation.diagnostics
    if not validation.ok:
        result.reason = f"the file as published fails validation: {validation.diagnostics[0].message}"
    return test, validation


async def validate_file(rc: RunContext, text: str, path: str) -> ValidationResult:
    """Static checks and `robot --dryrun` of `text` as the repo's file `path`, with the repo's options."""
    cfg = rc.settings.repo_config
    return await validate(
        text,
        path,
        rc.repo.inventory,
        repo=rc.settings.repo,
        tests_dir=cfg.tests_dir,
        robot_options=cfg.robot_options,
        pythonpath=cfg.pythonpath,
        limiter=rc.dryrun_limiter,
        secrets=rc.settings.secrets(),
        dryrun_env=cfg.dryrun_env,
        python=rc.settings.repo_python,
        pool=rc.dryrun_pool,
    )


def _secret_diagnostic(leaked: list[str]) -> Diagnostic:
    return Diagnostic(
        source="secret",
        message=f"the file contains a credential of this run ({', '.join(leaked)}), raw or escaped: "
        "remove it; a test never holds tokens or passwords (use the repo's variables instead)",
    )


async def _comment_on_jira(rc: RunContext, key: str, mr_url: str, log: TicketLog) -> None:
    tool = rc.settings.repo_config.tools.jira_add_comment
    if not await rc.jira.tools(allow={tool}):
        log.info(f"the Jira MCP server has no {tool} tool: no comment left on the ticket")
        return
    try:
        comment = rc.redact(f"jira2robot opened a draft merge request: {mr_url}")
        await rc.jira.call(tool, {"issue_key": key, "body": comment})
    except McpError as exc:
        log.info(f"could not comment on the ticket: {exc}")
