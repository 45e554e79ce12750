"""The offline writer: deterministic, no model, no network.

Every step goes through the same `KeywordMatcher` the LLM writer gets as its lookup tool; a
step nothing matches stays in place as the convention's marker comment
(`# MISSING KEYWORD: <step>`), and its test is tagged and ends in `Skip` (or `Fail`), so it
never passes while it verifies less than the ticket asks. Imports are what the mapped keywords
need (see generator/write/imports.py); setup and teardown follow the most similar suite; names and
documentation follow generator/plan/conventions.py.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from robot.api import get_model
from robot.api.parsing import SuiteSetup, SuiteTeardown, TestSetup, TestTeardown

from generator.clients.llm.budget import TicketBudget
from generator.models import Conventions, Diagnostic, GeneratedTest, StepMapping, TestSpec, TicketContext
from generator.outputs.logs import TicketLog
from generator.plan.conventions import missing_marker_line, one_line_setting, wrapped_setting
from generator.plan.offline import is_scenario
from generator.retrieval.conditions import open_conditions
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import format_call
from generator.retrieval.words import split_bdd_prefix
from generator.validate.trust import escape_cell
from generator.write.evidence import Evidence, is_guessed
from generator.write.gaps import measured, seal_incomplete
from generator.write.imports import import_lines, import_targets, leaned_on

SEP = "    "


def setup_lines(repo: Path, example_path: str | None) -> list[tuple[str, str, list[str]]]:
    """(setting, keyword, args) of the most similar suite's setup and teardown: the house habit."""
    if not example_path:
        return []
    labels = {SuiteSetup: "Suite Setup", SuiteTeardown: "Suite Teardown", TestSetup: "Test Setup",
              TestTeardown: "Test Teardown"}  # fmt: skip
    return [
        (labels[type(node)], node.name, list(node.args))
        for section in get_model(repo / example_path).sections
        for node in section.body
        if isinstance(node, SuiteSetup | SuiteTeardown | TestSetup | TestTeardown) and node.name
    ]


def _covers(criteria: list[str]) -> str:
    """The criteria a case verifies; a scenario is named by its title line alone."""
    if criteria and is_scenario(criteria[0]):
        return criteria[0].strip()
    return " ".join(c.strip().rstrip(".") + "." for c in criteria)


def _behaviour(steps: list[str]) -> str | None:
    """The behaviour a case proves, as one sentence: its first `Then` step ("The order status
    is CANCELLED."), for a repo whose tests say it in one documentation line."""
    for step in steps:
        prefix, body = split_bdd_prefix(step)
        if prefix.lower() == "then" and body:
            return f"{body[:1].upper()}{body[1:].rstrip('.')}."
    return None


def _bdd_case(line: str) -> str:
    """`Given the user ...` as `Given The user ...`: one prefix case throughout the file, and the
    keyword's first word capitalised as in the repo's suites (RF matches names case-insensitively)."""
    first, sep, args = line.partition(SEP)
    prefix, rest = split_bdd_prefix(first)
    name = f"{prefix.capitalize()} {rest[:1].upper()}{rest[1:]}" if prefix else first[:1].upper() + first[1:]
    return name + sep + args


def render_step(mapping: StepMapping, conventions: Conventions) -> str:
    """A mapped step as its call; an unmapped one as the convention's marker comment."""
    if mapping.how == "placeholder" or mapping.keyword is None:
        return missing_marker_line(conventions.missing_marker, mapping.step, conventions.line_length, SEP)
    return _bdd_case(format_call(mapping))


def render_suite(spec: TestSpec, settings: list[str], bodies: list[list[str]], conventions: Conventions) -> str:
    """The suite text; every ticket-derived string goes through `escape_cell` (or is a comment)."""
    width = conventions.line_length
    out = ["*** Settings ***", *wrapped_setting("Documentation", spec.rf.suite_doc or spec.meta.title, "", width)]
    out += settings
    # Tags every case carries are the suite's `Test Tags` (robocop's could-be-test-tags), unless
    # the convention wants each test's own `[Tags]`.
    shared = [t for t in spec.rf.test_cases[0].tags if all(t in c.tags for c in spec.rf.test_cases)]
    suite_tags = [] if conventions.tags_per_test else list(dict.fromkeys([*spec.rf.force_tags, *shared]))
    documentation = one_line_setting if conventions.doc_one_line else wrapped_setting
    if suite_tags:
        out.append(SEP.join(["Test Tags", *(escape_cell(t) for t in suite_tags)]))
    out += ["", "", "*** Test Cases ***"]
    for case, body in zip(spec.rf.test_cases, bodies, strict=True):
        out.append(escape_cell(case.name))
        text = _behaviour(case.steps) if conventions.doc_one_line else None
        out += documentation("[Documentation]", text or _covers(case.covers) or case.name, SEP, width)
        own = [*spec.rf.force_tags, *case.tags] if conventions.tags_per_test else case.tags
        if tags := [t for t in dict.fromkeys(own) if t not in suite_tags]:
            out.append(SEP.join(["", "[Tags]", *(escape_cell(t) for t in tags)]))
        out += [SEP + line for line in body]
        out.append("")
    return seal_incomplete("\n".join(out).rstrip() + "\n", conventions)


class OfflineWriter:
    def session(
        self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, budget: TicketBudget, log: TicketLog
    ) -> OfflineWriterSession:
        return OfflineWriterSession(spec, ctx, matcher, log)


class OfflineWriterSession:
    def __init__(self, spec: TestSpec, ctx: TicketContext, matcher: KeywordMatcher, log: TicketLog):
        self.spec = spec
        self.ctx = ctx
        self.matcher = matcher
        self.log = log
        self.mappings: list[list[StepMapping]] = [
            self._checked(matcher.match_case(c.steps, area=posixpath.dirname(spec.rf.target_path)))
            for c in spec.rf.test_cases
        ]
        example = ctx.examples[0].path if ctx.examples else None
        self.setups = setup_lines(Path(ctx.repo.root), example)

    def _checked(self, mappings: list[StepMapping]) -> list[StepMapping]:
        """Each mapping, or a gap saying why it is not written: a call passing an argument
        neither the ticket nor an example holds (generator/write/evidence.py: it would pass the
        dryrun and fail the run), or a keyword chosen by resemblance that leaves a condition of
        the step unchecked (generator/retrieval/conditions.py). The reviewer adds the step; the
        test never passes without it."""
        evidence = Evidence.of(self.ctx.ticket, self.ctx.examples, self.ctx.repo.inventory.variable_names)
        out = []
        for m in mappings:
            kw = self.matcher.keyword_of(m)
            if kw is not None and is_guessed(render_step(m, self.ctx.repo.conventions), evidence, self.matcher):
                m = StepMapping(step=f"{m.step} (`{kw.name}` needs an argument the ticket does not give)")
            elif kw is not None and m.how == "similar" and (left := open_conditions(m.step, kw, m.args)):
                unchecked = ", ".join(f'"{c}"' for c in left)
                m = StepMapping(step=f"{m.step} (`{kw.name}` does not check {unchecked})")
            out.append(m)
        return out

    def _settings(self) -> list[str]:
        """Imports of what the calls need (setup/teardown included), then the setup lines."""
        called = [kw for case in self.mappings for m in case if (kw := self.matcher.keyword_of(m)) is not None]
        kept = [(label, name, args) for label, name, args in self.setups if self.matcher.lookup(name) is not None]
        called += [kw for _, name, _ in kept if (kw := self.matcher.lookup(name)) is not None]
        repo = self.ctx.repo
        targets = import_targets(called, root=repo.root, common=repo.common_resource)
        sibling = self.ctx.examples[0] if self.ctx.examples else None
        targets += leaned_on(sibling, targets, root=repo.root)
        lines = import_lines(targets, self.spec.rf.target_path)
        return lines + [SEP.join([label, name, *args]) for label, name, args in kept]

    def _render(self) -> GeneratedTest:
        conventions = self.ctx.repo.conventions
        bodies = [[render_step(m, conventions) for m in case] for case in self.mappings]
        text = render_suite(self.spec, self._settings(), bodies, conventions)
        flat = [m for case in self.mappings for m in case]
        return measured(GeneratedTest(target_path=self.spec.rf.target_path, text=text, mappings=flat), conventions)

    async def draft(self) -> GeneratedTest:
        test = self._render()
        mapped = sum(m.how != "placeholder" for m in test.mappings)
        self.log.info(f"writer (offline): {mapped}/{len(test.mappings)} steps mapped to existing keywords")
        for m in test.mappings:
            self.log.info(f"  {m.how:<11} {m.step!r} -> {m.keyword or 'missing'}")
        return test

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest:
        """Turn every step a diagnostic points at into a missing-keyword marker; the rest is kept."""
        lines = previous.text.splitlines()
        # Lint findings are not the mapping's fault: the offline output is formatted and
        # house-styled by construction, so only dryrun/parse errors unmap a step.
        diagnostics = [d for d in diagnostics if d.source != "lint"]
        bad = {d.line for d in diagnostics if d.line and d.severity == "error"}
        conventions = self.ctx.repo.conventions
        for case in self.mappings:
            for i, m in enumerate(case):
                rendered = SEP + render_step(m, conventions)
                hit = any(0 < n <= len(lines) and lines[n - 1] == rendered for n in bad)
                named = any(d.keyword and m.keyword and d.keyword.lower() == m.keyword.lower() for d in diagnostics)
                if m.how != "placeholder" and (hit or named):
                    case[i] = StepMapping(step=m.step)
        return self._render()
