"""Jira tickets through MCP, normalised to `Ticket`, acceptance criteria split into lines.

Servers differ (mcp-atlassian's simplified issue, raw REST `fields`, ADF bodies), so the
normaliser reads whichever shape arrives instead of trusting one.
"""

from __future__ import annotations

import re
from typing import Any

from generator.config import ToolNames
from generator.mcp_client import McpConnection, McpError
from generator.models import Ticket


class TicketError(Exception):
    """The ticket cannot be used (not found, no acceptance criteria...); fails that ticket only."""


_AC_HEADING = re.compile(
    r"^\s*(?:h[1-6]\.\s*|#{1,6}\s*|\*{1,2}|_)?\s*acceptance\s+criteria\s*(?:\*{1,2}|_)?\s*:?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_WIKI_HEADING = re.compile(r"^\s*h[1-6]\.\s+\S")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+\S")
_BULLET = re.compile(r"^\s*(?:[-*•+]|#{1,2}(?=\s)|\(?\d{1,3}[.)])\s+")
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
    if value is None:
        return ""
    if isinstance(value, dict) and value.get("type") == "doc":
        return adf_to_text(value).strip()
    if isinstance(value, dict):
        return str(value.get("value") or value.get("name") or value.get("body") or "")
    return str(value)


def _names(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return [str(v.get("name", "")) if isinstance(v, dict) else str(v) for v in values if v]


def criteria_lines(text: str) -> list[str]:
    """Criterion lines of a block: Gherkin lines, bullets and numbered items, markers removed."""
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line or set(line) <= {"-", "=", "*", "_"}:
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
        for following in lines[i + 1 :]:
            if _WIKI_HEADING.match(following) or (markdown and _MD_HEADING.match(following)):
                break
            body.append(following)
        return "\n".join(body)
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
    explicit = ""
    for name in (acceptance_field, "acceptance_criteria", "Acceptance Criteria", "acceptanceCriteria"):
        if name and merged.get(name):
            explicit = _text(merged[name])
            break
    if not explicit:
        custom = merged.get("custom_fields") or {}
        for name, value in custom.items() if isinstance(custom, dict) else []:
            label = value.get("name", name) if isinstance(value, dict) else name
            if "acceptance" in str(label).lower():
                explicit = _text(value.get("value") if isinstance(value, dict) else value)
                break
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
        issue_type=_text(merged.get("issue_type") or merged.get("issuetype")),
        url=str(merged.get("url") or ""),
    )


async def fetch_ticket(jira: McpConnection, key: str, tools: ToolNames, *, acceptance_field: str = "") -> Ticket:
    try:
        data = await jira.call(tools.jira_get_issue, {"issue_key": key})
    except McpError as exc:
        raise TicketError(f"cannot read ticket {key}: {exc}") from None
    ticket = normalize_issue(data, acceptance_field=acceptance_field)
    if not ticket.key.isascii() or ticket.key.upper() != key:  # `key` passed valid_key; "ſ".upper() == "S"
        raise TicketError(f"asked for {key}, the MCP server returned {ticket.key}")
    return ticket


async def search_keys(jira: McpConnection, jql: str, tools: ToolNames, *, limit: int, page: int = 50) -> list[str]:
    """Keys matching a JQL query, page by page (mcp-atlassian caps a page at 50), at most `limit`."""
    keys: list[str] = []
    while len(keys) < limit:
        wanted = min(page, limit - len(keys))
        data = await jira.call(
            tools.jira_search, {"jql": jql, "fields": "summary", "limit": wanted, "start_at": len(keys)}
        )
        issues = data.get("issues", []) if isinstance(data, dict) else data if isinstance(data, list) else []
        if not issues:
            break
        keys.extend(str(i.get("key")) for i in issues if isinstance(i, dict) and i.get("key"))
        total = data.get("total") if isinstance(data, dict) else None
        if len(issues) < wanted or (isinstance(total, int) and 0 <= total <= len(keys)):
            break
    return list(dict.fromkeys(keys))[:limit]
