"""Budgets: tokens per ticket and per run, and characters of untrusted text per prompt.

A ticket over its own cap fails with that reason; once the run's cap is spent, tickets not
yet started are skipped (with the reason) and nothing already done is lost. Ticket and page
text is capped before it reaches a prompt: a 5 MB description would otherwise be sent whole
(and paid for, or rejected by the server) on every call; the cut is said in the prompt and
listed in the report, so nobody mistakes a partial ticket for the whole one.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.models import ConfluencePage, LLMUsage, Ticket


class BudgetExceeded(Exception):
    """Raised by `charge`/`check`; the message is the ticket's failure reason."""


class RunBudgetSpent(BudgetExceeded):
    """The run's cap is spent: the ticket is skipped (not its fault), not failed."""


class RunBudget:
    def __init__(self, max_tokens: int | None):
        self.max_tokens = max_tokens
        self.used = 0

    @property
    def exhausted(self) -> bool:
        return self.max_tokens is not None and self.used >= self.max_tokens

    def reason(self) -> str:
        return f"run token budget spent ({self.used} of max_tokens_per_run={self.max_tokens})"


class TicketBudget:
    """Usage of one ticket; the same object ends up in the report as `llm`."""

    def __init__(self, run: RunBudget, max_tokens: int | None):
        self.run = run
        self.max_tokens = max_tokens
        self.usage = LLMUsage()

    def check(self) -> None:
        """Before an LLM call: refuse to start one the run can no longer pay for."""
        if self.run.exhausted:
            raise RunBudgetSpent(self.run.reason())

    def charge(self, usage: LLMUsage) -> None:
        self.usage.add(usage)
        self.run.used += usage.total_tokens
        if self.max_tokens is not None and self.usage.total_tokens > self.max_tokens:
            raise BudgetExceeded(
                f"ticket over its token budget ({self.usage.total_tokens} > max_tokens_per_ticket={self.max_tokens})"
            )


def _note(kept: int, total: int) -> str:
    return f"[truncated: {kept} of {total} characters]"


def cap_text(text: str, limit: int) -> tuple[str, str | None]:
    """``text`` cut to ``limit`` characters with a visible note; the note is also returned when cut."""
    if len(text) <= limit:
        return text, None
    note = _note(limit, len(text))
    return f"{text[:limit]}\n{note}", note


def cap_lines(lines: Sequence[str], limit: int) -> tuple[list[str], str | None]:
    """Lines kept until ``limit`` characters in all, the crossing one cut, then a note line."""
    total = sum(len(line) for line in lines)
    if total <= limit:
        return list(lines), None
    kept: list[str] = []
    room = limit
    for line in lines:
        if room <= 0:
            break
        kept.append(line[:room])
        room -= len(kept[-1])
    note = _note(limit, total)
    return [*kept, note], note


def cap_context(
    ticket: Ticket, pages: Sequence[ConfluencePage], *, ticket_chars: int, page_chars: int
) -> tuple[Ticket, list[ConfluencePage], list[str]]:
    """The ticket and pages as the prompts may see them, plus one report line per cut field."""
    notes: list[str] = []
    description, note = cap_text(ticket.description, ticket_chars)
    notes += [f"description {note}"] if note else []
    criteria, note = cap_lines(ticket.acceptance_criteria, ticket_chars)
    notes += [f"acceptance criteria {note}"] if note else []
    comments, note = cap_lines(ticket.comments, ticket_chars)
    notes += [f"comments {note}"] if note else []
    capped_pages = []
    for page in pages:
        body, note = cap_text(page.body, page_chars)
        notes += [f"Confluence page {page.page_id} {note}"] if note else []
        capped_pages.append(page.model_copy(update={"body": body}))
    capped = ticket.model_copy(
        update={"description": description, "acceptance_criteria": criteria, "comments": comments}
    )
    return capped, capped_pages, notes
