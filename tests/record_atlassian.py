"""Record what the real mcp-atlassian answers to the calls jira2robot makes, for the embedded stand-in.

    .venv/bin/python -m tests.record_atlassian      # rewrites generator/standin/recorded/

The real server runs in front of the REST double (tests/servers/fake_atlassian_rest.py), which
serves the demo tickets and pages; the stand-in serves the same files. tests/test_atlassian_server.py
then checks that the stand-in answers every recorded call with the same shape (keys, nesting, types),
and tests/test_real_mcp_atlassian.py that a fresh recording still matches the committed one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import yaml

from generator.clients.mcp.auth import auth_headers
from generator.clients.mcp.client import McpConnection, McpError
from generator.gather.jira import ISSUE_FIELDS
from generator.standin import RECORDED
from tests.servers.fake_atlassian_rest import ACCEPTANCE_FIELD, DATA, PAT, FakeAtlassianRest
from tests.servers.mcp_atlassian_process import McpAtlassianProcess, installed_version

#: The double's address is random; recordings use the demo tickets' own host instead.
RECORDED_BASE = "https://jira.shop.example.com"


def calls() -> list[tuple[str, str, dict[str, Any]]]:
    """(case name, tool, arguments): the calls jira2robot's gather and publish steps make."""
    keys = [yaml.safe_load(p.read_text())["key"] for p in sorted((DATA / "tickets").glob("*.yaml"))]
    pages = [str(yaml.safe_load(p.read_text())["id"]) for p in sorted((DATA / "confluence").glob("*.yaml"))]
    issue_args = {"fields": f"{ISSUE_FIELDS},{ACCEPTANCE_FIELD}", "expand": "names", "comment_limit": 20}
    return [
        *[(f"issue {k}", "jira_get_issue", {"issue_key": k, **issue_args}) for k in keys],
        ("issue not found", "jira_get_issue", {"issue_key": "QA-999", **issue_args}),
        ("search page", "jira_search", {"jql": "project = QA ORDER BY key", "fields": "summary", "limit": 2}),
        ("field list", "jira_search_fields", {"keyword": "Acceptance Criteria", "limit": 10}),
        ("confluence search", "confluence_search", {"query": "architecture", "limit": 3}),
        *[(f"page {p}", "confluence_get_page", {"page_id": p}) for p in pages],
        ("page not found", "confluence_get_page", {"page_id": "999"}),
        ("comment", "jira_add_comment", {"issue_key": keys[1], "body": "jira2robot opened a draft merge request: !1"}),
    ]


async def _record(url: str, base: str) -> list[dict[str, Any]]:
    cases = []
    async with McpConnection(url, label="mcp-atlassian", headers=auth_headers("bearer", PAT)) as server:
        for name, tool, arguments in calls():
            try:
                result, is_error = await server.call(tool, arguments), False
            except McpError as exc:
                result, is_error = str(exc), True
            text = json.dumps(result, ensure_ascii=False).replace(base, RECORDED_BASE)
            cases.append({"case": name, "tool": tool, "arguments": arguments, "is_error": is_error,
                          "result": json.loads(text)})  # fmt: skip
    return cases


def record() -> dict[str, Any]:
    """A fresh recording from the real server (needs `.venv-mcp-atlassian`)."""
    with FakeAtlassianRest() as rest, McpAtlassianProcess(rest.url) as server:
        return {"server": installed_version(), "calls": anyio.run(_record, server.url, rest.url)}


def main() -> None:
    RECORDED.write_text(json.dumps(record(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RECORDED}", file=sys.stderr)


if __name__ == "__main__":
    main()
