"""The MCP tools the run calls by name, as the repo file names them (`tools:` in `.jira2robot.yml`).

Defaults are those of the widely used mcp-atlassian server; another server's names go in the repo
file. Gather passes them to the MCP client, the repo file's model holds them: both import this
small model rather than each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ToolNames(BaseModel):
    """MCP tool names; defaults are those of the mcp-atlassian server."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, defer_build=True)

    jira_get_issue: str = "jira_get_issue"
    jira_search: str = "jira_search"
    confluence_search: str = "confluence_search"
    confluence_get_page: str = "confluence_get_page"
    jira_add_comment: str = "jira_add_comment"
    jira_search_fields: str = "jira_search_fields"
