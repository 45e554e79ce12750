"""`--publish local` (write into the repo working tree) and `--publish none` (output folder only).

The working tree is the user's: an existing file is replaced only when git says it has no
uncommitted changes (edited, staged or never committed), so `--recreate` can never destroy
work that exists nowhere else. Outside a git work tree nothing tells us, so an existing
file is never replaced there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult
from generator.publish import PublishOutcome
from generator.safety.sandbox import scrubbed_env
from generator.validate import safe_target_path

# Edited, staged and untracked files all count; a repo's fsmonitor hook is not run.
_GIT_STATUS = ("git", "-c", "core.fsmonitor=false", "status", "--porcelain", "--untracked-files=all", "--")


class LocalPublisher:
    def __init__(self, repo: Path, tests_dir: str, *, write_repo: bool):
        self.repo = repo.resolve()
        self.tests_dir = tests_dir
        self.write_repo = write_repo

    async def covered(self, key: str) -> str | None:
        return None

    async def open_mr(self, key: str) -> str | None:
        return None

    async def needs_new_mr(self, key: str) -> bool:
        return False

    def allow_update(self, keys: set[str]) -> None:
        """The working tree has no MRs: a drifted suite is rewritten like any file (git guards it)."""

    async def propose_removal(self, key: str, paths: list[str], reason: str) -> PublishOutcome:
        """Removal is only ever a reviewed MR (the dashboard's box): the working tree is never pruned."""
        return PublishOutcome(status="skipped", reason=f"{reason}; removal is proposed only as a GitLab MR")

    async def new_mr_capacity(self) -> tuple[int, str] | None:
        return None

    async def publish(
        self,
        ticket: Ticket,
        spec: TestSpec,
        test: GeneratedTest,
        validation: ValidationResult,
        result: TicketResult,
    ) -> PublishOutcome:
        if not self.write_repo:
            return PublishOutcome(status="created", reason="written to the output folder only (--publish none)")
        # Checked again at the write boundary: nothing reaches the disk outside the tests folder.
        relative = safe_target_path(test.target_path, self.tests_dir)
        path = (self.repo / relative).resolve()
        if not path.is_relative_to((self.repo / self.tests_dir).resolve()):
            raise ValueError(f"refusing to write {relative}: it resolves outside {self.tests_dir}/")
        target = anyio.Path(path)
        if await target.is_file():
            if await target.read_text(encoding="utf-8") == test.text:
                return PublishOutcome(status="skipped", reason=f"unchanged: {relative} is already up to date")
            if problem := await anyio.to_thread.run_sync(self._uncommitted, path):
                return PublishOutcome(status="skipped", reason=f"{relative} not overwritten: {problem}")
            await target.write_text(test.text, encoding="utf-8")
            return PublishOutcome(status="updated", reason=f"updated {relative} in the working tree")
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_text(test.text, encoding="utf-8")
        return PublishOutcome(status="created", reason=f"wrote {relative} in the working tree")

    def _uncommitted(self, path: Path) -> str | None:
        """Why `path` must not be overwritten (git reports changes, or no git at all), else None."""
        try:
            status = subprocess.run(
                [*_GIT_STATUS, str(path)],
                cwd=self.repo,
                env=scrubbed_env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot ask git whether it has uncommitted changes ({type(exc).__name__})"
        if status.returncode != 0:
            return "the repo is not a git work tree, so its changes cannot be told from committed work"
        if status.stdout.strip():
            return "it has uncommitted changes (commit or discard them, then re-run)"
        return None
