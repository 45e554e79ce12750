"""jira2robot: Jira tickets to dryrun-proven Robot Framework tests, delivered as draft merge requests."""

from importlib.metadata import PackageNotFoundError, version

try:  # one source of truth: pyproject.toml, stamped with the git tag by the release pipeline
    __version__ = version("jira2robot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
