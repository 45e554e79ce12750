"""jira2robot: Jira tickets to dryrun-proven Robot Framework tests, delivered as draft merge requests."""

__version__ = "0.1.0"
