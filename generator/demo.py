"""`jira2robot demo`: the real flow on embedded data, with no network and no secrets.

The sample repo is copied to a work folder (and made a git repo so the change shows as a
diff), the sample tickets are served by the embedded MCP server on 127.0.0.1, the offline
planner/writer stand in for the LLM unless OPENAI_BASE_URL/OPENAI_API_KEY are set, and the
result is validated with `robot --dryrun` and written into the copy (`--publish local`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import anyio

from generator.logs import Console, redact_logging
from generator.settings import build_settings

DATA = Path(__file__).parent / "data"
MAX_DIFF_LINES = 200
DEMO_JQL = "labels = jira2robot ORDER BY key"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=jira2robot demo", "-c", "user.email=demo@jira2robot.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout


def prepare_workdir(workdir: Path) -> Path:
    """Copy the sample repo into workdir/shop-tests and commit it, so the demo's change is a diff."""
    repo = workdir / "shop-tests"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(DATA / "sample_repo", repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if shutil.which("git"):
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "sample repo")
    return repo


def run_demo(args: argparse.Namespace) -> int:
    from generator.cli import EXIT_FAILED, EXIT_OK, _cli_values
    from generator.run import run

    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="jira2robot-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cli = _cli_values(args)
    repo = prepare_workdir(workdir)
    cli["repo"] = str(repo)
    if not cli.get("jira_mcp_url"):
        cli.setdefault("tickets_dir", str(DATA / "tickets"))
        cli.setdefault("pages_dir", str(DATA / "confluence"))
    if not cli.get("keys"):
        cli.setdefault("jql", DEMO_JQL)
    cli.setdefault("output_dir", str(workdir / "generated"))
    # The demo reads only embedded data: CI variables of the surrounding job must not leak in.
    environ = {k: v for k, v in os.environ.items() if k.startswith(("OPENAI_", "JIRA2ROBOT_LLM"))}
    settings = build_settings(cli, environ, command="demo")
    console = Console(redactor=settings.redactor())
    redact_logging(console.redact)
    console.line(f"jira2robot demo: sample repo copied to {repo}")
    results = anyio.run(run, settings, console)

    console.line("")
    console.line(f"Report:  {settings.output_dir / 'report.json'}")
    console.line(f"JUnit:   {settings.output_dir / 'junit.xml'}")
    for r in results:
        if r.spec_path:
            console.line(f"{r.key}: spec {settings.output_dir / r.spec_path}")
        if r.test_path and r.status in ("created", "updated"):
            console.line(f"{r.key}: test {repo / r.test_path}")
    if shutil.which("git") and settings.publish == "local":
        _git(repo, "add", "-A", "--", settings.repo_config.tests_dir)
        stat = _git(repo, "diff", "--cached", "--stat")
        if stat:
            lines = _git(repo, "diff", "--cached").splitlines()
            shown = "\n".join(lines[:MAX_DIFF_LINES])
            more = f"\n[... {len(lines) - MAX_DIFF_LINES} more lines]" if len(lines) > MAX_DIFF_LINES else ""
            console.line(f"\nChanges in the sample repo (git diff --cached):\n{shown}{more}\n\n{stat.rstrip()}")
    options = " ".join(
        settings.repo_config.robot_options + [f"--pythonpath {p}" for p in settings.repo_config.pythonpath]
    )
    console.line(f"\nCheck by hand:  cd {repo} && python -m robot --dryrun {options} {settings.repo_config.tests_dir}")
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK
