"""What mcp-atlassian answers, built from ticket and page files.

Each function mirrors one of the real server's models (0.23.x: `JiraIssue.to_simplified_dict`,
`ConfluencePage.to_simplified_dict`, the raw field list of `jira_search_fields`...), and
`recorded/mcp-atlassian.json` holds what the real server answered for the same demo data:
tests/test_atlassian_server.py checks key by key and type by type that they agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

#: The custom field of the stand-in's Jira holding the `acceptance_criteria` of a ticket file.
ACCEPTANCE_FIELD, ACCEPTANCE_NAME = "customfield_10100", "Acceptance Criteria"
#: mcp-atlassian's DEFAULT_READ_JIRA_FIELDS: what `jira_get_issue` returns without `fields`.
DEFAULT_FIELDS = "summary,description,status,assignee,reporter,labels,versions,priority,created,updated,issuetype"
EXCERPT_CHARS = 200
TIMESTAMP = "2026-01-05T09:30:00.000+0000"


def _system_field(field_id: str, name: str, kind: str, clause: str, items: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "system": field_id}
    if items:
        schema = {"type": kind, "items": items, "system": field_id}
    return {"id": field_id, "name": name, "custom": False, "navigable": True, "searchable": True,
            "clauseNames": [clause], "schema": schema}  # fmt: skip


#: Jira's field list (`GET /rest/api/2/field`) as far as the stand-in has fields.
FIELDS = [
    _system_field("summary", "Summary", "string", "summary"),
    _system_field("description", "Description", "string", "description"),
    _system_field("status", "Status", "status", "status"),
    _system_field("issuetype", "Issue Type", "issuetype", "issuetype"),
    _system_field("labels", "Labels", "array", "labels", items="string"),
    _system_field("components", "Component/s", "array", "component", items="component"),
    _system_field("comment", "Comment", "comments-page", "comment"),
    {"id": ACCEPTANCE_FIELD, "name": ACCEPTANCE_NAME, "custom": True, "navigable": True, "searchable": True,
     "clauseNames": ["cf[10100]", ACCEPTANCE_NAME],
     "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                "customId": 10100}},
]  # fmt: skip


def search_fields(keyword: str, limit: int) -> list[dict[str, Any]]:
    """Fields ranked like mcp-atlassian's fuzzy search: exact name, then containing the words, then the rest."""
    wanted = keyword.strip().lower()

    def rank(field: dict[str, Any]) -> int:
        name = field["name"].lower()
        return 0 if name == wanted else 1 if wanted and (wanted in name or name in wanted) else 2

    return sorted(FIELDS, key=rank)[:limit] if wanted else FIELDS[:limit]


def _status(name: str) -> dict[str, str]:
    category, colour = {"to do": ("To Do", "blue-gray"), "open": ("To Do", "blue-gray"), "backlog": ("To Do", "blue-gray"),
                        "done": ("Done", "green"), "closed": ("Done", "green"), "resolved": ("Done", "green")}.get(
        name.lower(), ("In Progress", "yellow"))  # fmt: skip
    return {"name": name, "category": category, "color": colour}


def _user(display_name: str) -> dict[str, Any]:
    """A Jira Server/DC user as mcp-atlassian simplifies it (Cloud has an account_id instead of name/key)."""
    login = re.sub(r"\W+", ".", display_name.split("(")[0].strip().lower()).strip(".") or "unknown"
    return {"account_id": None, "display_name": display_name, "name": login,
            "email": f"{login}@shop.example.com", "avatar_url": None, "key": login}  # fmt: skip


def _comment(index: int, comment: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(20000 + index), "body": comment["body"], "author": _user(comment["author"]),
            "created": TIMESTAMP, "updated": TIMESTAMP}  # fmt: skip


def _requested(fields: str | None, comment_limit: int) -> list[str] | None:
    """The field names asked for, None for `*all`; the default list gains `comment` as the real one does."""
    if fields and fields.strip() == "*all":
        return None
    names = [f.strip() for f in (fields or DEFAULT_FIELDS).split(",") if f.strip()]
    if set(names) == set(DEFAULT_FIELDS.split(",")) and comment_limit > 0:
        names.append("comment")
    return names


def simplify_issue(ticket: dict, fields: str | None = None, *, comment_limit: int = 10, expand: str = "") -> dict:
    """`JiraIssue.to_simplified_dict()` for the stand-in's fields (empty ones are left out, as there).

    The acceptance criteria are a custom field, returned only when asked for (by id, by name or
    `*all`), as `{"value": ..., "name": "Acceptance Criteria"}` (`name` only with `expand=names`).
    """
    wanted = _requested(fields, comment_limit)

    def asked(name: str) -> bool:
        return wanted is None or name in wanted

    comments = [_comment(i, c) for i, c in enumerate(ticket["comments"])]
    values: list[tuple[str, str, Any]] = [
        ("summary", "summary", ticket["summary"]),
        ("url", "url", ""),  # the REST link: the stand-in has no REST API
        ("", "browse_url", ticket["url"]),
        ("description", "description", ticket["description"]),
        ("status", "status", _status(ticket["status"])),
        ("issuetype", "issue_type", {"name": ticket["issue_type"]}),
        ("labels", "labels", ticket["labels"]),
        ("components", "components", ticket["components"]),
        ("comment", "comments", comments[-comment_limit:] if comment_limit > 0 else []),
    ]
    result: dict[str, Any] = {"id": ticket["id"], "key": ticket["key"]}
    result |= {key: value for field, key, value in values if value and (not field or asked(field))}
    if wanted is None or ACCEPTANCE_FIELD in wanted or ACCEPTANCE_NAME.lower() in {w.lower() for w in wanted}:
        custom: dict[str, Any] = {"value": ticket["acceptance_criteria"]}
        if "names" in (expand or "").split(","):
            custom["name"] = ACCEPTANCE_NAME
        result[ACCEPTANCE_FIELD] = custom
    return result


def search_result(found: list[dict], fields: str | None, start_at: int, limit: int) -> dict[str, Any]:
    """`JiraSearchResult.to_simplified_dict()`: one page of issues and the paging numbers."""
    page = found[start_at : start_at + limit]
    return {"total": len(found), "start_at": start_at, "max_results": limit,
            "issues": [simplify_issue(t, fields, comment_limit=0) for t in page]}  # fmt: skip


def added_comment(comment_id: str, body: str, author: str) -> dict[str, Any]:
    """What `jira_add_comment` answers: the new comment, its author as a plain name."""
    return {"id": comment_id, "body": body, "created": datetime.now(UTC).isoformat(sep=" ", timespec="seconds"),
            "author": author}  # fmt: skip


def page_dict(page: dict, content: str, content_format: str) -> dict[str, Any]:
    """`ConfluencePage.to_simplified_dict()`: a search hit (excerpt) or a page's metadata (body)."""
    result: dict[str, Any] = {
        "id": page["id"],
        "title": page["title"],
        "type": "page",
        "created": page["created"],
        "updated": page["updated"],
        "url": page["url"],
        "space": {"key": page["space_key"], "name": page["space_name"] or page["space_key"]},
        "author": page["author"],
        "version": page["version"],
        "attachments": [],
    }
    if content:
        result["content"] = {"value": content, "format": content_format}
    return result


# --------------------------------------------------------------------------- Confluence search

_CQL_WORDS = {"text", "title", "type", "space", "sitesearch", "and", "or", "not", "label"}


def _query_words(query: str) -> list[str]:
    """Words to look for: quoted phrases of a CQL query (`text ~ "architecture"`), else the plain words."""
    quoted = re.findall(r'"([^"]*)"', query)
    if quoted:
        return sorted({w for q in quoted for w in re.findall(r"\w+", q.lower())})
    words = re.findall(r"\w+", query.lower())
    if re.search(r"[~=]", query):
        words = [w for w in words if w not in _CQL_WORDS]
    return sorted(set(words))


def _word_patterns(words: list[str]) -> list[re.Pattern[str]]:
    """Match at a word start, so "lock" finds "locked" but "order" does not find "border"."""
    return [re.compile(rf"\b{re.escape(w)}", re.IGNORECASE) for w in words]


def _excerpt(body: str, patterns: list[re.Pattern[str]]) -> str:
    hits = [m.start() for m in (p.search(body) for p in patterns) if m]
    start = max(min(hits, default=0) - EXCERPT_CHARS // 3, 0)
    text = " ".join(body[start : start + EXCERPT_CHARS].split())
    return ("…" if start else "") + text + ("…" if start + EXCERPT_CHARS < len(body) else "")


def search_pages(pages: Iterable[dict], query: str, limit: int, spaces: set[str] | None) -> list[dict]:
    """Pages ranked by how many query words they contain; title hits break ties."""
    patterns = _word_patterns(_query_words(query))
    ranked = []
    for page in pages:
        if spaces and page["space_key"].upper() not in spaces:
            continue
        text = f"{page['title']} {page['body']} {' '.join(page['labels'])}"
        score = sum(bool(p.search(text)) for p in patterns)
        if score:
            ranked.append((-score, -sum(bool(p.search(page["title"])) for p in patterns), page["id"], page))
    ranked.sort(key=lambda r: r[:3])
    return [page_dict(page, _excerpt(page["body"], patterns), "view") for *_, page in ranked[:limit]]
