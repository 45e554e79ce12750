"""A file-backed stand-in for the mcp-atlassian MCP server.

`jira2robot demo` and the test suite need Jira and Confluence without a network or
credentials, yet they must exercise the same MCP client code as a real run. So this
is a real MCP server (streamable HTTP, the `mcp` SDK) serving tickets and pages read
from a folder, with mcp-atlassian's tool names, argument names and result shapes.
It also lets a team try jira2robot on tickets exported as YAML/JSON files:

    python -m generator.atlassian_server --tickets my-tickets/ --pages my-pages/ --port 9000
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import uvicorn
import yaml
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from generator.config import KEY_PATTERN

DATA_DIR = Path(__file__).parent / "data"
DEMO_TICKETS_DIR = DATA_DIR / "tickets"
DEMO_PAGES_DIR = DATA_DIR / "confluence"
SAMPLE_REPO_DIR = DATA_DIR / "sample_repo"

TICKET_SUFFIXES = (".json", ".yaml", ".yml")
MAX_RESULTS = 50
EXCERPT_CHARS = 300
COMMENT_AUTHOR = "jira2robot"
DEFAULT_SEARCH_FIELDS = "summary,status,issuetype,labels,components,description,acceptance_criteria"


class TicketStoreError(ValueError):
    """A ticket or page file cannot be served; the message names the file and the problem."""


# --------------------------------------------------------------------------- file formats


def _name_of(value: Any) -> Any:
    """Accept both our flat export (`status: To Do`) and mcp-atlassian's output (`status: {name: To Do}`).

    That way a ticket saved from a real `jira_get_issue` call can be dropped in the folder as is.
    """
    if isinstance(value, dict):
        return value.get("name", value.get("display_name", value))
    return value


def _names(value: Any) -> Any:
    return [_name_of(v) for v in value] if isinstance(value, list) else value


def _as_text(value: Any) -> Any:
    """YAML reads `id: 10101` as a number; ids are strings in Jira and Confluence."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_Name = Annotated[str, BeforeValidator(_name_of)]
_Id = Annotated[str, BeforeValidator(_as_text)]


class _Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    author: _Name = "Unknown"
    body: str = Field(min_length=1)


def _comment(value: Any) -> Any:
    return {"body": value} if isinstance(value, str) else value


class _TicketFile(BaseModel):
    """One ticket file. Extra fields are ignored so richer exports still load."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(pattern=f"^{KEY_PATTERN}$")  # the one key rule (ASCII digits only)
    summary: str = Field(min_length=1)
    id: _Id | None = None
    description: str | None = ""
    acceptance_criteria: str | None = None
    status: _Name = "To Do"
    issue_type: _Name = "Story"
    labels: list[str] = Field(default_factory=list)
    components: Annotated[list[str], BeforeValidator(_names)] = Field(default_factory=list)
    comments: list[Annotated[_Comment, BeforeValidator(_comment)]] = Field(default_factory=list)
    url: str = ""


class _PageFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: _Id
    title: str = Field(min_length=1)
    space_key: str = ""
    space_name: str = ""
    url: str = ""
    labels: list[str] = Field(default_factory=list)
    body: str = ""


_M = TypeVar("_M", bound=BaseModel)


def _read_mapping(path: Path) -> dict[str, Any]:
    is_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TicketStoreError(f"{path}: not UTF-8 text: {exc}") from None
    try:
        data = json.loads(text) if is_json else yaml.load(text, Loader=_YAML_LOADER)
    except (ValueError, yaml.YAMLError) as exc:
        raise TicketStoreError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise TicketStoreError(f"{path}: expected one object (a mapping of fields), got {type(data).__name__}")
    return data


def _validate(model: type[_M], path: Path, data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in e['loc']) or '(root)'}': "
            + ("missing" if e["type"] == "missing" else e["msg"])
            for e in exc.errors()
        )
        raise TicketStoreError(f"{path}: {problems}") from None


def _files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise TicketStoreError(f"{folder}: {what} folder does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TICKET_SUFFIXES)


# libyaml's loader when present: a backlog export of 1,000 files loads in a fraction of the time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_tickets(folder: Path) -> dict[str, dict]:
    """Read every `*.json`, `*.yaml`, `*.yml` file of `folder` as one ticket, keyed by Jira key.

    Fails on the first bad file rather than skipping it, so a typo in an export is
    seen at start-up instead of as a puzzling "issue does not exist" later.
    """
    tickets: dict[str, dict] = {}
    origin: dict[str, Path] = {}
    for path in _files(folder, "tickets"):
        ticket = _validate(_TicketFile, path, _read_mapping(path))
        if ticket.key in tickets:
            raise TicketStoreError(f"{path}: ticket {ticket.key} is already defined in {origin[ticket.key]}")
        record = ticket.model_dump()
        record["id"] = ticket.id or re.sub(r"\D", "", ticket.key)
        record["description"] = ticket.description or ""
        tickets[ticket.key] = record
        origin[ticket.key] = path
    return tickets


def load_pages(folder: Path | None) -> dict[str, dict]:
    """Read Confluence pages (one per file, same formats as tickets), keyed by page id."""
    if folder is None:
        return {}
    pages: dict[str, dict] = {}
    for path in _files(folder, "pages"):
        page = _validate(_PageFile, path, _read_mapping(path))
        if page.id in pages:
            raise TicketStoreError(f"{path}: page id {page.id} is already used by '{pages[page.id]['title']}'")
        pages[page.id] = page.model_dump()
    return pages


# --------------------------------------------------------------------------- mcp-atlassian shapes

_FIELD_ALIASES = {"issuetype": "issue_type", "comment": "comments", "component": "components"}


def _requested(fields: str) -> set[str] | None:
    """None means every field (`*all`), as mcp-atlassian does."""
    if fields.strip() in ("", "*all"):
        return None
    names = {f.strip().lower() for f in fields.split(",") if f.strip()}
    return {_FIELD_ALIASES.get(n, n) for n in names}


def _status_category(status: str) -> str:
    lowered = status.lower()
    if lowered in ("to do", "open", "backlog"):
        return "To Do"
    return "Done" if lowered in ("done", "closed", "resolved") else "In Progress"


def simplify_issue(ticket: dict, fields: str = "*all", comment_limit: int = 10) -> dict[str, Any]:
    """The issue as mcp-atlassian's `JiraIssue.to_simplified_dict()` returns it (empty fields left out)."""
    wanted = _requested(fields)
    full: dict[str, Any] = {
        "summary": ticket["summary"],
        "url": ticket["url"],
        "description": ticket["description"],
        "status": {"name": ticket["status"], "category": _status_category(ticket["status"])},
        "issue_type": {"name": ticket["issue_type"]},
        "labels": ticket["labels"],
        "components": ticket["components"],
        "comments": [
            {"body": c["body"], "author": {"display_name": c["author"]}}
            for c in ticket["comments"][: max(comment_limit, 0)]
        ],
        "acceptance_criteria": ticket["acceptance_criteria"],
    }
    result: dict[str, Any] = {"id": ticket["id"], "key": ticket["key"]}
    result.update({k: v for k, v in full.items() if v and (wanted is None or k in wanted)})
    return result


def _not_found(issue_key: str) -> ToolError:
    return ToolError(f"Issue {issue_key} does not exist or you do not have permission to see it.")


# --------------------------------------------------------------------------- the JQL subset

_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(!=|=|~|\(|\)|,)|([^\s=!~(),"']+))""")
_PUNCT = {"(", ")", ","}
_LIST_FIELDS = {"labels", "components"}
_FIELD_NAMES = {
    "project": "project",
    "key": "key",
    "issuekey": "key",
    "labels": "labels",
    "label": "labels",
    "component": "components",
    "components": "components",
    "status": "status",
    "issuetype": "issue_type",
    "type": "issue_type",
    "summary": "summary",
    "text": "text",
}


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool
    start: int = 0
    end: int = 0

    def word(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words


def _tokenize(jql: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    jql = jql.rstrip()
    while pos < len(jql):
        match = _TOKEN.match(jql, pos)
        if match is None or match.end() == pos:
            raise ToolError(f"Unsupported JQL: cannot read {jql[pos:].strip()!r}")
        double, single, op, bare = match.groups()
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        if double is not None:
            tokens.append(_Token(re.sub(r"\\(.)", r"\1", double), True, start, match.end()))
        elif single is not None:
            tokens.append(_Token(single, True, start, match.end()))
        else:
            tokens.append(_Token(op or bare, False, start, match.end()))
        pos = match.end()
    return tokens


def _clause_text(jql: str, tokens: list[_Token]) -> str:
    """The clause as the user wrote it, for error messages."""
    return jql[tokens[0].start : tokens[-1].end] if tokens else ""


def _ticket_values(ticket: dict, field: str) -> list[str]:
    if field == "project":
        return [ticket["key"].rsplit("-", 1)[0]]
    if field == "text":
        comments = " ".join(c["body"] for c in ticket["comments"])
        return [f"{ticket['summary']} {ticket['description']} {ticket['acceptance_criteria'] or ''} {comments}"]
    value = ticket[field]
    return list(value) if field in _LIST_FIELDS else [value]


def _parse_clause(jql: str, tokens: list[_Token]) -> Callable[[dict], bool]:
    """One `field op value` clause of the supported subset, as a predicate on a ticket."""
    unsupported = ToolError(
        f"Unsupported JQL clause: '{_clause_text(jql, tokens)}'. Supported: project, key, labels, component, "
        "status, issuetype (=, !=, in, not in), summary/text (~), joined by AND, ORDER BY key."
    )
    if len(tokens) < 3 or tokens[0].quoted or tokens[0].text.lower() not in _FIELD_NAMES:
        raise unsupported
    field = _FIELD_NAMES[tokens[0].text.lower()]
    rest = tokens[1:]
    negate = False
    if rest[0].word("not") and len(rest) > 1 and rest[1].word("in"):
        negate, rest = True, rest[1:]
    op = rest[0].text.lower() if not rest[0].quoted else ""
    operands = rest[1:]
    if op == "in":
        if len(operands) < 3 or operands[0].text != "(" or operands[-1].text != ")" or operands[0].quoted:
            raise unsupported
        values = [t.text for t in operands[1:-1] if t.quoted or t.text != ","]
    elif op in ("=", "!=", "~") and len(operands) == 1 and (operands[0].quoted or operands[0].text not in _PUNCT):
        values = [operands[0].text]
        negate = op == "!="
    else:
        raise unsupported
    if (op == "~") != (field in ("summary", "text")):
        raise unsupported
    wanted = {v.lower() for v in values}

    def matches(ticket: dict) -> bool:
        actual = [v.lower() for v in _ticket_values(ticket, field)]
        if op == "~":
            words = re.findall(r"\w+", values[0].lower())
            return all(word in actual[0] for word in words)
        return any(v in wanted for v in actual) != negate

    return matches


def _key_order(ticket: dict) -> tuple[str, int]:
    project, number = ticket["key"].rsplit("-", 1)
    return project, int(number)


def run_jql(jql: str, tickets: Iterable[dict]) -> list[dict]:
    """Filter and sort tickets with a small JQL subset; anything else is a ToolError naming the clause.

    Refusing unknown clauses (instead of ignoring them) keeps a scheduled backlog run
    from silently generating tests for far more tickets than the JQL meant.
    """
    tokens = _tokenize(jql)
    descending = False
    for i in range(len(tokens) - 1):
        if tokens[i].word("order") and tokens[i + 1].word("by"):
            order = tokens[i + 2 :]
            tokens = tokens[:i]
            if not order or not order[0].word("key", "issuekey") or len(order) > 2:
                raise ToolError(
                    f"Unsupported JQL ORDER BY: '{_clause_text(jql, order)}'. Only ORDER BY key [ASC|DESC]."
                )
            if len(order) == 2:
                if not order[1].word("asc", "desc"):
                    raise ToolError(f"Unsupported JQL ORDER BY: '{_clause_text(jql, order)}'.")
                descending = order[1].word("desc")
            break
    predicates: list[Callable[[dict], bool]] = []
    clause: list[_Token] = []
    for token in [*tokens, _Token("AND", False)]:
        if token.word("or"):
            raise ToolError("Unsupported JQL: OR is not supported, only clauses joined by AND.")
        if token.word("and"):
            if not clause:
                if tokens:
                    raise ToolError(f"Unsupported JQL: empty clause in '{jql}'")
                continue
            predicates.append(_parse_clause(jql, clause))
            clause = []
        else:
            clause.append(token)
    found = [t for t in tickets if all(p(t) for p in predicates)]
    return sorted(found, key=_key_order, reverse=descending)


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
    return [
        {
            "id": page["id"],
            "title": page["title"],
            "type": "page",
            "space": {"key": page["space_key"], "name": page["space_name"] or page["space_key"]},
            "url": page["url"],
            "content": {"value": _excerpt(page["body"], patterns)},
        }
        for *_, page in ranked[:limit]
    ]


# --------------------------------------------------------------------------- the server


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

    @server.tool()
    def jira_get_issue(
        issue_key: Annotated[str, Field(description="Jira issue key, e.g. 'QA-101'")],
        fields: Annotated[str, Field(description="Comma-separated fields to return, or '*all'")] = "*all",
        expand: Annotated[str | None, Field(description="Accepted for compatibility; ignored")] = None,
        comment_limit: Annotated[int, Field(ge=0, le=100, description="Maximum comments to return")] = 10,
    ) -> dict[str, Any]:
        """Get one Jira issue: summary, description, status, labels, components, comments, acceptance criteria."""
        ticket = tickets.get(issue_key.strip().upper())
        if ticket is None:
            raise _not_found(issue_key)
        return simplify_issue(ticket, fields, comment_limit)

    @server.tool()
    def jira_search(
        jql: Annotated[str, Field(description="JQL, e.g. 'project = QA AND status != Done ORDER BY key'")],
        fields: Annotated[
            str, Field(description="Comma-separated fields to return, or '*all'")
        ] = DEFAULT_SEARCH_FIELDS,
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS, description="Maximum issues to return (1-50)")] = 10,
        start_at: Annotated[int, Field(ge=0, description="Index of the first issue to return")] = 0,
    ) -> dict[str, Any]:
        """Search Jira issues with JQL; returns total, start_at, max_results and the page of issues."""
        found = run_jql(jql, tickets.values())
        return {
            "total": len(found),
            "start_at": start_at,
            "max_results": limit,
            "issues": [simplify_issue(t, fields) for t in found[start_at : start_at + limit]],
        }

    @server.tool()
    def jira_add_comment(
        issue_key: Annotated[str, Field(description="Jira issue key, e.g. 'QA-101'")],
        comment: Annotated[str, Field(min_length=1, description="Comment text (Markdown)")],
    ) -> dict[str, Any]:
        """Add a comment to a Jira issue."""
        ticket = tickets.get(issue_key.strip().upper())
        if ticket is None:
            raise _not_found(issue_key)
        ticket["comments"].append({"author": COMMENT_AUTHOR, "body": comment})
        added.append((ticket["key"], comment))
        return {
            "success": True,
            "message": f"Comment added to issue {ticket['key']}",
            "comment": {
                "id": str(len(added)),
                "body": comment,
                "author": {"display_name": COMMENT_AUTHOR},
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }

    @server.tool()
    def confluence_search(
        query: Annotated[str, Field(description="Words, or CQL such as 'text ~ \"architecture\"'")],
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS, description="Maximum pages to return (1-50)")] = 10,
        spaces_filter: Annotated[str | None, Field(description="Comma-separated space keys to search in")] = None,
    ) -> str:
        """Search Confluence pages; returns a JSON list of {id, title, space, url, content.value excerpt}."""
        spaces = {s.strip().upper() for s in (spaces_filter or "").split(",") if s.strip()} or None
        # A JSON string, as mcp-atlassian returns: a list would become one content block per page.
        return json.dumps(search_pages(pages.values(), query, limit, spaces), indent=2, ensure_ascii=False)

    @server.tool()
    def confluence_get_page(
        page_id: Annotated[str, Field(description="Confluence page id, from confluence_search")],
        include_metadata: bool = True,
        convert_to_markdown: bool = True,
    ) -> dict[str, Any]:
        """Get the full content of a Confluence page (Markdown) and its metadata."""
        page = pages.get(page_id.strip())
        if page is None:
            raise ToolError(f"Confluence page {page_id} was not found or you do not have permission to see it.")
        result: dict[str, Any] = {}
        if include_metadata:
            result["metadata"] = {
                "id": page["id"],
                "title": page["title"],
                "space": {"key": page["space_key"], "name": page["space_name"] or page["space_key"]},
                "url": page["url"],
                "labels": page["labels"],
            }
        result["content"] = {"value": page["body"]}
        return result

    return server


class ServedAtlassian:
    """`build_server` over streamable HTTP on 127.0.0.1 (free port), in a background thread.

    `with ServedAtlassian(tickets_dir, pages_dir) as jira: ... jira.url ...`
    """

    def __init__(self, tickets_dir: Path, pages_dir: Path | None = None, *, port: int = 0):
        self.added_comments: list[tuple[str, str]] = []
        self._server = build_server(load_tickets(tickets_dir), load_pages(pages_dir), comments=self.added_comments)
        self._port = port
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> ServedAtlassian:
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

    def __enter__(self) -> ServedAtlassian:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve a ticket folder until Ctrl-C, to point `JIRA_MCP_URL` at it."""
    parser = argparse.ArgumentParser(prog="python -m generator.atlassian_server", description=__doc__.split("\n")[0])
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
