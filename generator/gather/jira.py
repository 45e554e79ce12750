"""Jira tickets through MCP, normalised to `Ticket`, acceptance criteria split into lines.

Servers differ (mcp-atlassian's simplified issue, raw REST `fields`, ADF bodies), so the
normaliser reads whichever shape arrives instead of trusting one.
"""

from __future__ import annotations

import re
from typing import Any
from weakref import WeakKeyDictionary

import anyio

from generator.clients.mcp.client import McpAuthError, McpConnection, McpError
from generator.clients.mcp.tools import ToolNames
from generator.models import Ticket

#: Jira fields test generation reads (the acceptance field is added when it is a custom field).
ISSUE_FIELDS = "summary,description,status,issuetype,labels,components,comment"
ACCEPTANCE_NAME = "Acceptance Criteria"


class TicketError(Exception):
    """The ticket cannot be used (not found, no acceptance criteria...); fails that ticket only."""


class TicketGone(TicketError):
    """Jira no longer has the ticket under this key: deleted (`moved_to` None) or moved to another key."""

    def __init__(self, message: str, moved_to: str | None = None) -> None:
        super().__init__(message)
        self.moved_to = moved_to


_AC_HEADING = re.compile(
    r"^\s*(?:h[1-6]\.\s*|#{1,6}\s*|\*{1,2}|_)?\s*acceptance\s+criteria\s*(?:\*{1,2}|_)?\s*:?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_WIKI_HEADING = re.compile(r"^\s*h[1-6]\.\s+\S")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+\S")
_BULLET = re.compile(r"^\s*(?:[-*•+]|#{1,2}(?=\s)|\(?\d{1,3}[.)])\s+")
_FENCE = re.compile(r"^(?:```|~~~|\{code(?::[^}]*)?\}|\{noformat\})")
_NOT_FOUND = re.compile(r"\bnot found\b|does not exist", re.IGNORECASE)
_GHERKIN = re.compile(r"^\s*(?:scenario(?: outline)?:|given|when|then|and|but)\b", re.IGNORECASE)


def adf_to_text(node: Any) -> str:
    """Atlassian Document Format (Jira Cloud API v3 bodies) to plain text with line breaks."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = adf_to_text(node.get("content", []))
    if kind == "listItem":
        return "- " + inner.strip() + "\n"
    if kind in ("paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote"):
        return inner.rstrip("\n") + "\n"
    return inner


def _text(value: Any) -> str:
    """Text of a field in any shape: string, ADF document, `{"value": ...}` (custom fields), `{"name": ...}`."""
    if value is None:
        return ""
    if isinstance(value, dict) and value.get("type") == "doc":
        return adf_to_text(value).strip()
    if isinstance(value, dict):
        return _text(value.get("value") or value.get("name") or value.get("body"))
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def _names(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return [str(v.get("name", "")) if isinstance(v, dict) else str(v) for v in values if v]


def criteria_lines(text: str) -> list[str]:
    """Criterion lines of a block: Gherkin lines, bullets and numbered items, markers removed.

    Code blocks (wiki `{code}`, Markdown fences: where mcp-atlassian's wiki-to-Markdown
    conversion puts Gherkin) are read as Gherkin: their markers and `#` comments are dropped.
    """
    lines = []
    fenced = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not line or set(line) <= {"-", "=", "*", "_"} or (fenced and line.startswith("#")):
            continue
        bullet = _BULLET.match(line)
        if bullet:
            line = line[bullet.end() :].strip()
        elif not _GHERKIN.match(line):
            # A plain sentence: keep it only if it reads as a criterion continuation.
            if lines and raw.startswith(("  ", "\t")):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
            continue
        if line:
            lines.append(line.strip("*_ ").strip())
    return [line for line in lines if line]


def acceptance_section(description: str) -> str:
    """The 'Acceptance criteria' section of a description, up to the next heading.

    In Jira wiki markup `# item` is a numbered list, in markdown it is a heading: the style of
    the 'Acceptance criteria' heading itself tells which one the author wrote.
    """
    lines = description.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        match = _AC_HEADING.match(line)
        if not match:
            continue
        markdown = line.lstrip().startswith("#")
        body = [match.group("rest")] if match.group("rest").strip() else []
        fenced = False  # a `# comment` inside a code block is not a heading
        for following in lines[i + 1 :]:
            if _FENCE.match(following.strip()):
                fenced = not fenced
            elif not fenced and (_WIKI_HEADING.match(following) or (markdown and _MD_HEADING.match(following))):
                break
            body.append(following)
        return "\n".join(body)
    return ""


def _acceptance_value(merged: dict[str, Any], acceptance_field: str) -> str:
    """The acceptance criteria field, by id or by display name, in whichever shape it arrived.

    mcp-atlassian returns a custom field as `"customfield_10100": {"value": ..., "name":
    "Acceptance Criteria"}` (`name` only with `expand=names`), or keyed by its display name
    with `use_display_names`; older servers and file exports use `acceptance_criteria`.
    """
    for name in (acceptance_field, "acceptance_criteria", "Acceptance Criteria", "acceptanceCriteria"):
        if name and merged.get(name):
            return _text(merged[name])
    wanted = {n.lower() for n in (acceptance_field, ACCEPTANCE_NAME) if n}
    custom = merged.get("custom_fields") if isinstance(merged.get("custom_fields"), dict) else {}
    for value in [*merged.values(), *custom.values()]:
        if isinstance(value, dict) and str(value.get("name", "")).lower() in wanted and value.get("value"):
            return _text(value["value"])
    return ""


def normalize_issue(data: Any, *, acceptance_field: str = "") -> Ticket:
    if not isinstance(data, dict):
        raise TicketError(f"unexpected issue payload from the MCP server: {str(data)[:200]}")
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    merged = {**fields, **{k: v for k, v in data.items() if k != "fields"}}
    key = str(merged.get("key") or "")
    if not key:
        raise TicketError("issue payload has no 'key'")
    description = _text(merged.get("description"))
    explicit = _acceptance_value(merged, acceptance_field)
    criteria = criteria_lines(explicit or acceptance_section(description))
    comments = []
    raw_comments = merged.get("comments") or (merged.get("comment") or {}).get("comments") or []
    for c in raw_comments if isinstance(raw_comments, list) else []:
        body = _text(c.get("body")) if isinstance(c, dict) else str(c)
        if body:
            comments.append(body)
    return Ticket(
        key=key,
        summary=_text(merged.get("summary")) or key,
        description=description,
        acceptance_criteria=criteria,
        components=_names(merged.get("components")),
        labels=_names(merged.get("labels")),
        comments=comments,
        status=_text(merged.get("status")),
        resolution=_text(merged.get("resolution")),
        issue_type=_text(merged.get("issue_type") or merged.get("issuetype")),
        # `browse_url` is the page a human opens; mcp-atlassian's `url` is the REST link.
        url=str(merged.get("browse_url") or merged.get("url") or ""),
    )


class _AcceptanceField:
    """The acceptance field's id, looked up once per connection (= per run) from Jira's field list."""

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.resolved = False
        self.field_id: str | None = None


_RESOLVED: WeakKeyDictionary[McpConnection, _AcceptanceField] = WeakKeyDictionary()


async def _field_id(jira: McpConnection, tools: ToolNames, configured: str) -> str | None:
    """`customfield_…` to ask for, "" for none, None when the field list cannot tell.

    A configured id is used as is. A configured name, or nothing (auto-detect: a field named
    "Acceptance Criteria"), is looked up once in Jira's field list (`jira_search_fields`).
    """
    if configured.startswith("customfield_"):
        return configured
    state = _RESOLVED.setdefault(jira, _AcceptanceField())
    async with state.lock:
        if not state.resolved:
            state.field_id = await _lookup_field(jira, tools, configured or ACCEPTANCE_NAME)
            state.resolved = True
    if state.field_id == "" and configured:
        return None  # a name Jira's list does not have: let the issue's own field names decide
    return state.field_id


async def _lookup_field(jira: McpConnection, tools: ToolNames, name: str) -> str | None:
    """The id of the field called `name`; "" if Jira has none, None if the list is not available."""
    if not await jira.tools(allow={tools.jira_search_fields}):
        return None
    try:
        found = await jira.call(tools.jira_search_fields, {"keyword": name, "limit": 10})
    except McpAuthError:
        raise
    except McpError:
        return None
    for field in found if isinstance(found, list) else []:
        if isinstance(field, dict) and str(field.get("name", "")).strip().lower() == name.strip().lower():
            return str(field.get("id") or "")
    return ""


async def fetch_ticket(
    jira: McpConnection, key: str, tools: ToolNames, *, acceptance_field: str = "", fields: str = ISSUE_FIELDS
) -> Ticket:
    """Ask for exactly the fields test generation reads (mcp-atlassian's default leaves out
    components, comments and every custom field), with `expand=names` so a custom field
    carries its display name. Drift detection asks for fewer (`fields`).

    Raises `TicketGone` when Jira answers "not found" (deleted, or no longer visible) or hands
    back the issue under another key (moved to another project): the ticket's tests are orphans.
    """
    try:
        field_id = await _field_id(jira, tools, acceptance_field)
        # No id to ask for but maybe a field by that name: every field, matched by its display name.
        asked = "*all" if field_id is None else ",".join(filter(None, [fields, field_id]))
        data = await jira.call(
            tools.jira_get_issue, {"issue_key": key, "fields": asked, "expand": "names", "comment_limit": 20}
        )
    except McpAuthError:
        raise
    except McpError as exc:
        if _NOT_FOUND.search(str(exc)):
            raise TicketGone(f"cannot read ticket {key}: {exc}") from None
        raise TicketError(f"cannot read ticket {key}: {exc}") from None
    ticket = normalize_issue(data, acceptance_field=acceptance_field)
    if not ticket.key.isascii() or ticket.key.upper() != key:  # `key` passed valid_key; "ſ".upper() == "S"
        moved = ticket.key if ticket.key.isascii() and re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", ticket.key) else None
        raise TicketGone(f"asked for {key}, the MCP server returned {ticket.key}", moved_to=moved)
    return ticket


async def search_keys(jira: McpConnection, jql: str, tools: ToolNames, *, limit: int, page: int = 50) -> list[str]:
    """Keys matching a JQL query, page by page (mcp-atlassian caps a page at 50), at most `limit`.

    Server/DC pages by `start_at` and reports a `total`; Cloud ignores `start_at`, reports
    `total: -1` and chains pages with `next_page_token`, sent back as `page_token`.
    """
    keys: list[str] = []
    token: str | None = None
    while len(keys) < limit:
        wanted = min(page, limit - len(keys))
        arguments: dict[str, Any] = {"jql": jql, "fields": "summary", "limit": wanted, "start_at": len(keys)}
        if token:
            arguments["page_token"] = token
        data = await jira.call(tools.jira_search, arguments)
        issues = data.get("issues", []) if isinstance(data, dict) else data if isinstance(data, list) else []
        if not issues:
            break
        keys.extend(str(i.get("key")) for i in issues if isinstance(i, dict) and i.get("key"))
        total = data.get("total") if isinstance(data, dict) else None
        token = data.get("next_page_token") if isinstance(data, dict) else None
        if len(issues) < wanted or (isinstance(total, int) and 0 <= total <= len(keys)):
            break
        if isinstance(total, int) and total < 0 and not token:
            break
    return list(dict.fromkeys(keys))[:limit]
