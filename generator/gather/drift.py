"""Requirement drift: has a covered ticket's acceptance criteria changed since its test was written?

Detection reads only the ticket (one `jira_get_issue` with a handful of fields) and the suite
index the run already built (the suite's provenance `Metadata`, see `generator.write.provenance`):
no LLM call, no GitLab call, so an unchanged ticket costs one MCP round trip.

The outcome per ticket is one of
- `unchanged`: the fingerprints match (markup-only edits included);
- `baseline`: the suite carries no fingerprints (written before this feature, or by hand) and
  nothing was recorded yet: the ticket's criteria now become its baseline (kept on the dashboard),
  the suite is not touched;
- `drifted`: the criteria differ; `UpdatePlan` says which test cases are rewritten, which are
  proposed for removal and which criteria the planner is given;
- `orphaned`: the ticket was deleted, moved to another key, or closed as won't do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.clients.mcp.client import McpConnection
from generator.clients.mcp.tools import ToolNames
from generator.gather.criteria import CriteriaDiff, case_criteria, diff, fingerprints, recorded_criteria
from generator.gather.jira import TicketGone, fetch_ticket
from generator.gather.repo import SuiteInfo
from generator.models import CriteriaDrift, CriterionChange

#: What drift detection asks Jira for (the acceptance field is added when it is a custom field).
DRIFT_FIELDS = "summary,description,status,resolution"
#: Resolutions (and statuses) meaning "this will not be built": its tests test nothing wanted.
WONT_DO = frozenset(
    {"won't do", "won't fix", "wontfix", "duplicate", "obsolete", "rejected", "declined", "cancelled", "canceled"}
)
ORPHAN_PREFIX = "orphaned test: "


@dataclass
class UpdatePlan:
    """The smallest change of the suite: what goes, what takes its place, what the planner writes."""

    regenerate: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    replaced_by: dict[str, list[str]] = field(default_factory=dict)
    rewritten: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def keep_cases(plan: UpdatePlan, kept: list[str]) -> UpdatePlan:
    """The plan with `kept` cases left in the suite (their replacements are appended instead)."""
    return UpdatePlan(
        regenerate=plan.regenerate,
        gone=[n for n in plan.gone if n not in kept],
        replaced_by={n: fps for n, fps in plan.replaced_by.items() if n not in kept},
        rewritten=[n for n in plan.rewritten if n not in kept],
        removed=[n for n in plan.removed if n not in kept],
    )


@dataclass
class DriftCheck:
    """One covered ticket's verdict, what the report and the dashboard show, and the update to make."""

    drift: CriteriaDrift
    reason: str
    criteria: dict[str, str] = field(default_factory=dict)
    plan: UpdatePlan = field(default_factory=UpdatePlan)


def plan_update(cases: dict[str, list[str]], change: CriteriaDiff, current: dict[str, str]) -> UpdatePlan:
    """Which test cases change: a case tagged with a removed criterion only is proposed for removal,
    a case tagged with an edited or removed one is rewritten (with its other criteria), every other
    case stays. The planner is given the edited, added and rewritten cases' criteria, nothing else."""
    renamed = {e.old_fp: e.new_fp for e in change.edited}
    touched = set(change.removed) | set(renamed)
    affected = [name for name, fps in cases.items() if set(fps) & touched]
    removed = [name for name in affected if set(cases[name]) <= set(change.removed)]
    rewritten = [name for name in affected if name not in removed]
    replaced_by = {
        name: [renamed.get(fp, fp) for fp in cases[name] if renamed.get(fp, fp) in current] for name in rewritten
    }
    wanted = {*renamed.values(), *change.added, *(fp for fps in replaced_by.values() for fp in fps)}
    return UpdatePlan(
        regenerate=[current[fp] for fp in current if fp in wanted],
        gone=affected,
        replaced_by=replaced_by,
        rewritten=rewritten,
        removed=removed,
    )


def _orphan(key: str, path: str, why: str) -> DriftCheck:
    return DriftCheck(
        drift=CriteriaDrift(state="orphaned", test_path=path), reason=f"{ORPHAN_PREFIX}{path}: {key} {why}"
    )


async def check_drift(
    jira: McpConnection,
    key: str,
    suite: SuiteInfo,
    tools: ToolNames,
    *,
    acceptance_field: str = "",
    baseline: dict[str, str] | None = None,
) -> DriftCheck:
    """Compare the ticket's criteria with those its suite was written for (or the recorded baseline)."""
    path = suite.path
    try:
        ticket = await fetch_ticket(jira, key, tools, acceptance_field=acceptance_field, fields=DRIFT_FIELDS)
    except TicketGone as gone:
        return _orphan(key, path, f"was moved to {gone.moved_to}" if gone.moved_to else "was deleted or is hidden")
    closed = next((v for v in (ticket.resolution, ticket.status) if v.strip().lower() in WONT_DO), None)
    if closed:
        return _orphan(key, path, f"was closed as {closed}")
    current = fingerprints(ticket.acceptance_criteria)
    if not current:  # a heading renamed or a field emptied: no evidence the tests are wrong, none removed
        return DriftCheck(
            drift=CriteriaDrift(state="unchanged", test_path=path),
            reason=f"already covered by {path} (tagged {key}); the ticket has no acceptance criteria to compare",
        )
    recorded = recorded_criteria(suite.suite_metadata) or baseline
    if recorded is None:
        return DriftCheck(
            drift=CriteriaDrift(state="baseline", test_path=path, baseline=current),
            reason=f"already covered by {path} (tagged {key}); it records no criteria: "
            f"the ticket's {len(current)} criteria are its baseline now",
            criteria=current,
        )
    change = diff(recorded, current)
    if change.empty:
        return DriftCheck(
            drift=CriteriaDrift(state="unchanged", test_path=path),
            reason=f"already covered by {path} (tagged {key}); criteria unchanged",
            criteria=current,
        )
    plan = plan_update(case_criteria(suite.text), change, current)
    drift = CriteriaDrift(
        state="drifted",
        test_path=path,
        edited=[CriterionChange(old=e.old, new=e.new) for e in change.edited],
        added=list(change.added.values()),
        removed=list(change.removed.values()),
        tests_rewritten=plan.rewritten,
        tests_removed=plan.removed,
        baseline=recorded if not recorded_criteria(suite.suite_metadata) else {},
    )
    return DriftCheck(
        drift=drift,
        reason=f"criteria changed since {path} was written ({change.summary()})",
        criteria=current,
        plan=plan,
    )
