"""Benchmark: how much of the demo tickets the offline writer maps to existing keywords.

Runs the real pipeline (`jira2robot demo`: embedded MCP server, offline planner and writer,
`robot --dryrun`, local publish) on the bundled tickets QA-101..QA-104 against the sample repo,
then reads what it wrote: `report.json`, each ticket's `spec.json` and generated `.robot` file.
Prints per ticket the steps, mapped, placeholders and mapped share, the overall share, the
mapped steps whose keyword is not in the repo's inventory (must be 0: an invented keyword)
or comes from a library (the sample repo's convention: suites call resources only), and, for
review, every step with the Robot line written for it. With `--run` the generated suites are
also *executed* on the sample repo's in-memory shop: a dryrun only proves the keywords exist,
a passing run shows the steps do what the criteria say.

    python bench/bench_offline.py [--keys QA-101,QA-102] [--tickets-dir DIR] [--run]

Target (issue 3): at least 80 % of the steps mapped, 0 invented keywords.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robot.api import ExecutionResult, ResultVisitor, get_model
from robot.parsing.model.blocks import TestCase
from robot.parsing.model.statements import KeywordCall
from robot.result import TestCase as ResultTest
from robot.utils import normalize

from generator.models import TestSpec
from generator.retrieval.inventory import build_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import PLACEHOLDER_MESSAGE

DEMO_KEYS = ("QA-101", "QA-102", "QA-103", "QA-104")
TARGET_SHARE = 0.8


@dataclass
class TicketCount:
    key: str
    steps: int = 0
    mapped: int = 0
    verbatim: int = 0  # mapped steps written as the step text itself (RF resolves it as is)
    invented: list[str] = field(default_factory=list)
    library: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (step, rendered line)

    @property
    def placeholders(self) -> int:
        return self.steps - self.mapped


def run_demo(workdir: Path, keys: list[str], tickets_dir: Path | None) -> Path:
    """`jira2robot demo` in a subprocess, as a user runs it; returns the output folder."""
    command = [sys.executable, "-m", "generator", "demo", "--workdir", str(workdir), "--keys", ",".join(keys)]
    if tickets_dir is not None:
        command += ["--tickets-dir", str(tickets_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return workdir / "generated"


def calls_per_case(robot_file: Path) -> list[list[str]]:
    """The keyword calls of each test case as written (`Name    arg    arg`), read with RF's parser."""
    cases = []
    for section in get_model(robot_file).sections:
        for block in section.body:
            if isinstance(block, TestCase):
                calls = [n for n in block.body if isinstance(n, KeywordCall)]
                cases.append(["    ".join([c.keyword, *c.args]) for c in calls])
    return cases


def count_ticket(entry: dict, out: Path, matcher: KeywordMatcher) -> TicketCount:
    key = entry["key"]
    spec = TestSpec.model_validate_json((out / entry["spec_path"]).read_text(encoding="utf-8"))
    robot_file = out / key / Path(entry["test_path"]).name
    count = TicketCount(key=key)
    for case, calls in zip(spec.rf.test_cases, calls_per_case(robot_file), strict=True):
        for step, line in zip(case.steps, calls, strict=True):
            count.steps += 1
            count.lines.append((step, line))
            name = line.split("    ", 1)[0]
            if name == "Log" and line.split("    ")[1].startswith(PLACEHOLDER_MESSAGE):
                continue
            count.mapped += 1
            count.verbatim += normalize(line) == normalize(step)
            keyword = matcher.lookup(name)
            if keyword is None:
                count.invented.append(line)
            elif keyword.owner_kind == "library":
                count.library.append(line)
    if (count.steps, count.mapped) != (entry["steps_total"], entry["steps_mapped"]):
        raise SystemExit(f"{key}: file has {count.mapped}/{count.steps} mapped, report.json says "
                         f"{entry['steps_mapped']}/{entry['steps_total']}")  # fmt: skip
    return count


def execute(repo: Path, test_paths: list[str], output: Path) -> list[str]:
    """A real `robot` run of the generated suites on the sample repo's in-memory shop: one
    line per test with its status, read back from the run's output.xml with RF's result API."""
    subprocess.run(
        [sys.executable, "-m", "robot", "-v", "ENV:demo", "--pythonpath", "libraries", "--output", str(output),
         "--log", "NONE", "--report", "NONE", "--console", "none", *test_paths],
        cwd=repo, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    lines: list[str] = []

    class Tests(ResultVisitor):
        def visit_test(self, test: ResultTest) -> None:
            message = f"  ({test.message})" if test.message else ""
            lines.append(f"{test.status:<4} {test.parent.name} / {test.name}{message}")

    ExecutionResult(str(output)).visit(Tests())
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default=",".join(DEMO_KEYS), help="tickets, comma separated")
    parser.add_argument("--tickets-dir", type=Path, help="another folder of tickets (default: the bundled ones)")
    parser.add_argument("--run", action="store_true", help="also execute the generated suites")
    ns = parser.parse_args()
    keys = [k.strip() for k in ns.keys.split(",") if k.strip()]

    with tempfile.TemporaryDirectory(prefix="jira2robot-bench-offline-") as tmp:
        workdir = Path(tmp)
        out = run_demo(workdir, keys, ns.tickets_dir)
        repo = workdir / "shop-tests"
        matcher = KeywordMatcher(build_inventory(repo, cache_dir=workdir / "cache"))
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        counts = [count_ticket(entry, out, matcher) for entry in report["tickets"]]

        for count in counts:
            print(f"\n== {count.key}")
            for step, line in count.lines:
                mark = "  " if not line.startswith("Log    " + PLACEHOLDER_MESSAGE) else "--"
                print(f"{mark} {step}\n      -> {line}")

        print(f"\n{'ticket':<8} {'steps':>5} {'mapped':>6} {'placeholder':>11} {'share':>6} {'verbatim':>8}")
        for c in counts:
            share = c.mapped / max(c.steps, 1)
            print(f"{c.key:<8} {c.steps:>5} {c.mapped:>6} {c.placeholders:>11} {share:>6.0%} {c.verbatim:>8}")
        steps = sum(c.steps for c in counts)
        mapped = sum(c.mapped for c in counts)
        share = mapped / max(steps, 1)
        verbatim = sum(c.verbatim for c in counts)
        print(f"{'overall':<8} {steps:>5} {mapped:>6} {steps - mapped:>11} {share:>6.0%} {verbatim:>8}")
        print("(verbatim: mapped steps whose own text is the call, i.e. the step already names the keyword)")
        invented = [line for c in counts for line in c.invented]
        library = [line for c in counts for line in c.library]
        print(f"\nmapped steps calling a keyword not in the inventory: {len(invented)}")
        for line in invented:
            print(f"   {line}")
        print(f"mapped steps calling a library keyword directly:      {len(library)}")
        for line in library:
            print(f"   {line}")
        print(f"target: >= {TARGET_SHARE:.0%} mapped and 0 invented -> "
              f"{'met' if share >= TARGET_SHARE and not invented else 'NOT met'}")  # fmt: skip

        if ns.run:
            paths = [e["test_path"] for e in report["tickets"] if e.get("test_path")]
            print("\nreal run of the generated suites (robot -v ENV:demo):")
            lines = execute(repo, paths, workdir / "output.xml")
            print("\n".join(lines))
            print(f"{sum(ln.startswith('PASS') for ln in lines)}/{len(lines)} tests passed")


if __name__ == "__main__":
    main()
