"""jira2robot: Jira tickets to dryrun-proven Robot Framework tests, delivered as draft merge requests."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed metadata only when asked: `importlib.metadata`
    costs every command tens of milliseconds, and only `--version` and the MR footer need it."""
    if name != "__version__":
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:  # one source of truth: pyproject.toml, stamped with the git tag by the release pipeline
        return version("jira2robot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
