"""Run-level circuit breakers: a dead endpoint stops new tickets instead of charging each its timeouts.

Without them a hung LLM server costs every ticket its full retry ladder (about 15 minutes), one
after another: hours for a backlog. A breaker per endpoint (LLM, MCP, GitLab) counts consecutive
connection failures and timeouts; once it trips, tickets not started yet end `skipped` with the
endpoint and its last error, calls already in flight give up instead of retrying, and the job ends
in minutes. Any success closes the breaker again (the endpoint is evidently back).

A job is a batch, not a long-lived service, so there is no timed half-open probe: the next
pipeline run is the probe. That is also why no library is used here: `purgatory` and `aiobreaker`
wrap each call and recover on a timer, with message buses and storage backends; what a run needs
is a counter per endpoint that tickets consult before they start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from generator.clients.mcp.client import McpConnection, McpError

log = logging.getLogger("jira2robot.breaker")

#: Causes that mean "the endpoint did not answer", as opposed to an answer we did not like.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    OSError,  # ConnectionError, and requests' RequestException (python-gitlab) is an OSError too
    httpx2.TransportError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


class EndpointDown(Exception):
    """A ticket was not started because an endpoint it needs is down (it ends `skipped`)."""


@dataclass
class Breaker:
    """Consecutive transport failures of one endpoint, and the last one's message.

    Streaks are kept per ``part`` of the endpoint (an MCP tool name): one MCP server fronts
    both Jira and Confluence, and Jira answering must not hide that every Confluence search
    times out. The endpoint counts as down when any part's streak reaches the threshold.
    """

    endpoint: str
    threshold: int = 3
    last_error: str = ""
    streaks: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return max(self.streaks.values(), default=0)

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    @property
    def reason(self) -> str:
        return (
            f"{self.endpoint} endpoint unavailable ({self.failures} consecutive connection failures or timeouts; "
            f"last: {self.last_error})"
        )

    def failure(self, error: str, part: str = "") -> None:
        was_open = self.open
        self.streaks[part] = self.streaks.get(part, 0) + 1
        self.last_error = error
        if self.open and not was_open:
            log.warning("%s: no new ticket will start", self.reason)

    def success(self, part: str = "") -> None:
        self.streaks.pop(part, None)

    def check(self) -> None:
        """Before starting work that needs this endpoint."""
        if self.open:
            raise EndpointDown(self.reason)


@dataclass
class Breakers:
    """The run's breakers, one per endpoint kind."""

    threshold: int = 3
    llm: Breaker = field(init=False)
    mcp: Breaker = field(init=False)
    gitlab: Breaker = field(init=False)

    def __post_init__(self) -> None:
        self.llm = Breaker("LLM", self.threshold)
        self.mcp = Breaker("MCP", self.threshold)
        self.gitlab = Breaker("GitLab", self.threshold)

    def check(self, *, llm: bool, gitlab: bool) -> None:
        """Before a ticket starts: every endpoint it needs must be up (MCP always is needed)."""
        for breaker, needed in ((self.mcp, True), (self.llm, llm), (self.gitlab, gitlab)):
            if needed:
                breaker.check()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from or during (even `from None`), and group members."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def is_transport_failure(exc: BaseException) -> bool:
    """True when the endpoint did not answer (refused, reset, timed out), not when it answered badly."""
    # Imported here: the MCP SDK loads with the first connection (`McpConnection`), not with the CLI.
    from mcp.shared.exceptions import MCPError
    from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

    for cause in _chain(exc):
        if isinstance(cause, _TRANSPORT_ERRORS):
            return True
        # The MCP SDK reports its own request timeout and a lost connection as JSON-RPC errors.
        if isinstance(cause, MCPError) and cause.code in (REQUEST_TIMEOUT, CONNECTION_CLOSED):
            return True
    return False


class GuardedMcp(McpConnection):
    """An MCP connection whose calls feed the run's MCP breaker, and fail at once while it is open.

    Counting where the call happens (as the LLM client does) sees every timeout once, and a
    call that queued behind a hung one (the shared Confluence search) gives up instead of
    waiting out its own timeout.
    """

    def __init__(self, url: str, *, breaker: Breaker, **options: Any) -> None:
        super().__init__(url, **options)
        self.breaker = breaker

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        if self.breaker.open:
            raise McpError(self.breaker.reason)
        try:
            result = await super().call(tool, arguments)
        except McpError as exc:
            if is_transport_failure(exc):
                self.breaker.failure(str(exc), part=tool)
            raise
        self.breaker.success(part=tool)
        return result
