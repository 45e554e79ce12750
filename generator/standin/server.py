"""The embedded stand-in for the mcp-atlassian MCP server.

`jira2robot demo` and the test suite need Jira and Confluence without a network or
credentials, yet they must exercise the same MCP client code as a real run. So this
is a real MCP server (streamable HTTP, the `mcp` SDK) serving tickets and pages read
from a folder, with mcp-atlassian's tool names, argument names and answers (JSON text,
shaped as `recorded/mcp-atlassian.json` shows the real server's). It also lets a team try
jira2robot on tickets exported as YAML/JSON files:

    python -m generator.standin --tickets my-tickets/ --pages my-pages/ --port 9000
"""

from __future__ import annotations

import argparse
import copy
import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Self

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AliasChoices, Field

from generator.standin import shapes
from generator.standin.files import DEMO_PAGES_DIR, DEMO_TICKETS_DIR, TicketStoreError, load_pages, load_tickets
from generator.standin.jql import run_jql

MAX_RESULTS = 50
COMMENT_AUTHOR = "jira2robot"


_IssueKey = Annotated[str, Field(description="Jira issue key, e.g. 'QA-101'")]
_Fields = Annotated[str, Field(description="Comma-separated fields to return (custom fields by id or name), or '*all'")]


def _json(value: Any) -> str:
    """Every mcp-atlassian tool answers one text block of indented JSON."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def _not_found(issue_key: str) -> ToolError:
    return ToolError(f"Issue {issue_key} not found. Verify the issue key and project access.")


def build_server(tickets: dict[str, dict], pages: dict[str, dict], *, comments: list | None = None) -> MCPServer:
    """An MCP server with mcp-atlassian's read tools plus `jira_add_comment`.

    `comments` receives `(issue_key, text)` for each added comment, so a test or the demo
    can check what jira2robot would have posted to Jira.
    """
    added = comments if comments is not None else []
    # Added comments change the tickets: keep the caller's copy untouched.
    tickets = copy.deepcopy(tickets)
    server = MCPServer(
        "atlassian-files",
        instructions="Jira issues and Confluence pages served from files, with mcp-atlassian's tool names.",
        log_level="WARNING",
    )

    def ticket_of(issue_key: str) -> dict:
        ticket = tickets.get(issue_key.strip().upper())
        if ticket is None:
            raise _not_found(issue_key)
        return ticket

    @server.tool()
    def jira_get_issue(
        issue_key: _IssueKey,
        fields: _Fields = shapes.DEFAULT_FIELDS,
        expand: Annotated[str | None, Field(description="'names' adds each custom field's display name")] = None,
        comment_limit: Annotated[int, Field(ge=0, le=100, description="Maximum comments to return")] = 10,
    ) -> str:
        """Get one Jira issue: summary, description, status, labels, components, comments, custom fields."""
        return _json(
            shapes.simplify_issue(ticket_of(issue_key), fields, comment_limit=comment_limit, expand=expand or "")
        )

    @server.tool()
    def jira_search(
        jql: Annotated[str, Field(description="JQL, e.g. 'project = QA AND status != Done ORDER BY key'")],
        fields: _Fields = shapes.DEFAULT_FIELDS,
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS, description="Maximum issues to return (1-50)")] = 10,
        start_at: Annotated[int, Field(ge=0, description="Index of the first issue to return")] = 0,
    ) -> str:
        """Search Jira issues with JQL; returns total, start_at, max_results and the page of issues."""
        return _json(shapes.search_result(run_jql(jql, tickets.values()), fields, start_at, limit))

    @server.tool()
    def jira_search_fields(
        keyword: Annotated[str, Field(description="Field name to look for, e.g. 'Acceptance Criteria'")] = "",
        limit: Annotated[int, Field(ge=1, description="Maximum fields to return")] = 10,
    ) -> str:
        """Jira's field definitions (id, name, schema), best matches first."""
        return _json(shapes.search_fields(keyword, limit))

    @server.tool()
    def jira_add_comment(
        issue_key: _IssueKey,
        body: Annotated[
            str,
            Field(
                min_length=1, description="Comment text (Markdown)", validation_alias=AliasChoices("body", "comment")
            ),
        ],
    ) -> str:
        """Add a comment to a Jira issue."""
        ticket = ticket_of(issue_key)
        ticket["comments"].append({"author": COMMENT_AUTHOR, "body": body})
        added.append((ticket["key"], body))
        return _json(shapes.added_comment(str(20000 + len(ticket["comments"]) - 1), body, COMMENT_AUTHOR))

    @server.tool()
    def confluence_search(
        query: Annotated[str, Field(description="Words, or CQL such as 'text ~ \"architecture\"'")],
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS, description="Maximum pages to return (1-50)")] = 10,
        spaces_filter: Annotated[str | None, Field(description="Comma-separated space keys to search in")] = None,
    ) -> str:
        """Search Confluence pages; returns a JSON list of pages, each with a `content.value` excerpt."""
        spaces = {s.strip().upper() for s in (spaces_filter or "").split(",") if s.strip()} or None
        return _json(shapes.search_pages(pages.values(), query, limit, spaces))

    @server.tool()
    def confluence_get_page(
        page_id: Annotated[str, Field(description="Confluence page id, from confluence_search")],
        include_metadata: bool = True,
        convert_to_markdown: bool = True,
    ) -> str:
        """Get a Confluence page: its metadata with the body (Markdown) in `metadata.content.value`."""
        page = pages.get(page_id.strip())
        if page is None:  # mcp-atlassian answers this one with an "error" object, not a tool error
            return _json({"error": f"Failed to retrieve page by ID '{page_id}': no content with the given id"})
        if include_metadata:
            return _json({"metadata": shapes.page_dict(page, page["body"], "markdown")})
        return _json({"content": {"value": page["body"]}})

    return server


class ServedMcp:
    """An MCP server over streamable HTTP on 127.0.0.1 (free port by default), in a background thread."""

    def __init__(self, server: MCPServer, *, port: int = 0):
        self._server = server
        self._port = port
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> Self:
        config = uvicorn.Config(
            self._server.streamable_http_app(),
            host="127.0.0.1",
            port=self._port,
            log_level="warning",
            lifespan="on",
            # Clients may keep an SSE stream open; stopping must not wait for them.
            timeout_graceful_shutdown=0.5,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, name="atlassian-mcp", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Atlassian MCP server could not start on 127.0.0.1:{self._port}")
            time.sleep(0.01)
        port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._uvicorn = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServedAtlassian(ServedMcp):
    """`build_server` over the ticket and page folders: `with ServedAtlassian(tickets, pages) as jira: ... jira.url`."""

    def __init__(self, tickets_dir: Path, pages_dir: Path | None = None, *, port: int = 0):
        self.added_comments: list[tuple[str, str]] = []
        tickets, pages = load_tickets(tickets_dir), load_pages(pages_dir)
        super().__init__(build_server(tickets, pages, comments=self.added_comments), port=port)


def main(argv: list[str] | None = None) -> None:
    """Serve a ticket folder until Ctrl-C, to point `JIRA_MCP_URL` at it."""
    parser = argparse.ArgumentParser(prog="python -m generator.standin", description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=Path, default=DEMO_TICKETS_DIR, help="folder of ticket files")
    parser.add_argument("--pages", type=Path, default=DEMO_PAGES_DIR, help="folder of Confluence page files")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    try:
        served = ServedAtlassian(args.tickets, args.pages, port=args.port).start()
    except TicketStoreError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"Serving {args.tickets} and {args.pages} at {served.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        served.stop()


if __name__ == "__main__":
    main()
