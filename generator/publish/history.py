"""Which test cases of a suite a person changed since jira2robot last committed it.

An update MR rewrites the test cases whose criteria changed; a case a reviewer edited after the
bot wrote it is the reviewer's work, so it is kept as it is (the MR says so) and the new case goes
beside it. The bot's version is the last commit of the file authored by jira2robot in the repo's
own git history (the CI checkout); without one (shallow clone, no git) nothing can be told and
every case counts as the bot's, as before this check. Cases are compared by the lines Robot
Framework's model gives them, never by re-parsing the text.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from robot.api import get_model
from robot.api.parsing import TestCase
from robot.parsing.model.blocks import TestCaseSection

from generator.publish import AUTHOR_EMAIL
from generator.safety.sandbox import scrubbed_env


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", *args],
            cwd=repo,
            env=scrubbed_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def bot_version(repo: Path, path: str) -> str | None:
    """The file as jira2robot last committed it, None when the history does not tell."""
    commit = (_git(repo, "log", "-1", "--format=%H", f"--author={AUTHOR_EMAIL}", "--", path) or "").strip()
    return _git(repo, "show", f"{commit}:{path}") if commit else None


def case_texts(text: str) -> dict[str, str]:
    """Test case name → its lines as written (trailing blank lines left out)."""
    lines = text.splitlines()
    model = get_model(text)
    cases = [c for s in model.sections if isinstance(s, TestCaseSection) for c in s.body if isinstance(c, TestCase)]
    return {c.name: "\n".join(lines[c.lineno - 1 : c.end_lineno]).rstrip() for c in cases}


def edited_by_people(repo: Path, path: str, current: str, names: list[str]) -> list[str]:
    """Of `names`, the cases whose lines differ from jira2robot's last commit of the file."""
    if not names or (bot := bot_version(repo, path)) is None:
        return []
    then, now = case_texts(bot), case_texts(current)
    return [name for name in names if name in now and then.get(name) != now[name]]
