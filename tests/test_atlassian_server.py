"""The file-backed Atlassian MCP server, driven through the real MCP client over HTTP."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError

from generator.standin import RECORDED
from generator.standin.files import DEMO_PAGES_DIR, DEMO_TICKETS_DIR, TicketStoreError, load_pages, load_tickets
from generator.standin.jql import run_jql
from generator.standin.server import ServedAtlassian


@pytest.fixture(scope="module")
def served() -> Iterator[ServedAtlassian]:
    with ServedAtlassian(DEMO_TICKETS_DIR, DEMO_PAGES_DIR) as server:
        yield server


def call(url: str, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """One tool call on a fresh client session: (is_error, text of the single content block)."""

    async def run() -> tuple[bool, str]:
        async with Client(url) as client:
            result = await client.call_tool(tool, arguments)
        assert len(result.content) == 1, "clients read one JSON text block"
        return bool(result.is_error), result.content[0].text

    return anyio.run(run)


def ok(url: str, tool: str, arguments: dict[str, Any]) -> Any:
    is_error, text = call(url, tool, arguments)
    assert not is_error, text
    return json.loads(text)


def search_keys(url: str, jql: str, **kwargs: Any) -> list[str]:
    return [issue["key"] for issue in ok(url, "jira_search", {"jql": jql, **kwargs})["issues"]]


# --------------------------------------------------------------------------- Jira


def test_tools_have_mcp_atlassian_names_and_arguments(served: ServedAtlassian) -> None:
    async def run() -> dict[str, set[str]]:
        async with Client(served.url) as client:
            listed = await client.list_tools()
        return {t.name: set(t.input_schema["properties"]) for t in listed.tools}

    tools = anyio.run(run)
    assert tools == {
        "jira_get_issue": {"issue_key", "fields", "expand", "comment_limit"},
        "jira_search": {"jql", "fields", "limit", "start_at"},
        "jira_search_fields": {"keyword", "limit"},
        "jira_add_comment": {"issue_key", "body"},
        "confluence_search": {"query", "limit", "spaces_filter"},
        "confluence_get_page": {"page_id", "include_metadata", "convert_to_markdown"},
    }


def test_get_issue_returns_the_simplified_issue(served: ServedAtlassian) -> None:
    issue = ok(served.url, "jira_get_issue", {"issue_key": "QA-101"})
    assert issue["key"] == "QA-101"
    assert issue["id"] == "10101"
    assert issue["summary"] == "Lock the account after 3 failed logins"
    assert issue["status"]["name"] == "To Do"
    assert issue["issue_type"] == {"name": "Story"}
    assert issue["labels"] == ["security", "jira2robot"]
    assert "components" not in issue  # like the real server: not among the default fields
    assert ok(served.url, "jira_get_issue", {"issue_key": "QA-101", "fields": "components"})["components"] == ["login"]
    assert issue["browse_url"] == "https://jira.shop.example.com/browse/QA-101"
    assert "url" not in issue  # mcp-atlassian's `url` is the REST link, only when asked for
    assert "h3. Acceptance Criteria" in issue["description"]
    assert "acceptance_criteria" not in issue and "customfield_10100" not in issue  # not in the default fields
    assert issue["comments"][0]["author"]["display_name"] == "Priya Natarajan (Product Owner)"
    assert len(issue["comments"]) == 2


def test_get_issue_custom_acceptance_field_fields_filter_and_comment_limit(served: ServedAtlassian) -> None:
    issue = ok(served.url, "jira_get_issue", {"issue_key": "qa-104", "fields": "summary,comment,customfield_10100"})
    assert issue["customfield_10100"]["value"].startswith("Given a guest user")
    assert "name" not in issue["customfield_10100"]  # the display name comes only with expand=names
    assert "comments" not in issue  # no comments on QA-104: empty fields are left out
    named = ok(
        served.url, "jira_get_issue", {"issue_key": "QA-104", "fields": "Acceptance Criteria", "expand": "names"}
    )
    assert named["customfield_10100"]["name"] == "Acceptance Criteria"

    assert ok(served.url, "jira_get_issue", {"issue_key": "QA-101", "fields": "summary,status"}) == {
        "id": "10101",
        "key": "QA-101",
        "summary": "Lock the account after 3 failed logins",
        "browse_url": "https://jira.shop.example.com/browse/QA-101",
        "status": {"name": "To Do", "category": "To Do", "color": "blue-gray"},
    }
    limited = ok(served.url, "jira_get_issue", {"issue_key": "QA-101", "comment_limit": 1})
    assert len(limited["comments"]) == 1


def test_unknown_issue_is_a_tool_error_worded_like_mcp_atlassian(served: ServedAtlassian) -> None:
    is_error, text = call(served.url, "jira_get_issue", {"issue_key": "QA-999"})
    assert is_error
    assert "Issue QA-999 not found. Verify the issue key and project access." in text


def test_search_filters_sorts_and_paginates(served: ServedAtlassian) -> None:
    jql = "project = QA AND labels = jira2robot AND status != Done ORDER BY key DESC"
    first = ok(served.url, "jira_search", {"jql": jql, "limit": 3})
    assert first["total"] == 4
    assert (first["start_at"], first["max_results"]) == (0, 3)
    second = ok(served.url, "jira_search", {"jql": jql, "limit": 3, "start_at": 3})
    keys = [i["key"] for i in first["issues"] + second["issues"]]
    assert keys == ["QA-104", "QA-103", "QA-102", "QA-101"]
    assert first["issues"][0]["summary"] == "Block checkout for guest users"

    assert search_keys(served.url, "key in (QA-105, QA-101)") == ["QA-101", "QA-105"]
    assert search_keys(served.url, 'status = "to do" and component = orders') == ["QA-104"]
    assert search_keys(served.url, "project = QA", limit=50, start_at=5) == ["QA-106"]


def test_search_rejects_unsupported_jql_naming_the_clause(served: ServedAtlassian) -> None:
    is_error, text = call(served.url, "jira_search", {"jql": "project = QA AND assignee = currentUser()"})
    assert is_error
    assert "Unsupported JQL clause: 'assignee = currentUser()'" in text

    is_error, text = call(served.url, "jira_search", {"jql": "project = QA ORDER BY created DESC"})
    assert is_error
    assert "ORDER BY" in text and "created" in text

    is_error, text = call(served.url, "jira_search", {"jql": "project = QA", "limit": 51})
    assert is_error
    assert "limit" in text


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("", ["QA-101", "QA-102", "QA-103", "QA-104", "QA-105", "QA-106"]),
        ('status in ("To Do", "In Progress") ORDER BY key DESC', ["QA-105", "QA-104", "QA-103", "QA-101"]),
        ("labels not in (jira2robot, performance)", ["QA-106"]),
        ("issuetype = Bug", ["QA-106"]),
        ('text ~ "locked"', ["QA-101"]),
        ("summary ~ 'discount code'", ["QA-102"]),
        ("project = OTHER", []),
    ],
)
def test_jql_subset(jql: str, expected: list[str]) -> None:
    tickets = load_tickets(DEMO_TICKETS_DIR)
    assert [t["key"] for t in run_jql(jql, tickets.values())] == expected


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = QA OR project = SHOP", "OR is not supported"),
        ("status", "Unsupported JQL clause: 'status'"),
        ("labels ~ security", "Unsupported JQL clause: 'labels ~ security'"),
        ("key = QA-1 AND AND status = Done", "empty clause"),
        ("key in QA-1", "Unsupported JQL clause: 'key in QA-1'"),
    ],
)
def test_jql_errors(jql: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        run_jql(jql, load_tickets(DEMO_TICKETS_DIR).values())


def test_add_comment_is_recorded_and_visible_on_the_issue(served: ServedAtlassian) -> None:
    reply = ok(served.url, "jira_add_comment", {"issue_key": "QA-102", "body": "Draft MR: !42"})
    assert (reply["body"], reply["author"]) == ("Draft MR: !42", "jira2robot")
    assert ("QA-102", "Draft MR: !42") in served.added_comments
    ok(served.url, "jira_add_comment", {"issue_key": "QA-102", "comment": "old name"})  # 0.23 accepts both
    issue = ok(served.url, "jira_get_issue", {"issue_key": "QA-102"})
    assert [(c["body"], c["author"]["display_name"]) for c in issue["comments"][-2:]] == [
        ("Draft MR: !42", "jira2robot"),
        ("old name", "jira2robot"),
    ]

    is_error, text = call(served.url, "jira_add_comment", {"issue_key": "QA-999", "body": "x"})
    assert is_error and "QA-999 not found" in text


# --------------------------------------------------------------------------- Confluence


def test_confluence_search_ranks_by_matching_words(served: ServedAtlassian) -> None:
    pages = ok(served.url, "confluence_search", {"query": 'text ~ "architecture"'})
    assert pages[0]["id"] == "1001"
    assert pages[0]["title"] == "Test automation architecture"
    assert pages[0]["space"] == {"key": "QA", "name": "Shop Quality Assurance"}
    assert "architecture" in pages[0]["content"]["value"].lower()

    ranked = ok(served.url, "confluence_search", {"query": "account locked security notification"})
    assert [p["id"] for p in ranked][:2] == ["1004", "1002"]

    only_shop = ok(served.url, "confluence_search", {"query": "order cart", "spaces_filter": "SHOP"})
    assert [p["id"] for p in only_shop] == ["1002"]
    assert ok(served.url, "confluence_search", {"query": "kubernetes"}) == []
    assert len(ok(served.url, "confluence_search", {"query": "the", "limit": 2})) == 2


def test_confluence_get_page(served: ServedAtlassian) -> None:
    page = ok(served.url, "confluence_get_page", {"page_id": "1001"})
    assert page["metadata"]["title"] == "Test automation architecture"
    assert page["metadata"]["space"]["key"] == "QA"
    assert "## Tagging rules" in page["metadata"]["content"]["value"]  # where mcp-atlassian puts the body
    assert set(page) == {"metadata"}

    bare = ok(served.url, "confluence_get_page", {"page_id": "1003", "include_metadata": False})
    assert set(bare) == {"content"}

    assert "9999" in ok(served.url, "confluence_get_page", {"page_id": "9999"})["error"]  # not a tool error


def test_jira_field_list_finds_the_acceptance_field_first(served: ServedAtlassian) -> None:
    fields = ok(served.url, "jira_search_fields", {"keyword": "acceptance criteria", "limit": 3})
    assert (fields[0]["id"], fields[0]["name"]) == ("customfield_10100", "Acceptance Criteria")
    assert len(fields) == 3


# --------------------------------------------------------------------------- the real server's shapes


def shape(value: Any) -> Any:
    """Keys, nesting and types of a JSON value; a list is the set of its elements' shapes."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return type(value).__name__


def test_the_stand_in_answers_every_recorded_call_with_the_real_servers_shape() -> None:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert recorded["calls"], "no recorded calls: run python -m tests.record_atlassian"
    with ServedAtlassian(DEMO_TICKETS_DIR, DEMO_PAGES_DIR) as server:
        for call_ in recorded["calls"]:
            is_error, text = call(server.url, call_["tool"], call_["arguments"])
            assert is_error == call_["is_error"], (call_["case"], text)
            if not is_error:
                assert shape(json.loads(text)) == shape(call_["result"]), call_["case"]


def test_shape_tells_a_missing_key_and_a_changed_type_apart() -> None:
    real = {"id": "1", "comments": [{"body": "x", "author": {"display_name": "A"}}], "content": {"value": "b"}}
    assert shape(real) == shape({"id": "2", "comments": [], "content": {"value": "c"}} | {"comments": real["comments"]})
    assert shape(real) != shape({**real, "content": "b"})  # body at the top, as the old stand-in had it
    assert shape(real) != shape({**real, "id": 1})
    assert shape(real) != shape({**real, "comments": [{"body": "x", "author": "A"}]})


# --------------------------------------------------------------------------- files and lifecycle


def test_demo_data_is_complete() -> None:
    tickets = load_tickets(DEMO_TICKETS_DIR)
    assert {"QA-101", "QA-102", "QA-103", "QA-104", "QA-105"} <= set(tickets)
    no_criteria = tickets["QA-105"]
    assert no_criteria["acceptance_criteria"] is None
    assert "acceptance" not in no_criteria["description"].lower()
    pages = load_pages(DEMO_PAGES_DIR)
    assert len(pages) >= 3
    assert load_pages(None) == {}


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "QA-1.yaml").write_text("key: QA-1\nsummary: ok\n", encoding="utf-8")
    (tmp_path / "QA-2.yaml").write_text("key: QA-2\nsummary: [unclosed\n", encoding="utf-8")
    with pytest.raises(TicketStoreError, match=r"QA-2\.yaml: not valid YAML"):
        load_tickets(tmp_path)


def test_missing_summary_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("key: QA-7\ndescription: no summary\n", encoding="utf-8")
    with pytest.raises(TicketStoreError, match=r"broken\.yml: field 'summary': missing"):
        load_tickets(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- key: QA-1\n  summary: a list\n", "expected one object"),
        ("key: qa-1\nsummary: lower-case key\n", "field 'key'"),
        ("key: QA-1\nsummary: x\nlabels: security\n", "field 'labels'"),
    ],
)
def test_other_invalid_ticket_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "t.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(TicketStoreError, match=message) as info:
        load_tickets(tmp_path)
    assert "t.yaml" in str(info.value)


def test_duplicate_key_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("key: QA-1\nsummary: first\n", encoding="utf-8")
    (tmp_path / "b.json").write_text('{"key": "QA-1", "summary": "second"}', encoding="utf-8")
    with pytest.raises(TicketStoreError, match=r"b\.json: ticket QA-1 is already defined in .*a\.yaml"):
        load_tickets(tmp_path)


def test_json_tickets_in_mcp_atlassian_shape_load(tmp_path: Path) -> None:
    saved = {
        "id": 20001,
        "key": "SHOP-7",
        "summary": "Saved from a real jira_get_issue call",
        "status": {"name": "In Progress", "category": "In Progress"},
        "issue_type": {"name": "Bug"},
        "components": ["cart", {"name": "orders"}],
        "comments": [{"body": "Seen on prod", "author": {"display_name": "Ana"}}, "plain text comment"],
        "priority": {"name": "High"},
    }
    (tmp_path / "SHOP-7.json").write_text(json.dumps(saved), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a ticket", encoding="utf-8")
    tickets = load_tickets(tmp_path)
    assert list(tickets) == ["SHOP-7"]
    ticket = tickets["SHOP-7"]
    assert (ticket["id"], ticket["status"], ticket["issue_type"]) == ("20001", "In Progress", "Bug")
    assert ticket["components"] == ["cart", "orders"]
    assert ticket["comments"] == [
        {"author": "Ana", "body": "Seen on prod"},
        {"author": "Unknown", "body": "plain text comment"},
    ]


def test_bad_page_file_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "page.yaml").write_text("id: 5\nbody: no title\n", encoding="utf-8")
    with pytest.raises(TicketStoreError, match=r"page\.yaml: field 'title': missing"):
        load_pages(tmp_path)
    with pytest.raises(TicketStoreError, match="does not exist"):
        load_tickets(tmp_path / "nowhere")


def test_served_from_a_folder_and_stopped_for_good(tmp_path: Path) -> None:
    """`stop` ends the server's thread and frees its port once clients have called it (how long
    it takes is printed by bench/bench_startup.py, not asserted here)."""
    (tmp_path / "X-1.json").write_text('{"key": "X-1", "summary": "From JSON"}', encoding="utf-8")
    before = set(threading.enumerate())
    server = ServedAtlassian(tmp_path).start()
    serving = set(threading.enumerate()) - before
    try:
        assert ok(server.url, "jira_get_issue", {"issue_key": "X-1"})["summary"] == "From JSON"
        assert ok(server.url, "confluence_search", {"query": "anything"}) == []
    finally:
        server.stop()
    assert serving and not any(thread.is_alive() for thread in serving)
    address = urlparse(server.url)
    with pytest.raises(OSError), socket.create_connection((address.hostname, address.port), timeout=1):
        pass


def test_recording_is_of_the_version_ci_installs() -> None:
    from tests.servers.mcp_atlassian_process import ROOT, VERSION

    ci = (ROOT / "ci" / "test.sh").read_text(encoding="utf-8")  # what .ci/run and README's command run
    assert f"\ntool_venv .venv-mcp-atlassian mcp-atlassian=={VERSION} " in ci
    assert json.loads(RECORDED.read_text(encoding="utf-8"))["server"] == f"mcp-atlassian {VERSION}"
