"""`--publish local` (write into the repo working tree) and `--publish none` (output folder only)."""

from __future__ import annotations

from pathlib import Path

import anyio

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult
from generator.publish import PublishOutcome
from generator.validate import safe_target_path


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
            await target.write_text(test.text, encoding="utf-8")
            return PublishOutcome(status="updated", reason=f"updated {relative} in the working tree")
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_text(test.text, encoding="utf-8")
        return PublishOutcome(status="created", reason=f"wrote {relative} in the working tree")
