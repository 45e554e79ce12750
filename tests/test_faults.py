"""Faults a CI runner meets, reproduced with real servers on 127.0.0.1 and real `robot` processes.

Each used to cost hours or leave debris; each test asserts the outcome, and bounds the time only
where the bound is the behaviour (a job that ends instead of hanging), with a margin wide enough
for a loaded machine: `BOUND` seconds where a healthy one needs a few.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from generator.config.repo_file import ConfigError
from generator.config.settings import build_settings
from tests.conftest import TICKETS, offline_args, without_provenance
from tests.servers.fake_openai import Cut, FakeOpenAI, Hang, Text
from tests.servers.hanging_mcp import HangingMCP
from tests.test_run_e2e import GOOD_PATH, GOOD_ROBOT, spec_json

ROOT = Path(__file__).resolve().parents[1]
BOUND = 120.0
SIX_KEYS = "QA-101,QA-102,QA-103,QA-104,QA-105,QA-106"

pytestmark = pytest.mark.usefixtures("clean_env")


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), **extra}


def job_args(repo: Path, out: Path, *more: str) -> list[str]:
    """`jira2robot run` over the bundled tickets as a subprocess; the LLM is the test server (last --llm wins)."""
    return [sys.executable, "-m", "generator", "run", *offline_args(repo, out), "--llm", "openai", *more]


def mcp_job_args(repo: Path, out: Path, *more: str) -> list[str]:
    """`jira2robot run` as a subprocess, tickets from the MCP server in JIRA_MCP_URL."""
    return [sys.executable, "-m", "generator", "run", "--repo", str(repo), "--output-dir", str(out), *more]


def tickets(out: Path) -> dict[str, dict]:
    return {t["key"]: t for t in json.loads((out / "report.json").read_text())["tickets"]}


def candidates(repo: Path) -> list[Path]:
    return list((repo / "tests").rglob(".*.jira2robot-*.robot"))


# --------------------------------------------------------------------------- endpoints that hang


def test_hung_llm_trips_the_breaker_the_rest_are_skipped(sample_repo, tmp_path):
    out = tmp_path / "out"
    with FakeOpenAI() as llm:
        llm.responder = lambda body: Hang()
        args = ["--keys", SIX_KEYS, "--concurrency", "1", "--llm-stall-timeout", "0.5", "--publish", "none"]
        done = subprocess.run(
            job_args(sample_repo, out, *args),
            env=job_env(tmp_path, OPENAI_BASE_URL=llm.base_url),
            capture_output=True,
            text=True,
            timeout=BOUND,  # was: 5 attempts x 180 s per LLM call, for every ticket
        )
        llm.release()
        requests = len(llm.requests)
    assert done.returncode == 1, done.stderr
    by_key = tickets(out)
    first = by_key.pop("QA-101")
    assert first["status"] == "failed" and "LLM endpoint unavailable" in first["reason"], first
    for entry in by_key.values():
        assert entry["status"] == "skipped", entry
        assert entry["reason"].startswith("LLM endpoint unavailable (3 consecutive")
        assert "stalled: no response for 0.5s" in entry["reason"]
    assert requests == 3  # the breaker's threshold: no retry ladder, no later ticket asked


def test_hung_mcp_server_trips_the_breaker_the_rest_are_skipped(sample_repo, tmp_path):
    out = tmp_path / "out"
    with HangingMCP() as mcp:
        args = ["--keys", SIX_KEYS, "--concurrency", "1", "--mcp-timeout", "1", "--llm", "offline"]
        done = subprocess.run(
            mcp_job_args(sample_repo, out, *args),
            env=job_env(tmp_path, JIRA_MCP_URL=mcp.url),
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
        calls = mcp.calls
    assert done.returncode == 1, done.stderr
    statuses = [(t["status"], t["reason"]) for t in tickets(out).values()]
    assert [s for s, _ in statuses] == ["failed"] * 3 + ["skipped"] * 3
    assert all(r.endswith("jira_get_issue timed out after 1s") for _, r in statuses[:3])
    assert all(r.startswith("MCP endpoint unavailable") for _, r in statuses[3:])
    assert calls == 3


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte; yields an MCP URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    listener.close()
    for connection in accepted:
        connection.close()


def test_mcp_server_that_never_answers_fails_every_ticket_within_the_timeout(sample_repo, tmp_path, silent_server):
    out = tmp_path / "out"
    done = subprocess.run(
        # Tickets with no test yet: covered ones are decided from the suites, without the server.
        mcp_job_args(sample_repo, out, "--keys", "QA-101,QA-102", "--llm", "offline", "--mcp-timeout", "1"),
        env=job_env(tmp_path, JIRA_MCP_URL=silent_server),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 1, done.stderr
    for entry in tickets(out).values():
        assert entry["status"] == "failed"
        assert "cannot connect to the Jira MCP server" in entry["reason"] and "timed out" in entry["reason"]


def test_unreachable_gitlab_trips_its_breaker_the_rest_are_skipped(sample_repo, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        closed_port = reserved.getsockname()[1]  # nothing listens there once the block ends
    os.environ.update(
        CI_SERVER_URL=f"http://127.0.0.1:{closed_port}", GITLAB_TOKEN="glpat-test-token", CI_PROJECT_PATH="qa/shop"
    )
    out = tmp_path / "out"
    args = ["--keys", SIX_KEYS, "--concurrency", "1", "--publish", "gitlab", *offline_args(sample_repo, out)]
    assert main(["run", *args]) == 1
    statuses = [(t["status"], t["reason"]) for t in tickets(out).values()]
    assert [s for s, _ in statuses] == ["failed"] * 3 + ["skipped"] * 3
    assert all(r.startswith("cannot reach GitLab") for _, r in statuses[:3])
    assert all(r.startswith("GitLab endpoint unavailable (3 consecutive") for _, r in statuses[3:])


def test_ticket_deadline_ends_a_ticket_stuck_on_a_hung_llm(llm, atlassian, sample_repo, tmp_path):
    llm.responder = lambda body: Hang()
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url)
    out = tmp_path / "out"
    # The stall timeout (60 s) would not fire before the ticket's own deadline does.
    code = main(
        ["run", "--keys", "QA-101", "--ticket-timeout", "1", "--repo", str(sample_repo), "--output-dir", str(out)]
    )
    llm.release()
    assert code == 1
    assert tickets(out)["QA-101"]["reason"] == "ticket deadline of 1 s exceeded (limits.ticket_timeout)"


# --------------------------------------------------------------------------- answers cut part-way


@pytest.mark.parametrize("how", ["abort", "close", "stall", "length"])
def test_a_cut_writer_answer_is_never_validated_or_published(llm, atlassian, sample_repo, tmp_path, how):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url)
    half = GOOD_ROBOT[: GOOD_ROBOT.index("When Login")]  # parses, and would pass a dryrun on its own
    llm.script(Text(spec_json()), Cut(half, how), Text(GOOD_ROBOT))  # type: ignore[arg-type]
    out = tmp_path / "out"
    code = main(
        ["run", "--keys", "QA-101", "--llm-stall-timeout", "0.5", "--repo", str(sample_repo), "--output-dir", str(out)]
    )
    llm.release()
    assert code == 0
    entry = tickets(out)["QA-101"]
    assert entry["status"] == "created" and entry["attempts"] == 1, entry
    # as robocop lays it out, with its provenance (Jira Criterion metadata, ac: tags)
    assert without_provenance((sample_repo / GOOD_PATH).read_text()) == GOOD_ROBOT.split()
    assert len(llm.requests) == 3


# --------------------------------------------------------------------------- capped input


def test_a_huge_description_is_capped_with_a_note_in_prompt_and_report(llm, sample_repo, tmp_path):
    folder = tmp_path / "tickets"
    folder.mkdir()
    ticket = yaml.safe_load((TICKETS / "QA-101.yaml").read_text())
    ticket["description"] = ticket["description"] + "x" * 5_000_000
    (folder / "QA-101.yaml").write_text(yaml.safe_dump(ticket))
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    llm.script(Text(spec_json()), Text(GOOD_ROBOT))
    out = tmp_path / "out"
    args = ["--keys", "QA-101", "--tickets-dir", str(folder), "--repo", str(sample_repo), "--output-dir", str(out)]
    assert main(["run", *args]) == 0
    total = len(ticket["description"])
    planner_prompt = llm.requests[0]["messages"][1]["content"]
    assert f"[truncated: 20000 of {total} characters]" in planner_prompt
    assert len(json.dumps(llm.requests[0])) < 100_000  # was 5,008,735 bytes
    assert f"description [truncated: 20000 of {total} characters]" in tickets(out)["QA-101"]["truncated"]


# --------------------------------------------------------------------------- interrupts


SLEEPING_IMPORT = 'import sys, time\nif "--dryrun" in sys.argv:\n    time.sleep(600)  # hangs robot, not the scan\n'


def on_import(repo: Path, code: str) -> None:
    """Make the sample repo's library run `code` when imported (right after its __future__ import)."""
    library = repo / "libraries" / "ShopLibrary.py"
    future = "from __future__ import annotations\n"
    text = library.read_text()
    assert future in text
    library.write_text(text.replace(future, future + code, 1))


@pytest.fixture
def slow_library_repo(sample_repo: Path) -> Path:
    """The sample repo whose library import sleeps under `robot --dryrun`: a dryrun in flight for as long as needed."""
    on_import(sample_repo, SLEEPING_IMPORT)
    return sample_repo


def dryrun_pids(parent: int) -> list[int]:
    """`robot --dryrun` children of the job process, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and b"--dryrun" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


@pytest.fixture
def hold_second_ticket() -> Iterator[FakeOpenAI]:
    """QA-101 gets a good spec and file (so it reaches the dryrun); QA-102's LLM call hangs."""

    def reply(body: dict):
        prompt = json.dumps(body["messages"])
        if "QA-102" in prompt:
            return Hang()
        if "PLANNER" in body["messages"][0]["content"]:
            return Text(spec_json())
        return Text(GOOD_ROBOT)

    with FakeOpenAI() as server:
        server.responder = reply
        yield server
        server.release()


@pytest.mark.parametrize(
    ("signum", "to_group", "exit_code"),
    [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],
    ids=["SIGTERM-to-the-job", "SIGINT-to-the-process-group"],
)
def test_a_signal_stops_the_job_cleanly(slow_library_repo, tmp_path, hold_second_ticket, signum, to_group, exit_code):
    repo, out, llm = slow_library_repo, tmp_path / "out", hold_second_ticket
    job = subprocess.Popen(
        job_args(repo, out, "--keys", "QA-101,QA-102,QA-103", "--concurrency", "2"),
        env=job_env(tmp_path, OPENAI_BASE_URL=llm.base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a CI job has
    )
    robots: list[int] = []
    try:
        wait_for(lambda: candidates(repo) and dryrun_pids(job.pid), "QA-101 in robot --dryrun")
        wait_for(lambda: any("QA-102" in json.dumps(r) for r in llm.requests), "QA-102 waiting for the LLM")
        robots = dryrun_pids(job.pid)
        if to_group:
            os.killpg(job.pid, signum)
        else:
            job.send_signal(signum)
        assert job.wait(timeout=BOUND) == exit_code, job.stderr.read() if job.stderr else ""
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        for pid in robots:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert robots and not any(alive(pid) for pid in robots), "robot --dryrun outlived the job"
    assert candidates(repo) == []
    by_key = tickets(out)
    assert {k: t["status"] for k, t in by_key.items()} == dict.fromkeys(("QA-101", "QA-102", "QA-103"), "interrupted")
    assert by_key["QA-103"]["reason"] == f"not finished: the job was stopped ({signal.Signals(signum).name})"
    journaled = [json.loads(line)["key"] for line in (out / "report.jsonl").read_text().splitlines()]
    assert sorted(journaled[:2]) == ["QA-101", "QA-102"] and journaled[2:] == ["QA-103"]  # in flight first


def test_sigterm_during_a_keyword_scan_hung_by_a_library_exits_at_once(sample_repo, tmp_path):
    marker = sample_repo / "libraries" / "ShopLibrary.importing"
    on_import(sample_repo, f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(600)\n")
    out = tmp_path / "out"
    job = subprocess.Popen(
        job_args(sample_repo, out, "--keys", "QA-101", "--llm", "offline"),
        env=job_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert job.stdout is not None
        # The layout line comes first; "repo ..." is printed once the signal handler is in.
        assert any(job.stdout.readline().startswith("jira2robot: repo ") for _ in range(3))
        wait_for(marker.is_file, "the scan importing the sleeping library")
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=BOUND) == 143  # was: until the import's sleep ended
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert tickets(out)["QA-101"]["status"] == "interrupted"
    assert _processes_in(sample_repo) == []  # the scan worker did not outlive the run (it slept on)


def _processes_in(folder: Path) -> list[str]:
    """Command lines of the processes whose working directory is `folder`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == folder.resolve():
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return found


def test_after_kill_9_the_next_run_removes_the_stale_candidate(slow_library_repo, tmp_path, hold_second_ticket):
    repo = slow_library_repo
    job = subprocess.Popen(
        job_args(repo, tmp_path / "killed", "--keys", "QA-101"),
        env=job_env(tmp_path, OPENAI_BASE_URL=hold_second_ticket.base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: candidates(repo), "a candidate file next to the target")
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the job and its robot: nothing can clean up
        job.wait(timeout=BOUND)
    left = candidates(repo)
    assert len(left) == 1  # the debris kill -9 leaves
    own_hidden = repo / "tests" / "login" / ".notes.robot"
    own_hidden.write_text("not ours to remove\n")
    # A live candidate of a run working in the same tree (parallel shards sharing a checkout).
    live = repo / "tests" / "cart" / ".qa-7.jira2robot-0123456789ab.robot"
    live.write_text("*** Test Cases ***\n")
    held = live.open()
    fcntl.flock(held, fcntl.LOCK_SH)
    # QA-10 is already covered by a suite of the repo: the run needs neither the LLM nor a dryrun.
    done = subprocess.run(
        job_args(repo, tmp_path / "next", "--keys", "QA-10", "--llm", "offline"),
        env=job_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    held.close()
    assert done.returncode == 0, done.stderr
    assert "removed 1 hidden candidate file(s)" in done.stdout
    assert candidates(repo) == [live]
    assert own_hidden.is_file()


# --------------------------------------------------------------------------- configuration


def test_deadlines_flag_over_env_over_file_and_a_bad_value_is_named(sample_repo):
    (sample_repo / ".jira2robot.yml").write_text("limits:\n  llm_stall_timeout: 30\n  ticket_timeout: 600\n")
    env = {"JIRA2ROBOT_TICKET_TIMEOUT": "120", "JIRA2ROBOT_MCP_TIMEOUT": "5"}
    settings = build_settings({"repo": str(sample_repo), "llm_stall_timeout": 2.5}, env, command="keywords")
    limits = settings.repo_config.limits
    assert (limits.llm_stall_timeout, limits.ticket_timeout) == (2.5, 120.0)
    assert limits.mcp_timeout == 5.0
    assert limits.llm_connect_timeout == 10.0  # the default
    with pytest.raises(ConfigError) as info:
        build_settings({"repo": str(sample_repo)}, {"JIRA2ROBOT_LLM_TIMEOUT": "5min"}, command="keywords")
    assert info.value.problems == ["--llm-timeout / JIRA2ROBOT_LLM_TIMEOUT: expected a number of seconds, got '5min'"]
