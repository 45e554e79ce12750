"""What the publisher reads and writes on the GitLab project, and nothing it decides.

Merge requests by source branch (cached for the run: one listing per branch), branches, file
digests, the commits on a branch that jira2robot did not write, commits and merge requests.
Every call goes through `GitLabApi` (bounded, retried, errors that name the fix) and everything
sent passes the run's redactor. Whether to create, update, skip or leave a note is
`gitlab.GitLabPublisher`'s decision.
"""

from __future__ import annotations

from typing import Any

from gitlab.exceptions import GitlabError
from gitlab.v4.objects import ProjectMergeRequest

from generator.config.repo_file import MergeRequestSettings
from generator.publish import AUTHOR_EMAIL, AUTHOR_NAME, PublishError
from generator.publish.gitlab_api import GitLabApi, message
from generator.publish.markdown import read_marker
from generator.safety.redact import Redactor

FOREIGN_NOTE_MARKER = "<!-- jira2robot:foreign-commits -->"
_UNCOUNTED = 10_000


class Conflict(Exception):
    """GitLab says the branch, file or MR already exists: our view of the state is stale."""


class GitLabProject:
    """The project's branches, files and merge requests, as the publisher needs them."""

    def __init__(
        self, api: GitLabApi, *, target_branch: str, settings: MergeRequestSettings, redact: Redactor, run_id: str
    ) -> None:
        self._call, self._error = api.call, api.error
        self._gl, self._project = api.gl, api.project
        self._target = target_branch
        self._settings = settings
        self._redact = redact
        #: Written into each description this run creates: after a lost response, an MR carrying
        #: it is this run's own creation, not one another pipeline opened meanwhile.
        self.run_id = run_id
        self._mrs: dict[str, ProjectMergeRequest | None] = {}
        self._user_ids: dict[str, int | None] = {}

    def forget_mr(self, branch: str) -> None:
        """Read the branch's merge requests again on the next `find_mr` (our view went stale)."""
        self._mrs.pop(branch, None)

    def remember_mr(self, branch: str, mr: ProjectMergeRequest) -> None:
        """The MR this run just opened decides the branch from now on."""
        self._mrs[branch] = mr

    async def delete_branch(self, branch: str) -> None:
        """Delete the branch; a 404 (already gone) raises GitlabError for the caller to ignore."""
        await self._call(f"deleting branch {branch}", self._project.branches.delete, branch, expect=frozenset({404}))

    async def update_mr(self, mr: ProjectMergeRequest, fields: dict[str, Any]) -> None:
        """Change the MR's description (and title) in place."""
        await self._call(f"updating !{mr.iid}", self._project.mergerequests.update, mr.iid, fields)

    async def find_mr(self, branch: str) -> ProjectMergeRequest | None:
        """The MR that decides the branch's fate: an open one, else the newest merged or closed one."""
        if branch in self._mrs:
            return self._mrs[branch]
        mrs = await self._call(
            f"listing merge requests of {branch}",
            self._project.mergerequests.list,
            source_branch=branch,
            state="all",
            get_all=True,
        )
        # An open MR decides; else the newest decision: a drift update closed after its ticket's
        # first MR was merged is the reviewer's last word, not the merge.
        live = [mr for mr in mrs if mr.state in ("opened", "locked")]
        done = [mr for mr in mrs if mr.state in ("merged", "closed")]
        chosen = max(live or done, key=lambda mr: mr.iid) if live or done else None
        self._mrs[branch] = chosen
        return chosen

    async def branch_exists(self, branch: str) -> bool:
        """Whether the branch exists now (a 404 means no; other errors raise)."""
        try:
            await self._call(f"reading branch {branch}", self._project.branches.get, branch, expect=frozenset({404}))
        except GitlabError:
            return False
        return True

    async def file_digest(self, path: str, ref: str) -> str | None:
        """SHA-256 GitLab reports for the file at `ref` (a HEAD request, no content), None if absent."""
        try:
            headers = await self._call(
                f"reading {path} on {ref}", self._project.files.head, path, ref=ref, expect=frozenset({404})
            )
        except GitlabError:
            return None
        return headers.get("X-Gitlab-Content-Sha256")

    async def branch_state(self, branch: str) -> tuple[list[str], list[str]]:
        """Authors of branch commits jira2robot did not write, and the `.robot` files the branch adds."""
        compare = await self._call(
            f"comparing {branch} with {self._target}", self._project.repository_compare, self._target, branch
        )
        authors = [
            f"{c.get('author_name') or '?'} <{c.get('author_email') or '?'}>"
            for c in compare.get("commits", [])
            if c.get("author_email") != AUTHOR_EMAIL
        ]
        added = sorted(
            d["new_path"]
            for d in compare.get("diffs", [])
            if d.get("new_file") and not d.get("deleted_file") and d.get("new_path", "").endswith(".robot")
        )
        return list(dict.fromkeys(authors)), added

    async def count_open(self) -> int:
        """Open jira2robot MRs: those with our labels (one request, GitLab's total header), else our branches."""
        labels = self._settings.labels
        if labels:
            listing = await self._call(
                "counting open merge requests",
                self._project.mergerequests.list,
                state="opened",
                labels=labels,
                per_page=1,
                iterator=True,
            )
            # GitLab leaves the total out only past 10,000 results: far beyond any limit.
            return listing.total if listing.total is not None else _UNCOUNTED
        mrs = await self._call(
            "counting open merge requests", self._project.mergerequests.list, state="opened", get_all=True
        )
        return sum(1 for mr in mrs if mr.source_branch.startswith(self._settings.branch_prefix))

    async def user_id(self, username: str) -> int | None:
        """The user's id, None for an unknown name (looked up once per run)."""
        if username not in self._user_ids:
            users = await self._call(
                f"looking up user {username}", self._gl.users.list, username=username, get_all=False
            )
            self._user_ids[username] = users[0].id if users else None
        return self._user_ids[username]

    async def commit(
        self, key: str, branch: str, actions: list[dict[str, Any]], *, start: str | None, what: str = "Add"
    ) -> None:
        """One commit with every file change; with `start`, the same call creates the branch atomically."""
        data: dict[str, Any] = {
            "branch": branch,
            "commit_message": self._redact(
                f"{what} generated Robot Framework test for {key}\n\n"
                "Generated by jira2robot; review it in the draft merge request."
            ),
            "actions": [{**a, "content": self._redact(a["content"])} if "content" in a else a for a in actions],
            "author_name": AUTHOR_NAME,
            "author_email": AUTHOR_EMAIL,
        }
        if start is not None:
            data["start_branch"] = start
        try:
            await self._call(
                f"committing to {branch}", self._project.commits.create, data, expect=frozenset({400, 409})
            )
        except GitlabError as exc:
            if exc.response_code == 409 or "already exists" in message(exc).lower():
                raise Conflict(f"committing to {branch}: {message(exc)}") from None
            raise self._error(f"committing to {branch}", exc) from None

    async def create_mr(self, branch: str, title: str, description: str) -> tuple[ProjectMergeRequest, list[str]]:
        """Open the MR with the configured labels, assignee and reviewers; also returns the names
        GitLab does not know (the MR is opened without them). A lost answer is recovered by `run_id`."""
        data: dict[str, Any] = {
            "source_branch": branch,
            "target_branch": self._target,
            "title": title,
            "description": description,
            "labels": list(self._settings.labels),
            "remove_source_branch": True,
        }
        unknown: list[str] = []
        if self._settings.assignee:
            if (uid := await self.user_id(self._settings.assignee)) is not None:
                data["assignee_id"] = uid
            else:
                unknown.append(self._settings.assignee)
        reviewer_ids = []
        for name in self._settings.reviewers:
            if (uid := await self.user_id(name)) is not None:
                reviewer_ids.append(uid)
            else:
                unknown.append(name)
        if reviewer_ids:
            data["reviewer_ids"] = reviewer_ids
        try:
            mr = await self._call(
                f"opening a merge request from {branch}",
                self._project.mergerequests.create,
                data,
                expect=frozenset({409}),
            )
        except (GitlabError, PublishError) as exc:
            # The answer may be lost after GitLab created the MR (or a retried POST met our own
            # MR): one carrying this run's id is ours, so the ticket is `created`, not `skipped`.
            if (mine := await self.created_by_this_run(branch)) is not None:
                return mine, unknown
            if isinstance(exc, GitlabError):
                raise Conflict(f"opening a merge request from {branch}: {message(exc)}") from None
            raise
        return mr, unknown

    async def created_by_this_run(self, branch: str) -> ProjectMergeRequest | None:
        """The branch's MR if this run opened it (its marker holds `run_id`), read afresh."""
        self.forget_mr(branch)
        mr = await self.find_mr(branch)
        if mr is not None and read_marker(mr.description).get("run") == self.run_id:
            return mr
        return None

    async def note_once(self, mr: ProjectMergeRequest, body: str) -> None:
        """Leave the foreign-commits note unless an earlier run already did."""
        handle = self._project.mergerequests.get(mr.iid, lazy=True)
        notes = await self._call(f"reading notes of !{mr.iid}", handle.notes.list, get_all=True)
        if any(FOREIGN_NOTE_MARKER in (note.body or "") for note in notes):
            return
        await self._call(f"commenting on !{mr.iid}", handle.notes.create, {"body": self._redact(body)})
