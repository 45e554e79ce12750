"""Benchmark: start-up on a large repo, cold and warm cache; the run path's import; `validate`
of a new file against plain `robot --dryrun` of the same file.

The repo: `make_repo`'s 1,000 resource files (5,000 keywords) plus 1,000 suites shaped like an
API test suite (resource imports, suite setup, BDD steps calling the resources' keywords, one
Jira key tagged per suite), so every ticket asked for is already covered and the run's first
ticket decision needs no LLM. Everything is a real subprocess (`python -m generator ...`)
against the embedded stand-in served here on 127.0.0.1 as a *remote* MCP server (JIRA_MCP_URL),
with the cache in a temporary XDG_CACHE_HOME. Targets (issue #13, 2-core machine): warm < 1.0 s,
cold < 5 s, import < 0.8 s, validate warm <= 1.2x robot --dryrun. Prints numbers, asserts none.

    python bench/bench_startup.py [--suites 1000] [--resources 1000] [--repetitions 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from make_repo import NOUNS, keyword_names, make_repo

from generator.clients.mcp.client import McpConnection
from generator.models import TicketResult
from generator.outputs.report import ReportWriter
from generator.standin.files import DEMO_PAGES_DIR, DEMO_TICKETS_DIR
from generator.standin.server import ServedAtlassian
from generator.validate import dryrun, dryrun_pool

ROOT = Path(__file__).resolve().parents[1]


def add_api_suites(repo: Path, suites: int, resources: int, keywords_per_resource: int) -> list[str]:
    """`suites` suites under tests/api/<area>/, each covering one key API-<n>; returns the keys."""
    names = keyword_names(resources * keywords_per_resource)
    keys = []
    for s in range(suites):
        r = (s * 7) % resources
        chunk = [n for n in names[r * keywords_per_resource : (r + 1) * keywords_per_resource] if "${" not in n]
        folder = repo / "tests" / "api" / f"area_{s // 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        key = f"API-{s + 1}"
        keys.append(key)
        steps = "".join(
            f"    {'Given' if i == 0 else 'When'} {name}    id-{s}-{i}\n" for i, name in enumerate(chunk[:3])
        )
        (folder / f"{NOUNS[s % len(NOUNS)].lower().replace(' ', '_')}_{s:04d}.robot").write_text(
            "*** Settings ***\n"
            f"Documentation    API checks of resource {r}.\n"
            f"Resource    ../../../resources/domain_{r // 100:02d}/feature_{r:04d}.resource\n"
            "Library    Collections\n"
            "Suite Setup    Log    suite starts\n\n"
            "*** Test Cases ***\n"
            f"Api Scenario {s} Succeeds\n"
            f"    [Documentation]    Covers {key}.\n"
            f"    [Tags]    {key}    api\n" + steps + "\n"
            f"Api Scenario {s} Is Refused\n"
            f"    [Tags]    {key}    api    negative\n"
            "    Log    refused\n",
            encoding="utf-8",
        )
    return keys


def first_decision(repo: Path, key: str, env: dict[str, str], out: Path) -> tuple[float, float]:
    """Seconds from the process start to the ticket's decision line, and to the process's end."""
    command = [sys.executable, "-m", "generator", "run", "--keys", key, "--llm", "offline", "--publish", "none"]
    command += ["--repo", str(repo), "--output-dir", str(out), "--concurrency", "1"]
    started = time.perf_counter()
    decided = None
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if decided is None and "already covered" in line:
                decided = time.perf_counter() - started
    total = time.perf_counter() - started
    if decided is None:
        raise SystemExit(f"no decision for {key}: exit {process.returncode}")
    return decided, total


def import_seconds(env: dict[str, str]) -> float:
    code = "import time; t = time.perf_counter(); import generator.cli, generator.run; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def merge_seconds(folder: Path, shards: int, tickets: int, env: dict[str, str]) -> float:
    """`jira2robot merge-reports` over `shards` reports holding `tickets` tickets in all."""
    paths = []
    for shard in range(1, shards + 1):
        writer = ReportWriter(folder / f"shard-{shard}")
        for i in range(shard, tickets + 1, shards):
            writer.add(TicketResult(key=f"API-{i}", status="skipped", reason="already covered", shard=shard))
        writer.flush()
        paths.append(str(folder / f"shard-{shard}" / "report.json"))
    return timed([sys.executable, "-m", "generator", "merge-reports", *paths, "-o", str(folder / "merged")], ROOT, env)


def dryrun_attempts(repo: Path, rel: str, attempts: int) -> tuple[float, float, float]:
    """Seconds per attempt of `generator.validate.dryrun`: fresh process, warm worker, and the
    warm worker's overhead beyond Robot Framework's own work (as the worker times `run_cli`)."""
    text = (repo / rel).read_text(encoding="utf-8")
    options = {"repo": repo, "pythonpath": ["libraries", "resources", "."]}

    async def measure() -> tuple[float, float, float]:
        started = time.perf_counter()
        for _ in range(attempts):
            await dryrun(text, rel, **options)
        fresh = (time.perf_counter() - started) / attempts
        pool = dryrun_pool(None, [], [])
        try:
            await dryrun(text, rel, pool=pool, **options)  # the worker's start, paid once per run
            pool.robot_seconds = 0.0
            started = time.perf_counter()
            for _ in range(attempts):
                await dryrun(text, rel, pool=pool, **options)
            warm = (time.perf_counter() - started) / attempts
        finally:
            await pool.aclose()
        return fresh, warm, warm - pool.robot_seconds / attempts

    return anyio.run(measure)


def standin_stop_seconds(repetitions: int) -> float:
    """How long the embedded stand-in takes to stop after a client called it (median)."""
    seconds = []
    for _ in range(repetitions):
        served = ServedAtlassian(DEMO_TICKETS_DIR, DEMO_PAGES_DIR).start()
        anyio.run(_one_call, served.url)
        started = time.perf_counter()
        served.stop()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


async def _one_call(url: str) -> None:
    async with McpConnection(url) as jira:
        await jira.call("jira_get_issue", {"issue_key": "QA-101"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--keywords-per-resource", type=int, default=5)
    parser.add_argument("--repetitions", type=int, default=3)
    ns = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="jira2robot-startup-") as tmp,
        ServedAtlassian(DEMO_TICKETS_DIR, DEMO_PAGES_DIR) as served,
    ):
        repo = make_repo(Path(tmp) / "repo", ns.resources, ns.keywords_per_resource)
        keys = add_api_suites(repo, ns.suites, ns.resources, ns.keywords_per_resource)
        files = sum(1 for _ in repo.rglob("*.robot")) + sum(1 for _ in repo.rglob("*.resource"))
        print(f"repo: {files} .robot/.resource files, {ns.resources * ns.keywords_per_resource} keywords")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_"))}
        base["JIRA_MCP_URL"] = served.url

        cold, warm = [], []
        for i in range(ns.repetitions):
            env = {**base, "XDG_CACHE_HOME": str(Path(tmp) / f"cache-{i}")}
            cold.append(first_decision(repo, keys[i], env, Path(tmp) / "out"))
            warm.append(first_decision(repo, keys[-1 - i], env, Path(tmp) / "out"))
        imports = [import_seconds(base) for _ in range(ns.repetitions)]

        # The inventory (what generation and validate need; a covered run never builds it).
        env = {**base, "XDG_CACHE_HOME": str(Path(tmp) / "cache-0")}
        keywords = [sys.executable, "-m", "generator", "keywords", "--repo", str(repo), "--json"]
        inventory_cold = timed(keywords, ROOT, env)
        inventory_warm = timed(keywords, ROOT, env)
        new = repo / "tests" / "api" / "area_00" / "new_refund_checks.robot"  # beside its siblings
        new.write_text((next(repo.glob("tests/api/area_00/*.robot"))).read_text(encoding="utf-8"), encoding="utf-8")
        rel = new.relative_to(repo).as_posix()
        check = [sys.executable, "-m", "generator", "validate", rel, "--repo", str(repo)]
        if subprocess.run(check, cwd=ROOT, env=env, capture_output=True, check=False).returncode != 0:
            raise SystemExit("the new file does not validate: the comparison would be meaningless")
        validate = [timed(check, ROOT, env) for _ in range(ns.repetitions)]
        # With a secret in its environment validate never forks (its memory holds the secret):
        # the dryrun is a fresh, scrubbed `robot` process, as in a CI job that has CI_JOB_TOKEN.
        with_secret = {**env, "CI_JOB_TOKEN": "bench-not-a-real-token"}
        validate_secret = [timed(check, ROOT, with_secret) for _ in range(ns.repetitions)]
        robot = [sys.executable, "-m", "robot", "--dryrun", "--output", "NONE", "--log", "NONE", "--report", "NONE"]
        robot += ["--pythonpath", "libraries", "--pythonpath", "resources", "--pythonpath", ".", rel]
        plain = [timed(robot, repo, env) for _ in range(ns.repetitions)]
        merged = merge_seconds(Path(tmp) / "reports", 8, 5000, env)
        fresh_attempt, warm_attempt, warm_overhead = dryrun_attempts(repo, rel, 5)
    standin_stop = standin_stop_seconds(ns.repetitions)

    med = statistics.median
    print(f"\nmedian of {ns.repetitions} (load average {os.getloadavg()[0]:.2f} at the end)\n")
    print(f"{'measurement':<58} {'seconds':>8}  target")
    rows = [
        ("run: start-up to the first ticket decision, cold cache", med(c[0] for c in cold), "< 5 s"),
        ("run: start-up to the first ticket decision, warm cache", med(w[0] for w in warm), "< 1.0 s"),
        ("run: whole process, cold (decision + shutdown)", med(c[1] for c in cold), ""),
        ("run: whole process, warm", med(w[1] for w in warm), ""),
        ("import of generator.cli + generator.run", med(imports), "< 0.8 s"),
        ("keywords: inventory build, cold cache (whole command)", inventory_cold, ""),
        ("keywords: inventory from the cache (whole command)", inventory_warm, ""),
        ("validate of a new file, warm (whole command)", med(validate), ""),
        ("validate of a new file, warm, a token in the environment", med(validate_secret), ""),
        ("plain robot --dryrun of the same file", med(plain), ""),
    ]
    rows.append(("merge-reports: 8 shard reports, 5,000 tickets (whole command)", merged, ""))
    rows.append(("dryrun attempt, fresh robot process (mean of 5)", fresh_attempt, ""))
    rows.append(("dryrun attempt, warm worker (mean of 5)", warm_attempt, ""))
    rows.append(("  of which beyond Robot Framework's own work", warm_overhead, "< 0.15 s"))
    rows.append(("stand-in: stop after a client's call (median)", standin_stop, "< 1 s"))
    for name, seconds, target in rows:
        print(f"{name:<58} {seconds:8.3f}  {target}")
    print(f"{'validate warm / robot --dryrun':<58} {med(validate) / med(plain):7.2f}x  <= 1.2x")
    print(f"{'  the same, a token in the environment (no fork)':<58} {med(validate_secret) / med(plain):7.2f}x")
    print(f"{'validate warm minus robot --dryrun (our fixed cost)':<58} {med(validate) - med(plain):8.3f}")


if __name__ == "__main__":
    main()
