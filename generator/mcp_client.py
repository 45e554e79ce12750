"""A narrow MCP client: one streamable-HTTP connection per server, opened once per run.

Gather calls tools directly (no LLM round trips to fetch what is known to be needed);
the writer gets a read-only subset of a server's tools through `tools()`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


class McpError(Exception):
    """The server could not be reached or a tool call failed; the message says which and why."""


@dataclass(frozen=True)
class McpTool:
    name: str
    description: str
    input_schema: dict[str, Any]


class McpConnection:
    """`async with McpConnection(url) as jira: await jira.call("jira_get_issue", {...})`."""

    def __init__(
        self,
        url: str,
        *,
        label: str = "MCP",
        token: str | None = None,
        limiter: anyio.CapacityLimiter | None = None,
        timeout: float = 60.0,
    ):
        self.url = url
        self.label = label
        self._headers = {"Authorization": f"Bearer {token}"} if token else None
        self._limiter = limiter or anyio.CapacityLimiter(4)
        self._timeout = timeout
        self._stack: AsyncExitStack | None = None
        self._client: Client | None = None
        self._tools: list[McpTool] | None = None

    async def __aenter__(self) -> McpConnection:
        stack = AsyncExitStack()
        try:
            http = await stack.enter_async_context(create_mcp_http_client(headers=self._headers))
            transport = streamable_http_client(self.url, http_client=http)
            self._client = await stack.enter_async_context(Client(transport, read_timeout_seconds=self._timeout))
        except Exception as exc:
            # The SDK has already unwound its own task group; only the HTTP client is left.
            await stack.aclose()
            raise McpError(
                f"cannot connect to the {self.label} MCP server at {self.url}: {_describe(exc)}. "
                "Check the URL (streamable HTTP endpoint, usually ending in /mcp) and that the server is running."
            ) from None
        self._stack = stack
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    async def tools(self, allow: Collection[str] | None = None) -> list[McpTool]:
        """The server's tools, optionally restricted to an allow-list of names."""
        if self._tools is None:
            client = self._require()
            async with self._limiter:
                listed = await client.list_tools()
            self._tools = [
                McpTool(name=t.name, description=t.description or "", input_schema=dict(t.input_schema or {}))
                for t in listed.tools
            ]
        return [t for t in self._tools if allow is None or t.name in allow]

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call a tool; returns parsed JSON when the text content is JSON, else the text."""
        client = self._require()
        try:
            async with self._limiter:
                with anyio.fail_after(self._timeout):
                    result = await client.call_tool(tool, arguments)
        except TimeoutError:
            raise McpError(f"{self.label} MCP tool {tool} timed out after {self._timeout:.0f}s") from None
        except Exception as exc:
            raise McpError(f"{self.label} MCP tool {tool} failed: {_describe(exc)}") from None
        text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "text", None))
        if result.is_error:
            raise McpError(f"{self.label} MCP tool {tool} returned an error: {text or 'no message'}")
        if result.structured_content is not None and not text:
            return result.structured_content
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _require(self) -> Client:
        if self._client is None:
            raise McpError(f"{self.label} MCP connection used before it was opened")
        return self._client


def _describe(exc: BaseException) -> str:
    """Unwrap anyio exception groups to the first real cause, for a one-line message."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
