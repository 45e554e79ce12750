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
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from robot.api import get_model
from robot.api.parsing import KeywordCall, ModelVisitor

from generator.atlassian_server import ServedAtlassian, TicketStoreError
from generator.breaker import Breakers, EndpointDown, GuardedMcp, is_transport_failure
from generator.budget import BudgetExceeded, RunBudget, RunBudgetSpent, TicketBudget, cap_context
from generator.config import ConfigError, Settings
from generator.gather.confluence import fetch_pages
from generator.gather.jira import TicketError, fetch_ticket, search_keys
from generator.gather.repo import SuiteInfo, coverage_index, find_examples, index_suites, read_convention
from generator.interrupt import Stop, in_daemon_thread, stop_on_signals
from generator.keywords import build_inventory
from generator.llm import Backoff, LLMError, OpenAIChat
from generator.logs import Console, TicketLog
from generator.matcher import KeywordMatcher
from generator.mcp_client import McpConnection, McpError
from generator.models import ConfluencePage, GeneratedTest, RepoContext, TestSpec, TicketContext, TicketResult
from generator.offline import OfflinePlanner, OfflineWriter
from generator.plan import LLMPlanner, PlanError, Planner, overwrite_error
from generator.publish import Publisher, PublishError
from generator.publish.local import LocalPublisher
from generator.repo_tools import gitlab_tools, repo_tools
from generator.report import ReportWriter
from generator.validate import UnsafePathError, remove_stale_candidates, validate
from generator.write import LLMWriter, Writer

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
    run_budget: RunBudget
    dryrun_limiter: anyio.CapacityLimiter
    buffered_logs: bool
    breakers: Breakers = field(default_factory=Breakers)
    backlog_keys: set[str] = field(default_factory=set)
    _pages: list[ConfluencePage] | None = None
    _pages_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def pages(self) -> list[ConfluencePage]:
        """The Confluence query is the same for every ticket: searched once per run."""
        async with self._pages_lock:
            if self._pages is None:
                cfg = self.settings.repo_config
                self._pages = await fetch_pages(self.jira, cfg.confluence_query, cfg.tools, limit=cfg.confluence_limit)
            return self._pages


def build_repo_context(settings: Settings) -> tuple[RepoContext, list[SuiteInfo]]:
    cfg = settings.repo_config
    inventory = build_inventory(settings.repo, tests_dir=cfg.tests_dir, pythonpath=cfg.pythonpath)
    suites = index_suites(settings.repo, cfg.tests_dir)
    prefix = cfg.tests_dir.rstrip("/") + "/"
    folders = sorted({s.path[len(prefix) :].rsplit("/", 1)[0] for s in suites if s.path.count("/") > prefix.count("/")})
    repo = RepoContext(
        root=str(settings.repo),
        tests_dir=cfg.tests_dir,
        convention_path=cfg.convention_doc,
        convention=read_convention(settings.repo, cfg.convention_doc),
        inventory=inventory,
        folders=folders,
    )
    return repo, suites


def keywords_used(text: str, matcher: KeywordMatcher) -> list[str]:
    """Existing keywords the file calls (what the MR description lists as reused)."""
    names: dict[str, None] = {}

    class Calls(ModelVisitor):
        def visit_KeywordCall(self, node: KeywordCall) -> None:
            keyword = matcher.lookup(node.keyword)
            if keyword is not None and keyword.owner_kind == "resource":
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


async def _generate(rc: RunContext, key: str, log: TicketLog, budget: TicketBudget, result: TicketResult) -> None:
    settings, cfg = rc.settings, rc.settings.repo_config
    covering = rc.coverage.get(key.lower())
    if covering and not settings.recreate:
        result.status, result.reason = "skipped", f"already covered by {covering[0]} (tagged {key})"
        return
    rc.breakers.check(llm=settings.llm == "openai", gitlab=settings.publish == "gitlab")
    reason = await rc.publisher.covered(key)
    if reason is None and key in rc.backlog_keys and (mr := await rc.publisher.open_mr(key)):
        reason = f"open MR {mr} already exists (backlog runs do not regenerate open MRs)"
    if reason:
        result.status, result.reason = "skipped", reason
        return
    if rc.run_budget.exhausted:
        result.status, result.reason = "skipped", rc.run_budget.reason()
        return

    log.progress("gathering ticket, Confluence pages, conventions")
    ticket = await fetch_ticket(rc.jira, key, cfg.tools, acceptance_field=cfg.acceptance_field)
    if rc.repo.convention is None and not cfg.convention_optional:
        raise TicketError(
            f"convention document {cfg.convention_doc} not found in the repo: add it, point convention_doc "
            "at it in .jira2robot.yml, or set convention_optional: true"
        )
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
    if problem := overwrite_error(ctx, spec.rf.target_path):
        raise PlanError(f"refusing to overwrite: {problem}")
    out = settings.output_dir / key
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(spec.model_dump_json(indent=2), encoding="utf-8")
    result.spec_path = (out / "spec.json").relative_to(settings.output_dir).as_posix()
    result.test_path = spec.rf.target_path
    result.steps_total = sum(len(c.steps) for c in spec.rf.test_cases)

    test, validation = await _write_and_validate(rc, spec, ctx, log, budget, result)
    (out / Path(test.target_path).name).write_text(test.text, encoding="utf-8")
    result.open_questions = test.open_questions
    result.keywords_used = keywords_used(test.text, rc.matcher)
    result.steps_mapped = (
        sum(m.how != "placeholder" for m in test.mappings)
        if test.mappings
        else max(result.steps_total - len(test.open_questions), 0)
    )
    if not validation.ok:
        return

    log.progress(f"publishing ({settings.publish})")
    outcome = await rc.publisher.publish(ticket, spec, test, validation, result)
    rc.breakers.gitlab.success()
    result.status, result.reason, result.mr_url = outcome.status, outcome.reason, outcome.mr_url
    if outcome.mr_url and outcome.status == "created" and cfg.merge_request.comment_on_jira:
        await _comment_on_jira(rc, key, outcome.mr_url, log)


async def _write_and_validate(
    rc: RunContext, spec: TestSpec, ctx: TicketContext, log: TicketLog, budget: TicketBudget, result: TicketResult
):
    cfg = rc.settings.repo_config
    session = rc.writer.session(spec, ctx, rc.matcher, budget, log)
    test: GeneratedTest = await session.draft()
    while True:
        result.attempts += 1
        test.target_path = spec.rf.target_path  # the writer never chooses where the file goes
        log.progress(f"validating {test.target_path} (attempt {result.attempts}/{cfg.limits.max_attempts})")
        validation = await validate(
            test.text,
            test.target_path,
            rc.repo.inventory,
            repo=rc.settings.repo,
            tests_dir=cfg.tests_dir,
            robot_options=cfg.robot_options,
            pythonpath=cfg.pythonpath,
            limiter=rc.dryrun_limiter,
        )
        result.diagnostics = validation.diagnostics
        for d in validation.diagnostics:
            log.info(f"  {d.severity} line {d.line if d.line is not None else '-'} [{d.source}]: {d.message}")
        if validation.ok:
            log.progress("dryrun passed")
            return test, validation
        if validation.environment_error:
            result.reason = "environment error (not the generated test): " + next(
                (d.message for d in validation.diagnostics if d.source == "environment"), "a repo library is missing"
            )
            return test, validation
        if result.attempts >= cfg.limits.max_attempts:
            errors = sum(d.severity == "error" for d in validation.diagnostics)
            result.reason = f"dryrun still failing after {result.attempts} attempt(s): {errors} error(s)"
            return test, validation
        repaired = await session.repair(test, validation.diagnostics)
        if repaired.text == test.text:
            result.reason = f"writer could not repair the file ({len(validation.diagnostics)} diagnostic(s))"
            return test, validation
        test = repaired


async def _comment_on_jira(rc: RunContext, key: str, mr_url: str, log: TicketLog) -> None:
    tool = rc.settings.repo_config.tools.jira_add_comment
    if not await rc.jira.tools(allow={tool}):
        log.info(f"the Jira MCP server has no {tool} tool: no comment left on the ticket")
        return
    try:
        await rc.jira.call(tool, {"issue_key": key, "comment": f"jira2robot opened a draft merge request: {mr_url}"})
    except McpError as exc:
        log.info(f"could not comment on the ticket: {exc}")


def _publisher(settings: Settings, limiter: anyio.CapacityLimiter) -> Publisher:
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
    )


@asynccontextmanager
async def _jira_connection(
    settings: Settings, limiter: anyio.CapacityLimiter, served: ServedAtlassian | None, breakers: Breakers
) -> AsyncIterator[McpConnection]:
    """The Jira/Confluence MCP server: remote, or the embedded one serving a tickets folder."""
    options = {"limiter": limiter, "timeout": settings.repo_config.limits.mcp_timeout, "breaker": breakers.mcp}
    if served is None:
        assert settings.jira_mcp_url
        token = settings.jira_mcp_token.get_secret_value() if settings.jira_mcp_token else None
        async with GuardedMcp(settings.jira_mcp_url, label="Jira", token=token, **options) as jira:
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
        try:  # a malformed ticket file is a usage error: nothing is written yet
            served = ServedAtlassian(settings.tickets_dir, settings.pages_dir)
        except TicketStoreError as exc:
            raise ConfigError([f"--tickets-dir: {exc}"]) from None
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    report = ReportWriter(settings.output_dir, secrets=settings.secrets(), cost_per_1k_tokens=limits.cost_per_1k_tokens)
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
    t0 = time.monotonic()
    # Abandoned on cancellation: an interrupt must not wait for a scan importing a slow library.
    repo_ctx, suites = await in_daemon_thread(build_repo_context, settings)
    console.line(
        f"jira2robot: {len(repo_ctx.inventory.keywords)} keywords, {len(suites)} suites indexed "
        f"in {time.monotonic() - t0:.2f}s"
    )
    for problem in repo_ctx.inventory.errors:
        console.line(f"jira2robot: warning: {problem}")
    matcher = KeywordMatcher(repo_ctx.inventory)
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

        keys = list(settings.keys)
        backlog: list[str] = []
        if settings.jql:
            try:
                backlog = await search_keys(jira, settings.jql, cfg.tools, limit=settings.max_tickets)
            except McpError as exc:
                return _fail_all(settings, report, console, f"JQL search failed: {exc}")
            console.line(f"jira2robot: JQL selected {len(backlog)} ticket(s)")
        selected = shard(list(dict.fromkeys(keys + backlog)), settings.node_index, settings.node_total)
        expected[:] = selected
        if settings.node_total > 1:
            console.line(f"jira2robot: shard {settings.node_index}/{settings.node_total}: {len(selected)} ticket(s)")

        rc = RunContext(
            settings=settings,
            console=console,
            repo=repo_ctx,
            suites=suites,
            coverage=coverage_index(suites),
            matcher=matcher,
            jira=jira,
            planner=LLMPlanner(llm, settings.model_planner) if llm else OfflinePlanner(),
            writer=LLMWriter(llm, settings.model_writer, tools=tools, max_tool_rounds=limits.max_tool_rounds)
            if llm
            else OfflineWriter(),
            publisher=_publisher(settings, anyio.CapacityLimiter(limits.gitlab_concurrency)),
            report=report,
            run_budget=RunBudget(limits.max_tokens_per_run),
            dryrun_limiter=anyio.CapacityLimiter(limits.dryrun_workers),
            buffered_logs=limits.concurrency > 1 and len(selected) > 1,
            backlog_keys=set(backlog) - set(keys),
            breakers=breakers,
        )
        ticket_limiter = anyio.CapacityLimiter(limits.concurrency)
        report.expect(selected)

        async def worker(key: str) -> None:
            async with ticket_limiter:
                await process_ticket(rc, key)

        async with anyio.create_task_group() as tg:
            for key in selected:
                tg.start_soon(worker, key)

    results = [report.results[k] for k in selected if k in report.results]
    print_summary(console, results)
    return results


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
        console.line(f"  {r.key:<12} {r.status:<8} {r.attempts} attempt(s) {r.seconds:6.1f}s  {where}  {r.reason}")
