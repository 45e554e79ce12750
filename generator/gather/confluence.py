"""Confluence pages through MCP: search once per run, then read the top pages' bodies."""

from __future__ import annotations

from typing import Any

from generator.config import ToolNames
from generator.mcp_client import McpConnection
from generator.models import ConfluencePage


def _page_id(hit: dict[str, Any]) -> str:
    return str(hit.get("id") or hit.get("page_id") or (hit.get("content") or {}).get("id") or "")


def _space(hit: dict[str, Any]) -> str:
    space = hit.get("space")
    if isinstance(space, dict):
        return str(space.get("key", ""))
    return str(hit.get("space_key") or space or "")


async def fetch_pages(confluence: McpConnection, query: str, tools: ToolNames, *, limit: int) -> list[ConfluencePage]:
    """Search, then fetch each hit's full body (search excerpts are too short to plan with)."""
    if not query or limit <= 0:
        return []
    hits = await confluence.call(tools.confluence_search, {"query": query, "limit": limit})
    if isinstance(hits, dict):
        hits = hits.get("results") or hits.get("pages") or []
    pages = []
    for hit in (hits or [])[:limit]:
        if not isinstance(hit, dict) or not _page_id(hit):
            continue
        page = await confluence.call(tools.confluence_get_page, {"page_id": _page_id(hit)})
        meta = page.get("metadata", page) if isinstance(page, dict) else {}
        content = page.get("content", {}) if isinstance(page, dict) else {}
        body = content.get("value", "") if isinstance(content, dict) else str(content or page)
        pages.append(
            ConfluencePage(
                page_id=_page_id(hit),
                title=str(meta.get("title") or hit.get("title") or ""),
                space_key=_space(meta) or _space(hit),
                url=str(meta.get("url") or hit.get("url") or ""),
                body=str(body),  # capped, with a visible note, by budget.cap_context
            )
        )
    return pages
