"""An MCP server (streamable HTTP, 127.0.0.1) that completes the handshake, then never answers a tool call.

That is how a wedged Jira or Confluence behind an MCP server looks to a client: the
connection opens, the tools are listed, and every call waits forever.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette


class HangingMCP:
    """`with HangingMCP() as mcp: ... mcp.url ...`; `calls` counts the tool calls received."""

    def __init__(self) -> None:
        self.calls = 0
        self.url = ""
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _app(self) -> Starlette:
        server = MCPServer("hanging", log_level="WARNING")

        async def hang() -> str:
            self.calls += 1
            await anyio.sleep_forever()
            return ""  # never reached

        for name in ("jira_get_issue", "jira_search", "confluence_search", "confluence_get_page"):
            server.add_tool(hang, name=name, description=f"{name}, wedged")
        return server.streamable_http_app()

    def __enter__(self) -> HangingMCP:
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=0.5
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, name="hanging-mcp", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the hanging MCP server did not start")
            time.sleep(0.01)
        port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
