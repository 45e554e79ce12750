"""Benchmark: a warm `run --llm offline` on a 1,000-suite repo, for a covered and a new ticket,
and the first run after one suite file is added.

The repo is `bench_startup`'s: `make_repo`'s 1,000 resource files (5,000 keywords) plus 1,000
API suites, each tagged with one Jira key. Tickets come from a folder (`--tickets-dir`): the
covered `API-1` and a new `NEW-1` whose steps are the repo's own keywords in prose. Every
measurement is a whole `python -m generator run` process with the cache of the runs before it
(warm: one unmeasured run first). Targets (issue #20, 2-core machine): the new ticket <= 3x the
covered one; the first run after adding a file < 2 s. `--repo PATH:TESTS_DIR:KEY` measures a
repo fetched by hand instead (KEY: a tag one of its suites carries). Prints numbers, asserts none.

    python bench/bench_warm.py [--repetitions 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from bench_startup import add_api_suites
from make_repo import keyword_names, make_repo

ROOT = Path(__file__).resolve().parents[1]


def tickets(folder: Path, covered: str, names: list[str]) -> None:
    """The covered ticket and a new one whose criteria paraphrase three of the repo's keywords."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = [
        f'{prefix} {name[:1].lower()}{name[1:]} "id-7"'
        for prefix, name in zip(("Given", "When", "Then"), names, strict=True)
    ]
    for key, summary, criteria in (
        (covered, "Covered by an existing suite", ["Then nothing changes"]),
        ("NEW-1", "A new check of the back office", steps),
    ):
        ticket = {"key": key, "summary": summary, "description": "\n".join(criteria)}
        ticket["acceptance_criteria"] = "\n".join(criteria)
        (folder / f"{key}.yaml").write_text(yaml.safe_dump(ticket, sort_keys=False), encoding="utf-8")


def run(repo: Path, key: str, tickets_dir: Path, tests_dir: str, env: dict[str, str], out: Path) -> float:
    """Seconds of one whole `run --llm offline --publish none` process."""
    command = [sys.executable, "-m", "generator", "run", "--keys", key, "--llm", "offline", "--publish", "none"]
    command += ["--tickets-dir", str(tickets_dir), "--repo", str(repo), "--tests-dir", tests_dir]
    command += ["--output-dir", str(out), "--concurrency", "1"]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--repo", help="PATH:TESTS_DIR:KEY of a repo fetched by hand instead of the generated one")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jira2robot-warm-") as tmp:
        work = Path(tmp)
        names = [n for n in keyword_names(ns.resources * 5) if "${" not in n][:3]
        if ns.repo:
            path, tests_dir, covered = ns.repo.split(":")
            repo = work / "repo"
            shutil.copytree(path, repo, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        else:
            repo = make_repo(work / "repo", ns.resources, 5)
            covered = add_api_suites(repo, ns.suites, ns.resources, 5)[0]
            tests_dir = "tests"
        tickets(work / "tickets", covered, names)
        suites = sorted((repo / tests_dir).rglob("*.robot"))
        print(f"repo: {len(suites)} suites under {tests_dir}/")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_"))}
        env["XDG_CACHE_HOME"] = str(work / "cache")
        out = work / "out"
        for key in (covered, "NEW-1"):
            run(repo, key, work / "tickets", tests_dir, env, out)  # warm-up: fills the cache
        rows: dict[str, list[float]] = {"covered": [], "new": [], "added": [], "added_new": []}
        for i in range(ns.repetitions):
            rows["covered"].append(run(repo, covered, work / "tickets", tests_dir, env, out))
            rows["new"].append(run(repo, "NEW-1", work / "tickets", tests_dir, env, out))
            added = suites[i].with_name(f"added_{i}.robot")
            added.write_text(suites[i].read_text(encoding="utf-8").replace("*** Test Cases ***\n", "*** Test Cases ***\nAdded Case\n    Log    added\n", 1), encoding="utf-8")  # fmt: skip
            rows["added"].append(run(repo, covered, work / "tickets", tests_dir, env, out))
            added.write_text(added.read_text(encoding="utf-8") + "\n", encoding="utf-8")
            rows["added_new"].append(run(repo, "NEW-1", work / "tickets", tests_dir, env, out))
    med = {name: statistics.median(values) for name, values in rows.items()}
    print(f"\nmedian of {ns.repetitions} (load average {os.getloadavg()[0]:.2f} at the end)\n")
    print(f"{'measurement (whole process, warm cache)':<62} {'seconds':>8}  target")
    print(f"{'run --llm offline, a covered ticket':<62} {med['covered']:8.2f}")
    print(f"{'run --llm offline, a new ticket':<62} {med['new']:8.2f}  <= 3x covered")
    print(f"{'first run after adding one suite (covered ticket)':<62} {med['added']:8.2f}  < 2 s")
    print(f"{'first run after changing one suite (new ticket)':<62} {med['added_new']:8.2f}")
    print(f"{'new / covered':<62} {med['new'] / med['covered']:7.2f}x  <= 3x")


if __name__ == "__main__":
    main()
