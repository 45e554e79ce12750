"""Token budgets: per ticket and per run, charged after every LLM call.

A ticket over its own cap fails with that reason; once the run's cap is spent, tickets not
yet started are skipped (with the reason) and nothing already done is lost.
"""

from __future__ import annotations

from generator.models import LLMUsage


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
