"""The data of the Jira/Confluence REST double, in Atlassian's REST shapes.

The demo tickets and pages (the files the embedded stand-in serves too, so that recordings of
the real server and the stand-in's answers describe the same data), a few tickets with shapes
real instances have, Jira's field list, users, statuses, ADF and storage-format bodies.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[2] / "generator" / "demo" / "data"
PAT = "jira-pat-for-tests"
CLOUD_USER, CLOUD_TOKEN = "qa@shop.example.com", "cloud-api-token-for-tests"
ACCEPTANCE_FIELD = "customfield_10100"
CREATED = "2026-01-05T09:30:00.000+0000"

#: Jira's system fields (a subset of GET /rest/api/2/field) plus the custom ones of this instance.
FIELDS = [
    {
        "id": "summary",
        "name": "Summary",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["summary"],
        "schema": {"type": "string", "system": "summary"},
    },
    {
        "id": "description",
        "name": "Description",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["description"],
        "schema": {"type": "string", "system": "description"},
    },
    {
        "id": "components",
        "name": "Component/s",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["component"],
        "schema": {"type": "array", "items": "component", "system": "components"},
    },
    {
        "id": "comment",
        "name": "Comment",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["comment"],
        "schema": {"type": "comments-page", "system": "comment"},
    },
    {
        "id": "labels",
        "name": "Labels",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["labels"],
        "schema": {"type": "array", "items": "string", "system": "labels"},
    },
    {
        "id": "status",
        "name": "Status",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["status"],
        "schema": {"type": "status", "system": "status"},
    },
    {
        "id": "issuetype",
        "name": "Issue Type",
        "custom": False,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["issuetype", "type"],
        "schema": {"type": "issuetype", "system": "issuetype"},
    },
    {
        "id": "customfield_10001",
        "name": "Acceptance Test Owner",
        "custom": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["cf[10001]"],
        "schema": {
            "type": "string",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            "customId": 10001,
        },
    },
    {
        "id": ACCEPTANCE_FIELD,
        "name": "Acceptance Criteria",
        "custom": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["cf[10100]", "Acceptance Criteria"],
        "schema": {
            "type": "string",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            "customId": 10100,
        },
    },
]
FIELD_NAMES = {f["id"]: f["name"] for f in FIELDS}

#: Tickets only this double has: the shapes the demo tickets do not show.
EXTRA_TICKETS: list[dict[str, Any]] = [
    {
        "key": "QA-201",
        "id": "10201",
        "summary": "Reset a forgotten password",
        "issue_type": "Story",
        "status": "In Progress",
        "labels": ["login"],
        "components": ["login"],
        "description": (
            "Customers who forgot their password get a reset link by email.\n\n"
            "h3. Acceptance Criteria\n\n"
            "{code:gherkin}\n"
            "Scenario: reset link is sent\n"
            '  Given the user "alice" has an account\n'
            '  When "alice" asks for a password reset\n'
            '  Then a reset email is sent to "alice"\n'
            "{code}\n\n"
            "h3. Notes\n\nThe link expires after 24 hours."
        ),
        "comments": [{"author": "Priya Natarajan", "body": "Reset links are *single use*."}],
    },
    {
        "key": "QA-202",
        "id": "10202",
        "summary": "Show the order total including VAT",
        "issue_type": "Story",
        "status": "To Do",
        "labels": [],
        "components": ["orders", "cart"],
        "description": "The order summary shows the total with VAT.",
        "acceptance_criteria": "* the total includes 20% VAT\n* the VAT amount is shown on its own line",
        "comments": [],
    },
]


def ticket_files() -> list[dict[str, Any]]:
    tickets = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((DATA / "tickets").glob("*.yaml"))]
    return [*tickets, *EXTRA_TICKETS]


def page_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((DATA / "confluence").glob("*.yaml"))]


def user(name: str, *, cloud: bool = False) -> dict[str, Any]:
    """A Jira user: Server/DC has name/key/email; Cloud has only an accountId (GDPR)."""
    login = re.sub(r"\W+", ".", name.split("(")[0].strip().lower()).strip(".")
    if cloud:
        return {
            "accountId": f"5b10ac8d82e05b22cc7d{sum(map(ord, login)) % 10**4:04d}",
            "displayName": name,
            "active": True,
        }
    return {
        "name": login,
        "key": login,
        "displayName": name,
        "emailAddress": f"{login}@shop.example.com",
        "active": True,
    }


def status(name: str) -> dict[str, Any]:
    """A status with its category, as Jira groups statuses (To Do, In Progress, Done)."""
    key, category, colour = {"done": ("done", "Done", "green"), "to do": ("new", "To Do", "blue-gray")}.get(
        name.lower(), ("indeterminate", "In Progress", "yellow")
    )
    return {"name": name, "id": "1", "statusCategory": {"key": key, "name": category, "colorName": colour}}


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document (one paragraph per line, Cloud v3)."""
    lines = [line for line in text.split("\n") if line.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in lines],
    }


def inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def storage(markdown: str) -> str:
    """A page body in Confluence storage format (XHTML), from the demo pages' Markdown."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.split("\n")
        heading = re.match(r"^(#{1,6})\s+(.*)", lines[0])
        if heading:
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            lines = lines[1:]
        items: list[str] = []
        for line in lines:
            item = re.match(r"^(?:[-*]|\d+\.)\s+(.*)", line)
            if item or not items:
                items.append(item.group(1) if item else line.strip())
            else:  # an indented continuation of the previous item
                items[-1] += " " + line.strip()
        if lines and re.match(r"^(?:[-*]|\d+\.)\s", lines[0]):
            blocks.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
        elif lines:
            blocks.append(f"<p>{inline(' '.join(x.strip() for x in lines))}</p>")
    return "".join(blocks)
