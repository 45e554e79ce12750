"""An HTTP test double of the Jira and Confluence REST APIs, for the real mcp-atlassian server.

Written from mcp-atlassian's call sites (0.23.x) and Atlassian's REST documentation, it serves
what that server calls for the tools jira2robot uses:

- Jira Server/DC REST v2: `myself` (credential check), `issue/{key}` with `fields` and
  `expand=names` (custom fields come back only when asked for), `issue/{key}/comment`,
  `field` (the field list: "Acceptance Criteria" is `customfield_10100`), `search` with
  `startAt`/`maxResults` paging, and POST `issue/{key}/comment`.
- Jira Cloud, reached as an HTTP proxy for `http://<site>.atlassian.net` (mcp-atlassian tells Cloud
  from Server/DC by the host name): users with an `accountId` only, and REST v3 shapes — ADF
  descriptions, comments and rich-text custom fields — with `POST /rest/api/3/search/jql`
  paging by `nextPageToken` (no total).
- Confluence Server/DC: `user/current`, `search?cql=` (siteSearch/text/title `~`), and
  `content/{id}` with the body in storage format (XHTML).

Credentials: `Authorization: Bearer <PAT>` (Server/DC personal access token) or
`Basic base64(email:api_token)`; anything else is a 401 with Atlassian's error body. Faults:
`fail_500` (issue keys answered with HTTP 500), `fail_confluence` (every search a 500). Tickets are the bundled demo tickets plus a few
with the shapes real instances have (Gherkin in a `{code}` block, acceptance in a custom field).
`requests` logs every call so tests can assert what the MCP server asked for.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers.atlassian_rest_data import (
    ACCEPTANCE_FIELD,
    CLOUD_TOKEN,
    CLOUD_USER,
    CREATED,
    DATA,
    FIELD_NAMES,
    FIELDS,
    PAT,
    adf,
    page_files,
    status,
    storage,
    ticket_files,
    user,
)

__all__ = ["ACCEPTANCE_FIELD", "CLOUD_TOKEN", "CLOUD_USER", "DATA", "PAT", "FakeAtlassianRest"]


def _as_proxy(app: Starlette) -> Any:
    """Also answer as an HTTP proxy: a request for `http://<site>.atlassian.net/rest/...` (absolute form).

    mcp-atlassian decides Cloud or Server/DC from JIRA_URL's host name, so a Cloud test points
    JIRA_URL at an `*.atlassian.net` name and JIRA_HTTP_PROXY at this double.
    """

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "://" in scope["path"]:
            target = urlsplit(scope["path"])
            cloud = target.hostname is not None and target.hostname.endswith(".atlassian.net")
            scope = {**scope, "path": target.path, "raw_path": target.path.encode(), "cloud": cloud}
            if target.query:
                scope["query_string"] = target.query.encode()
        await app(scope, receive, send)

    return asgi


class FakeAtlassianRest:
    """`with FakeAtlassianRest() as rest: ... rest.url ...` (Jira and Confluence on one port)."""

    def __init__(self) -> None:
        self.tickets = {t["key"]: t for t in ticket_files()}
        self.pages = {str(p["id"]): p for p in page_files()}
        self.fail_500: set[str] = set()
        #: Keys of issues moved to another project: Jira answers the old key with the issue under its new one.
        self.moved: dict[str, str] = {}
        self.fail_confluence = False
        #: The token Confluence accepts (on Server/DC it is not Jira's: each product issues its own PATs).
        self.confluence_pat = PAT
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[tuple[str, Any]] = []
        self.added_comments: list[tuple[str, str]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._cloud = False

    # ------------------------------------------------------------------ serving

    def start(self) -> FakeAtlassianRest:
        app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(_as_proxy(app), host="127.0.0.1", port=0, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="fake-atlassian-rest", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Atlassian REST did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self._server.servers[0].sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeAtlassianRest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls(self, path_regex: str) -> list[dict[str, str]]:
        """Query parameters of the logged requests whose path matches."""
        return [query for _, path, query in self.requests if re.search(path_regex, path)]

    def posted(self, path: str) -> list[Any]:
        """JSON bodies of the logged POST requests to `path`."""
        return [body for posted_path, body in self.bodies if posted_path == path]

    # ------------------------------------------------------------------ routing

    async def _dispatch(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        query = dict(request.query_params)
        self.requests.append((request.method, path, query))
        confluence = re.match(r"^/rest/api/(?:user|search|content)\b", path) is not None
        if not self._authorised(request.headers.get("authorization", ""), self.confluence_pat if confluence else PAT):
            return JSONResponse({"errorMessages": ["You are not authenticated."], "errors": {}}, status_code=401)
        body = await request.json() if request.method == "POST" else None
        if body is not None:
            self.bodies.append((path, body))
        # Read by the handlers below, which run to the end without awaiting: no other request interleaves.
        self._cloud = bool(request.scope.get("cloud"))
        routes = [
            (r"^/rest/api/(\d)/myself$", self._myself),
            (r"^/rest/api/(\d)/field$", lambda v: JSONResponse(FIELDS)),
            (r"^/rest/api/(\d)/search$", lambda v: self._search(v, query)),
            (r"^/rest/api/3/search/jql$", lambda: self._search_jql(body or {})),
            (r"^/rest/api/(\d)/issue/([^/]+)/comment$", lambda v, key: self._comments(v, key, body)),
            (r"^/rest/api/(\d)/issue/([^/]+)$", lambda v, key: self._issue(v, key, query)),
            (r"^/rest/api/user/current$", lambda: JSONResponse(user("QA Bot") | {"type": "known"})),
            (r"^/rest/api/search$", lambda: self._cql(query)),
            (r"^/rest/api/content/(\d+)$", self._page),
        ]
        for pattern, handler in routes:
            match = re.match(pattern, path)
            if match:
                return handler(*match.groups())
        return JSONResponse({"errorMessages": [f"No resource at {path}"], "errors": {}}, status_code=404)

    @staticmethod
    def _authorised(header: str, pat: str) -> bool:
        if header.startswith("Bearer "):
            return header[7:] == pat
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode() == f"{CLOUD_USER}:{CLOUD_TOKEN}"
        return False

    def _myself(self, version: str) -> Response:
        return JSONResponse(user("QA Bot", cloud=self._cloud))

    # ------------------------------------------------------------------ Jira

    def _raw_issue(self, version: str, ticket: dict[str, Any]) -> dict[str, Any]:
        comments = [self._raw_comment(version, ticket["key"], i, c) for i, c in enumerate(ticket.get("comments", []))]
        description = ticket.get("description") or None
        criteria = ticket.get("acceptance_criteria")
        fields: dict[str, Any] = {
            "summary": ticket["summary"],
            "description": adf(description) if version == "3" and description else description,
            "status": status(ticket.get("status", "To Do")),
            "issuetype": {"name": ticket.get("issue_type", "Story"), "id": "10001", "subtask": False},
            "labels": ticket.get("labels", []),
            "components": [
                {"id": str(10000 + i), "name": name, "self": f"{self.url}/rest/api/{version}/component/{10000 + i}"}
                for i, name in enumerate(ticket.get("components", []))
            ],
            "comment": {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0},
            "priority": {"name": "Medium", "id": "3"},
            "reporter": user("Priya Natarajan (Product Owner)", cloud=self._cloud),
            "assignee": None,
            "created": CREATED,
            "updated": CREATED,
            "customfield_10001": None,
            "resolution": {"name": ticket["resolution"], "id": "10000"} if ticket.get("resolution") else None,
            # v3 (Cloud) sends rich-text custom fields as ADF too.
            ACCEPTANCE_FIELD: adf(criteria) if version == "3" and criteria else criteria,
        }
        return {
            "id": str(ticket["id"]),
            "key": ticket["key"],
            "self": f"{self.url}/rest/api/{version}/issue/{ticket['id']}",
            "fields": fields,
        }

    def _raw_comment(self, version: str, key: str, index: int, comment: dict[str, Any]) -> dict[str, Any]:
        body = comment["body"]
        return {
            "id": str(20000 + index),
            "self": f"{self.url}/rest/api/{version}/issue/{key}/comment/{20000 + index}",
            "author": user(comment.get("author", "Unknown"), cloud=self._cloud),
            "body": adf(body) if version == "3" else body,
            "created": CREATED,
            "updated": CREATED,
        }

    def _select(self, issue: dict[str, Any], fields: str, expand: str) -> dict[str, Any]:
        """Only the fields asked for, as Jira does (`*all`/`*navigable` = every field)."""
        wanted = {f.strip() for f in fields.split(",") if f.strip()}
        if wanted and not wanted & {"*all", "*navigable"}:
            issue["fields"] = {k: v for k, v in issue["fields"].items() if k in wanted}
        if "names" in expand.split(","):
            issue["names"] = {k: FIELD_NAMES.get(k, k) for k in issue["fields"]}
        return issue

    def _issue(self, version: str, key: str, query: dict[str, str]) -> Response:
        if key in self.fail_500:
            return JSONResponse({"errorMessages": ["Internal server error"], "errors": {}}, status_code=500)
        ticket = self.tickets.get(self.moved.get(key, key))
        if ticket is None:
            return JSONResponse(
                {"errorMessages": ["Issue Does Not Exist"], "errors": {}}, status_code=404
            )  # Jira answers 404 for both missing and hidden issues
        return JSONResponse(
            self._select(self._raw_issue(version, ticket), query.get("fields", ""), query.get("expand", ""))
        )

    def _comments(self, version: str, key: str, body: Any) -> Response:
        ticket = self.tickets.get(key)
        if ticket is None:
            return JSONResponse({"errorMessages": ["Issue Does Not Exist"], "errors": {}}, status_code=404)
        if body is not None:
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text:
                return JSONResponse(
                    {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, status_code=400
                )
            ticket.setdefault("comments", []).append({"author": "QA Bot", "body": text})
            self.added_comments.append((key, text))
            return JSONResponse(
                self._raw_comment(version, key, len(ticket["comments"]) - 1, ticket["comments"][-1]), status_code=201
            )
        comments = [self._raw_comment(version, key, i, c) for i, c in enumerate(ticket.get("comments", []))]
        return JSONResponse({"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0})

    def _found(self, jql: str) -> list[dict[str, Any]] | None:
        """`project = X [ORDER BY key]` is all the JQL the tests use; None for anything else (Jira's 400)."""
        match = re.fullmatch(r"\s*project\s*=\s*(\w+)(?:\s+ORDER\s+BY\s+key(?:\s+ASC)?)?\s*", jql, re.IGNORECASE)
        if not match:
            return None
        prefix = match.group(1).upper() + "-"
        return sorted(
            (t for t in self.tickets.values() if t["key"].startswith(prefix)), key=lambda t: int(t["key"].split("-")[1])
        )

    def _search(self, version: str, query: dict[str, str]) -> Response:
        """Server/DC's GET /rest/api/2/search: `startAt`/`maxResults` paging with a `total`."""
        found = self._found(query.get("jql", ""))
        if found is None:
            return JSONResponse({"errorMessages": [f"Error in the JQL Query: {query.get('jql')}"]}, status_code=400)
        start, size = int(query.get("startAt", 0)), min(int(query.get("maxResults", 50)), 50)
        issues = [
            self._select(self._raw_issue(version, t), query.get("fields", ""), "") for t in found[start : start + size]
        ]
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(found), "issues": issues})

    def _search_jql(self, body: dict[str, Any]) -> Response:
        """Cloud's POST /rest/api/3/search/jql: no total, pages chained by `nextPageToken`."""
        start = int(str(body.get("nextPageToken") or "page-0").removeprefix("page-"))
        size = min(int(body.get("maxResults", 50)), 100)
        found = self._found(str(body.get("jql", "")))
        if found is None:
            return JSONResponse({"errorMessages": [f"Error in the JQL Query: {body.get('jql')}"]}, status_code=400)
        fields = ",".join(body.get("fields") or [])
        issues = [
            self._select(self._raw_issue("3", t), fields, str(body.get("expand", "")))
            for t in found[start : start + size]
        ]
        more = start + size < len(found)
        return JSONResponse(
            {"issues": issues, "isLast": not more} | ({"nextPageToken": f"page-{start + size}"} if more else {})
        )

    # ------------------------------------------------------------------ Confluence

    def _page_json(self, page: dict[str, Any], *, body: bool) -> dict[str, Any]:
        result = {
            "id": str(page["id"]),
            "type": "page",
            "status": "current",
            "title": page["title"],
            "space": {"key": page["space_key"], "name": page.get("space_name") or page["space_key"], "type": "global"},
            "version": {"number": 3, "when": "2026-01-04T16:20:00.000Z", "by": user("Priya Natarajan")},
            "history": {"createdDate": "2025-11-02T08:00:00.000Z", "createdBy": user("Priya Natarajan")},
            "_links": {"webui": f"/spaces/{page['space_key']}/pages/{page['id']}", "base": self.url},
        }
        if body:
            result["body"] = {"storage": {"value": storage(page.get("body", "")), "representation": "storage"}}
        return result

    def _cql(self, query: dict[str, str]) -> Response:
        if self.fail_confluence:
            return JSONResponse({"statusCode": 500, "message": "Search is unavailable"}, status_code=500)
        words = re.findall(r"\w+", " ".join(re.findall(r'"([^"]*)"', query.get("cql", ""))).lower())
        if not words:
            return JSONResponse({"statusCode": 400, "message": "Could not parse cql"}, status_code=400)
        hits = [p for p in self.pages.values() if all(w in f"{p['title']} {p.get('body', '')}".lower() for w in words)]
        hits = hits[: int(query.get("limit", 25))]
        results = [
            {
                "content": self._page_json(p, body=False),
                "title": p["title"],
                "excerpt": " ".join(p.get("body", "").split())[:200],
                "url": f"/spaces/{p['space_key']}/pages/{p['id']}",
                "resultGlobalContainer": {
                    "title": p.get("space_name") or p["space_key"],
                    "displayUrl": f"/spaces/{p['space_key']}",
                },
                "entityType": "content",
                "lastModified": "2026-01-04T16:20:00.000Z",
            }
            for p in hits
        ]
        return JSONResponse(
            {
                "results": results,
                "start": 0,
                "limit": len(results),
                "size": len(results),
                "totalSize": len(results),
                "cqlQuery": query.get("cql", ""),
                "_links": {"base": self.url},
            }
        )

    def _page(self, page_id: str) -> Response:
        page = self.pages.get(page_id)
        if page is None:
            return JSONResponse({"statusCode": 404, "message": f"No content found with id: {page_id}"}, status_code=404)
        return JSONResponse(self._page_json(page, body=True))
