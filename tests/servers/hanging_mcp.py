"""An MCP server (streamable HTTP, 127.0.0.1) that completes the handshake, then never answers a tool call.

That is how a wedged Jira or Confluence behind an MCP server looks to a client: the
connection opens, the tools are listed, and every call waits forever. With a tickets folder,
the other tools are the embedded Atlassian server's, so only the named ones hang (a hung
Confluence behind a working Jira).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from generator.standin.files import load_pages, load_tickets
from generator.standin.server import build_server

ALL_TOOLS = ("jira_get_issue", "jira_search", "confluence_search", "confluence_get_page")


class HangingMCP:
    """`with HangingMCP() as mcp: ... mcp.url ...`; `calls` counts the calls to hanging tools."""

    def __init__(
        self, hang: tuple[str, ...] = ALL_TOOLS, *, tickets_dir: Path | None = None, pages_dir: Path | None = None
    ) -> None:
        self.hang = hang
        self.tickets_dir = tickets_dir
        self.pages_dir = pages_dir
        self.calls = 0
        self.url = ""
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _app(self) -> Starlette:
        if self.tickets_dir is None:
            server = MCPServer("hanging", log_level="WARNING")
        else:
            server = build_server(load_tickets(self.tickets_dir), load_pages(self.pages_dir))
            for name in self.hang:
                server.remove_tool(name)

        async def hang() -> str:
            self.calls += 1
            await anyio.sleep_forever()
            return ""  # never reached

        for name in self.hang:
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
