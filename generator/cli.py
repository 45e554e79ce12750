"""Command line: `jira2robot run | validate | keywords | demo | merge-reports`.

Exit codes (a contract): 0 every ticket created/updated/skipped, 1 at least one ticket
failed (the others still finished), 2 usage or configuration error (nothing written);
stopped by a signal: 128 + its number (143 for SIGTERM, 130 for SIGINT), report written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import anyio

import generator
from generator.config.repo_file import ConfigError
from generator.config.settings import Settings, build_settings
from generator.models import TicketResult
from generator.outputs.logs import Console, redact_logging
from generator.run.interrupt import Interrupted

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_SIGINT = 130


class _Version(argparse.Action):
    """argparse's own `version` action needs the text when the parser is built; reading the
    installed metadata costs every command, so it is read only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"{parser.prog} {generator.__version__}")  # to stdout, as argparse's own action does
        parser.exit()


def _run_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tickets")
    g.add_argument("--keys", help="Jira keys, comma or space separated (env JIRA_KEYS)")
    g.add_argument("--jql", help="JQL backlog query (env JIRA_JQL)")
    g.add_argument("--max-tickets", type=int, help="cap on tickets selected by --jql (default 50)")
    g.add_argument("--tickets-dir", help="folder of exported tickets (JSON/YAML), served by an embedded MCP server")
    g.add_argument("--pages-dir", help="folder of Confluence pages (YAML/JSON) to serve with --tickets-dir")
    g = p.add_argument_group("repository")
    g.add_argument("--repo", help="test repository (default CI_PROJECT_DIR, else current folder)")
    _repo_flags(g)
    g.add_argument("--convention-doc", help="convention document (default doc/convention.md)")
    g.add_argument("--confluence-query", help="Confluence search text (default architecture)")
    g.add_argument("--robot-options", help='extra robot options, e.g. "-v env:api_b2b"')
    g = p.add_argument_group("generation")
    g.add_argument("--llm", choices=["openai", "offline"], help="LLM backend (env JIRA2ROBOT_LLM)")
    g.add_argument("--model-planner", help="planner model (env OPENAI_MODEL_PLANNER)")
    g.add_argument("--model-writer", help="writer model (env OPENAI_MODEL_WRITER)")
    g.add_argument("--max-attempts", type=int, help="writer attempts per ticket (default 3)")
    g.add_argument("--concurrency", type=int, help="tickets in flight (default 4)")
    g.add_argument("--llm-concurrency", type=int, help="LLM calls in flight (default 2)")
    g.add_argument("--max-tokens-per-ticket", type=int)
    g.add_argument("--max-tokens-per-run", type=int)
    g = p.add_argument_group("deadlines (seconds; see docs/limits.md)")
    g.add_argument("--llm-timeout", type=float, help="one LLM call, streaming included (default 300)")
    g.add_argument("--llm-connect-timeout", type=float, help="connecting to the LLM server (default 10)")
    g.add_argument("--llm-stall-timeout", type=float, help="silence between streamed chunks (default 45)")
    g.add_argument("--ticket-timeout", type=float, help="one ticket, gather to publish (default 900)")
    g.add_argument("--mcp-timeout", type=float, help="one MCP tool call (default 60)")
    g.add_argument("--breaker-threshold", type=int, help="consecutive endpoint failures before it counts as down (3)")
    g = p.add_argument_group("publishing")
    g.add_argument("--publish", choices=["gitlab", "local", "none"], help="default local (env JIRA2ROBOT_PUBLISH)")
    g.add_argument("--output-dir", help="report and generated files (env OUTPUT_DIR, default ./generated)")
    g.add_argument("--target-branch", help="MR target branch (default CI_DEFAULT_BRANCH, else main)")
    g.add_argument("--labels", help="MR labels, comma separated (default jira2robot)")
    g.add_argument("--branch-prefix", help="MR branch prefix (default jira2robot/)")
    g.add_argument("--max-open-mrs", type=int, help="default 10")
    g.add_argument("--max-new-mrs", type=int, help="new MRs per run, default 5")
    g.add_argument("--recreate", action="store_true", help="regenerate covered tickets, recreate closed MRs")
    g.add_argument("--dashboard", action="store_true", help="keep the 'jira2robot dashboard' issue current")
    g.add_argument(
        "--drift",
        action=argparse.BooleanOptionalAction,
        help="check covered tickets' criteria and propose update MRs (default: on for --jql runs; env JIRA2ROBOT_DRIFT)",
    )


def _repo_flags(g: argparse._ActionsContainer) -> None:
    """Flags every command reading a repo shares: where its suites are and which Python runs its code."""
    g.add_argument(
        "--tests-dir", help="tests folder inside the repo, '.' for the root (default: detected from the suites)"
    )
    g.add_argument(
        "--repo-python",
        help="the repo's own Python (venv with its RF and libraries) for dryrun and scan (env JIRA2ROBOT_REPO_PYTHON)",
    )
    g.add_argument("--scan-timeout", help="seconds one repo library may take to import (default 60)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jira2robot",
        description="Jira tickets to dryrun-proven Robot Framework tests, delivered as draft merge requests.",
        epilog="Exit codes: 0 every ticket created/updated/skipped, 1 a ticket failed, 2 usage or configuration "
        "error, 143/130 stopped by SIGTERM/SIGINT (report written, unfinished tickets 'interrupted').",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging of the clients")
    p.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True)
    _run_flags(sub.add_parser("run", help="the main job: tickets to dryrun-proven tests and draft MRs"))
    demo = sub.add_parser("demo", help="the whole flow on embedded sample data (no network, no secrets)")
    _run_flags(demo)
    demo.add_argument("--workdir", help="where to copy the sample repo (default: a new temporary folder)")
    v = sub.add_parser("validate", help="static checks + robot --dryrun of .robot files inside a repo")
    v.add_argument("files", nargs="+", help=".robot files (repo-relative or absolute paths inside the repo)")
    v.add_argument("--repo", default=None)
    _repo_flags(v)
    v.add_argument("--json", action="store_true", help="machine-readable diagnostics")
    k = sub.add_parser("keywords", help="the keyword inventory the writer sees")
    k.add_argument("--repo", default=None)
    _repo_flags(k)
    k.add_argument("--json", action="store_true")
    m = sub.add_parser("merge-reports", help="join the report.json files of parallel shards")
    m.add_argument("reports", nargs="+", help="report.json files, or report.jsonl journals of crashed runs")
    m.add_argument("-o", "--output-dir", default="generated")
    return p


def _exit_code(results: list[TicketResult]) -> int:
    """A run, a demo or merged reports fail the job when any ticket failed."""
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if v is not None and v is not False}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        for noisy in ("httpx", "httpx2", "mcp", "uvicorn", "openai"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("jira2robot").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "demo":
            from generator.demo import run_demo

            return _exit_code(run_demo(_cli_values(args)))
        if args.command == "validate":
            return _validate(args)
        if args.command == "keywords":
            return _keywords(args)
        return _merge(args)
    except ConfigError as exc:
        print(f"jira2robot: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as exc:
        print(f"jira2robot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # before the run installed its own handler: nothing started yet
        return EXIT_SIGINT


def _run(args: argparse.Namespace) -> int:
    from generator.run import run

    # Checked before the configuration too: a bot branch is not the place to report its problems.
    if _on_own_branch(args.branch_prefix or os.environ.get("JIRA2ROBOT_BRANCH_PREFIX") or "jira2robot/"):
        return EXIT_OK
    settings = build_settings(_cli_values(args), command="run")
    if _on_own_branch(settings.repo_config.merge_request.branch_prefix):
        return EXIT_OK
    console = Console(redactor=settings.redactor())
    redact_logging(console.redact)
    console.line(f"jira2robot: {settings.layout_note}")
    return _exit_code(anyio.run(run, settings, console))


def _on_own_branch(prefix: str) -> bool:
    """The pipeline runs on one of jira2robot's own branches: say so, and do nothing.

    With `push` among the pipeline sources the job would otherwise run on every branch the bot
    pushes, and with --recreate nothing else would stop it from feeding on its own pushes.
    """
    ref = os.environ.get("CI_COMMIT_REF_NAME", "")
    if not prefix or not ref.startswith(prefix):
        return False
    print(f"jira2robot: {ref} is one of jira2robot's own branches ({prefix}*): nothing to do.")
    return True


def _repo(args: argparse.Namespace) -> Settings:
    """The repo and its configuration, read and validated once, exactly as `run` sees them;
    the detected layout goes to stderr so `--json` output stays clean."""
    settings = build_settings(
        {k: getattr(args, k) for k in ("repo", "tests_dir", "repo_python", "scan_timeout")}, command=args.command
    )
    if settings.layout_note:
        print(f"jira2robot: {settings.layout_note}", file=sys.stderr)
    return settings


def _validate(args: argparse.Namespace) -> int:
    from generator.retrieval.inventory import repo_inventory, without_importer
    from generator.validate import forked_dryrun, validate

    settings = _repo(args)
    repo, cfg = settings.repo, settings.repo_config
    files: list[tuple[str, Path]] = []
    for raw in args.files:
        path = Path(raw)
        path = path.resolve() if path.is_absolute() or path.exists() else (repo / raw).resolve()
        if not path.is_file():
            raise ConfigError([f"{raw}: no such file"])
        if not path.is_relative_to(repo):
            raise ConfigError([f"{raw}: not inside the repo {repo}"])
        files.append((path.relative_to(repo).as_posix(), path))
    # A new file keeps the cache warm; the checks need the import allow-list only.
    inventory = repo_inventory(settings, exclude=[rel for rel, _ in files], imports_only=True)
    runner = forked_dryrun(settings.repo_python, settings.secrets(), cfg.dryrun_env)
    failed = False
    out: list[dict[str, Any]] = []
    for rel, path in files:
        # A file does not vouch for its own imports (the rest of the repo must use them), and a
        # file already in the repo is checked where it is: the repo root confines it, not tests_dir.
        result = anyio.run(
            lambda rel=rel, path=path: validate(
                path.read_text(encoding="utf-8"),
                rel,
                without_importer(inventory, rel),
                repo=repo,
                tests_dir=".",
                robot_options=cfg.robot_options,
                pythonpath=cfg.pythonpath,
                secrets=settings.secrets(),
                dryrun_env=cfg.dryrun_env,
                python=settings.repo_python,
                pool=runner,
            )
        )
        failed = failed or not result.ok
        out.append({"file": rel, **result.model_dump(mode="json")})
        if not args.json:
            print(f"{rel}: {'OK' if result.ok else 'FAILED'}")
            for d in result.diagnostics:
                line = d.line if d.line is not None else "-"
                print(f"  {d.severity:<7} {rel}:{line} [{d.source}] {d.message}")
    if args.json:
        print(json.dumps(out, indent=2))
    return EXIT_FAILED if failed else EXIT_OK


def _keywords(args: argparse.Namespace) -> int:
    from generator.retrieval.inventory import repo_inventory
    from generator.retrieval.listing import render_keywords, render_suite_local

    inventory = repo_inventory(_repo(args))
    if args.json:
        print(inventory.model_dump_json(indent=2))
    else:
        print(render_keywords(inventory.keywords))
        if inventory.variable_names:
            print("Variables (names only): " + " ".join(inventory.variable_names) + "\n")
        print(render_suite_local(inventory))
        print(
            f"\n{len(inventory.keywords)} keywords; imports in use: {len(inventory.libraries)} libraries, "
            f"{len(inventory.resources)} resources, {len(inventory.variables)} variable files; "
            f"{len(inventory.variable_names)} variables; suite-local: {len(inventory.suite_keywords)} keywords, "
            f"{sum(map(len, inventory.suite_variables.values()))} variables"
        )
        for problem in inventory.errors:
            print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    from generator.outputs.report import merge_reports

    paths = [Path(p) for p in args.reports]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError([f"no such report: {m}" for m in missing])
    results = merge_reports(paths, Path(args.output_dir))
    print(f"merged {len(paths)} report(s): {len(results)} ticket(s) -> {args.output_dir}/report.json")
    return _exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
