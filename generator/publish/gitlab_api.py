"""The GitLab REST client under the publisher: python-gitlab, bounded, retried, with actionable errors.

python-gitlab is synchronous; every call runs in a worker thread under a capacity limiter so a
run with many tickets keeps a bounded number of requests in flight. Transient failures are
retried at the HTTP transport with a configurable backoff, and every error becomes a
`PublishError` whose message names the fix (token, scope, role, project) and never the token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import gitlab
import requests
from gitlab.exceptions import GitlabError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from generator.publish import PublishError

# Status codes GitLab (or its load balancer) returns for transient failures.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, *range(520, 531)})
_MESSAGE_MAX = 300

T = TypeVar("T")


def message(exc: GitlabError) -> str:
    """GitLab's error text on one line, bounded: fit for a report reason."""
    text = exc.error_message if isinstance(exc.error_message, str) else repr(exc.error_message)
    text = " ".join(text.split())
    return text[:_MESSAGE_MAX] or "(no message)"


def retrying_session(retries: int, base_delay: float) -> requests.Session:
    """HTTP session that retries transient failures with exponential backoff.

    python-gitlab's own retry (`retry_transient_errors`) has a fixed 0.1 s·2ⁿ backoff and a
    per-request `max_retries` defaulting to 10; retrying at the transport instead makes both
    the count and the delay configurable per run. GitLab's 429 handling stays with
    python-gitlab, which honours `Retry-After`. POSTs are retried too: a retried commit or
    MR creation that had in fact succeeded comes back as a conflict, which the publisher
    resolves by re-reading the state (an MR carrying its run id is its own: `created`).
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=None,
        status_forcelist=TRANSIENT_STATUSES,
        backoff_factor=base_delay,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class GitLabApi:
    """One project of one GitLab, as the publisher and the dashboard talk to it."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        project: str,
        redact: Callable[[str], str],
        limiter: anyio.CapacityLimiter,
        retries: int,
        retry_base_delay: float,
        timeout: float,
    ) -> None:
        self._url = url.rstrip("/")
        self._redact = redact  # every error message passes it: a token never reaches a report
        self._project_ref = project
        self._limiter = limiter
        self._retries = retries
        self.gl = gitlab.Gitlab(
            self._url,
            private_token=token,
            timeout=timeout,
            retry_transient_errors=False,
            session=retrying_session(retries, retry_base_delay),
        )
        self.project = self.gl.projects.get(project, lazy=True)

    def error(self, doing: str, exc: GitlabError) -> PublishError:
        """Turn a python-gitlab error into the message a QA engineer can act on."""
        status = exc.response_code
        detail = message(exc)
        if status == 401:
            text = f"GITLAB_TOKEN rejected (401): check the project access token (while {doing})"
        elif status == 403:
            text = f"GitLab refused {doing} (403): token lacks api scope or Developer role on {self._project_ref}"
        elif status == 404 and "project not found" in detail.lower():
            text = f"project {self._project_ref} not found or not visible to the token"
        elif status in TRANSIENT_STATUSES:
            text = f"GitLab failed {doing}: HTTP {status} after {self._retries} retries ({detail})"
        else:
            text = f"GitLab error {doing}: HTTP {status} ({detail})"
        return PublishError(self._redact(text))

    async def call(
        self, doing: str, fn: Callable[..., T], *args: Any, expect: frozenset[int] = frozenset(), **kwargs: Any
    ) -> T:
        """Run one python-gitlab call in a thread; errors become PublishError unless expected.

        `expect` lists status codes the caller handles itself (404 for "absent", 409 for
        "already exists"); a 404 saying the *project* is missing is never expected.
        """
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._limiter)
        except GitlabError as exc:
            project_missing = exc.response_code == 404 and "project not found" in message(exc).lower()
            if exc.response_code in expect and not project_missing:
                raise
            raise self.error(doing, exc) from None
        except requests.RequestException as exc:
            raise PublishError(
                self._redact(f"cannot reach GitLab at {self._url} while {doing}: {type(exc).__name__}")
            ) from None
