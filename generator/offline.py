"""The offline planner and writer: deterministic, no model, no network.

Planner: acceptance criteria (Gherkin scenarios, numbered procedures, bullet lists) become
test cases and steps. Writer: every step goes through the same `KeywordMatcher` the LLM
writer gets as its lookup tool; a step nothing matches becomes a marked placeholder that
still passes dryrun and is listed as an open question. Settings (imports, setup/teardown)
are copied from the most similar existing suite, so the file looks like the team's own.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from robot.api import get_model
from robot.api.parsing import (
    LibraryImport,
    ResourceImport,
    SuiteSetup,
    SuiteTeardown,
    TestSetup,
    TestTeardown,
    VariablesImport,
)

from generator.budget import TicketBudget
from generator.logs import TicketLog
from generator.matcher import KeywordMatcher, format_call
from generator.models import (
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
from generator.trust import escape_cell
from generator.write import open_questions

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
_SLUG = re.compile(r"[^a-z0-9]+")


def _case_name(text: str, taken: set[str]) -> str:
    name = re.sub(r"\s+", " ", text.strip().rstrip(".:")).strip()
    name = re.sub(r"^(?:given|when|then|and|but)\s+", "", name, flags=re.IGNORECASE)
    name = (name[:1].upper() + name[1:])[:90].rstrip() or "Acceptance"
    unique, n = name, 2
    while unique.lower() in taken:
        unique, n = f"{name} {n}", n + 1
    taken.add(unique.lower())
    return unique


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


def slug(text: str, limit: int = 40) -> str:
    return _SLUG.sub("_", text.lower()).strip("_")[:limit].rstrip("_") or "test"


def target_path_for(ticket: Ticket, tests_dir: str, folders: list[str], example_paths: list[str]) -> str:
    """Component folder if it exists, else the most similar suite's folder, else `generated/`."""
    wanted = {c.lower() for c in ticket.components} | {label.lower() for label in ticket.labels}
    folder = next((f for f in folders if f.lower() in wanted), None)
    if folder is None and example_paths:
        parent = posixpath.dirname(example_paths[0])
        folder = posixpath.relpath(parent, tests_dir) if parent.startswith(tests_dir) else None
    folder = folder if folder and folder != "." else "generated"
    return f"{tests_dir}/{folder}/{ticket.key.lower()}_{slug(ticket.summary)}.robot"


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
        components = [c.lower() for c in ticket.components]
        cases = [
            SpecTestCase(
                name=_case_name(title, taken),
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
                    ticket, ctx.repo.tests_dir, ctx.repo.folders, [e.path for e in ctx.examples]
                ),
                suite_doc=f"{ticket.key}: {ticket.summary}",
                test_cases=cases,
            ),
        )


def _relocate(value: str, from_dir: str, to_dir: str) -> str:
    """An import path valid in from_dir, rewritten to be valid in to_dir (variables left alone)."""
    if "${" in value and not value.startswith("${CURDIR}"):
        return value
    if value.startswith("${CURDIR}"):
        rest = value[len("${CURDIR}") :].lstrip("/")
        return "${CURDIR}/" + posixpath.relpath(posixpath.normpath(posixpath.join(from_dir, rest)), to_dir)
    if not value.endswith((".resource", ".robot", ".py", ".yaml", ".yml", ".json")) or posixpath.isabs(value):
        return value
    return posixpath.relpath(posixpath.normpath(posixpath.join(from_dir, value)), to_dir)


def settings_from_example(repo: Path, example_path: str | None, target_path: str) -> list[str]:
    """Imports and setup/teardown of the most similar suite, re-rooted for the new file's folder."""
    if not example_path:
        return []
    model = get_model(repo / example_path)
    from_dir, to_dir = posixpath.dirname(example_path), posixpath.dirname(target_path)
    lines = []
    for section in model.sections:
        for node in section.body:
            if isinstance(node, LibraryImport | ResourceImport | VariablesImport):
                label = {LibraryImport: "Library", ResourceImport: "Resource", VariablesImport: "Variables"}[type(node)]
                name = _relocate(node.name, from_dir, to_dir)
                lines.append(SEP.join([label, name, *getattr(node, "args", ())]))
            elif isinstance(node, SuiteSetup | SuiteTeardown | TestSetup | TestTeardown):
                label = {
                    SuiteSetup: "Suite Setup",
                    SuiteTeardown: "Suite Teardown",
                    TestSetup: "Test Setup",
                    TestTeardown: "Test Teardown",
                }[type(node)]
                lines.append(SEP.join([label, node.name, *node.args]))
    return lines


def _covers(criteria: list[str], limit: int = 240) -> str:
    """The criteria a case verifies, on one line; a scenario is named by its title line alone."""
    if criteria and _SCENARIO.match(criteria[0]):
        return criteria[0].strip()
    text = " | ".join(c.strip() for c in criteria)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def render_suite(spec: TestSpec, settings: list[str], bodies: list[list[str]]) -> str:
    """The suite text. Names, documentation and tags come from the ticket (untrusted), so each
    passes through `escape_cell`: Robot reads them back as literal text, never as a variable,
    a comment or a new cell. Steps are escaped by `format_call`; settings come from the repo."""
    doc = escape_cell(spec.rf.suite_doc or spec.meta.title)
    out = ["*** Settings ***", f"Documentation{SEP}{doc}", *settings]
    if spec.rf.force_tags:
        out.append(SEP.join(["Test Tags", *map(escape_cell, spec.rf.force_tags)]))
    out += ["", "", "*** Test Cases ***"]
    for case, body in zip(spec.rf.test_cases, bodies, strict=True):
        out.append(escape_cell(case.name))
        out.append(f"{SEP}[Documentation]{SEP}Covers: {escape_cell(_covers(case.covers) or case.name)}")
        if case.tags:
            out.append(SEP.join(["", "[Tags]", *map(escape_cell, case.tags)]))
        out += [SEP + line for line in body]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


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
        self.mappings: list[list[StepMapping]] = [matcher.match_case(c.steps) for c in spec.rf.test_cases]
        example = ctx.examples[0].path if ctx.examples else None
        self.settings = settings_from_example(Path(ctx.repo.root), example, spec.rf.target_path)

    def _render(self) -> GeneratedTest:
        bodies = [[format_call(m) for m in case] for case in self.mappings]
        text = render_suite(self.spec, self.settings, bodies)
        flat = [m for case in self.mappings for m in case]
        return GeneratedTest(
            target_path=self.spec.rf.target_path, text=text, mappings=flat, open_questions=open_questions(text)
        )

    async def draft(self) -> GeneratedTest:
        test = self._render()
        mapped = sum(m.how != "placeholder" for m in test.mappings)
        self.log.progress(f"writer (offline): {mapped}/{len(test.mappings)} steps mapped to existing keywords")
        for m in test.mappings:
            self.log.info(f"  {m.how:<11} {m.step!r} -> {m.keyword or 'placeholder'}")
        return test

    async def repair(self, previous: GeneratedTest, diagnostics: list[Diagnostic]) -> GeneratedTest:
        """Turn every step a diagnostic points at into a placeholder; the rest is kept."""
        lines = previous.text.splitlines()
        bad = {d.line for d in diagnostics if d.line and d.severity == "error"}
        for case in self.mappings:
            for i, m in enumerate(case):
                rendered = SEP + format_call(m)
                hit = any(0 < n <= len(lines) and lines[n - 1] == rendered for n in bad)
                named = any(d.keyword and m.keyword and d.keyword.lower() == m.keyword.lower() for d in diagnostics)
                if m.how != "placeholder" and (hit or named):
                    case[i] = StepMapping(step=m.step)
        return self._render()
