"""Benchmark: what faults cost — hung endpoints, interrupts, and the report at scale.

1. Hung LLM: a backlog of tickets against an LLM server that accepts every request and never
   answers, with the default limits (stall 60 s, 4 retries, breaker after 3 failures, concurrency
   4, llm_concurrency 2). Target: the job ends in under 2 minutes (it took ~6.3 h for 50 tickets).
2. Hung Confluence: the same backlog, Jira answering, `confluence_search` hanging (mcp_timeout
   60 s). Target: one timeout per run (needs the failed search to be remembered; without that,
   the MCP breaker bounds it at `breaker_threshold` timeouts).
3. Interrupt: `jira2robot run` in a subprocess with one ticket in `robot --dryrun` (a repo library
   whose import sleeps) and one waiting for the LLM; SIGTERM (to the job) or SIGINT (to its process
   group). Target: exit 143/130 under 5 s, 0 hidden files left, 0 robot processes left.
4. Report cost: N finished tickets recorded by `ReportWriter` (the journal plus bounded renders),
   and whole runs skipping N covered tickets. Target: linear; 4,000 under 10 s.

    python bench/bench_faults.py [--tickets 50] [--part all|llm|confluence|interrupt|report]
        [--stall-timeout S] [--mcp-timeout S]   # scaled-down deadlines, extrapolated to the defaults
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    TimedStream,
    copy_sample_repo,
    isolated_cache,
    make_settings,
    print_table,
    run_pipeline,
    write_tickets,
)

from generator.config.repo_file import Limits
from generator.models import TicketResult
from generator.outputs.report import ReportWriter
from generator.standin.files import DEMO_PAGES_DIR
from tests.servers.fake_openai import FakeOpenAI, Hang, Text
from tests.servers.hanging_mcp import HangingMCP
from tests.test_faults import SLEEPING_IMPORT, candidates, dryrun_pids, on_import
from tests.test_run_e2e import GOOD_ROBOT, spec_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = Limits()


def _with_limits(settings, **limits: float):
    cfg = settings.repo_config.model_copy(update={"limits": settings.repo_config.limits.model_copy(update=limits)})
    return settings.model_copy(update={"repo_config": cfg})


def _backlog(work: Path, count: int) -> tuple[Path, Path, list[str]]:
    keys = [f"QA-{201 + i}" for i in range(count)]
    tickets = work / "tickets"
    if not tickets.is_dir():
        write_tickets(tickets, keys)
    return tickets, copy_sample_repo(work / f"repo-{time.monotonic_ns()}"), keys


def hung_llm(ns: argparse.Namespace, work: Path) -> None:
    tickets, repo, keys = _backlog(work, ns.tickets)
    with FakeOpenAI() as llm, isolated_cache(work / "cache"):
        llm.responder = lambda body: Hang()
        settings = make_settings(repo=repo, output_dir=work / "out-llm", llm=llm, tickets_dir=tickets, keys=keys)
        if ns.stall_timeout:
            settings = _with_limits(settings, llm_stall_timeout=ns.stall_timeout)
        limits = settings.repo_config.limits
        results, wall = run_pipeline(settings)
        llm.release()
        requests = len(llm.requests)
    title = (
        f"1. hung LLM, {ns.tickets} tickets: stall {limits.llm_stall_timeout:g} s, call {limits.llm_timeout:g} s, "
        f"connect {limits.llm_connect_timeout:g} s, {limits.llm_retries} retries, breaker {limits.breaker_threshold}, "
        f"concurrency {limits.concurrency}, llm_concurrency {limits.llm_concurrency}"
    )
    scale = DEFAULTS.llm_stall_timeout / ns.stall_timeout if ns.stall_timeout else None
    _print_outcome(title, wall, ["LLM requests", requests], results, scale)


def _print_outcome(
    title: str, wall: float, count: list[object], results: list[TicketResult], scale: float | None
) -> None:
    """The wall time, what the hung server received, the statuses, and the bound at the default deadline."""
    print(title)
    rows = [["wall (s)", f"{wall:.1f}"], count, ["statuses", dict(Counter(r.status for r in results))]]
    if scale:
        rows.append(
            ["at the default deadline (s), upper bound", f"{wall * scale:.0f} (wall x {scale:g}, fixed costs too)"]
        )
    print_table(["measure", "value"], rows)
    print(f"   reasons: {sorted({r.reason[:110] for r in results})}\n")


def hung_confluence(ns: argparse.Namespace, work: Path) -> None:
    tickets, repo, keys = _backlog(work, ns.tickets)
    with (
        HangingMCP(("confluence_search",), tickets_dir=tickets, pages_dir=DEMO_PAGES_DIR) as mcp,
        FakeOpenAI() as llm,
        isolated_cache(work / "cache"),
    ):
        # Tickets go on without pages after the one remembered timeout, then meet this hung LLM:
        # its breaker ends the rest, so the wall time is mcp_timeout + the LLM breaker's stalls.
        llm.responder = lambda body: Hang()
        settings = make_settings(repo=repo, output_dir=work / "out-confluence", llm=llm, tickets_dir=tickets, keys=keys)
        settings = settings.model_copy(update={"tickets_dir": None, "jira_mcp_url": mcp.url})
        if ns.mcp_timeout:
            settings = _with_limits(settings, mcp_timeout=ns.mcp_timeout)
        timeout = settings.repo_config.limits.mcp_timeout
        results, wall = run_pipeline(settings)
        searches = mcp.calls
        llm.release()
    title = f"2. hung Confluence, {ns.tickets} tickets: mcp_timeout {timeout:g} s, Jira answering"
    scale = DEFAULTS.mcp_timeout / ns.mcp_timeout if ns.mcp_timeout else None
    _print_outcome(title, wall, ["confluence_search calls (timeouts)", searches], results, scale)


def _interrupt_once(work: Path, signum: int, to_group: bool) -> dict[str, object]:
    repo = copy_sample_repo(work / f"repo-int-{time.monotonic_ns()}")
    on_import(repo, SLEEPING_IMPORT)
    out = work / f"out-int-{time.monotonic_ns()}"

    def reply(body: dict):
        if "QA-102" in json.dumps(body["messages"]):
            return Hang()
        return Text(spec_json() if "PLANNER" in body["messages"][0]["content"] else GOOD_ROBOT)

    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "PYTHONPATH": str(ROOT)}
    with FakeOpenAI() as llm:
        llm.responder = reply
        env["OPENAI_BASE_URL"] = llm.base_url
        command = [sys.executable, "-m", "generator", "run", "--keys", "QA-101,QA-102,QA-103", "--concurrency", "2"]
        command += [
            "--tickets-dir",
            str(ROOT / "generator/demo/data/tickets"),
            "--repo",
            str(repo),
            "--output-dir",
            str(out),
        ]
        job = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while not (
                candidates(repo) and dryrun_pids(job.pid) and any("QA-102" in json.dumps(r) for r in llm.requests)
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("interrupt bench: the job never reached the dryrun")
                time.sleep(0.05)
            robots = dryrun_pids(job.pid)
            sent = time.monotonic()
            os.killpg(job.pid, signum) if to_group else job.send_signal(signum)
            code = job.wait(timeout=120)
            seconds = time.monotonic() - sent
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
            llm.release()
    orphans = [pid for pid in robots if Path(f"/proc/{pid}").exists()]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    statuses = Counter(t["status"] for t in json.loads((out / "report.json").read_text())["tickets"])
    return {
        "exit": code,
        "seconds": seconds,
        "left": len(candidates(repo)),
        "orphans": len(orphans),
        "statuses": statuses,
    }


def interrupt(ns: argparse.Namespace, work: Path) -> None:
    rows = []
    for name, signum, to_group in (
        ("SIGTERM to the job", signal.SIGTERM, False),
        ("SIGTERM to the job", signal.SIGTERM, False),
        ("SIGTERM to the job", signal.SIGTERM, False),
        ("SIGINT to the group", signal.SIGINT, True),
    ):
        r = _interrupt_once(work, signum, to_group)
        rows.append([name, r["exit"], f"{r['seconds']:.2f}", r["left"], r["orphans"], dict(r["statuses"])])
    print("3. interrupt: QA-101 in robot --dryrun (sleeping library), QA-102 waiting for a hung LLM, QA-103 queued")
    print_table(["signal", "exit", "signal->exit (s)", "hidden files left", "robot left", "statuses"], rows)
    print()


def _written_bytes() -> int:
    """Bytes this process passed to write() so far (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def report_cost(ns: argparse.Namespace, work: Path) -> None:
    rows = []
    for count in (1000, 2000, 4000):
        out = work / f"report-{count}"
        written, started = _written_bytes(), time.perf_counter()
        writer = ReportWriter(out)
        writer.expect([f"QA-{i}" for i in range(count)])
        for i in range(count):
            writer.record(TicketResult(key=f"QA-{i}", status="skipped", reason="already covered by tests/x.robot"))
        writer.close()
        rows.append([count, f"{time.perf_counter() - started:.3f}", f"{(_written_bytes() - written) / 1e6:.1f}"])
    print("4a. ReportWriter alone: N tickets recorded one by one (journal + bounded renders + final render)")
    print_table(["tickets", "seconds", "MB written"], rows)

    rows = []
    for count in ns.covered:
        keys = [f"QA-{i}" for i in range(1, count + 1)]
        folder = work / f"covered-{count}"
        plans = write_tickets(folder / "tickets", keys)
        repo = copy_sample_repo(folder / "repo")
        for plan in plans.values():
            (repo / plan.target_path).write_text(plan.robot_reply(), encoding="utf-8")
        with isolated_cache(folder / "cache"):
            settings = make_settings(
                repo=repo, output_dir=folder / "out", llm=None, tickets_dir=folder / "tickets", keys=keys
            )
            written, stream = _written_bytes(), TimedStream()
            results, wall = run_pipeline(settings, stream)
            ended = time.monotonic()
        indexed = stream.first(r"suites indexed in") or ended
        skipped = sum(r.status == "skipped" and "already covered" in r.reason for r in results)
        report_mb = (folder / "out" / "report.json").stat().st_size / 1e6
        mb = (_written_bytes() - written) / 1e6
        rows.append([count, skipped, f"{wall:.1f}", f"{ended - indexed:.1f}", f"{mb:.1f}", f"{report_mb:.1f}"])
    print("4b. whole runs skipping N covered tickets (--keys, embedded MCP, repo with N tagged suites)")
    headers = ["tickets", "skipped as covered", "wall (s)", "after the repo scan (s)", "MB written", "report.json MB"]
    print_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=50)
    parser.add_argument("--part", choices=["all", "llm", "confluence", "interrupt", "report"], default="all")
    parser.add_argument("--stall-timeout", type=float, help="scaled-down llm_stall_timeout (default: the default)")
    parser.add_argument("--mcp-timeout", type=float, help="scaled-down mcp_timeout (default: the default)")
    parser.add_argument("--covered", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 4000])
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        for part, function in (
            ("llm", hung_llm),
            ("confluence", hung_confluence),
            ("interrupt", interrupt),
            ("report", report_cost),
        ):
            if ns.part in ("all", part):
                print(f"  running {part}...", file=sys.stderr, flush=True)
                function(ns, work)


if __name__ == "__main__":
    main()
