"""Confluence pages through MCP: search once per run, then read the top pages' bodies.

Confluence is optional context. A Jira-only deployment (the server offers no Confluence
tools), a search that fails or times out, or an unreadable page gives a warning and fewer
pages, never a failed ticket. The caller keeps the result for the whole run, so a failure
costs one attempt per run, not one per ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.clients.mcp.client import McpConnection, McpError
from generator.clients.mcp.tools import ToolNames
from generator.models import ConfluencePage

NO_PAGES = "tickets are planned without Confluence pages"


def _page_id(hit: dict[str, Any]) -> str:
    return str(hit.get("id") or hit.get("page_id") or (hit.get("content") or {}).get("id") or "")


def _space(hit: dict[str, Any]) -> str:
    space = hit.get("space")
    if isinstance(space, dict):
        return str(space.get("key", ""))
    return str(hit.get("space_key") or space or "")


def _body(page: dict[str, Any]) -> str:
    """The page text: mcp-atlassian puts it under `metadata.content.value` (its default
    `include_metadata=True`) or, without metadata, under `content.value`."""
    for holder in (page.get("metadata"), page):
        content = holder.get("content") if isinstance(holder, dict) else None
        if isinstance(content, dict) and content.get("value"):
            return str(content["value"])
        if isinstance(content, str) and content:
            return content
    return ""


def _hits(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        if result.get("error"):
            raise McpError(str(result["error"]))
        result = result.get("results") or result.get("pages") or []
    return [hit for hit in result if isinstance(hit, dict) and _page_id(hit)] if isinstance(result, list) else []


async def fetch_pages(
    confluence: McpConnection,
    query: str,
    tools: ToolNames,
    *,
    limit: int,
    warn: Callable[[str], None] = lambda message: None,
) -> list[ConfluencePage]:
    """Search, then fetch each hit's full body (search excerpts are too short to plan with).

    Problems go to `warn` (one line each) and give fewer pages. A credential Confluence
    refuses is one of them: on Server/Data Center, Jira and Confluence have separate tokens.
    """
    if not query or limit <= 0:
        return []
    wanted = {tools.confluence_search, tools.confluence_get_page}
    try:
        offered = {t.name for t in await confluence.tools(allow=wanted)}
        if offered != wanted:
            missing = ", ".join(sorted(wanted - offered))
            warn(f"the MCP server offers no {missing} tool (Confluence not configured on it?): {NO_PAGES}")
            return []
        hits = _hits(await confluence.call(tools.confluence_search, {"query": query, "limit": limit}))
    except McpError as exc:
        warn(f"Confluence search for {query!r} failed, {NO_PAGES}: {exc}")
        return []
    pages = []
    for hit in hits[:limit]:
        try:
            page = await confluence.call(tools.confluence_get_page, {"page_id": _page_id(hit)})
            if not isinstance(page, dict) or page.get("error"):
                raise McpError(str(page.get("error") if isinstance(page, dict) else page)[:300])
        except McpError as exc:
            warn(f"Confluence page {_page_id(hit)} left out: {exc}")
            continue
        meta = page.get("metadata") if isinstance(page.get("metadata"), dict) else page
        pages.append(
            ConfluencePage(
                page_id=_page_id(hit),
                title=str(meta.get("title") or hit.get("title") or ""),
                space_key=_space(meta) or _space(hit),
                url=str(meta.get("url") or hit.get("url") or ""),
                body=_body(page),  # capped, with a visible note, by budget.cap_context
            )
        )
    return pages
