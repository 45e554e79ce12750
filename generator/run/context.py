"""What a run opens or builds once and every ticket shares (`RunContext`): the repo's keyword
inventory and suites, the MCP connection, planner, writer, publisher, report, limits, the warm
dryrun workers and the lint bar. `build_repo_context` is also what the benchmarks build."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from generator.clients.breaker import Breakers
from generator.clients.llm.budget import RunBudget
from generator.clients.mcp.client import McpConnection
from generator.config.settings import Settings
from generator.gather.confluence import fetch_pages
from generator.gather.repo import (
    SuiteInfo,
    derive_conventions,
    derived_conventions,
    index_suites,
    read_convention,
)
from generator.models import (
    ConfluencePage,
    RepoContext,
)
from generator.outputs.logs import Console
from generator.outputs.report import ReportWriter
from generator.plan import Planner
from generator.plan.conventions import build_conventions
from generator.publish import Publisher
from generator.retrieval.inventory import repo_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.safety.redact import Redactor
from generator.validate.pool import DryrunPool
from generator.write import Writer
from generator.write.imports import common_resource

if TYPE_CHECKING:  # loaded only when used (see `run`, `RunContext.linter`, `_run`): start-up stays light
    from generator.gather.drift import DriftCheck
    from generator.validate.lint import RepoLint


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
    #: Drifted covered tickets this run updates (filled by triage, read by generation).
    drifts: dict[str, DriftCheck] = field(default_factory=dict)
    #: Criteria recorded for suites without provenance (from the dashboard): key → fingerprint → text.
    baselines: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Dashboard boxes: drifted tickets to regenerate now, orphaned tests whose removal MR is asked for.
    regenerate: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)
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

                per_test_tags = self.repo.conventions.tags_per_test
                ignore = ["could-be-test-tags"] if per_test_tags else []
                lint = RepoLint(self.settings.repo, self.settings.repo_config.tests_dir, ignore=ignore)
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
        conventions=build_conventions(
            convention, {k: v for k, v in explicit.items() if v is not None}, derived_conventions(suites)
        ),
        common_resource=common_resource(suites),
    )
    return repo, suites
