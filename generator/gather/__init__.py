"""Gather: what a ticket's test is made from, read before any model is asked.

The ticket and its acceptance criteria from Jira (`jira.py`, `criteria.py`), Confluence pages
(`confluence.py`), the repo's suites indexed once per run with their test cases (`repo.py`,
`corpus.py`, cached by content in `cache.py`), and whether a covered ticket's criteria drifted
from what its suite records (`drift.py`).
"""
