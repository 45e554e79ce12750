"""Benchmark: what requirement-drift detection costs a backlog of covered tickets.

The repo: `bench_startup`'s 1,000 API suites (over `make_repo`'s 1,000 resources), each covering
one ticket API-<n> and stamped with its provenance (`Jira Criterion` metadata, `ac:` tags) as
jira2robot writes it. The tickets: 1,000 files served by the embedded stand-in as a *remote* MCP
server (JIRA_MCP_URL), each with the criteria its suite records. Every run is a real subprocess
(`python -m generator run --jql 'project = API' --max-tickets 1000 --llm offline --publish none`)
with a warm cache, whole-process wall time:

- plain covered run: `--no-drift` (the run before this feature: a suite-index lookup per ticket);
- drift detection, nothing changed: one `jira_get_issue` per ticket, no LLM, nothing written;
- drift detection, 10 tickets changed: the same, plus those 10 updated (offline planner/writer,
  dryrun of each merged suite);
- only those 10 tickets, keyed with `--drift`: the updates' own cost, so that the detection share of
  the run above is its time minus this one's (start-up counted once).

Prints numbers, asserts none.

    python bench/bench_drift.py [--tickets 1000] [--changed 10] [--repetitions 3]
"""

from __future__ import annotations

import argparse
import json
import os
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
from make_repo import make_repo

from generator.gather.criteria import case_criteria, fingerprints
from generator.standin.files import DEMO_PAGES_DIR
from generator.standin.server import ServedAtlassian
from generator.write.provenance import stamp

ROOT = Path(__file__).resolve().parents[1]


def criteria(n: int, *, changed: bool = False) -> list[str]:
    first = f"the API-{n} request with a valid payload succeeds"
    return [first + (" and returns its id" if changed else ""), f"the API-{n} request without a token is refused"]


def stamp_suites(repo: Path, keys: list[str]) -> None:
    """Give each suite its provenance, as jira2robot writes it: case i covers criterion i."""
    for path in sorted(repo.glob("tests/api/*/*.robot")):
        text = path.read_text(encoding="utf-8")
        key = next(k for k in keys if f"[Tags]    {k}    " in text)
        found = fingerprints(criteria(int(key.split("-")[1])))
        covers = {name: [fp] for name, fp in zip(case_criteria(text), found, strict=True)}
        path.write_text(stamp(text, key, found, covers), encoding="utf-8")


def write_tickets(folder: Path, keys: list[str], changed: set[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        n = int(key.split("-")[1])
        data = {
            "key": key,
            "summary": f"API scenario {n}",
            "description": "API checks.",
            "acceptance_criteria": "\n".join(f"* {c}" for c in criteria(n, changed=key in changed)),
        }
        (folder / f"{key}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def run(repo: Path, out: Path, env: dict[str, str], *flags: str) -> tuple[float, dict[str, int]]:
    """One whole `jira2robot run` (the JQL backlog unless `flags` name keys); wall time and the counts."""
    selection = [] if "--keys" in flags else ["--jql", "project = API", "--max-tickets", "100000"]
    command = [sys.executable, "-m", "generator", "run", *selection]
    command += ["--llm", "offline", "--publish", "none", "--repo", str(repo), "--output-dir", str(out), *flags]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    if done.returncode != 0:
        failed = [f"{t['key']}: {t['reason']}" for t in report["tickets"] if t["status"] == "failed"]
        raise SystemExit(f"run failed ({done.returncode}):\n" + "\n".join(failed[:10]) + done.stderr[-2000:])
    summary = report["summary"]
    return seconds, {k: summary[k] for k in ("tickets", "skipped", "drifted", "failed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=3)
    ns = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jira2robot-drift-") as tmp:
        base = Path(tmp)
        repo = make_repo(base / "repo", ns.resources, 5)
        keys = add_api_suites(repo, ns.tickets, ns.resources, 5)
        stamp_suites(repo, keys)
        step = max(len(keys) // max(ns.changed, 1), 1)
        changed = set(keys[::step][: ns.changed])
        write_tickets(base / "same", keys, set())
        write_tickets(base / "changed", keys, changed)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_"))}
        env["XDG_CACHE_HOME"] = str(base / "cache")
        rows: dict[str, list[float]] = {}
        counts: dict[str, dict[str, int]] = {}
        for label, tickets, flags in (
            ("plain covered run (--no-drift)", "same", ("--no-drift",)),
            ("drift detection, nothing changed", "same", ()),
            (f"drift detection, {len(changed)} changed and updated", "changed", ()),
            # What the updates cost on their own (generation, dryrun, robocop), not detection:
            (
                f"only the {len(changed)} changed tickets (--keys --drift)",
                "changed",
                ("--keys", ",".join(changed), "--drift"),
            ),
        ):
            with ServedAtlassian(base / tickets, DEMO_PAGES_DIR) as served:
                env["JIRA_MCP_URL"] = served.url
                run(repo, base / "warm", env, *flags)  # caches (suite index, inventory) warm, as in CI with the cache
                for i in range(ns.repetitions):
                    seconds, counts[label] = run(repo, base / f"out-{i}", env, *flags)
                    rows.setdefault(label, []).append(seconds)

    med = statistics.median
    plain = med(rows["plain covered run (--no-drift)"])
    print(f"\n{ns.tickets} covered tickets; median of {ns.repetitions} (load average {os.getloadavg()[0]:.2f})\n")
    print(f"{'run (whole process)':<48} {'seconds':>8} {'vs plain':>9}  report")
    for label, seconds in rows.items():
        print(f"{label:<48} {med(seconds):8.2f} {med(seconds) - plain:+9.2f}  {counts[label]}")


if __name__ == "__main__":
    main()
