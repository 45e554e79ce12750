"""The embedded Atlassian stand-in: an MCP server with mcp-atlassian's tools, serving ticket and
page files, and the answers recorded from the real server that its shapes are checked against."""

from pathlib import Path

#: What the real mcp-atlassian answered to jira2robot's calls (tests/record_atlassian.py rewrites it).
RECORDED = Path(__file__).parent / "recorded" / "mcp-atlassian.json"
