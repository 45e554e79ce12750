"""Retrying LLM calls: which failures are worth another attempt, how long the server asks to wait,
and the pause every caller shares after a rate limit."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import anyio

RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Statuses a gateway answers when the model behind it is down: they count for the breaker.
UNAVAILABLE_STATUS = frozenset({502, 503, 504})
_MAX_RETRY_AFTER = 120.0


class Backoff:
    """Run-wide pause shared by all tickets: a 429 anywhere slows every caller.

    A rate limit is a property of the server, not of the call that happened to hit it, so
    every ticket's next request waits until the pause is over instead of each discovering the
    limit on its own.
    """

    def __init__(self) -> None:
        self._until = 0.0

    @property
    def paused_until(self) -> float:
        """`time.monotonic()` value until which calls wait (0 when never penalized)."""
        return self._until

    @property
    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self) -> None:
        """Sleep until the shared pause is over; re-checks because it may be extended meanwhile."""
        while (remaining := self.remaining) > 0:
            await anyio.sleep(remaining)

    def penalize(self, seconds: float) -> None:
        """Extend the pause to now + seconds, never shortening a longer pause already set."""
        self._until = max(self._until, time.monotonic() + max(0.0, seconds))


class Retry(Exception):
    """A failed attempt worth retrying, with the delay the server or the backoff asks for.

    ``unavailable`` marks failures that say the endpoint is not answering (connection refused
    or lost, timeouts, a gateway's 502/503/504): only those count for the breaker.
    """

    def __init__(
        self, what: str, delay: float | None = None, status: int | None = None, *, unavailable: bool = False
    ) -> None:
        super().__init__(what)
        self.what = what
        self.delay = delay
        self.status = status
        self.unavailable = unavailable


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date), capped."""
    value = headers.get("retry-after-ms")
    if value:
        with contextlib.suppress(ValueError):
            return min(max(float(value) / 1000, 0.0), _MAX_RETRY_AFTER)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
