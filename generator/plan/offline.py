"""The offline planner: deterministic, no model, no network.

Acceptance criteria (Gherkin scenarios, numbered procedures, bullet lists) become test cases
and steps; the target path follows the ticket's component or the most similar suite, and the
file name follows generator/plan/conventions.py. The offline writer (generator/write/offline.py)
turns the spec into the suite.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from generator.clients.llm.budget import TicketBudget
from generator.models import (
    Conventions,
    ExampleTest,
    SpecConfluence,
    SpecMeta,
    SpecRF,
    SpecSource,
    SpecTestCase,
    TestSpec,
    Ticket,
    TicketContext,
)
from generator.outputs.logs import TicketLog
from generator.plan import PlanError
from generator.plan.conventions import file_name, test_name
from generator.plan.placement import choose_folder

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


def is_scenario(line: str) -> bool:
    """A `Scenario:` / `Scenario Outline:` title line (the case's name, not a step)."""
    return _SCENARIO.match(line) is not None


def names_itself(line: str) -> bool:
    """A criterion that carries its own title: `Scenario: …` or a rule label (`Unknown code: given …`)."""
    return is_scenario(line) or (not _GHERKIN.match(line) and _LABEL.match(line) is not None)


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
    ticket: Ticket, root: Path, tests_dir: str, folders: list[str], suites: list[ExampleTest], conventions: Conventions
) -> str:
    """The folder `choose_folder` finds from the evidence (the tests folder itself when the
    most similar suites sit directly in it, e.g. suites at the repo root), else `generated/`.
    A component's folder counts even while it holds no suite yet (`tests/orders/`, made for it).

    Normalised (`tests_dir` may be `.`), as the validator's path check expects."""
    named = [c for c in [*ticket.components, *ticket.labels] if c and "/" not in c and c not in (".", "..")]
    empty = [c for c in named if c not in folders and (root / tests_dir / c).is_dir()]
    folder = choose_folder(ticket, tests_dir, [*folders, *empty], suites)
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
        found = cases_from_criteria(ticket.acceptance_criteria)
        if len(found) == 1 and not names_itself(found[0][2][0]):
            # One test for the ticket: the ticket names it, not the wording of one of its steps.
            found = [(ticket.summary, found[0][1], found[0][2])]
        cases = [
            SpecTestCase(
                name=test_name(title, conventions.name_max_words, taken),
                covers=covers,
                tags=[ticket.key, *components],
                steps=steps,
            )
            for title, steps, covers in found
        ]
        # A Gherkin scenario is one criterion over several lines: count criteria as the cases
        # they became, and the lines beside, so "2 from 12" does not read as 10 dropped.
        lines = len(ticket.acceptance_criteria)
        log.info(f"planner (offline): {len(cases)} test case(s), one per acceptance criterion ({lines} line(s))")
        return TestSpec(
            meta=SpecMeta(jira_key=ticket.key, title=ticket.summary),
            confluence=SpecConfluence(
                sources=[SpecSource(page_id=p.page_id, title=p.title, space_key=p.space_key) for p in ctx.pages],
                rules=convention_rules(ctx.repo.convention or ""),
            ),
            rf=SpecRF(
                target_path=target_path_for(
                    ticket,
                    Path(ctx.repo.root),
                    ctx.repo.tests_dir,
                    ctx.repo.folders,
                    ctx.similar_suites or ctx.examples,
                    conventions,
                ),
                suite_doc=f"{ticket.key}: {ticket.summary}",
                test_cases=cases,
            ),
        )
