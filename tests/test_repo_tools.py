"""The writer's read-only tools: confinement to the repo, keyword lookup, GitLab MCP allow-list."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import anyio
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer

from generator.clients.mcp.client import McpConnection
from generator.retrieval.inventory import build_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.write.repo_tools import RepoAccessError, gitlab_tools, repo_tools


@pytest.fixture
def tools(sample_repo, tmp_path):
    inventory = build_inventory(sample_repo, tests_dir="tests", pythonpath=["libraries"], cache_dir=tmp_path / "cache")
    return {t.name: t for t in repo_tools(sample_repo, KeywordMatcher(inventory))}


def call(tool, **args) -> str:
    return anyio.run(tool.handler, args)


def test_read_and_list_inside_the_repo(tools):
    assert "Open Shop Session" in call(tools["read_file"], path="resources/common.resource")
    listing = call(tools["list_dir"], path="tests").splitlines()
    assert listing == ["cart/", "login/", "orders/"]
    assert call(tools["read_file"], path="nope.txt").startswith("ERROR")


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", ".git/config", "tests/../../outside"])
def test_paths_outside_the_repo_are_refused(tools, path):
    with pytest.raises(RepoAccessError, match="outside the repository"):
        call(tools["read_file"], path=path)


def test_search_text_and_find_keywords(tools):
    hits = call(tools["search_text"], query="Checkout With Card", glob="*.resource")
    assert "resources/orders.resource:" in hits
    found = json.loads(call(tools["find_keywords"], step='Given the user "alice" has an account'))
    assert found["how"] == "embedded"
    assert found["suggested_line"] == 'Given the user "alice" has an account'
    assert any(c["name"] == 'The user "${user}" has an account' for c in found["candidates"])


@pytest.fixture
def gitlab_mcp() -> Iterator[str]:
    """A GitLab-like MCP server offering read and write tools (real SDK server on 127.0.0.1)."""
    server = MCPServer("gitlab-like", log_level="WARNING")
    written: list[str] = []

    @server.tool()
    def get_file_contents(project_id: str, file_path: str) -> str:
        """Read a file."""
        return f"content of {file_path}"

    @server.tool()
    def create_merge_request(project_id: str, title: str) -> str:
        """Open an MR."""
        written.append(title)
        return "created"

    @server.tool()
    def push_files(project_id: str, branch: str) -> str:
        """Push."""
        written.append(branch)
        return "pushed"

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    http = uvicorn.Server(uvicorn.Config(server.streamable_http_app(), log_level="warning"))
    thread = threading.Thread(target=http.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not http.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    http.should_exit = True
    thread.join(5)
    assert written == []  # nothing could ever call the write tools


def test_gitlab_mcp_tools_are_filtered_to_read_only(gitlab_mcp):
    async def main() -> tuple[list[str], str]:
        async with McpConnection(gitlab_mcp, label="GitLab") as gitlab:
            offered = await gitlab_tools(gitlab)
            return [t.name for t in offered], await offered[0].handler({"project_id": "7", "file_path": "a.robot"})

    names, content = anyio.run(main)
    assert names == ["get_file_contents"]
    assert content == "content of a.robot"
