"""The main job: select tickets, then gather → plan → write → validate → publish each one.

Tickets run concurrently under separate limits for tickets, LLM calls, MCP calls, GitLab
calls and dryrun processes. Each ticket is isolated: whatever goes wrong becomes that
ticket's `failed` entry, the report journals every ticket as it ends, and the others go on.

Faults are bounded: each ticket has a deadline, an endpoint that stops answering trips its
breaker so tickets not started yet are skipped, and SIGTERM/SIGINT cancel the run cleanly
(unfinished tickets reported `interrupted`, see `generator.run.interrupt`).

Beside this module: `context.py` opens once what the run shares, `slots.py` hands out new-MR slots
before any generation, `ticket.py` takes one ticket from the covered check to publish, `update.py`
a drifted one to an update MR, both through `steps.py`. This folder is the top layer below the
CLI: it may import every stage and concern, and none of them imports it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from generator.clients.breaker import Breakers, GuardedMcp
from generator.clients.llm.budget import RunBudget
from generator.clients.llm.client import Backoff, OpenAIChat
from generator.clients.mcp.client import McpConnection, McpError
from generator.config.repo_file import ConfigError, describe_key, valid_key
from generator.config.settings import Settings
from generator.gather.jira import search_keys
from generator.gather.repo import (
    coverage_index,
)
from generator.models import (
    TicketResult,
)
from generator.outputs.logs import Console
from generator.outputs.report import ReportWriter
from generator.plan.llm import LLMPlanner
from generator.plan.offline import OfflinePlanner
from generator.publish import Publisher, PublishError
from generator.publish.dashboard import DashboardIssue, Requests
from generator.publish.local import LocalPublisher
from generator.retrieval.rank import Retriever
from generator.run.context import RunContext, build_repo_context
from generator.run.interrupt import Stop, in_daemon_thread, stop_on_signals
from generator.run.slots import NewMrSlots
from generator.run.steps import decided, settle
from generator.run.ticket import covered_by, process_ticket, triage_ticket
from generator.safety.redact import Redactor
from generator.validate import dryrun_pool, remove_stale_candidates
from generator.write.llm import LLMWriter
from generator.write.offline import OfflineWriter
from generator.write.repo_tools import gitlab_tools, redacted, repo_tools

if TYPE_CHECKING:  # loaded only when used (see `run`, `RunContext.linter`, `_run`): start-up stays light
    from generator.standin.server import ServedAtlassian

JIRA_AUTH_HINT = (
    "Set JIRA_MCP_TOKEN to your Jira token (a personal access token on Server/Data Center; "
    "on Cloud an API token with JIRA_MCP_AUTH=basic and JIRA_MCP_USER=<email>), JIRA_MCP_AUTH to the scheme "
    "the server expects (bearer, token or basic), or have the server's operator set "
    "ALLOW_GLOBAL_CRED_FALLBACK=true to use the server's own credentials. See docs/atlassian.md."
)


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
    if settings.jql or settings.recreate or dashboard or settings.drift_on:
        return None
    selected = shard(list(dict.fromkeys(settings.keys)), settings.node_index, settings.node_total)
    reasons = [covered_by(coverage, key) for key in selected]
    if not selected or None in reasons:
        return None
    buffered = settings.repo_config.limits.concurrency > 1 and len(selected) > 1
    for key, reason in zip(selected, reasons, strict=True):
        decided(settings, console, report, key, "skipped", str(reason), buffered=buffered)
    return selected


async def _process_all(rc: RunContext, selected: list[str], concurrency: int) -> None:
    """Triage every ticket, hand out new-MR slots in selection order, then generate.

    No ticket past the MR limits reaches the planner; a slot whose ticket opens no MR goes to
    the next waiting ticket (see `generator.run.slots`).
    """
    ticket_limiter = anyio.CapacityLimiter(concurrency)
    needs_slot: dict[str, bool] = {}

    async def triage(key: str) -> None:
        async with ticket_limiter:
            await triage_ticket(rc, key, needs_slot)

    async with anyio.create_task_group() as tg:
        for key in selected:
            tg.start_soon(triage, key)

    capacity: tuple[int, str] | None = None
    if any(needs_slot.values()):
        try:
            capacity = await rc.publisher.new_mr_capacity()
        except PublishError as exc:
            for key in [k for k in selected if needs_slot.get(k)]:
                settle(rc, key, "failed", str(exc))
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
        settle(rc, key, "skipped", slots.reason)


def _invalid_key(report: ReportWriter, raw: str) -> str:
    """A JQL result that is not a key (MCP results are untrusted): a failed entry, nothing else."""
    shown = describe_key(raw)
    reason = f"the JQL search returned {shown}, which is not a Jira key (PROJ-123): ignored, nothing written"
    report.record(TicketResult(key=shown, status="failed", reason=reason))
    return shown


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

    Raises `generator.run.interrupt.Interrupted` after a SIGTERM/SIGINT, once the report is written.
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
    suites = await in_daemon_thread(settings.suites)
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
                temperature=cfg.temperature,
                model_fields={name: options.request_fields() for name, options in cfg.models.items()},
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
                llm,
                settings.model_writer,
                tools=redacted(tools, redactor) if cfg.writer_tools else (),
                max_tool_rounds=limits.max_tool_rounds,
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
        if board is not None:
            rc.baselines = {key: entry.baseline for key, entry in board.state.items() if entry.baseline}
        rc.regenerate, rc.remove = asked.regenerate, asked.remove
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
        console.line(f"jira2robot: dashboard asks to retry, recreate, regenerate or remove: {', '.join(asked.keys)}")
    publisher.allow_recreate(asked.recreate | asked.regenerate)
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
        # The reason often names the file already ("wrote tests/x.robot ..."): print it once.
        where = r.mr_url or r.test_path or ""
        shown = f"{where}  " if where not in r.reason else ""
        gaps = f"  [incomplete: {len(r.open_questions)} open question(s)]" if r.tests_total and not r.complete else ""
        console.line(f"  {r.key:<12} {r.status:<8} {r.attempts} attempt(s) {r.seconds:6.1f}s  {shown}{r.reason}{gaps}")
