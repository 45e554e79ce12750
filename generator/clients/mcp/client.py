"""A narrow MCP client: one streamable-HTTP connection per server, opened once per run.

Gather calls tools directly (no LLM round trips to fetch what is known to be needed);
the writer gets a read-only subset of a server's tools through `tools()`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from generator.clients.mcp.auth import REFUSED

if TYPE_CHECKING:
    from mcp import Client


class McpError(Exception):
    """The server could not be reached or a tool call failed; the message says which and why."""


class McpAuthError(McpError):
    """The server refused our credentials (HTTP 401/403): no ticket can be read until they are fixed."""


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
        headers: Mapping[str, str] | None = None,
        auth_hint: str = "",
        limiter: anyio.CapacityLimiter | None = None,
        timeout: float = 60.0,
    ):
        """`headers` (credentials, e.g. from `auth_headers`) go with every request.

        `auth_hint` ends the message of a 401/403, saying which settings to fix.
        """
        self.url = url
        self.label = label
        self._headers = dict(headers) if headers else None
        self._auth_hint = auth_hint
        self._refused: int | None = None
        self._limiter = limiter or anyio.CapacityLimiter(4)
        self._timeout = timeout
        self._stack: AsyncExitStack | None = None
        self._client: Client | None = None
        self._tools: list[McpTool] | None = None

    async def __aenter__(self) -> McpConnection:
        # The SDK costs about a second to import (its `mcp` package loads the server side and
        # every protocol version's types): paid on the first connection, never by `--help`,
        # `validate` or `config`, which import this module for `auth_headers`.
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        stack = AsyncExitStack()
        try:
            http = await stack.enter_async_context(create_mcp_http_client(headers=self._headers))
            # The SDK turns every HTTP error into one generic message: note a refusal ourselves.
            http.event_hooks["response"].append(self._note_refusal)
            transport = streamable_http_client(self.url, http_client=http)
            self._client = await stack.enter_async_context(Client(transport, read_timeout_seconds=self._timeout))
        except Exception as exc:
            # The SDK has already unwound its own task group; only the HTTP client is left.
            await stack.aclose()
            if self._refused:
                raise self._auth_error() from None
            raise McpError(
                f"cannot connect to the {self.label} MCP server at {self.url}: {_describe(exc)}. "
                "Check the URL (streamable HTTP endpoint, usually ending in /mcp) and that the server is running."
            ) from None
        self._stack = stack
        return self

    async def _note_refusal(self, response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            self._refused = response.status_code

    def _auth_error(self) -> McpAuthError:
        sent = "the credentials sent were not accepted" if self._headers else "no credentials were sent"
        return McpAuthError(
            f"the {self.label} MCP server at {self.url} refused the request (HTTP {self._refused}): {sent}. "
            f"{self._auth_hint}".strip()
        )

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
            if self._refused:
                raise self._auth_error() from None
            raise McpError(f"{self.label} MCP tool {tool} failed: {_describe(exc)}") from None
        text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "text", None))
        if result.is_error:
            if REFUSED.search(text):
                raise McpAuthError(f"{self.label} MCP tool {tool}: {text}. {self._auth_hint}".strip())
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
