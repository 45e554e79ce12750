"""`jira2robot demo`: the real flow on embedded data, with no network and no secrets.

The sample repo (`data/sample_repo`, beside the tickets and pages in `data/`) is copied to a
work folder (and made a git repo so the change shows as a diff), the sample tickets are served
by the embedded MCP server on 127.0.0.1, the offline planner/writer stand in for the LLM
unless OPENAI_BASE_URL/OPENAI_API_KEY are set, and the result is validated with
`robot --dryrun` and written into the copy (`--publish local`).

It ends with a short "what happened / what next" block (`closing`): a newcomer's next step is
to run the new tests and then to try the component on their own repository, and both need
to know where the files are, which `robot` to call, and why some tests end in Skip.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from generator.config.settings import Settings, build_settings
from generator.models import TicketResult
from generator.outputs.logs import Console, redact_logging

DATA = Path(__file__).parent / "data"
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


def robot_command() -> str:
    """The `robot` installed with jira2robot, by absolute path: it works from any shell, where
    `python -m robot` needs this very interpreter and a bare `robot` an activated virtualenv."""
    beside = Path(sys.executable).parent / "robot"
    if beside.is_file():
        return str(beside)
    return shutil.which("robot") or f"{shlex.quote(sys.executable)} -m robot"


LABELS = (
    "Step labels above: exact = a keyword of that name; embedded = a keyword whose name holds the\n"
    "step's values (embedded arguments); similar = the closest keyword by its words (check it);\n"
    "placeholder = no keyword fits: the step stays a comment and the test ends in Skip."
)


def closing(
    workdir: Path, temporary: bool, settings: Settings, results: list[TicketResult], stat: str, robot: str
) -> str:
    """The demo's last words: what happened, where it is, and the commands to go on with.

    A temporary work folder is kept (the commands above need it) and named, with how to remove it.
    """
    repo, out = settings.repo, settings.output_dir
    written = [r for r in results if r.test_path and r.status in ("created", "updated")]
    failed = [r.key for r in results if r.status == "failed"]
    skipped = sum(r.tests_incomplete for r in written)
    questions = sum(len(r.open_questions) for r in written)
    config = settings.repo_config
    options = [*config.robot_options, *(arg for p in config.pythonpath for arg in ("--pythonpath", p))]
    run = [*options, "--outputdir", str(workdir / "results"), *(r.test_path for r in written)]
    lines = [
        "── What happened " + "─" * 50,
        f"{len(results)} sample Jira ticket(s) became {len(written)} Robot Framework suite(s), written "
        f"by the {settings.llm} writer",
        "and each proven by `robot --dryrun` with the repo's own keywords."
        + (f" Failed: {', '.join(failed)} (see report.json)." if failed else ""),
        f"  Tests   {repo}/ (a git repo: the new files are staged)",
        f"  Specs   {out}/<KEY>/spec.json",
        f"  Report  {out / 'report.json'}, {out / 'junit.xml'}",
    ]
    if stat:
        lines += ["", stat.rstrip(), f"Full diff: git -C {repo} diff --cached"]
    if skipped:
        lines += [
            "",
            f"{skipped} test case(s) end in Skip: {questions} open question(s), steps no existing keyword implements.",
            "Each is a `# MISSING KEYWORD:` line in the file and in report.json `open_questions`: a reviewer",
            "writes the keyword or answers the question, then removes the Skip.",
        ]
    if settings.llm == "offline":
        lines += ["", LABELS]
    lines += ["", "── What next " + "─" * 54]
    if written:
        lines += [
            "Run the new tests for real, with the options the dryrun used:",
            f"  cd {repo} && {robot} {shlex.join(run)}",
            "  (the Robot Framework installed with jira2robot, by full path so it works in any shell: a bare",
            "  `robot` needs that virtualenv activated, and `python -m robot` that virtualenv's python)",
        ]
    lines.append('Use it in your test repo: README.md, "Use it in your test repo in 5 steps".')
    if temporary:
        lines.append(f"The demo's folder stays until you remove it: rm -rf {workdir}")
    return "\n".join(lines)


def run_demo(cli: dict[str, Any]) -> list[TicketResult]:
    """The demo's run, from the command line's values (`--workdir` and the run's own flags)."""
    from generator.run import run

    cli = dict(cli)
    temporary = not cli.get("workdir")
    workdir = Path(tempfile.mkdtemp(prefix="jira2robot-demo-")) if temporary else Path(cli["workdir"]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
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

    stat = ""
    if shutil.which("git") and settings.publish == "local":
        _git(repo, "add", "-A", "--", settings.repo_config.tests_dir)
        stat = _git(repo, "diff", "--cached", "--stat")
    console.line("")
    console.line(closing(workdir, temporary, settings, results, stat, robot_command()))
    return results
