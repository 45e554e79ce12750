"""Merge request title and description for a generated test.

The description is what a reviewer reads before trusting a machine-written test, so it
shows where the test came from (Jira, Confluence), what it covers, what it reuses and how
validation went. Everything taken from the ticket, the wiki or the model is untrusted: GitLab
renders descriptions as markdown, notifies `@mentions`, links `#123`/`!4` references, closes
issues named after "Closes", and *executes* `/merge`-style quick actions written at the start
of a line. Untrusted text is therefore only ever placed inline (never at a line start), with
HTML and markdown syntax escaped and GitLab reference sigils broken by an invisible space, or
inside code spans where GitLab interprets nothing.

The bot owns only the block between `BLOCK_START` and `BLOCK_END`: re-runs replace that block
and keep whatever a reviewer wrote around it (`merge_block`). The hidden marker inside the block
also records a digest of the title the bot last set, so a re-run can tell a reviewer's title
(or an un-drafted one) from its own and leave it alone (`bot_owns_title`).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult

#: GitLab accepts 255 characters; a shorter cap leaves room and keeps list views readable.
TITLE_MAX = 200
_DIAGNOSTICS_SHOWN = 20
_LIST_SHOWN = 30
_ZWSP = "\u200b"

# Sigils GitLab turns into mentions or references when a word character follows.
_REFERENCE = re.compile(r"([@#!~%$&])(?=\w)")
# Markdown punctuation that could start emphasis, links, images, tables or code.
_MARKDOWN = re.compile(r"([\\`*_\[\]|])")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_QUICK_ACTION_LINE = re.compile(r"^(\s*)/", re.MULTILINE)
BLOCK_START = "<!-- jira2robot:start -->"
BLOCK_END = "<!-- jira2robot:end -->"
_MARKER = re.compile(r"<!-- jira2robot:((?:\s*[a-z]+=[A-Za-z0-9_-]*)+) -->")


def fingerprint(text: str) -> str:
    """SHA-256 of the test file text, the same digest GitLab reports for a stored file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_digest(title: str) -> str:
    """Short digest of a title, kept in the marker: enough to recognise the bot's own title."""
    return hashlib.sha256(title.encode("utf-8")).hexdigest()[:16]


def marker(key: str, text: str, *, title_hash: str | None = None, run_id: str | None = None) -> str:
    """Hidden line tying an MR to its ticket, the exact file content, the bot's title and run."""
    fields = f"key={_KEY_UNSAFE.sub('', key)} fingerprint={fingerprint(text)}"
    if title_hash:
        fields += f" title={_KEY_UNSAFE.sub('', title_hash)}"
    if run_id:
        fields += f" run={_KEY_UNSAFE.sub('', run_id)}"
    return f"<!-- jira2robot:{fields} -->"


def read_marker(description: str | None) -> dict[str, str]:
    """The fields of the marker inside the bot's block ({} when a human removed the block).

    The real marker is the block's last line; the last match wins, so marker-like text quoted
    from a ticket earlier in the block cannot stand in for it.
    """
    text = description or ""
    start, end = text.find(BLOCK_START), text.rfind(BLOCK_END)
    if start < 0 or end < start:
        return {}
    found = list(_MARKER.finditer(text, start, end))
    return dict(field.split("=", 1) for field in found[-1].group(1).split()) if found else {}


def bot_owns_title(title: str, description: str | None) -> bool:
    """True when the MR still has the title the bot last set (no reviewer renamed or un-drafted it)."""
    return read_marker(description).get("title") == title_digest(title)


def merge_block(description: str | None, block: str) -> str:
    """Replace the bot's block in an MR description, keeping everything a human wrote around it."""
    current = description or ""
    start, end = current.find(BLOCK_START), current.rfind(BLOCK_END)
    if start < 0 or end < start:
        return f"{current.rstrip()}\n\n{block}" if current.strip() else block
    return current[:start] + block.rstrip("\n") + current[end + len(BLOCK_END) :]


def inline(text: str) -> str:
    """Untrusted text as one inert markdown line: no HTML, no markup, no mentions or references."""
    text = " ".join(text.split())
    text = _REFERENCE.sub(lambda m: m.group(1) + _ZWSP, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def code(text: str) -> str:
    """Untrusted text as a code span; the fence is longer than any backtick run inside it."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def safe_url(url: str) -> str | None:
    """Only plain http(s) URLs become links; anything else could smuggle markdown or script."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if re.search(r"[\s()<>\[\]\"'`]", url.strip()):
        return None
    return url.strip()


def _jira_link(ticket: Ticket, jira_url: str | None) -> str:
    url = safe_url(ticket.url) if ticket.url else None
    if url is None and jira_url:
        url = safe_url(f"{jira_url.rstrip('/')}/browse/{_KEY_UNSAFE.sub('', ticket.key)}")
    label = inline(ticket.key)
    return f"[{label}]({url})" if url else label


def neutralise_quick_actions(text: str) -> str:
    """Escape every line that starts with `/`: GitLab would run it as a quick action."""
    return _QUICK_ACTION_LINE.sub(lambda m: m.group(1) + "\\/", text)


def render_mr_title(ticket: Ticket) -> str:
    """`Draft: [KEY] summary`; the Draft prefix keeps the MR unmergeable until a human reviews it.

    The summary is untrusted like the description (GitLab renders titles as inline markdown
    with mentions and references), so it passes the same `inline` neutraliser; a long one is
    cut at a word boundary, before escaping, so no escape sequence is ever cut in half.
    """
    prefix = f"Draft: [{_KEY_UNSAFE.sub('', ticket.key)}]"
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
    from generator.publish.drift_text import drift_section  # it renders with this module's neutralisers

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
