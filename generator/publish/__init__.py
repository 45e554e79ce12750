"""Publishing: where a validated test goes (draft MR, working tree, or only the output folder).

`local.py` writes into the working tree or the output folder. `gitlab.py` decides whether to
open, update or leave the draft MR, never over a person's commits (`history.py` reads who last
changed a suite); `gitlab_project.py` reads and writes the project's branches, files and MRs,
through `gitlab_api.py`, which bounds and retries each call. The texts a reviewer reads are
rendered by `describe.py` (MR), `drift_text.py` (drift and removal sections) and `dashboard.py`
(the dashboard issue), made GitLab-safe by `markdown.py`.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult

#: The author of every commit jira2robot makes: how its own commits are told from people's.
AUTHOR_NAME = "jira2robot"
AUTHOR_EMAIL = "jira2robot@noreply"


class PublishError(Exception):
    """A publishing failure for one ticket, with a message fit for the report (never a token)."""


class PublishOutcome(BaseModel):
    status: Literal["created", "updated", "skipped"]
    reason: str = ""
    mr_url: str | None = None
    test_path: str | None = None  # where the test was published, when not the planned target (kept path)


class Publisher(Protocol):
    async def covered(self, key: str) -> str | None:
        """Reason the ticket is already covered (checked before any LLM call), or None."""
        ...

    async def open_mr(self, key: str) -> str | None:
        """Reference of an open MR for the ticket (backlog runs skip those), or None."""
        ...

    async def needs_new_mr(self, key: str) -> bool:
        """Publishing the ticket would open a new MR, so it needs one of the run's slots."""
        ...

    def allow_update(self, keys: set[str]) -> None:
        """These tickets drifted: their merged MR no longer covers them, a new one may follow it."""
        ...

    async def propose_removal(self, key: str, paths: list[str], reason: str) -> PublishOutcome:
        """Open a draft MR deleting an orphaned ticket's suites (a person ticked its dashboard box)."""
        ...

    async def new_mr_capacity(self) -> tuple[int, str] | None:
        """New MRs this run may open and the skip reason past them; None when unlimited."""
        ...

    async def publish(
        self,
        ticket: Ticket,
        spec: TestSpec,
        test: GeneratedTest,
        validation: ValidationResult,
        result: TicketResult,
    ) -> PublishOutcome:
        """Deliver one validated test; `result` carries attempts and LLM usage for the description."""
        ...
