"""The offline planner and writer: deterministic, no model, no network.

Planner: acceptance criteria (Gherkin scenarios, numbered procedures, bullet lists) become
test cases and steps. Writer: every step goes through the same `KeywordMatcher` the LLM
writer gets as its lookup tool; a step nothing matches stays in place as the convention's
marker comment (`# MISSING KEYWORD: <step>`), and its test is tagged and ends in `Skip` (or
`Fail`), so it never passes while it verifies less than the ticket asks. Imports are what the
mapped keywords need (see generator/imports.py); setup and teardown follow the most similar
suite; names, documentation and file name follow generator/conventions.py.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from robot.api import get_model
from robot.api.parsing import SuiteSetup, SuiteTeardown, TestSetup, TestTeardown

from generator.budget import TicketBudget
from generator.conventions import file_name, missing_marker_line, test_name, wrapped_setting
from generator.gaps import measured, seal_incomplete
from generator.imports import import_lines_for
from generator.logs import TicketLog
from generator.models import (
    Conventions,
    Diagnostic,
    GeneratedTest,
    SpecConfluence,
    SpecMeta,
    SpecRF,
    SpecSource,
    SpecTestCase,
    StepMapping,
    TestSpec,
    Ticket,
    TicketContext,
)
from generator.plan import PlanError
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import format_call
from generator.retrieval.words import split_bdd_prefix
from generator.trust import escape_cell

SEP = "    "
_SCENARIO = re.compile(r"^\s*scenario(?: outline)?:\s*(?P<name>.*)$", re.IGNORECASE)
_GIVEN = re.compile(r"^\s*given\b", re.IGNORECASE)
_WHEN_THEN = re.compile(r"^\s*(?:when|then)\b", re.IGNORECASE)
_THEN = re.compile(r"^\s*(?:and\s+)?then\b", re.IGNORECASE)
_GHERKIN = re.compile(r"^\s*(?:given|when|then|and|but)\b", re.IGNORECASE)
# A plain bullet ("The code is rejected; the total is unchanged") splits at ';' and 'then'.
_SPLIT = re.compile(r"\s*;\s*|,?\s+(?=(?:then|and then)\s)", re.IGNORECASE)
# A Gherkin bullet ("Given X, and Y, when Z: then W") also splits at ',' or ':' before a
# Gherkin word; a bare "and" or "when" inside a clause ("shown when expired") does not.
_CLAUSE = re.compile(r"\s*;\s*|\s*[,:]\s*(?=(?:given|when|then|and|but)\b)", re.IGNORECASE)
# "Only one code per order: given ..." — a label naming the rule, then the Gherkin clauses.
_LABEL = re.compile(r"^\s*(?P<label>[^:;\"“”]+?)\s*:\s*(?=(?:given|when|then)\b)", re.IGNORECASE)
_AND_THEN = re.compile(r"^and\s+then\b", re.IGNORECASE)
# Quoted values are never split, whatever commas or Gherkin words they hold.
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def _split_outside_quotes(pattern: re.Pattern[str], text: str) -> list[str]:
    """`text` split at `pattern`, except inside quoted values (they are the step's arguments,
    commas and all); a trailing full stop is punctuation, not part of the step."""
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    parts, last = [], 0
    for m in pattern.finditer(text):
        if m.end() > m.start() and not any(start < m.end() and m.start() < end for start, end in quoted):
            parts.append(text[last : m.start()])
            last = m.end()
    parts.append(text[last:])
    return [p.strip().rstrip(".").strip() for p in parts if p.strip().rstrip(".").strip()]


def _gherkin_steps(text: str) -> list[str]:
    """The clauses of a Gherkin criterion, one step each, prefixes capitalised ("When ...");
    "and then" becomes "Then" so the step keeps its phase."""
    steps = []
    for clause in _split_outside_quotes(_CLAUSE, text):
        clause = _AND_THEN.sub("Then", clause)
        if _GHERKIN.match(clause):
            clause = clause[:1].upper() + clause[1:]
        steps.append(clause)
    return steps


def cases_from_criteria(criteria: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """(title, steps, criteria covered) per test case.

    - `Scenario:` blocks and Given...Then line blocks are one case each; a `Given` after a
      `When`/`Then` starts the next case.
    - A Gherkin criterion on one line ("Given X, and Y, when Z, then W") is split into its
      clauses at ';' and at ',' or ':' before a Gherkin word, outside quoted values.
    - "Rule: given ..., then ..." is a case titled by the rule.
    - Any other criterion (bullet or numbered item) is a case of its own, split into steps at
      ';' and 'then'; "X: Y" without Gherkin words stays one step, since the part before the
      colon is rarely a step of its own.

    A case without a scenario or rule name is titled by its first `Then` (the behaviour it
    proves), else by its first step.
    """
    cases: list[tuple[str | None, list[str], list[str]]] = []
    current: tuple[str | None, list[str], list[str]] | None = None
    seen_action = False
    for line in criteria:
        scenario = _SCENARIO.match(line)
        label = None if _GHERKIN.match(line) else _LABEL.match(line)
        if scenario:
            current = (scenario.group("name") or line, [], [line])
            cases.append(current)
            seen_action = False
        elif _GHERKIN.match(line) or label:
            steps = _gherkin_steps(line[label.end() :] if label else line)
            if label or current is None or (_GIVEN.match(steps[0]) and seen_action):
                current = (label.group("label") if label else None, [], [])
                cases.append(current)
                seen_action = False
            current[1].extend(steps)
            current[2].append(line)
            seen_action = seen_action or any(_WHEN_THEN.match(s) for s in steps)
        else:
            current = None
            steps = [s.strip() for s in _SPLIT.split(line) if s and s.strip()]
            cases.append((line, steps or [line], [line]))
    return [
        (title or next((s for s in steps if _THEN.match(s)), steps[0]), steps, covers)
        for title, steps, covers in cases
        if steps
    ]


def target_path_for(
    ticket: Ticket, tests_dir: str, folders: list[str], example_paths: list[str], conventions: Conventions
) -> str:
    """Component folder if it exists, else the most similar suite's folder (the tests folder
    itself when that suite sits directly in it, e.g. suites at the repo root), else `generated/`.

    Normalised (`tests_dir` may be `.`), as the validator's path check expects."""
    wanted = {c.lower() for c in ticket.components} | {label.lower() for label in ticket.labels}
    folder = next((f for f in folders if f.lower() in wanted), None)
    if folder is None and example_paths:
        parent = posixpath.dirname(example_paths[0]) or "."
        relative = posixpath.relpath(parent, tests_dir)
        folder = None if relative.startswith("..") else relative
    name = file_name(ticket.key, ticket.summary, conventions)
    return posixpath.normpath(posixpath.join(tests_dir, folder or "generated", name))


def convention_rules(convention: str, limit: int = 8) -> list[str]:
    """Bullet lines of the convention doc that state a rule (tags, naming, setup...)."""
    rules = []
    for line in convention.splitlines():
        text = line.strip().lstrip("-*• ").strip()
        if line.strip()[:1] in "-*•" and re.search(r"\b(must|tag|name|setup|teardown|always|never)", text, re.I):
            rules.append(text)
    return rules[:limit]


class OfflinePlanner:
    async def plan(self, ctx: TicketContext, budget: TicketBudget, log: TicketLog) -> TestSpec:
        ticket = ctx.ticket
        if not ticket.acceptance_criteria:
            raise PlanError(
                f"{ticket.key} has no acceptance criteria: add an 'Acceptance criteria' section to the "
                "description (Given/When/Then lines, a numbered or bulleted list), or set "
                "acceptance_field in .jira2robot.yml to the Jira field that holds them"
            )
        taken: set[str] = set()
        conventions = ctx.repo.conventions
        components = [c.lower() for c in ticket.components]
        cases = [
            SpecTestCase(
                name=test_name(title, conventions.name_max_words, taken),
                covers=covers,
                tags=[ticket.key, *components],
                steps=steps,
            )
            for title, steps, covers in cases_from_criteria(ticket.acceptance_criteria)
        ]
        log.progress(f"planner (offline): {len(cases)} test case(s) from {len(ticket.acceptance_criteria)} criteria")
        return TestSpec(
            meta=SpecMeta(jira_key=ticket.key, title=ticket.summary),
            confluence=SpecConfluence(
                sources=[SpecSource(page_id=p.page_id, title=p.title, space_key=p.space_key) for p in ctx.pages],
                rules=convention_rules(ctx.repo.convention or ""),
            ),
            rf=SpecRF(
                target_path=target_path_for(
                    ticket, ctx.repo.tests_dir, ctx.repo.folders, [e.path for e in ctx.examples], conventions
                ),
                suite_doc=f"{ticket.key}: {ticket.summary}",
                test_cases=cases,
            ),
        )


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
    if criteria and _SCENARIO.match(criteria[0]):
        return criteria[0].strip()
    return " ".join(c.strip().rstrip(".") + "." for c in criteria)


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
    # Tags every case carries are the suite's `Test Tags` (robocop's could-be-test-tags).
    shared = [t for t in spec.rf.test_cases[0].tags if all(t in c.tags for c in spec.rf.test_cases)]
    suite_tags = list(dict.fromkeys([*spec.rf.force_tags, *shared]))
    if suite_tags:
        out.append(SEP.join(["Test Tags", *(escape_cell(t) for t in suite_tags)]))
    out += ["", "", "*** Test Cases ***"]
    for case, body in zip(spec.rf.test_cases, bodies, strict=True):
        out.append(escape_cell(case.name))
        out += wrapped_setting("[Documentation]", _covers(case.covers) or case.name, SEP, width)
        if tags := [t for t in case.tags if t not in suite_tags]:
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
            matcher.match_case(c.steps, area=posixpath.dirname(spec.rf.target_path)) for c in spec.rf.test_cases
        ]
        example = ctx.examples[0].path if ctx.examples else None
        self.setups = setup_lines(Path(ctx.repo.root), example)

    def _settings(self) -> list[str]:
        """Imports of what the calls need (setup/teardown included), then the setup lines."""
        called = [kw for case in self.mappings for m in case if (kw := self.matcher.keyword_of(m)) is not None]
        kept = [(label, name, args) for label, name, args in self.setups if self.matcher.lookup(name) is not None]
        called += [kw for _, name, _ in kept if (kw := self.matcher.lookup(name)) is not None]
        repo = self.ctx.repo
        lines = import_lines_for(
            called, root=repo.root, common=repo.common_resource, target_path=self.spec.rf.target_path
        )
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
        self.log.progress(f"writer (offline): {mapped}/{len(test.mappings)} steps mapped to existing keywords")
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
