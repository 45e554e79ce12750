"""A stateful HTTP test double of the GitLab REST API v4, for the real python-gitlab client.

No GitLab can run here, so this serves the endpoints jira2robot calls, with GitLab's
observable behaviour where the publisher depends on it: URL-encoded project paths, branch
names and file paths; atomic multi-file commits that may create their branch
(`start_branch`); merge-base comparisons; one open MR per source branch (409 otherwise);
`X-Gitlab-Content-Sha256` on file reads; pagination headers (`X-Total`, `Link`); the
`PRIVATE-TOKEN` header; error bodies shaped like GitLab's (`{"message": "404 Project Not Found"}`);
file diffs in comparisons (`new_file`, `renamed_file`, `deleted_file`), the `move` commit action,
and project issues (the dashboard).

Tests drive it through helpers (`push_human_commit`, `set_mr_state`, `edit_mr`), inject faults
with `fail_next` (an error instead of the work) and `drop_response_after` (the work is done, the
answer is lost), and assert on `requests` (the log of calls), on `journal` (every request as
received: method, raw path with query, body bytes) and on the stored state.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API = "/api/v4"
BOT = ("Project Bot", "project_bot@example.com")
Handler = Callable[..., Response]


@dataclass
class Commit:
    id: str
    parent: str | None
    message: str
    author_name: str
    author_email: str
    files: dict[str, str]
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.id[:8],
            "title": self.message.splitlines()[0] if self.message else "",
            "message": self.message,
            "author_name": self.author_name,
            "author_email": self.author_email,
            "committer_name": BOT[0],
            "committer_email": BOT[1],
            "created_at": self.created_at,
            "parent_ids": [self.parent] if self.parent else [],
        }


@dataclass
class MergeRequest:
    iid: int
    source_branch: str
    target_branch: str
    title: str
    description: str
    labels: list[str]
    state: str = "opened"
    remove_source_branch: bool = False
    assignee_id: int | None = None
    reviewer_ids: list[int] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Issue:
    iid: int
    title: str
    description: str
    labels: list[str]
    state: str = "opened"


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str
    drop: bool = False


class _DroppedResponse(Response):
    """Sends the status line and headers, then the connection breaks before the body.

    What a client sees when a proxy or the network loses GitLab's answer: the change
    happened server-side, the client only gets an incomplete response.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        raise ConnectionAbortedError("fake GitLab dropped the response on purpose")


class _HTTPError(Exception):
    def __init__(self, status: int, message: Any):
        self.status = status
        self.message = message


class FakeGitLab:
    """GitLab double with one project; start with `with FakeGitLab() as gl:`."""

    def __init__(
        self,
        *,
        token: str = "glpat-test-token-0000",
        project_path: str = "qa/shop-tests",
        project_id: int = 7,
        files: dict[str, str] | None = None,
        users: tuple[str, ...] = ("alice", "bob"),
    ) -> None:
        self.token = token
        self.project_path = project_path
        self.project_id = project_id
        self.default_branch = "main"
        self.requests: list[tuple[str, str]] = []
        self.journal: list[tuple[str, str, bytes]] = []
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.mrs: dict[int, MergeRequest] = {}
        self.issues: dict[int, Issue] = {}
        self.users = {name: index for index, name in enumerate(users, start=101)}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        initial = files or {
            "tests/existing.robot": "*** Test Cases ***\nExisting\n    Log    hello\n",
            "doc/convention.md": "# Conventions\n",
        }
        self.branches["main"] = self._new_commit(None, "Initial commit", "Maintainer", "dev@example.com", initial).id

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGitLab:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-gitlab", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake GitLab did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def fail_next(self, method: str, path_regex: str, status: int, times: int = 1, message: str | None = None) -> None:
        """Answer the next `times` matching requests (decoded path, regex search) with `status`."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), status, times, message or f"{status} injected fault")
            )

    def drop_response_after(self, method: str, path_regex: str, times: int = 1) -> None:
        """Do the next `times` matching requests, then break the connection before the answer."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), 0, times, "", drop=True))

    def edit_mr(self, iid: int, *, title: str | None = None, description: str | None = None) -> None:
        """Simulate a reviewer editing the title (e.g. "Mark as ready") or the description in the UI."""
        with self._lock:
            mr = self.mrs[iid]
            mr.title = mr.title if title is None else title
            mr.description = mr.description if description is None else description

    def push_human_commit(
        self, branch: str, path: str, content: str, *, name: str = "Alice Reviewer", email: str = "alice@example.com"
    ) -> str:
        """Simulate a person pushing to a branch (as `git push` would, bypassing the API)."""
        with self._lock:
            head = self.commits[self.branches[branch]]
            commit = self._new_commit(head.id, f"Edit {path}", name, email, {**head.files, path: content})
            self.branches[branch] = commit.id
            return commit.id

    def set_mr_state(self, iid: int, state: str) -> None:
        """Simulate a reviewer merging or closing an MR in the UI."""
        with self._lock:
            mr = self.mrs[iid]
            mr.state = state
            if state == "merged":
                target = self.commits[self.branches[mr.target_branch]]
                source = self.commits[self.branches[mr.source_branch]]
                merged = self._new_commit(
                    target.id, f"Merge branch '{mr.source_branch}'", "Maintainer", "dev@example.com", source.files
                )
                self.branches[mr.target_branch] = merged.id
                if mr.remove_source_branch:
                    del self.branches[mr.source_branch]

    def branch_commits(self, branch: str) -> list[Commit]:
        """Commits on `branch` that are not on the default branch, newest first."""
        with self._lock:
            return self._ahead(self.default_branch, branch)

    def file(self, branch: str, path: str) -> str | None:
        with self._lock:
            return self.commits[self.branches[branch]].files.get(path)

    def count(self, method: str, path_regex: str) -> int:
        """How many logged requests match (decoded path, regex search)."""
        pattern = re.compile(path_regex)
        return sum(1 for m, p in self.requests if m == method.upper() and pattern.search(p))

    # ------------------------------------------------------------------ state internals

    def _new_commit(self, parent: str | None, message: str, name: str, email: str, files: dict[str, str]) -> Commit:
        sha = hashlib.sha1(f"{next(self._ids)}:{parent}:{message}".encode()).hexdigest()
        commit = Commit(sha, parent, message, name, email, dict(files), time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.commits[sha] = commit
        return commit

    def _history(self, sha: str | None) -> Iterator[Commit]:
        while sha is not None:
            commit = self.commits[sha]
            yield commit
            sha = commit.parent

    def _ahead(self, base: str, branch: str) -> list[Commit]:
        reachable = {c.id for c in self._history(self.branches[base])}
        return [c for c in self._history(self.branches[branch]) if c.id not in reachable]

    @staticmethod
    def _diffs(before: dict[str, str], after: dict[str, str]) -> list[dict[str, Any]]:
        """GitLab's diff entries between two trees (renames are reported as delete + add)."""
        changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        return [
            {
                "old_path": path,
                "new_path": path,
                "new_file": path not in before,
                "deleted_file": path not in after,
                "renamed_file": False,
                "diff": "",
            }
            for path in changed
        ]

    def _resolve(self, ref: str) -> Commit:
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        raise _HTTPError(404, "404 Commit Not Found")

    def _web(self, suffix: str) -> str:
        return f"{self.url}/{self.project_path}/{suffix}"

    def _mr_json(self, mr: MergeRequest) -> dict[str, Any]:
        reviewers = [self._user_json(uid) for uid in mr.reviewer_ids]
        assignee = self._user_json(mr.assignee_id) if mr.assignee_id else None
        return {
            "id": 1000 + mr.iid,
            "iid": mr.iid,
            "project_id": self.project_id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "draft": mr.title.startswith(("Draft:", "[Draft]", "(Draft)")),
            "work_in_progress": mr.title.startswith(("Draft:", "[Draft]", "(Draft)")),
            "source_branch": mr.source_branch,
            "target_branch": mr.target_branch,
            "labels": list(mr.labels),
            "force_remove_source_branch": mr.remove_source_branch,
            "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "reviewers": reviewers,
            "author": self._user_json(0),
            "web_url": self._web(f"-/merge_requests/{mr.iid}"),
        }

    def _user_json(self, uid: int) -> dict[str, Any]:
        name = next((n for n, i in self.users.items() if i == uid), "project_bot")
        return {"id": uid, "username": name, "name": name.title(), "state": "active"}

    def _branch_json(self, name: str) -> dict[str, Any]:
        head = self.commits[self.branches[name]]
        return {
            "name": name,
            "commit": head.as_json(),
            "default": name == self.default_branch,
            "protected": name == self.default_branch,
            "merged": False,
            "web_url": self._web(f"-/tree/{name}"),
        }

    def _project(self, pid: str) -> None:
        if pid not in (str(self.project_id), self.project_path):
            raise _HTTPError(404, "404 Project Not Found")

    # ------------------------------------------------------------------ HTTP

    def app(self) -> Starlette:
        routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(f"^{API}{pattern}$"), handler)
            for method, pattern, handler in (
                ("GET", r"/projects/(?P<pid>[^/]+)", self._get_project),
                ("GET", r"/projects/(?P<pid>[^/]+)/repository/branches", self._list_branches),
                ("POST", r"/projects/(?P<pid>[^/]+)/repository/branches", self._create_branch),
                ("GET", r"/projects/(?P<pid>[^/]+)/repository/branches/(?P<branch>[^/]+)", self._get_branch),
                ("DELETE", r"/projects/(?P<pid>[^/]+)/repository/branches/(?P<branch>[^/]+)", self._delete_branch),
                ("GET", r"/projects/(?P<pid>[^/]+)/repository/files/(?P<path>[^/]+)", self._get_file),
                ("HEAD", r"/projects/(?P<pid>[^/]+)/repository/files/(?P<path>[^/]+)", self._get_file),
                ("GET", r"/projects/(?P<pid>[^/]+)/repository/commits", self._list_commits),
                ("POST", r"/projects/(?P<pid>[^/]+)/repository/commits", self._create_commit),
                ("GET", r"/projects/(?P<pid>[^/]+)/repository/compare", self._compare),
                ("GET", r"/projects/(?P<pid>[^/]+)/merge_requests", self._list_mrs),
                ("POST", r"/projects/(?P<pid>[^/]+)/merge_requests", self._create_mr),
                ("GET", r"/projects/(?P<pid>[^/]+)/merge_requests/(?P<iid>\d+)", self._get_mr),
                ("PUT", r"/projects/(?P<pid>[^/]+)/merge_requests/(?P<iid>\d+)", self._update_mr),
                ("GET", r"/projects/(?P<pid>[^/]+)/merge_requests/(?P<iid>\d+)/notes", self._list_notes),
                ("POST", r"/projects/(?P<pid>[^/]+)/merge_requests/(?P<iid>\d+)/notes", self._create_note),
                ("GET", r"/projects/(?P<pid>[^/]+)/issues", self._list_issues),
                ("POST", r"/projects/(?P<pid>[^/]+)/issues", self._create_issue),
                ("GET", r"/projects/(?P<pid>[^/]+)/issues/(?P<iid>\d+)", self._get_issue),
                ("PUT", r"/projects/(?P<pid>[^/]+)/issues/(?P<iid>\d+)", self._update_issue),
                ("GET", r"/users", self._list_users),
            )
        ]

        async def dispatch(request: Request) -> Response:
            # Match on the raw path: GitLab ids are URL-encoded ("qa%2Fshop-tests") and must
            # stay one segment, which the decoded ASGI path would split.
            raw = request.scope["raw_path"].decode("ascii")
            decoded = unquote(raw)
            method = request.method
            query = request.scope.get("query_string", b"").decode("latin-1")
            received = await request.body()
            with self._lock:
                self.requests.append((method, decoded))
                self.journal.append((method, f"{raw}?{query}" if query else raw, received))
            if request.headers.get("private-token") != self.token:
                return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
            drop = False
            with self._lock:
                for fault in self._faults:
                    if fault.times > 0 and fault.method == method and fault.path.search(decoded):
                        fault.times -= 1
                        if not fault.drop:
                            return JSONResponse({"message": fault.message}, status_code=fault.status)
                        drop = True
                        break
            for route_method, pattern, handler in routes:
                match = pattern.match(raw)
                if match and route_method == method:
                    params = {k: unquote(v) for k, v in match.groupdict().items()}
                    body: dict[str, Any] = {}
                    if method in ("POST", "PUT") and await request.body():
                        body = await request.json()
                    try:
                        with self._lock:
                            if "pid" in params:
                                self._project(params.pop("pid"))
                            response = handler(request, body, **params)
                    except _HTTPError as err:
                        response = JSONResponse({"message": err.message}, status_code=err.status)
                    if drop:
                        return _DroppedResponse(response.body, status_code=response.status_code)
                    return response
            return JSONResponse({"error": "404 Not Found"}, status_code=404)

        methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", dispatch, methods=methods)])

    def _paginate(self, request: Request, items: list[Any]) -> Response:
        per_page = int(request.query_params.get("per_page", 20))
        page = int(request.query_params.get("page", 1))
        total_pages = max(1, -(-len(items) // per_page))
        headers = {
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Per-Page": str(per_page),
            "X-Page": str(page),
        }
        if page < total_pages:
            query = {**request.query_params, "page": str(page + 1)}
            headers["X-Next-Page"] = str(page + 1)
            headers["Link"] = f'<{self.url}{request.url.path}?{urlencode(query)}>; rel="next"'
        return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)

    # Handlers run under self._lock and return synchronously built responses.

    def _get_project(self, request: Request, body: dict[str, Any]) -> Response:
        return JSONResponse(
            {
                "id": self.project_id,
                "path_with_namespace": self.project_path,
                "default_branch": self.default_branch,
                "web_url": self._web("").rstrip("/"),
            }
        )

    def _list_branches(self, request: Request, body: dict[str, Any]) -> Response:
        return self._paginate(request, [self._branch_json(name) for name in sorted(self.branches)])

    def _create_branch(self, request: Request, body: dict[str, Any]) -> Response:
        name = body.get("branch") or request.query_params.get("branch", "")
        ref = body.get("ref") or request.query_params.get("ref", "")
        if name in self.branches:
            raise _HTTPError(400, "Branch already exists")
        self.branches[name] = self._resolve(ref).id
        return JSONResponse(self._branch_json(name), status_code=201)

    def _get_branch(self, request: Request, body: dict[str, Any], branch: str) -> Response:
        if branch not in self.branches:
            raise _HTTPError(404, "404 Branch Not Found")
        return JSONResponse(self._branch_json(branch))

    def _delete_branch(self, request: Request, body: dict[str, Any], branch: str) -> Response:
        if branch not in self.branches:
            raise _HTTPError(404, "404 Branch Not Found")
        del self.branches[branch]
        return Response(status_code=204)

    def _get_file(self, request: Request, body: dict[str, Any], path: str) -> Response:
        ref = request.query_params.get("ref")
        if not ref:
            raise _HTTPError(400, "ref is missing")
        commit = self._resolve(ref)
        if path not in commit.files:
            raise _HTTPError(404, "404 File Not Found")
        data = commit.files[path].encode()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        digest = hashlib.sha256(data).hexdigest()
        headers = {
            "X-Gitlab-File-Path": path,
            "X-Gitlab-Ref": ref,
            "X-Gitlab-Size": str(len(data)),
            "X-Gitlab-Encoding": "base64",
            "X-Gitlab-Blob-Id": blob,
            "X-Gitlab-Commit-Id": commit.id,
            "X-Gitlab-Last-Commit-Id": commit.id,
            "X-Gitlab-Content-Sha256": digest,
        }
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers, media_type="application/json")
        payload = {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(data),
            "encoding": "base64",
            "content": base64.b64encode(data).decode(),
            "content_sha256": digest,
            "ref": ref,
            "blob_id": blob,
            "commit_id": commit.id,
            "last_commit_id": commit.id,
        }
        return JSONResponse(payload, headers=headers)

    def _list_commits(self, request: Request, body: dict[str, Any]) -> Response:
        ref = request.query_params.get("ref_name", self.default_branch)
        return self._paginate(request, [c.as_json() for c in self._history(self._resolve(ref).id)])

    def _create_commit(self, request: Request, body: dict[str, Any]) -> Response:
        branch = body.get("branch", "")
        start = body.get("start_branch")
        if branch in self.branches and start and start != branch:
            raise _HTTPError(
                400, f"A branch called '{branch}' already exists. Switch to that branch in order to make changes"
            )
        if branch in self.branches:
            parent = self.commits[self.branches[branch]]
        elif start:
            parent = self._resolve(start)
        else:
            raise _HTTPError(400, "You can only create or edit files when you are on a branch")
        files = dict(parent.files)
        for action in body.get("actions", []):
            kind, path = action.get("action"), action.get("file_path", "")
            content = action.get("content", "")
            if action.get("encoding") == "base64":
                content = base64.b64decode(content).decode()
            if kind == "create":
                if path in files:
                    raise _HTTPError(400, "A file with this name already exists")
                files[path] = content
            elif kind == "update":
                if path not in files:
                    raise _HTTPError(400, "A file with this name doesn't exist")
                files[path] = content
            elif kind == "delete":
                if path not in files:
                    raise _HTTPError(400, "A file with this name doesn't exist")
                del files[path]
            elif kind == "move":
                previous = action.get("previous_path", "")
                if previous not in files:
                    raise _HTTPError(400, "A file with this name doesn't exist")
                if path in files:
                    raise _HTTPError(400, "A file with this name already exists")
                moved = files.pop(previous)
                files[path] = moved if action.get("content") is None else content
            else:
                raise _HTTPError(400, f"action {kind!r} does not have a valid value")
        commit = self._new_commit(
            parent.id,
            body.get("commit_message", ""),
            body.get("author_name") or BOT[0],
            body.get("author_email") or BOT[1],
            files,
        )
        self.branches[branch] = commit.id
        return JSONResponse(commit.as_json(), status_code=201)

    def _compare(self, request: Request, body: dict[str, Any]) -> Response:
        base, head = request.query_params.get("from", ""), request.query_params.get("to", "")
        for ref in (base, head):
            if ref not in self.branches:
                raise _HTTPError(404, "404 Ref Not Found")
        ahead = self._ahead(base, head)
        before = self.commits[ahead[-1].parent].files if ahead and ahead[-1].parent else {}
        after = self.commits[self.branches[head]].files if ahead else before
        return JSONResponse(
            {
                "commit": ahead[0].as_json() if ahead else None,
                "commits": [c.as_json() for c in reversed(ahead)],
                "diffs": self._diffs(before, after),
                "compare_timeout": False,
                "compare_same_ref": base == head,
            }
        )

    def _list_mrs(self, request: Request, body: dict[str, Any]) -> Response:
        query = request.query_params
        state = query.get("state", "all")
        labels = {x for x in query.get("labels", "").split(",") if x}
        found = [
            mr
            for mr in sorted(self.mrs.values(), key=lambda m: m.iid, reverse=True)
            if (state == "all" or mr.state == state)
            and query.get("source_branch", mr.source_branch) == mr.source_branch
            and query.get("target_branch", mr.target_branch) == mr.target_branch
            and labels <= set(mr.labels)
        ]
        return self._paginate(request, [self._mr_json(mr) for mr in found])

    def _create_mr(self, request: Request, body: dict[str, Any]) -> Response:
        source, target = body.get("source_branch", ""), body.get("target_branch", "")
        if not body.get("title"):
            raise _HTTPError(400, "title is missing")
        if source not in self.branches or target not in self.branches:
            raise _HTTPError(422, ["Source branch does not exist" if source not in self.branches else "Invalid target"])
        for mr in self.mrs.values():
            if mr.source_branch == source and mr.target_branch == target and mr.state == "opened":
                raise _HTTPError(409, [f"Another open merge request already exists for this source branch: !{mr.iid}"])
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        assignee = body.get("assignee_id")
        if assignee is not None and assignee not in self.users.values():
            raise _HTTPError(400, "assignee_id is invalid")
        iid = max(self.mrs, default=0) + 1
        self.mrs[iid] = MergeRequest(
            iid=iid,
            source_branch=source,
            target_branch=target,
            title=body["title"],
            description=body.get("description") or "",
            labels=labels,
            remove_source_branch=bool(body.get("remove_source_branch")),
            assignee_id=assignee,
            reviewer_ids=list(body.get("reviewer_ids") or []),
        )
        return JSONResponse(self._mr_json(self.mrs[iid]), status_code=201)

    def _mr(self, iid: str) -> MergeRequest:
        if int(iid) not in self.mrs:
            raise _HTTPError(404, "404 Not found")
        return self.mrs[int(iid)]

    def _get_mr(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        return JSONResponse(self._mr_json(self._mr(iid)))

    @staticmethod
    def _edit(item: MergeRequest | Issue, body: dict[str, Any]) -> None:
        """PUT semantics shared by MRs and issues: only the fields sent change."""
        for name in ("title", "description"):
            if name in body:
                setattr(item, name, body[name])

    def _update_mr(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        mr = self._mr(iid)
        self._edit(mr, body)
        if "labels" in body:
            labels = body["labels"]
            mr.labels = labels if isinstance(labels, list) else [x for x in labels.split(",") if x]
        event = body.get("state_event")
        if event == "close" and mr.state == "opened":
            mr.state = "closed"
        elif event == "reopen" and mr.state == "closed":
            mr.state = "opened"
        return JSONResponse(self._mr_json(mr))

    def _list_notes(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        return self._paginate(request, list(self._mr(iid).notes))

    def _create_note(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        mr = self._mr(iid)
        if not body.get("body"):
            raise _HTTPError(400, "body is missing")
        note = {
            "id": 5000 + sum(len(m.notes) for m in self.mrs.values()),
            "body": body["body"],
            "author": self._user_json(0),
            "system": False,
            "noteable_iid": mr.iid,
        }
        mr.notes.append(note)
        return JSONResponse(note, status_code=201)

    def _list_users(self, request: Request, body: dict[str, Any]) -> Response:
        wanted = request.query_params.get("username")
        found = [self._user_json(uid) for name, uid in self.users.items() if wanted in (None, name)]
        return self._paginate(request, found)

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        return {
            "id": 2000 + issue.iid,
            "iid": issue.iid,
            "project_id": self.project_id,
            "title": issue.title,
            "description": issue.description,
            "labels": list(issue.labels),
            "state": issue.state,
            "web_url": self._web(f"-/issues/{issue.iid}"),
        }

    def _issue(self, iid: str) -> Issue:
        if int(iid) not in self.issues:
            raise _HTTPError(404, "404 Not found")
        return self.issues[int(iid)]

    def _list_issues(self, request: Request, body: dict[str, Any]) -> Response:
        query = request.query_params
        state = query.get("state", "all")
        labels = {x for x in query.get("labels", "").split(",") if x}
        search = query.get("search", "")
        found = [
            issue
            for issue in sorted(self.issues.values(), key=lambda i: i.iid, reverse=True)
            if (state == "all" or issue.state == state)
            and labels <= set(issue.labels)
            and search.lower() in (issue.title + " " + issue.description).lower()
        ]
        return self._paginate(request, [self._issue_json(issue) for issue in found])

    def _create_issue(self, request: Request, body: dict[str, Any]) -> Response:
        if not body.get("title"):
            raise _HTTPError(400, "title is missing")
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        iid = max(self.issues, default=0) + 1
        self.issues[iid] = Issue(iid, body["title"], body.get("description") or "", labels)
        return JSONResponse(self._issue_json(self.issues[iid]), status_code=201)

    def _get_issue(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        return JSONResponse(self._issue_json(self._issue(iid)))

    def _update_issue(self, request: Request, body: dict[str, Any], iid: str) -> Response:
        issue = self._issue(iid)
        self._edit(issue, body)
        event = body.get("state_event")
        if event == "close":
            issue.state = "closed"
        elif event == "reopen":
            issue.state = "opened"
        return JSONResponse(self._issue_json(issue))
