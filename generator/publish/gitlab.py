"""Draft merge requests on GitLab, one branch per ticket, idempotent across runs.

Behaves like a dependency bot (Renovate): the branch `<prefix><KEY>` belongs to jira2robot
until someone else pushes to it. Re-running the job therefore updates the same MR with one
new commit when the generated test changed, does nothing when it did not, and never
overwrites a human's commits. Merged MRs mean the ticket is covered; closed MRs are a
reviewer's "no" and are only replaced when asked (`--recreate`).

Humans win: the bot rewrites only its marked block of the description, sets the title only
while it is still the one the bot wrote (a reviewer's rename or "Mark as ready" sticks), and
keeps the test file where the branch already has it, so a renamed Jira summary never leaves
two files (a change of folder moves the file in the same commit).

Limits: `new_mr_capacity` tells the run how many new MRs it may open, so slots are handed out
before any generation; the publisher still refuses to exceed them itself.

What it reads and writes on the project lives in `gitlab_project`, the HTTP plumbing (threads,
limits, retries, error messages) in `gitlab_api`.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid

import anyio
from gitlab.exceptions import GitlabError

from generator.config.repo_file import MergeRequestSettings
from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult
from generator.publish import PublishError, PublishOutcome
from generator.publish.dashboard import CLOSED_PREFIX, DashboardIssue
from generator.publish.describe import render_mr_description, render_mr_title
from generator.publish.drift_text import render_removal
from generator.publish.gitlab_api import GitLabApi
from generator.publish.gitlab_project import FOREIGN_NOTE_MARKER, Conflict, GitLabProject
from generator.publish.markdown import (
    bot_owns_title,
    code,
    fingerprint,
    merge_block,
    neutralise_quick_actions,
    read_marker,
    title_digest,
)
from generator.safety.redact import Redactor


class GitLabPublisher:
    """Publisher that opens or updates one draft merge request per ticket."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        project: str,
        target_branch: str,
        settings: MergeRequestSettings,
        max_open_mrs: int,
        max_new_mrs: int,
        recreate: bool = False,
        limiter: anyio.CapacityLimiter | None = None,
        retries: int = 3,
        retry_base_delay: float = 1.0,
        jira_url: str | None = None,
        timeout: float = 30.0,
        redactor: Redactor | None = None,
    ) -> None:
        # Everything sent to GitLab or put in an error passes the run's redactor.
        self._redact = redactor or Redactor([token])
        self._target = target_branch
        self._settings = settings
        self._max_open = max_open_mrs
        self._max_new = max_new_mrs
        self._recreate = recreate
        self._jira_url = jira_url
        api = GitLabApi(
            url=url,
            token=token,
            project=project,
            redact=self._redact,
            limiter=limiter or anyio.CapacityLimiter(2),
            retries=retries,
            retry_base_delay=retry_base_delay,
            timeout=timeout,
        )
        self._api = api
        self._gitlab = GitLabProject(
            api, target_branch=target_branch, settings=settings, redact=self._redact, run_id=uuid.uuid4().hex[:12]
        )
        self._recreated: set[str] = set()
        self._recreate_keys: set[str] = set()
        self._update_keys: set[str] = set()
        self._open_count: int | None = None
        self._new_count = 0
        self._lock = anyio.Lock()

    def _branch(self, key: str) -> str:
        return f"{self._settings.branch_prefix}{key}"

    # ------------------------------------------------------------------ limits

    async def _limit(self) -> str | None:
        """The limit a new MR would hit now; the caller holds the lock."""
        free, reason = await self._free()
        return reason if free <= 0 else None

    async def _free(self) -> tuple[int, str]:
        """New MRs still allowed, and the reason given once they are used up; the caller holds the lock."""
        if self._open_count is None:
            self._open_count = await self._gitlab.count_open()
        by_new = self._max_new - self._new_count
        by_open = self._max_open - self._open_count - self._new_count
        if by_new <= by_open:
            return by_new, f"limit max_new_mrs={self._max_new} reached"
        open_now = self._open_count + self._new_count
        return by_open, f"limit max_open_mrs={self._max_open} reached ({open_now} open jira2robot merge requests)"

    async def _reserve_new(self) -> str | None:
        """Claim one new-MR slot, or say which limit stops it. Updates never need a slot."""
        async with self._lock:
            if limit := await self._limit():
                return limit
            self._new_count += 1
            return None

    async def _release_new(self) -> None:
        async with self._lock:
            self._new_count -= 1

    # ------------------------------------------------------------------ dashboard

    def dashboard(self) -> DashboardIssue:
        """The project's dashboard issue, labelled with the first MR label."""
        label = (self._settings.labels or ["jira2robot"])[0]
        return DashboardIssue(self._api.project, self._api.call, label, redact=self._redact)

    def allow_recreate(self, keys: set[str]) -> None:
        """Recreate these tickets' closed MRs (a reviewer ticked "recreate" on the dashboard)."""
        self._recreate_keys |= keys

    def allow_update(self, keys: set[str]) -> None:
        """Drifted tickets: their merged MR is history, the update opens a new MR on the same branch."""
        self._update_keys |= keys

    def _may_recreate(self, key: str) -> bool:
        return self._recreate or key in self._recreate_keys

    # ------------------------------------------------------------------ Publisher

    async def covered(self, key: str) -> str | None:
        """Skip reason before any LLM call: a merged MR, or a closed one not to be recreated."""
        mr = await self._gitlab.find_mr(self._branch(key))
        if mr is None:
            return None
        if mr.state == "merged":
            return f"already covered by merged MR !{mr.iid}"
        if mr.state == "closed" and not self._may_recreate(key):
            return f"{CLOSED_PREFIX}{mr.iid} not recreated (use --recreate)"
        return None

    async def open_mr(self, key: str) -> str | None:
        """`!iid` of the ticket's open MR: backlog runs leave it alone instead of regenerating it."""
        mr = await self._gitlab.find_mr(self._branch(key))
        return f"!{mr.iid}" if mr is not None and mr.state in ("opened", "locked") else None

    async def needs_new_mr(self, key: str) -> bool:
        """Publishing this ticket would open a new MR (none yet, or a closed one to recreate)."""
        mr = await self._gitlab.find_mr(self._branch(key))
        merged = mr is not None and mr.state == "merged" and key in self._update_keys
        return mr is None or merged or (mr.state == "closed" and self._may_recreate(key))

    async def new_mr_capacity(self) -> tuple[int, str]:
        """How many new MRs this run may still open, and the reason to give a ticket past that."""
        async with self._lock:
            free, reason = await self._free()
        return max(free, 0), reason

    async def publish(
        self,
        ticket: Ticket,
        spec: TestSpec,
        test: GeneratedTest,
        validation: ValidationResult,
        result: TicketResult,
    ) -> PublishOutcome:
        """Create, update or leave alone the ticket's draft MR; a stale view is re-read once."""
        branch = self._branch(ticket.key)
        try:
            return await self._publish(ticket, spec, test, validation, result)
        except Conflict as first:
            self._gitlab.forget_mr(branch)
            try:
                return await self._publish(ticket, spec, test, validation, result)
            except Conflict as second:
                raise PublishError(
                    self._redact(f"GitLab conflict {second} (first: {first}); state changed twice, try again")
                ) from None

    async def _publish(
        self,
        ticket: Ticket,
        spec: TestSpec,
        test: GeneratedTest,
        validation: ValidationResult,
        result: TicketResult,
    ) -> PublishOutcome:
        branch = self._branch(ticket.key)
        mr = await self._gitlab.find_mr(branch)
        if mr is not None and mr.state == "merged" and ticket.key in self._update_keys:
            mr = None  # the merged MR's test drifted: the update is a new MR from the same branch name
        if mr is not None and mr.state == "merged":
            return PublishOutcome(status="skipped", reason=f"covered by merged MR !{mr.iid}", mr_url=mr.web_url)
        if mr is not None and mr.state == "closed":
            if not self._may_recreate(ticket.key):
                return PublishOutcome(
                    status="skipped",
                    reason=f"{CLOSED_PREFIX}{mr.iid} not recreated (use --recreate)",
                    mr_url=mr.web_url,
                )
            if branch not in self._recreated:
                # A person's commits on the branch are their work: never deleted, even on --recreate.
                if await self._gitlab.branch_exists(branch) and (
                    authors := (await self._gitlab.branch_state(branch))[0]
                ):
                    return PublishOutcome(
                        status="skipped",
                        reason=f"closed MR !{mr.iid}: branch {branch} has commits by someone else "
                        f"({', '.join(authors)}); not deleted by --recreate: delete or rename it by hand first",
                        mr_url=mr.web_url,
                    )
                # A 404 means it is already gone (deleted with the MR, or by someone): same outcome.
                with contextlib.suppress(GitlabError):
                    await self._gitlab.delete_branch(branch)
                self._recreated.add(branch)
            mr = None

        exists = await self._gitlab.branch_exists(branch)
        authors, previous = await self._gitlab.branch_state(branch) if exists else ([], [])
        if authors:
            reason = f"branch {branch} has commits by someone else ({', '.join(authors)}); not overwritten"
            if mr is not None:
                await self._gitlab.note_once(mr, self._foreign_note(ticket.key, branch, authors))
            return PublishOutcome(status="skipped", reason=reason, mr_url=mr.web_url if mr is not None else None)

        test = test.model_copy(update={"target_path": _kept_path(test.target_path, previous)})
        stale = [path for path in previous if path != test.target_path]
        current = await self._gitlab.file_digest(test.target_path, branch) if exists else None
        up_to_date = exists and not stale and current == fingerprint(test.text)
        title = self._redact(render_mr_title(ticket))

        if mr is not None:
            if up_to_date:
                return PublishOutcome(
                    status="skipped",
                    reason=f"unchanged: MR !{mr.iid} already up to date",
                    mr_url=mr.web_url,
                    test_path=test.target_path,
                )
            await self._push(ticket.key, branch, exists, current, stale, test)
            owns_title = bot_owns_title(mr.title, mr.description)
            title_hash = title_digest(title) if owns_title else read_marker(mr.description).get("title")
            block = self._redact(
                render_mr_description(
                    ticket, spec, test, validation, result, jira_url=self._jira_url, title_hash=title_hash
                )
            )
            fields = {"description": merge_block(mr.description, block)}
            if owns_title:
                fields["title"] = title
            await self._gitlab.update_mr(mr, fields)
            return PublishOutcome(
                status="updated",
                reason=f"MR !{mr.iid} updated with a new commit",
                mr_url=mr.web_url,
                test_path=test.target_path,
            )

        if limit := await self._reserve_new():
            return PublishOutcome(status="skipped", reason=limit)
        description = self._redact(
            render_mr_description(
                ticket,
                spec,
                test,
                validation,
                result,
                jira_url=self._jira_url,
                title_hash=title_digest(title),
                run_id=self._gitlab.run_id,
            )
        )
        try:
            if not up_to_date:
                await self._push(ticket.key, branch, exists, current, stale, test)
            created, unknown = await self._gitlab.create_mr(branch, title, description)
        except BaseException:
            await self._release_new()
            raise
        self._gitlab.remember_mr(branch, created)
        reason = f"draft MR !{created.iid} created"
        if unknown:
            reason += f"; unknown GitLab user(s) not assigned: {', '.join(unknown)}"
        return PublishOutcome(status="created", reason=reason, mr_url=created.web_url, test_path=test.target_path)

    async def propose_removal(self, key: str, paths: list[str], reason: str) -> PublishOutcome:
        """A draft MR deleting the orphaned suites, on `<prefix><KEY>-removal`; once open, it stays as it is."""
        branch = f"{self._branch(key)}-removal"
        mr = await self._gitlab.find_mr(branch)
        if mr is not None and mr.state in ("opened", "locked", "merged"):
            return PublishOutcome(
                status="skipped", reason=f"removal MR !{mr.iid} already {mr.state}", mr_url=mr.web_url
            )
        if limit := await self._reserve_new():
            return PublishOutcome(status="skipped", reason=limit)
        title = f"Draft: [{key}] Remove tests of a ticket that went away"  # `key` passed valid_key
        try:
            if not await self._gitlab.branch_exists(branch):
                actions = [{"action": "delete", "file_path": path} for path in paths]
                await self._gitlab.commit(key, branch, actions, start=self._target, what="Remove")
            created, _ = await self._gitlab.create_mr(
                branch, title, self._redact(render_removal(key, paths, reason, run_id=self._gitlab.run_id))
            )
        except BaseException:
            await self._release_new()
            raise
        self._gitlab.remember_mr(branch, created)
        return PublishOutcome(
            status="created", reason=f"removal MR !{created.iid} opened ({reason})", mr_url=created.web_url
        )

    async def _push(
        self, key: str, branch: str, exists: bool, current: str | None, stale: list[str], test: GeneratedTest
    ) -> None:
        """One commit with the test: stale files of this ticket are moved or removed in the same commit.

        A missing branch is created from the target by the same call.
        """
        path, text = test.target_path, test.text
        if exists:
            if current is not None:
                actions = [{"action": "update", "file_path": path, "content": text}]
            elif stale:
                actions = [{"action": "move", "previous_path": stale[0], "file_path": path, "content": text}]
                stale = stale[1:]
            else:
                actions = [{"action": "create", "file_path": path, "content": text}]
            actions += [{"action": "delete", "file_path": old} for old in stale]
            await self._gitlab.commit(key, branch, actions, start=None, what=self._verb(key))
            return
        on_target = await self._gitlab.file_digest(path, self._target)
        action = "create" if on_target is None else "update"
        actions = [{"action": action, "file_path": path, "content": text}]
        await self._gitlab.commit(key, branch, actions, start=self._target, what=self._verb(key))

    def _verb(self, key: str) -> str:
        """The commit message's first word: a drifted ticket's commit updates its merged test."""
        return "Update" if key in self._update_keys else "Add"

    @staticmethod
    def _foreign_note(key: str, branch: str, authors: list[str]) -> str:
        people = ", ".join(code(a) for a in authors)
        return neutralise_quick_actions(
            f"jira2robot did not update this merge request: branch {code(branch)} has commits by someone "
            f"else ({people}), so the newly generated test for {code(key)} was not pushed over them.\n\n"
            "To start again from a fresh generation, close this merge request, delete the branch "
            "(jira2robot never deletes other people's commits) and run jira2robot with `--recreate`.\n\n"
            f"{FOREIGN_NOTE_MARKER}\n"
        )


def _kept_path(target: str, previous: list[str]) -> str:
    """Where the ticket's test goes on its branch: a file the branch already has keeps its path.

    The file name comes from the Jira summary, so a renamed summary must not rename the file
    under review; the validated text only depends on its folder (relative imports), so a file
    in the same folder keeps its name. A different folder means the test really moved.
    """
    if target in previous:
        return target
    folder = posixpath.dirname(target)
    same_folder = [path for path in previous if posixpath.dirname(path) == folder]
    return same_folder[0] if same_folder else target
