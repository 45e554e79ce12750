"""Merge request title and description for a generated test.

The description is what a reviewer reads before trusting a machine-written test, so it
shows where the test came from (Jira, Confluence), what it covers, what it reuses and how
validation went. Everything taken from the ticket, the wiki or the model is untrusted and goes
through `markdown.py`'s neutralisers; the bot's block and its marker are made there too.
"""

from __future__ import annotations

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult
from generator.publish.drift_text import drift_section
from generator.publish.markdown import (
    BLOCK_END,
    BLOCK_START,
    KEY_UNSAFE,
    code,
    inline,
    marker,
    neutralise_quick_actions,
    safe_url,
)

#: GitLab accepts 255 characters; a shorter cap leaves room and keeps list views readable.
TITLE_MAX = 200

_DIAGNOSTICS_SHOWN = 20

_LIST_SHOWN = 30


def _jira_link(ticket: Ticket, jira_url: str | None) -> str:
    url = safe_url(ticket.url) if ticket.url else None
    if url is None and jira_url:
        url = safe_url(f"{jira_url.rstrip('/')}/browse/{KEY_UNSAFE.sub('', ticket.key)}")
    label = inline(ticket.key)
    return f"[{label}]({url})" if url else label


def render_mr_title(ticket: Ticket) -> str:
    """`Draft: [KEY] summary`; the Draft prefix keeps the MR unmergeable until a human reviews it.

    The summary is untrusted like the description (GitLab renders titles as inline markdown
    with mentions and references), so it passes the same `inline` neutraliser; a long one is
    cut at a word boundary, before escaping, so no escape sequence is ever cut in half.
    """
    prefix = f"Draft: [{KEY_UNSAFE.sub('', ticket.key)}]"
    words = ticket.summary.split()
    title = f"{prefix} {inline(' '.join(words))}".rstrip()
    while len(title) > TITLE_MAX and words:
        words.pop()
        title = f"{prefix} {inline(' '.join(words))}…"
    return title[:TITLE_MAX]


def _bullets(items: list[str], *, as_code: bool = False, empty: str) -> list[str]:
    if not items:
        return [f"_{empty}_"]
    render = code if as_code else inline
    lines = [f"- {render(item)}" for item in items[:_LIST_SHOWN]]
    if len(items) > _LIST_SHOWN:
        lines.append(f"- _… and {len(items) - _LIST_SHOWN} more_")
    return lines


def _coverage_table(spec: TestSpec) -> list[str]:
    lines = ["| Test case | Acceptance criteria covered |", "| --- | --- |"]
    for case in spec.rf.test_cases:
        covers = "<br>".join(inline(c) for c in case.covers) or "_none stated_"
        lines.append(f"| {inline(case.name)} | {covers} |")
    return lines


def _validation(validation: ValidationResult) -> list[str]:
    errors = [d for d in validation.diagnostics if d.severity == "error"]
    if validation.ok:
        head = "✅ `robot --dryrun` passed"
    elif validation.environment_error:
        head = "⚠️ `robot --dryrun` could not load the repository (environment problem, not the test)"
    else:
        head = f"❌ `robot --dryrun` failed with {len(errors)} error(s)"
    lines = [head]
    for diag in validation.diagnostics[:_DIAGNOSTICS_SHOWN]:
        where = f"line {diag.line}: " if diag.line else ""
        lines.append(f"- **{diag.severity}** ({diag.source}) {where}{inline(diag.message)}")
    if len(validation.diagnostics) > _DIAGNOSTICS_SHOWN:
        lines.append(f"- _… and {len(validation.diagnostics) - _DIAGNOSTICS_SHOWN} more in report.json_")
    return lines


def _completeness(result: TicketResult) -> list[str]:
    """The first thing a reviewer must know: does this test verify everything it claims?"""
    if result.complete:
        return [f"✅ **Complete:** all {result.steps_total} steps use existing keywords."]
    return [
        f"⚠️ **Incomplete:** {result.tests_incomplete} of {result.tests_total} test(s) end in Skip/Fail, "
        f"tagged incomplete; {result.steps_mapped}/{result.steps_total} steps use existing keywords. "
        "Answer the open questions below (add the missing keywords), then remove the Skip line and the tag."
    ]


def render_mr_description(
    ticket: Ticket,
    spec: TestSpec,
    test: GeneratedTest,
    validation: ValidationResult,
    result: TicketResult,
    *,
    jira_url: str | None = None,
    title_hash: str | None = None,
    run_id: str | None = None,
) -> str:
    """The bot's block of the MR description, safe to post whatever the ticket or model said."""
    sources = [
        f"- {inline(src.title)} ({code(src.page_id)}{', space ' + code(src.space_key) if src.space_key else ''})"
        for src in spec.confluence.sources
    ] or ["_no Confluence page was used_"]
    questions = list(dict.fromkeys([*result.open_questions, *test.open_questions]))
    usage = result.llm
    lines = [
        BLOCK_START,
        f"## Generated Robot Framework test for {_jira_link(ticket, jira_url)}",
        "",
        f"**Summary:** {inline(ticket.summary)}",
        "",
        f"**Test file:** {code(test.target_path)}",
        "",
        *_completeness(result),
        "",
        *(drift_section(result.drift) if result.drift is not None else []),
        "### Open questions",
        *_bullets(questions, empty="none"),
        "",
        "### Sources",
        f"- Jira: {_jira_link(ticket, jira_url)}",
        "- Confluence:",
        *(f"  {line}" for line in sources),
        "",
        "### Test cases → acceptance criteria",
        *_coverage_table(spec),
        "",
        "### Keywords reused",
        *_bullets(result.keywords_used, as_code=True, empty="no existing keyword was reused"),
        "",
        "### Validation",
        *_validation(validation),
        "",
        "### Generation",
        f"- Attempts: {result.attempts}",
        *([f"- Conventions {inline(result.conventions)}"] if result.conventions.startswith("derived") else []),
        f"- Steps mapped to existing keywords: {result.steps_mapped}/{result.steps_total}",
        f"- LLM usage: {usage.calls} call(s), {usage.prompt_tokens} prompt + "
        f"{usage.completion_tokens} completion tokens",
        "",
        "---",
        "_Draft opened by jira2robot. Review the test, then mark this merge request as ready. "
        "Re-running jira2robot for this ticket updates the branch unless someone else has pushed to it. "
        "Text outside this generated block, the title and the draft state are yours: re-runs keep them._",
        "",
        marker(ticket.key, test.text, title_hash=title_hash, run_id=run_id),
        BLOCK_END,
    ]
    return neutralise_quick_actions("\n".join(lines)) + "\n"
