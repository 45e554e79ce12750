"""Ticket normalisation and acceptance-criteria extraction across server shapes."""

from __future__ import annotations

import json

from generator.gather.jira import acceptance_section, adf_to_text, criteria_lines, normalize_issue
from generator.gather.repo import coverage_index, index_suites
from generator.models import Ticket
from generator.retrieval.examples import find_examples


def test_simplified_issue_with_wiki_numbered_list():
    issue = {
        "key": "QA-7",
        "summary": "Cancel",
        "description": 'Intro.\n\nh3. Acceptance Criteria\n# first thing\n# second "x"\n\nh3. Notes\n# not a criterion',
        "status": {"name": "To Do"},
        "components": [{"name": "orders"}],
        "labels": ["a"],
        "comments": [{"body": "hello", "author": {"display_name": "P"}}],
    }
    t = normalize_issue(issue)
    assert t.acceptance_criteria == ["first thing", 'second "x"']
    assert t.components == ["orders"] and t.status == "To Do" and t.comments == ["hello"]


def test_markdown_heading_and_bullets_and_gherkin():
    desc = "## Acceptance criteria\n- one\n* two\n1. three\n2) four\nGiven a\nWhen b\nThen c\n## Other\n- ignored"
    assert criteria_lines(acceptance_section(desc)) == ["one", "two", "three", "four", "Given a", "When b", "Then c"]


def test_raw_rest_shape_with_custom_field_and_adf():
    adf = {
        "type": "doc",
        "content": [
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "alpha"}]}],
                    },
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "beta"}]}],
                    },
                ],
            }
        ],
    }
    assert adf_to_text(adf).split() == ["-", "alpha", "-", "beta"]
    issue = {"key": "QA-8", "fields": {"summary": "S", "customfield_10042": adf, "description": None}}
    t = normalize_issue(issue, acceptance_field="customfield_10042")
    assert t.acceptance_criteria == ["alpha", "beta"] and t.summary == "S"


def test_no_acceptance_criteria():
    assert normalize_issue({"key": "QA-9", "summary": "x", "description": "Just prose."}).acceptance_criteria == []


def test_examples_and_coverage_from_real_suites(sample_repo):
    suites = index_suites(sample_repo, "tests")
    index = coverage_index(suites)
    assert index["qa-1"] == ["tests/login/login_basic.robot"]
    assert "qa-404" not in index
    ticket = Ticket(key="QA-50", summary="Discount codes in the cart", components=["cart"])
    examples = find_examples(suites, ticket, limit=2)
    assert len(examples) == 2
    assert all(e.path.startswith("tests/cart/") for e in examples)
    assert "*** Test Cases ***" in examples[0].text


def test_jql_selection_is_paginated_and_capped(atlassian):
    import anyio

    from generator.clients.mcp.client import McpConnection
    from generator.clients.mcp.tools import ToolNames
    from generator.gather.jira import search_keys

    async def select(limit: int) -> list[str]:
        async with McpConnection(atlassian.url) as jira:
            return await search_keys(jira, "project = QA ORDER BY key", ToolNames(), limit=limit, page=2)

    assert anyio.run(select, 3) == ["QA-101", "QA-102", "QA-103"]
    assert anyio.run(select, 100) == ["QA-101", "QA-102", "QA-103", "QA-104", "QA-105", "QA-106"]


def test_generated_suites_in_the_tests_folder_count_as_coverage_but_output_copies_do_not(sample_repo):
    suite = "*** Test Cases ***\nX\n    [Tags]    {key}\n    No Operation\n"
    # Where the offline planner puts a ticket with no component folder: the repo's own tests.
    (sample_repo / "tests" / "generated").mkdir()
    (sample_repo / "tests" / "generated" / "qa-777_x.robot").write_text(suite.format(key="QA-777"))
    # The run's output folder at the root and a dryrun's hidden temp file are not the repo's tests.
    (sample_repo / "generated" / "QA-888").mkdir(parents=True)
    (sample_repo / "generated" / "QA-888" / "qa-888_x.robot").write_text(suite.format(key="QA-888"))
    (sample_repo / "tests" / "login" / ".QA-999.jira2robot-1.robot").write_text(suite.format(key="QA-999"))
    index = coverage_index(index_suites(sample_repo, "tests"))
    assert index["qa-777"] == ["tests/generated/qa-777_x.robot"]
    assert "qa-888" not in index and "qa-999" not in index
    index = coverage_index(index_suites(sample_repo, "no-such-folder"))  # falls back to the whole repo
    assert "qa-777" in index and "qa-888" not in index


# --------------------------------------------------------------------------- mcp-atlassian's shapes


def test_gherkin_in_a_markdown_fence_under_the_heading():
    desc = (
        "Intro.\n\n### Acceptance Criteria\n\n```gherkin\n# a comment, not a heading\nScenario: s\n"
        "  Given a\n  Then b\n```\n\n### Notes\n- not a criterion"
    )
    assert criteria_lines(acceptance_section(desc)) == [
        "Scenario: s",
        "Given a",
        "Then b",
    ]


def test_wiki_code_block_under_the_heading():
    desc = "h3. Acceptance Criteria\n{code:gherkin}\nScenario: s\nGiven a\n{code}\nh3. Notes\nGiven nothing"
    assert criteria_lines(acceptance_section(desc)) == ["Scenario: s", "Given a"]


def test_custom_field_found_by_display_name_in_every_output_shape():
    criteria = "* one\n* two"
    by_id = {"key": "QA-1", "summary": "s", "customfield_10100": {"value": criteria, "name": "Acceptance Criteria"}}
    by_display_name = {"key": "QA-1", "summary": "s", "Acceptance Criteria": {"value": criteria, "field_id": "x"}}
    renamed = {"key": "QA-1", "summary": "s", "customfield_2": {"value": criteria, "name": "AC"}}
    assert normalize_issue(by_id).acceptance_criteria == ["one", "two"]  # auto: found by its name
    assert normalize_issue(by_display_name).acceptance_criteria == ["one", "two"]
    assert normalize_issue(renamed).acceptance_criteria == []
    assert normalize_issue(renamed, acceptance_field="AC").acceptance_criteria == ["one", "two"]
    assert normalize_issue(renamed, acceptance_field="customfield_2").acceptance_criteria == ["one", "two"]


def test_browse_url_wins_over_the_rest_link():
    issue = {
        "key": "QA-1",
        "summary": "s",
        "url": "https://j/rest/api/2/issue/1",
        "browse_url": "https://j/browse/QA-1",
    }
    assert normalize_issue(issue).url == "https://j/browse/QA-1"


def _confluence(search, get_page=None):
    """A real MCP server on 127.0.0.1 with Confluence tools answering as given (`get_page=None`: Jira only)."""
    from mcp.server.mcpserver import MCPServer

    from generator.standin.server import ServedMcp

    server = MCPServer("confluence-shapes", log_level="WARNING")
    server.tool(name="confluence_search")(search)
    if get_page is not None:
        server.tool(name="confluence_get_page")(get_page)
    return ServedMcp(server)


def _fetch(served, warnings):
    import anyio

    from generator.clients.mcp.client import McpConnection
    from generator.clients.mcp.tools import ToolNames
    from generator.gather.confluence import fetch_pages

    async def go():
        async with McpConnection(served.url, label="Jira") as server:
            return await fetch_pages(server, "architecture", ToolNames(), limit=3, warn=warnings.append)

    return anyio.run(go)


def test_page_body_read_from_metadata_content_value_or_content():
    bodies = {
        "1": {"metadata": {"id": "1", "title": "A", "space": {"key": "QA"}, "content": {"value": "meta body"}}},
        "2": {"content": {"value": "bare body"}},
        "3": {"error": "Failed to retrieve page by ID '3'"},
    }

    def confluence_search(query: str, limit: int = 10) -> str:
        return json.dumps([{"id": "1", "title": "A"}, {"id": "2", "title": "B"}, {"id": "3", "title": "C"}])

    def confluence_get_page(page_id: str) -> str:
        return json.dumps(bodies[page_id])

    warnings: list[str] = []
    with _confluence(confluence_search, confluence_get_page) as served:
        pages = _fetch(served, warnings)
    assert [(p.page_id, p.space_key, p.body) for p in pages] == [("1", "QA", "meta body"), ("2", "", "bare body")]
    assert len(warnings) == 1 and "page 3 left out" in warnings[0]


def test_confluence_missing_or_failing_gives_one_warning_and_no_pages():
    from mcp.server.mcpserver.exceptions import ToolError

    searches: list[str] = []

    def confluence_search(query: str, limit: int = 10) -> str:
        searches.append(query)
        raise ToolError("Error calling tool 'search': Confluence is unavailable")

    def confluence_get_page(page_id: str) -> str:
        raise AssertionError("no page is read after a failed search")

    warnings: list[str] = []
    with _confluence(confluence_search) as served:  # no confluence_get_page: Confluence not usable
        assert _fetch(served, warnings) == []
    assert warnings[0].startswith("the MCP server offers no confluence_get_page tool (Confluence not configured")
    with _confluence(confluence_search, confluence_get_page) as served:
        assert _fetch(served, warnings) == []
    assert "Confluence search for 'architecture' failed" in warnings[1] and "unavailable" in warnings[1]
    assert len(warnings) == 2 and searches == ["architecture"]
