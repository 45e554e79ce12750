"""The MR description's requirement-drift section: the criteria diff and which test cases change.

A reviewer of an update MR must see, before the file diff, what the product owner changed and
what the bot did about it; a removal is always stated with its reason, never left to the diff.
Criteria and test case names are untrusted text: they go through the description's own
neutralisers (`inline`, `code`), never at a line start.
"""

from __future__ import annotations

from generator.models import CriteriaDrift
from generator.publish.markdown import BLOCK_END, BLOCK_START, code, inline, marker, neutralise_quick_actions


def drift_section(drift: CriteriaDrift) -> list[str]:
    """Lines for the bot's block of a drifted ticket's MR ([] for any other ticket)."""
    if drift.state != "drifted":
        return []
    lines = [
        "### Requirement drift: the acceptance criteria changed since this test was written",
        "",
        "| Change | Before | Now |",
        "| --- | --- | --- |",
        *(f"| edited | {inline(e.old)} | {inline(e.new)} |" for e in drift.edited),
        *(f"| added | — | {inline(text)} |" for text in drift.added),
        *(f"| removed | {inline(text)} | — |" for text in drift.removed),
        "",
        f"Test cases of {code(drift.test_path)} this merge request changes:",
    ]
    lines += [f"- rewritten for the edited criteria: {code(name)}" for name in drift.tests_rewritten]
    lines += [
        f"- **removal proposed**: {code(name)}, its criteria are no longer in the ticket; "
        "keep it by restoring it in this branch"
        for name in drift.tests_removed
    ]
    lines += [
        f"- **kept as a person edited it** since jira2robot wrote it: {code(name)}; its criteria changed, "
        "so check it against the new ones"
        for name in drift.tests_kept
    ]
    if drift.added or drift.edited:
        lines.append("- new test cases for the edited and added criteria (tagged with their `ac:` fingerprints)")
    if drift.baseline:
        lines.append(
            "- the file recorded no criteria (written before provenance, or by hand): the baseline came from "
            "the dashboard, so test cases of removed criteria could not be told apart: check them by hand"
        )
    lines += ["- every other test case, and every line a person changed, is kept byte for byte", ""]
    return lines


def render_removal(key: str, paths: list[str], reason: str, *, run_id: str) -> str:
    """The bot's block of a removal MR: which suites go and why (a person asked, on the dashboard)."""
    lines = [
        BLOCK_START,
        f"## Remove the tests of {code(key)}",
        "",
        f"**Why:** {inline(reason)}",
        "",
        "Files this merge request deletes:",
        *(f"- {code(path)}" for path in paths),
        "",
        "---",
        "_Opened by jira2robot because a person ticked this ticket's box in the dashboard issue. "
        "Close this merge request to keep the tests._",
        "",
        marker(key, "", run_id=run_id),
        BLOCK_END,
    ]
    return neutralise_quick_actions("\n".join(lines)) + "\n"
