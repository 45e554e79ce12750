"""jira2robot's gather code against the real mcp-atlassian server, in front of a Jira/Confluence REST double.

The server runs as its operators run it (streamable HTTP, JIRA_URL/CONFLUENCE_URL on the
server, each client sending its own token); the REST double logs what the server asked Jira
for, so these tests prove both what jira2robot reads and what it asks for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from generator.cli import main
from generator.clients.mcp.auth import auth_headers
from generator.clients.mcp.client import McpAuthError, McpConnection
from generator.clients.mcp.tools import ToolNames
from generator.gather.confluence import fetch_pages
from generator.gather.jira import TicketError, fetch_ticket, normalize_issue, search_keys
from generator.models import ConfluencePage, Ticket
from tests.conftest import missing_tool
from tests.servers.fake_atlassian_rest import CLOUD_TOKEN, CLOUD_USER, PAT, FakeAtlassianRest
from tests.servers.mcp_atlassian_process import MISSING, VERSION, McpAtlassianProcess, executable

TOOLS = ToolNames()
BEARER = auth_headers("bearer", PAT)
BASIC = auth_headers("basic", CLOUD_TOKEN, CLOUD_USER)
CLOUD_SITE = "http://shop.atlassian.net"


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    """Every test here needs the real server: skipped without it, failed under CI (see missing_tool)."""
    if executable() is None:
        missing_tool(MISSING)


@pytest.fixture(scope="module")
def rest() -> Iterator[FakeAtlassianRest]:
    with FakeAtlassianRest() as double:
        yield double


@pytest.fixture(scope="module")
def server(rest: FakeAtlassianRest) -> Iterator[McpAtlassianProcess]:
    with McpAtlassianProcess(rest.url) as process:
        yield process


@pytest.fixture(scope="module")
def jira_only(rest: FakeAtlassianRest) -> Iterator[McpAtlassianProcess]:
    with McpAtlassianProcess(rest.url, confluence=False) as process:
        yield process


@pytest.fixture(scope="module")
def cloud(rest: FakeAtlassianRest) -> Iterator[McpAtlassianProcess]:
    """A Jira Cloud site as mcp-atlassian sees one: an `*.atlassian.net` URL (reached through the double)."""
    env = {"JIRA_URL": CLOUD_SITE, "JIRA_HTTP_PROXY": rest.url, "JIRA_USERNAME": "operator@shop.example.com",
           "JIRA_API_TOKEN": "server-side-token-never-used"}  # fmt: skip
    with McpAtlassianProcess(rest.url, confluence=False, extra_env=env) as process:
        yield process


@pytest.fixture(scope="module")
def no_field_list(rest: FakeAtlassianRest) -> Iterator[McpAtlassianProcess]:
    """A server whose operator enabled only the issue tools (ENABLED_TOOLS): no `jira_search_fields`."""
    with McpAtlassianProcess(rest.url, confluence=False, extra_env={"ENABLED_TOOLS": "jira_get_issue"}) as process:
        yield process


def ticket(url: str, key: str, *, acceptance_field: str = "", headers: dict[str, str] = BEARER) -> Ticket:
    async def go() -> Ticket:
        async with McpConnection(url, label="Jira", headers=headers, auth_hint="HINT") as jira:
            return await fetch_ticket(jira, key, TOOLS, acceptance_field=acceptance_field)

    return anyio.run(go)


def pages(url: str, query: str = "architecture") -> tuple[list[ConfluencePage], list[str]]:
    warnings: list[str] = []

    async def go() -> list[ConfluencePage]:
        async with McpConnection(url, label="Jira", headers=BEARER) as jira:
            return await fetch_pages(jira, query, TOOLS, limit=3, warn=warnings.append)

    return anyio.run(go), warnings


def test_issue_fields_components_comments_and_browse_url(server: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    t = ticket(server.url, "QA-101")
    # The description came as wiki markup and arrives as Markdown ("### Acceptance Criteria").
    assert t.acceptance_criteria[0] == "Scenario: account locked after three failures"
    assert t.acceptance_criteria[-1] == 'And the failed login count of "bob" is 0'
    assert t.components == ["login"] and t.labels == ["security", "jira2robot"]
    assert t.comments[0].startswith("The lockout lasts 30 minutes") and len(t.comments) == 2
    assert t.url == f"{rest.url}/browse/QA-101"  # the page a human opens, not the REST link
    asked = rest.calls(r"/rest/api/2/issue/QA-101$")[-1]
    assert {"components", "comment", "customfield_10100"} <= set(asked["fields"].split(","))
    assert asked["expand"] == "names"


@pytest.mark.parametrize("configured", ["", "customfield_10100", "acceptance criteria"])
def test_acceptance_criteria_in_a_custom_field_by_name_or_id(server: McpAtlassianProcess, configured: str) -> None:
    t = ticket(server.url, "QA-202", acceptance_field=configured)
    assert t.acceptance_criteria == ["the total includes 20% VAT", "the VAT amount is shown on its own line"]
    assert t.components == ["orders", "cart"]


@pytest.mark.parametrize("configured", ["", "Acceptance Criteria"])
def test_acceptance_field_by_name_without_the_field_list(
    no_field_list: McpAtlassianProcess, rest: FakeAtlassianRest, configured: str
) -> None:
    t = ticket(no_field_list.url, "QA-202", acceptance_field=configured)
    assert t.acceptance_criteria == ["the total includes 20% VAT", "the VAT amount is shown on its own line"]
    assert rest.calls(r"/rest/api/2/issue/QA-202$")[-1]["fields"] == "*all"  # every field, matched by name


def test_gherkin_inside_a_code_block_is_read(server: McpAtlassianProcess) -> None:
    t = ticket(server.url, "QA-201")
    assert t.acceptance_criteria == [
        "Scenario: reset link is sent",
        'Given the user "alice" has an account',
        'When "alice" asks for a password reset',
        'Then a reset email is sent to "alice"',
    ]
    assert "```" in t.description and t.comments == ["Reset links are **single use**."]


def test_jql_search_pages_through_start_at(server: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    async def go() -> list[str]:
        async with McpConnection(server.url, headers=BEARER) as jira:
            return await search_keys(jira, "project = QA ORDER BY key", TOOLS, limit=5, page=2)

    before = len(rest.calls(r"/rest/api/2/search$"))
    assert anyio.run(go) == ["QA-101", "QA-102", "QA-103", "QA-104", "QA-105"]
    paged = [q for q in rest.calls(r"/rest/api/2/search$")[before:] if q.get("jql", "").startswith("project = QA")]
    assert [(q["startAt"], q["maxResults"]) for q in paged] == [("0", "2"), ("2", "2"), ("4", "1")]


def test_confluence_search_then_page_body(server: McpAtlassianProcess) -> None:
    found, warnings = pages(server.url)
    assert warnings == []
    assert [p.page_id for p in found] == ["1001"]
    page = found[0]
    assert page.title == "Test automation architecture" and page.space_key == "QA"
    # The body is read from metadata.content.value (the server's default include_metadata=True).
    assert "Layers" in page.body and "resources/shop.resource" in page.body


def test_confluence_refusing_the_jira_token_is_a_warning(server: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    rest.confluence_pat = "a-confluence-pat"
    try:
        found, warnings = pages(server.url)
    finally:
        rest.confluence_pat = PAT
    assert found == [] and len(warnings) == 1
    assert "Confluence search for 'architecture' failed" in warnings[0] and "Confluence" in warnings[0]
    assert PAT not in warnings[0]


@pytest.mark.parametrize(
    ("scheme", "token", "user"), [("token", PAT, None), ("basic", CLOUD_TOKEN, CLOUD_USER)], ids=["token", "basic"]
)
def test_other_auth_schemes_reach_jira(server: McpAtlassianProcess, scheme: str, token: str, user: str | None) -> None:
    assert ticket(server.url, "QA-102", headers=auth_headers(scheme, token, user)).key == "QA-102"


def test_missing_or_wrong_token_is_an_auth_error_with_the_fix(server: McpAtlassianProcess) -> None:
    with pytest.raises(McpAuthError, match=r"HTTP 401.*no credentials were sent\. HINT"):
        ticket(server.url, "QA-101", headers={})
    with pytest.raises(McpAuthError, match=r"Unauthorized.*HINT"):
        ticket(server.url, "QA-101", headers=auth_headers("bearer", "not-the-token"))


def test_missing_issue_and_server_error_fail_that_ticket(server: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    with pytest.raises(TicketError, match=r"cannot read ticket QA-999: .*QA-999 not found"):
        ticket(server.url, "QA-999")
    rest.fail_500.add("QA-103")
    try:
        with pytest.raises(TicketError, match=r"cannot read ticket QA-103: .*Internal server error"):
            ticket(server.url, "QA-103")
    finally:
        rest.fail_500.discard("QA-103")


def test_jira_only_server_gives_one_warning_and_no_pages(jira_only: McpAtlassianProcess) -> None:
    found, warnings = pages(jira_only.url)
    assert found == []
    assert len(warnings) == 1 and "confluence_search" in warnings[0] and "without Confluence" in warnings[0]
    assert ticket(jira_only.url, "QA-101").components == ["login"]


# --------------------------------------------------------------------------- Jira Cloud


def test_cloud_issue_with_basic_auth(cloud: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    t = ticket(cloud.url, "QA-202", headers=BASIC)
    assert t.acceptance_criteria == ["the total includes 20% VAT", "the VAT amount is shown on its own line"]
    assert t.url == f"{CLOUD_SITE}/browse/QA-202"
    assert ticket(cloud.url, "QA-101", headers=BASIC).comments[1].startswith("Keep the generic")


def test_cloud_search_pages_by_token_and_adf_arrives_raw(cloud: McpAtlassianProcess, rest: FakeAtlassianRest) -> None:
    async def go() -> tuple[list[str], dict[str, Any]]:
        async with McpConnection(cloud.url, headers=BASIC) as jira:
            keys = await search_keys(jira, "project = QA ORDER BY key", TOOLS, limit=5, page=2)
            fields = "summary,description,customfield_10100"
            found = await jira.call("jira_search", {"jql": "project = QA", "fields": fields, "limit": 8})
            return keys, found

    keys, found = anyio.run(go)
    assert keys == ["QA-101", "QA-102", "QA-103", "QA-104", "QA-105"]
    # Cloud ignores start_at: the pages are chained by token (none for the first page).
    assert ["nextPageToken" in r for r in rest.posted("/rest/api/3/search/jql")[-4:-1]] == [False, True, True]
    qa104 = next(i for i in found["issues"] if i["key"] == "QA-104")
    assert qa104["customfield_10100"]["value"]["type"] == "doc"  # a rich-text custom field stays ADF
    t = normalize_issue(qa104, acceptance_field="customfield_10100")
    assert t.acceptance_criteria[0] == "Given a guest user who is not logged in" and len(t.acceptance_criteria) == 5


# --------------------------------------------------------------------------- the CLI, end to end


def run(url: str, keys: str, repo: Path, out: Path, **env: str) -> tuple[int, dict[str, Any]]:
    os.environ.update({"JIRA_MCP_URL": url, **env})
    args = ["--keys", keys, "--llm", "offline", "--publish", "none", "--repo", str(repo), "--output-dir", str(out)]
    code = main(["run", *args])
    return code, {t["key"]: t for t in json.loads((out / "report.json").read_text())["tickets"]}


@pytest.mark.usefixtures("clean_env")
def test_run_through_the_cli_on_a_jira_only_server(jira_only, sample_repo, tmp_path, capsys) -> None:
    code, tickets = run(jira_only.url, "QA-101,QA-202", sample_repo, tmp_path / "out", JIRA_MCP_TOKEN=PAT)
    assert code == 0, capsys.readouterr().out
    assert {k: t["status"] for k, t in tickets.items()} == {"QA-101": "created", "QA-202": "created"}
    assert "VAT" in (tmp_path / "out" / "QA-202" / "spec.json").read_text()  # from the custom field
    printed = capsys.readouterr().out
    assert printed.count("warning: the MCP server offers no confluence_") == 1
    assert PAT not in printed and PAT not in (tmp_path / "out" / "report.json").read_text()


@pytest.mark.usefixtures("clean_env")
def test_failed_confluence_search_is_tried_once_per_run(server, rest, sample_repo, tmp_path, capsys) -> None:
    before = len(rest.calls(r"^/rest/api/search$"))
    rest.fail_confluence = True
    try:
        code, tickets = run(server.url, "QA-101,QA-102", sample_repo, tmp_path / "out", JIRA_MCP_TOKEN=PAT)
    finally:
        rest.fail_confluence = False
    assert code == 0 and {t["status"] for t in tickets.values()} == {"created"}
    assert capsys.readouterr().out.count("warning: Confluence search for 'architecture' failed") == 1
    # One confluence_search call for the run (the server tries siteSearch, then text).
    assert len(rest.calls(r"^/rest/api/search$")) - before == 2


@pytest.mark.usefixtures("clean_env")
def test_run_without_a_token_names_the_settings_to_fix(server, sample_repo, tmp_path, capsys) -> None:
    code, tickets = run(server.url, "QA-101", sample_repo, tmp_path / "out")
    assert code == 1
    reason = tickets["QA-101"]["reason"]
    assert "HTTP 401" in reason and "JIRA_MCP_TOKEN" in reason and "JIRA_MCP_AUTH" in reason
    assert "ALLOW_GLOBAL_CRED_FALLBACK" in reason


def test_committed_recording_matches_the_real_server_today() -> None:
    """The stand-in is checked against generator/standin/recorded/; this checks that file against the real server."""
    from generator.standin import RECORDED
    from tests.record_atlassian import record
    from tests.test_atlassian_server import shape

    committed = json.loads(RECORDED.read_text(encoding="utf-8"))
    fresh = record()
    assert fresh["server"] == committed["server"] == f"mcp-atlassian {VERSION}"  # ci/test.sh installs VERSION
    assert [c["case"] for c in fresh["calls"]] == [c["case"] for c in committed["calls"]]
    for new, old in zip(fresh["calls"], committed["calls"], strict=True):
        assert (new["is_error"], shape(new["result"])) == (old["is_error"], shape(old["result"])), new["case"]
