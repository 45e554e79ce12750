"""The main job: select tickets, then gather → plan → write → validate → publish each one.

Tickets run concurrently under separate limits for tickets, LLM calls, MCP calls, GitLab
calls and dryrun processes. Each ticket is isolated: whatever goes wrong becomes that
ticket's `failed` entry, the report journals every ticket as it ends, and the others go on.

Faults are bounded: each ticket has a deadline, an endpoint that stops answering trips its
breaker so tickets not started yet are skipped, and SIGTERM/SIGINT cancel the run cleanly
(unfinished tickets reported `interrupted`, see `generator.interrupt`).
"""

from __future__ import annotations

import hashlib
import posixpath
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from robot.api import get_model
from robot.api.parsing import KeywordCall, ModelVisitor

from generator.breaker import Breakers, EndpointDown, GuardedMcp, is_transport_failure
from generator.budget import BudgetExceeded, RunBudget, RunBudgetSpent, TicketBudget, cap_context
from generator.config import ConfigError, Settings, describe_key, valid_key
from generator.conventions import build_conventions
from generator.gather.confluence import fetch_pages
from generator.gather.jira import TicketError, fetch_ticket, search_keys
from generator.gather.repo import (
    SuiteInfo,
    coverage_index,
    derive_conventions,
    find_examples,
    index_suites,
    read_convention,
    tag_key,
)
from generator.imports import common_resource
from generator.interrupt import Stop, in_daemon_thread, stop_on_signals
from generator.llm import Backoff, LLMError, OpenAIChat
from generator.logs import Console, TicketLog
from generator.mcp_client import McpConnection, McpError
from generator.models import (
    ConfluencePage,
    Diagnostic,
    GeneratedTest,
    RepoContext,
    TestSpec,
    TicketContext,
    TicketResult,
    TicketStatus,
    ValidationResult,
)
from generator.outputs import write_output
from generator.plan import PlanError, Planner, overwrite_error
from generator.plan.llm import LLMPlanner
from generator.plan.offline import OfflinePlanner
from generator.publish import Publisher, PublishError
from generator.publish.dashboard import DashboardIssue, Requests
from generator.publish.local import LocalPublisher
from generator.redact import Redactor
from generator.repo_tools import gitlab_tools, redacted, repo_tools
from generator.report import ReportWriter
from generator.retrieval.inventory import repo_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.rank import Retriever
from generator.slots import NewMrSlots
from generator.validate import UnsafePathError, dryrun_pool, remove_stale_candidates, validate
from generator.validate.pool import DryrunPool
from generator.write import Writer
from generator.write.llm import LLMWriter
from generator.write.offline import OfflineWriter

if TYPE_CHECKING:  # loaded only when used (see `run`, `RunContext.linter`, `_run`): start-up stays light
    from generator.standin.server import ServedAtlassian
    from generator.validate.lint import RepoLint

JIRA_AUTH_HINT = (
    "Set JIRA_MCP_TOKEN to your Jira token (a personal access token on Server/Data Center; "
    "on Cloud an API token with JIRA_MCP_AUTH=basic and JIRA_MCP_USER=<email>), JIRA_MCP_AUTH to the scheme "
    "the server expects (bearer, token or basic), or have the server's operator set "
    "ALLOW_GLOBAL_CRED_FALLBACK=true to use the server's own credentials. See docs/atlassian.md."
)
EXPECTED_ERRORS = (TicketError, PlanError, LLMError, McpError, BudgetExceeded, UnsafePathError, PublishError)


def shard(keys: list[str], index: int, total: int) -> list[str]:
    """This job's share of the keys for `parallel: N`: stable, disjoint, covering, balanced.

    Assignment depends only on the sorted key list, so every shard of one pipeline (which
    all see the same list) agrees on who does what, whatever order the keys came in.
    """
    if total <= 1:
        return list(keys)
    ordered = sorted(set(keys), key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    mine = set(ordered[index - 1 :: total])
    return [k for k in keys if k in mine]


@dataclass
class RunContext:
    """What is opened or built once per run and shared by every ticket."""

    settings: Settings
    console: Console
    repo: RepoContext
    suites: list[SuiteInfo]
    coverage: dict[str, list[str]]
    matcher: KeywordMatcher
    jira: McpConnection
    planner: Planner
    writer: Writer
    publisher: Publisher
    report: ReportWriter
    redact: Redactor
    run_budget: RunBudget
    dryrun_limiter: anyio.CapacityLimiter
    buffered_logs: bool
    breakers: Breakers = field(default_factory=Breakers)
    #: Warm `robot --dryrun` workers for the run's attempts (None: a fresh process each time).
    dryrun_pool: DryrunPool | None = None
    backlog_keys: set[str] = field(default_factory=set)
    _pages: list[ConfluencePage] | None = None
    _pages_lock: anyio.Lock = field(default_factory=anyio.Lock)
    _lint: tuple[RepoLint, float] | None = None
    _lint_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def linter(self) -> tuple[RepoLint, float]:
        """robocop with the repo's configuration and the repo's own issue rate, made by the first
        file that passes its dryrun: a run whose tickets are all covered never loads robocop nor
        lints a sample of the suites before its first decision."""
        async with self._lint_lock:
            if self._lint is None:
                from generator.validate.lint import RepoLint

                lint = RepoLint(self.settings.repo, self.settings.repo_config.tests_dir)
                try:
                    rate = await anyio.to_thread.run_sync(lint.repo_rate, [s.path for s in self.suites])
                except BaseException:
                    lint.close()
                    raise
                self._lint = (lint, rate)
            return self._lint

    def close(self) -> None:
        if self._lint is not None:
            self._lint[0].close()

    async def pages(self) -> list[ConfluencePage]:
        """The Confluence query is the same for every ticket: searched once per run (a failure too)."""
        async with self._pages_lock:
            if self._pages is None:
                cfg = self.settings.repo_config
                self._pages = await fetch_pages(
                    self.jira,
                    cfg.confluence_query,
                    cfg.tools,
                    limit=cfg.confluence_limit,
                    warn=lambda message: self.console.line(f"jira2robot: warning: {message}"),
                )
            return self._pages


def build_repo_context(
    settings: Settings, suites: list[SuiteInfo] | None = None
) -> tuple[RepoContext, list[SuiteInfo]]:
    """The keyword inventory and what the suites tell (`suites`: the index, when already built)."""
    cfg = settings.repo_config
    inventory = repo_inventory(settings)
    suites = index_suites(settings.repo, cfg.tests_dir) if suites is None else suites
    convention, convention_path = read_convention(settings.repo, cfg.convention_doc), cfg.convention_doc
    if convention is None and (convention := derive_conventions(suites, cfg.tests_dir)) is not None:
        convention_path = f"derived from {sum(bool(s.test_names) for s in suites)} suites (no convention document)"
    # Folders below the tests folder holding suites (`tests_dir` may be `.`, the root).
    folders = sorted(
        {f for s in suites if (f := posixpath.relpath(posixpath.dirname(s.path) or ".", cfg.tests_dir)) != "."}
    )
    explicit = {
        "incomplete": cfg.incomplete,
        "name_max_words": cfg.test_name_max_words,
        "slug_max_words": cfg.slug_max_words,
        "line_length": cfg.line_length,
    }
    repo = RepoContext(
        root=str(settings.repo),
        tests_dir=cfg.tests_dir,
        convention_path=convention_path,
        convention=convention,
        inventory=inventory,
        folders=folders,
        conventions=build_conventions(convention, {k: v for k, v in explicit.items() if v is not None}),
        common_resource=common_resource(suites),
    )
    return repo, suites


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
        _count_endpoint_failure(rc, exc)
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


def _count_endpoint_failure(rc: RunContext, exc: Exception) -> None:
    """A ticket that failed because GitLab did not answer counts for GitLab's breaker.

    LLM and MCP failures are counted per call, where they happen (`OpenAIChat`, `GuardedMcp`).
    """
    if isinstance(exc, PublishError) and is_transport_failure(exc):
        rc.breakers.gitlab.failure(str(exc))


async def _skip_reason(rc: RunContext, key: str) -> str | None:
    """Why the ticket needs no generation at all (covered by a test or an MR), else None.

    Raises EndpointDown when GitLab is known to be unreachable: no ticket waits for it again."""
    if not rc.settings.recreate and (reason := _covered_by(rc.coverage, key)):
        return reason
    rc.breakers.check(llm=False, gitlab=rc.settings.publish == "gitlab")
    reason = await rc.publisher.covered(key)
    if reason is None and key in rc.backlog_keys and (mr := await rc.publisher.open_mr(key)):
        reason = f"open MR {mr} already exists (backlog runs do not regenerate open MRs)"
    return reason


def _settle(rc: RunContext, key: str, status: TicketStatus, reason: str) -> None:
    """Record a ticket decided without generation (its log section holds the one-line reason)."""
    _decided(rc.settings, rc.console, rc.report, key, status, reason, buffered=rc.buffered_logs)


def _decided(
    settings: Settings, console: Console, report: ReportWriter, key: str, status: TicketStatus, reason: str, *,
    buffered: bool,
) -> None:  # fmt: skip
    log = TicketLog(console, key, buffered=buffered)
    log.open("checking the ticket")
    log.info(f"{status}: {reason}")
    log.close()
    shard_index = settings.node_index if settings.node_total > 1 else None
    report.record(TicketResult(key=key, status=status, reason=reason, shard=shard_index))


def _all_covered(
    settings: Settings, console: Console, report: ReportWriter, coverage: dict[str, list[str]]
) -> list[str] | None:
    """This job's tickets, settled `skipped`, when a tagged test covers every one; else None.

    When the selection needs no server (no JQL, no dashboard), the coverage rule needs only the
    suite index: deciding it before the MCP connection and the matcher keeps such a run (the
    usual re-run of a pipeline) at start-up cost, with no MCP SDK loaded. Any other ticket
    takes the ordinary path, where `_skip_reason` applies the same rule.
    """
    dashboard = settings.publish == "gitlab" and settings.repo_config.merge_request.dashboard
    if settings.jql or settings.recreate or dashboard:
        return None
    selected = shard(list(dict.fromkeys(settings.keys)), settings.node_index, settings.node_total)
    reasons = [_covered_by(coverage, key) for key in selected]
    if not selected or None in reasons:
        return None
    buffered = settings.repo_config.limits.concurrency > 1 and len(selected) > 1
    for key, reason in zip(selected, reasons, strict=True):
        _decided(settings, console, report, key, "skipped", str(reason), buffered=buffered)
    return selected


def _covered_by(coverage: dict[str, list[str]], key: str) -> str | None:
    covering = coverage.get(tag_key(key))
    return f"already covered by {covering[0]} (tagged {key})" if covering else None


async def _triage(rc: RunContext, key: str, needs_slot: dict[str, bool]) -> None:
    """Checks made before any LLM call; a ticket to generate lands in `needs_slot` (new MR or not)."""
    try:
        reason = await _skip_reason(rc, key)
        if reason is None:
            needs_slot[key] = await rc.publisher.needs_new_mr(key)
            return
        _settle(rc, key, "skipped", reason)
    except EndpointDown as exc:
        _settle(rc, key, "skipped", str(exc))
    except EXPECTED_ERRORS as exc:
        _settle(rc, key, "failed", str(exc))
        _count_endpoint_failure(rc, exc)


async def _process_all(rc: RunContext, selected: list[str], concurrency: int) -> None:
    """Triage every ticket, hand out new-MR slots in selection order, then generate.

    No ticket past the MR limits reaches the planner; a slot whose ticket opens no MR goes to
    the next waiting ticket (see `generator.slots`).
    """
    ticket_limiter = anyio.CapacityLimiter(concurrency)
    needs_slot: dict[str, bool] = {}

    async def triage(key: str) -> None:
        async with ticket_limiter:
            await _triage(rc, key, needs_slot)

    async with anyio.create_task_group() as tg:
        for key in selected:
            tg.start_soon(triage, key)

    capacity: tuple[int, str] | None = None
    if any(needs_slot.values()):
        try:
            capacity = await rc.publisher.new_mr_capacity()
        except PublishError as exc:
            for key in [k for k in selected if needs_slot.get(k)]:
                _settle(rc, key, "failed", str(exc))
                del needs_slot[key]
    slots = NewMrSlots(capacity)

    async def worker(key: str) -> None:
        async with ticket_limiter:
            result = await process_ticket(rc, key)
        if needs_slot[key] and result.status != "created" and (successor := slots.give_back()):
            pool.start_soon(worker, successor)

    async with anyio.create_task_group() as pool:
        for key in selected:
            if key in needs_slot and (not needs_slot[key] or slots.take(key)):
                pool.start_soon(worker, key)
    for key in slots.waiting:
        _settle(rc, key, "skipped", slots.reason)


async def _generate(rc: RunContext, key: str, log: TicketLog, budget: TicketBudget, result: TicketResult) -> None:
    settings, cfg = rc.settings, rc.settings.repo_config
    rc.breakers.check(llm=settings.llm == "openai", gitlab=settings.publish == "gitlab")
    if rc.run_budget.exhausted:
        result.status, result.reason = "skipped", rc.run_budget.reason()
        return

    log.info("gathering ticket, Confluence pages, conventions")
    ticket = await fetch_ticket(rc.jira, key, cfg.tools, acceptance_field=cfg.acceptance_field)
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
        examples=find_examples(rc.suites, ticket, limit=cfg.limits.examples),
    )
    log.info(
        f"ticket: {ticket.summary!r}, {len(ticket.acceptance_criteria)} criteria; "
        f"{len(ctx.pages)} page(s); examples: {', '.join(e.path for e in ctx.examples) or 'none'}"
    )

    spec = await rc.planner.plan(ctx, budget, log)
    # The plan chose the file's folder: the writer's first example is a suite of that folder.
    examples = find_examples(rc.suites, ticket, limit=cfg.limits.examples, target=spec.rf.target_path)
    ctx = ctx.model_copy(update={"examples": examples})
    if problem := overwrite_error(ctx, spec.rf.target_path):
        raise PlanError(f"refusing to overwrite: {problem}")
    spec_json = spec.model_dump_json(indent=2)
    if leaked := rc.redact.found(spec_json):
        raise PlanError(
            f"the planner's spec contains a configured secret ({', '.join(leaked)}): "
            "nothing written or published; check what the ticket asks the model to do"
        )
    spec_file = write_output(settings.output_dir, key, "spec.json", spec_json, rc.redact)
    result.spec_path = spec_file.relative_to(settings.output_dir.resolve()).as_posix()
    result.test_path = spec.rf.target_path
    result.steps_total = sum(len(c.steps) for c in spec.rf.test_cases)

    test, validation = await _write_and_validate(rc, spec, ctx, log, budget, result)
    if not any(d.source == "secret" for d in validation.diagnostics):  # a leaking candidate is never written
        write_output(settings.output_dir, key, Path(test.target_path).name, test.text, rc.redact)
    result.open_questions = test.open_questions
    result.keywords_used = keywords_used(test.text, rc.matcher)
    # Counted from the file written, whichever writer wrote it: console, report and MR agree.
    result.steps_mapped = max(result.steps_total - test.steps_missing, 0)
    result.tests_total, result.tests_incomplete = test.tests, test.incomplete_tests
    result.complete = test.tests > 0 and test.incomplete_tests == 0
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


async def _write_and_validate(
    rc: RunContext, spec: TestSpec, ctx: TicketContext, log: TicketLog, budget: TicketBudget, result: TicketResult
):
    cfg = rc.settings.repo_config
    session = rc.writer.session(spec, ctx, rc.matcher, budget, log)
    result.attempts = 1  # one writer request per draft and per repair
    test: GeneratedTest = await session.draft()
    while True:
        test.target_path = spec.rf.target_path  # the writer never chooses where the file goes
        log.info(f"validating {test.target_path} (attempt {result.attempts}/{cfg.limits.max_attempts})")
        if leaked := rc.redact.found(test.text):
            # Never written, never published: the writer gets it back to remove, like any error.
            validation = ValidationResult(ok=False, diagnostics=[_secret_diagnostic(leaked)])
            test.text = rc.redact(test.text)  # the repair prompt shows the file, never the secret
        else:
            test.text = rc.redact(test.text)  # what is validated is exactly what is written
            validation = await validate(
                test.text,
                test.target_path,
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
            return test, validation
        if validation.environment_error:
            result.reason = "environment error (not the generated test): " + next(
                (d.message for d in validation.diagnostics if d.source == "environment"), "a repo library is missing"
            )
            return test, validation
        if result.attempts >= cfg.limits.max_attempts:
            errors = sum(d.severity == "error" for d in validation.diagnostics)
            what = "robocop gate" if all(d.source == "lint" for d in validation.diagnostics) else "dryrun"
            result.reason = f"{what} still failing after {result.attempts} attempt(s): {errors} error(s)"
            return test, validation
        result.attempts += 1
        repaired = await session.repair(test, validation.diagnostics)
        if repaired.text == test.text:
            result.reason = f"writer could not repair the file ({len(validation.diagnostics)} diagnostic(s))"
            return test, validation
        test = repaired


def _invalid_key(report: ReportWriter, raw: str) -> str:
    """A JQL result that is not a key (MCP results are untrusted): a failed entry, nothing else."""
    shown = describe_key(raw)
    reason = f"the JQL search returned {shown}, which is not a Jira key (PROJ-123): ignored, nothing written"
    report.record(TicketResult(key=shown, status="failed", reason=reason))
    return shown


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


def _publisher(settings: Settings, limiter: anyio.CapacityLimiter, redactor: Redactor) -> Publisher:
    cfg = settings.repo_config
    if settings.publish != "gitlab":
        return LocalPublisher(settings.repo, cfg.tests_dir, write_repo=settings.publish == "local")
    from generator.publish.gitlab import GitLabPublisher

    assert settings.gitlab_url and settings.gitlab_token and settings.gitlab_project
    return GitLabPublisher(
        url=settings.gitlab_url,
        token=settings.gitlab_token.get_secret_value(),
        project=settings.gitlab_project,
        target_branch=settings.target_branch,
        settings=cfg.merge_request,
        max_open_mrs=cfg.limits.max_open_mrs,
        max_new_mrs=cfg.limits.max_new_mrs,
        recreate=settings.recreate,
        limiter=limiter,
        redactor=redactor,
    )


@asynccontextmanager
async def _jira_connection(
    settings: Settings, limiter: anyio.CapacityLimiter, served: ServedAtlassian | None, breakers: Breakers
) -> AsyncIterator[McpConnection]:
    """The Jira/Confluence MCP server: remote, or the embedded one serving a tickets folder."""
    options = {"limiter": limiter, "timeout": settings.repo_config.limits.mcp_timeout, "breaker": breakers.mcp}
    if served is None:
        assert settings.jira_mcp_url
        async with GuardedMcp(
            settings.jira_mcp_url,
            label="Jira",
            headers=settings.jira_mcp_http_headers(),
            auth_hint=JIRA_AUTH_HINT,
            **options,
        ) as jira:
            yield jira
        return
    served.start()
    try:
        async with GuardedMcp(served.url, label="embedded Jira", **options) as jira:
            yield jira
    finally:
        served.stop()


async def run(settings: Settings, console: Console) -> list[TicketResult]:
    """Process every selected ticket; returns the results (also in report.json/junit.xml).

    Raises `generator.interrupt.Interrupted` after a SIGTERM/SIGINT, once the report is written.
    """
    cfg = settings.repo_config
    limits = cfg.limits
    served: ServedAtlassian | None = None
    if settings.tickets_dir is not None:
        from generator.standin.files import TicketStoreError
        from generator.standin.server import ServedAtlassian

        try:  # a malformed ticket file is a usage error: nothing is written yet
            served = ServedAtlassian(settings.tickets_dir, settings.pages_dir)
        except TicketStoreError as exc:
            raise ConfigError([f"--tickets-dir: {exc}"]) from None
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    report = ReportWriter(
        settings.output_dir, redactor=settings.redactor(), cost_per_1k_tokens=limits.cost_per_1k_tokens
    )
    report.flush()
    expected = list(settings.keys)  # the selection, once known: what an interruption reports as unfinished
    async with stop_on_signals() as stop:
        try:
            console.line(f"jira2robot: repo {settings.repo}, publish={settings.publish}, llm={settings.llm}")
            stale = remove_stale_candidates(settings.repo, cfg.tests_dir)
            if stale:
                console.line(
                    f"jira2robot: removed {len(stale)} hidden candidate file(s) left by an earlier, killed run"
                )
            return await _run(settings, console, report, served, expected)
        finally:
            _close_report(report, console, expected, stop)


def _close_report(report: ReportWriter, console: Console, expected: list[str], stop: Stop) -> None:
    """Final render; after a signal, every ticket that did not finish is reported `interrupted`."""
    if stop.signum is not None:
        reason = f"not finished: the job was stopped ({stop.name})"
        unfinished = [key for key in expected if key not in report.results]
        for key in unfinished:
            report.record(TicketResult(key=key, status="interrupted", reason=reason))
        console.line(f"jira2robot: {stop.name}: stopped, {len(unfinished)} ticket(s) not started; report written")
    report.close()


async def _run(
    settings: Settings, console: Console, report: ReportWriter, served: ServedAtlassian | None, expected: list[str]
) -> list[TicketResult]:
    cfg = settings.repo_config
    limits = cfg.limits
    redactor = report.redact
    t0 = time.monotonic()
    # The suites alone decide "already covered": a run of covered tickets builds no inventory.
    suites = await in_daemon_thread(index_suites, settings.repo, cfg.tests_dir)
    coverage = coverage_index(suites)
    if (covered := _all_covered(settings, console, report, coverage)) is not None:
        console.line(
            f"jira2robot: {len(suites)} suites indexed in {time.monotonic() - t0:.2f}s; every ticket is "
            "covered by a tagged test: nothing to generate (no inventory built, no server asked)"
        )
        expected[:] = covered
        results = [report.results[k] for k in covered]
        print_summary(console, results)
        return results
    # Abandoned on cancellation: an interrupt must not wait for a scan importing a slow library.
    repo_ctx, suites = await in_daemon_thread(build_repo_context, settings, suites)
    console.line(
        f"jira2robot: {len(repo_ctx.inventory.keywords)} keywords, {len(suites)} suites indexed "
        f"in {time.monotonic() - t0:.2f}s"
    )
    for problem in repo_ctx.inventory.errors:
        console.line(f"jira2robot: warning: {problem}")
    matcher = Retriever(repo_ctx.inventory, suites)
    breakers = Breakers(limits.breaker_threshold)

    async with AsyncExitStack() as stack:
        llm: OpenAIChat | None = None
        if settings.llm == "openai":
            llm = OpenAIChat(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
                timeout=limits.llm_timeout,
                connect_timeout=limits.llm_connect_timeout,
                stall_timeout=limits.llm_stall_timeout,
                retries=limits.llm_retries,
                limiter=anyio.CapacityLimiter(limits.llm_concurrency),
                backoff=Backoff(),
                breaker=breakers.llm,
            )
            stack.push_async_callback(llm.aclose)
        mcp_limiter = anyio.CapacityLimiter(limits.mcp_concurrency)
        try:
            jira = await stack.enter_async_context(_jira_connection(settings, mcp_limiter, served, breakers))
        except McpError as exc:
            return _fail_all(settings, report, console, str(exc))
        tools = repo_tools(settings.repo, matcher)
        if settings.gitlab_mcp_url:
            try:
                gitlab_mcp = await stack.enter_async_context(
                    McpConnection(
                        settings.gitlab_mcp_url, label="GitLab", limiter=mcp_limiter, timeout=limits.mcp_timeout
                    )
                )
                tools += await gitlab_tools(gitlab_mcp)
            except McpError as exc:
                return _fail_all(settings, report, console, str(exc))

        publisher = _publisher(settings, anyio.CapacityLimiter(limits.gitlab_concurrency), redactor)
        board, asked = await _read_dashboard(settings, publisher, console)
        keys = list(settings.keys)
        backlog: list[str] = []
        invalid: list[str] = []
        if settings.jql:
            try:
                backlog = await search_keys(jira, settings.jql, cfg.tools, limit=settings.max_tickets)
            except McpError as exc:
                return _fail_all(settings, report, console, f"JQL search failed: {exc}")
            console.line(f"jira2robot: JQL selected {len(backlog)} ticket(s)")
            invalid = [k for k in backlog if not valid_key(k)]
            backlog = [k for k in backlog if valid_key(k)]
        selected = shard(list(dict.fromkeys(keys + backlog + asked.keys)), settings.node_index, settings.node_total)
        expected[:] = selected
        if settings.node_total > 1:
            console.line(f"jira2robot: shard {settings.node_index}/{settings.node_total}: {len(selected)} ticket(s)")

        pool = dryrun_pool(settings.repo_python, settings.secrets(), cfg.dryrun_env)
        stack.push_async_callback(pool.aclose)  # an interrupt kills the idle workers too
        rc = RunContext(
            settings=settings,
            console=console,
            repo=repo_ctx,
            suites=suites,
            coverage=coverage,
            matcher=matcher,
            jira=jira,
            planner=LLMPlanner(llm, settings.model_planner) if llm else OfflinePlanner(),
            writer=LLMWriter(
                llm, settings.model_writer, tools=redacted(tools, redactor), max_tool_rounds=limits.max_tool_rounds
            )
            if llm
            else OfflineWriter(),
            publisher=publisher,
            report=report,
            redact=redactor,
            run_budget=RunBudget(limits.max_tokens_per_run),
            dryrun_limiter=anyio.CapacityLimiter(limits.dryrun_workers),
            buffered_logs=limits.concurrency > 1 and len(selected) > 1,
            backlog_keys=set(backlog) - set(keys),
            breakers=breakers,
            dryrun_pool=pool,
        )
        stack.callback(rc.close)
        report.expect(selected)
        rejected = [_invalid_key(report, raw) for raw in invalid]
        await _process_all(rc, selected, limits.concurrency)
        if board is not None:
            await _write_dashboard(board, report, selected, asked, console)

    results = [report.results[k] for k in [*selected, *rejected] if k in report.results]
    print_summary(console, results)
    return results


async def _read_dashboard(
    settings: Settings, publisher: Publisher, console: Console
) -> tuple[DashboardIssue | None, Requests]:
    """The dashboard issue (opt-in, GitLab only) and the tickets its ticked boxes ask for.

    Ticked tickets join this run's selection after the given and JQL keys; "recreate" ones may
    replace their closed MR. An unreadable dashboard never stops the run: it is a side view.
    """
    if settings.publish != "gitlab" or not settings.repo_config.merge_request.dashboard:
        return None, Requests()  # before the import: python-gitlab loads only for --publish gitlab
    from generator.publish.gitlab import GitLabPublisher

    if not isinstance(publisher, GitLabPublisher):
        return None, Requests()
    board = publisher.dashboard()
    try:
        asked = await board.read()
    except PublishError as exc:
        console.line(f"jira2robot: warning: dashboard issue not read: {exc}")
        return board, Requests()
    if asked.keys:
        console.line(f"jira2robot: dashboard asks to retry or recreate: {', '.join(asked.keys)}")
    publisher.allow_recreate(asked.recreate)
    return board, asked


async def _write_dashboard(
    board: DashboardIssue, report: ReportWriter, selected: list[str], asked: Requests, console: Console
) -> None:
    # A ticket held back by the MR limits was not handled: its ticked box stays for the next run.
    handled = {key for key in selected if key in report.results and not report.results[key].reason.startswith("limit ")}
    try:
        url = await board.write(report.results.values(), handled=handled, asked=asked)
    except PublishError as exc:
        console.line(f"jira2robot: warning: dashboard issue not updated: {exc}")
        return
    console.line(f"jira2robot: dashboard {url}")


def _fail_all(settings: Settings, report: ReportWriter, console: Console, reason: str) -> list[TicketResult]:
    """The ticket source is unusable: every requested key fails with the reason (report still written)."""
    console.line(f"jira2robot: error: {reason}")
    results = [TicketResult(key=k, status="failed", reason=reason) for k in settings.keys]
    for r in results:
        report.record(r)
    if not results:
        report.record(TicketResult(key="(selection)", status="failed", reason=reason))
        results = list(report.results.values())
    print_summary(console, results)
    return results


def print_summary(console: Console, results: list[TicketResult]) -> None:
    console.line("")
    console.line("jira2robot summary:")
    for r in results:
        where = r.mr_url or r.test_path or ""
        gaps = f"  [incomplete: {len(r.open_questions)} open question(s)]" if r.tests_total and not r.complete else ""
        console.line(
            f"  {r.key:<12} {r.status:<8} {r.attempts} attempt(s) {r.seconds:6.1f}s  {where}  {r.reason}{gaps}"
        )
