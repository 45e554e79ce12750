"""Warm dryrun workers (generator/validate/pool.py) say exactly what a fresh `robot --dryrun` says.

Real workers in real processes over the sample repo: a corpus of good and broken files is
checked both ways and the diagnostics compared whole; a worker is replaced after `max_jobs`
files, after a crash (the file then gets a fresh process) and after a timeout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from generator.models import KeywordInventory
from generator.validate import dryrun, dryrun_pool

HEADER = """\
*** Settings ***
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session

*** Test Cases ***
"""
GOOD = (
    HEADER
    + """\
Account Is Locked After Three Failures
    [Tags]    QA-101    login
    Given The user "alice" has an account
    When Login Should Fail With Message    alice    wrong    Invalid username or password
    Then Failed Login Count Of "alice" Should Be "1"
"""
)
CORPUS = {
    "good": GOOD,
    "unknown keyword": GOOD.replace("When Login Should Fail With Message", "When Enter Wrong Password For"),
    "wrong argument count": GOOD.replace("    alice    wrong    Invalid username or password", "    alice"),
    "missing resource": GOOD.replace("shop.resource", "no_such.resource"),
    "missing library": GOOD.replace("Resource            ../../resources/shop.resource", "Library    NoSuchLib"),
    "bad setting": GOOD.replace("    [Tags]", "    [Tagz]"),
    "local keyword failing": HEADER
    + "Uses A Local Keyword\n    My Local Step\n\n*** Keywords ***\nMy Local Step\n    Undefined Inner Step    x\n",
    "empty test": HEADER + "Nothing Here\n",
}
TARGET = "tests/login/qa-999_pool.robot"
PYTHONPATH = ["libraries"]  # the sample repo's own settings (.jira2robot.yml)
OPTIONS = ["-v", "ENV:demo"]
# The allow-list the trust gate enforces: the sample repo's resource and the libraries of the corpus.
ALLOWED = KeywordInventory(
    libraries=["BuiltIn", "NoSuchLib", "Exiting", "Sleepy"],
    resources=["resources/shop.resource"],
    importers={"RESOURCE:resources/shop.resource": ["tests/login/login_basic.robot"]},
)


async def _dryrun(repo: Path, text: str, pool=None, **options):
    """The dryrun of `text` as TARGET with the sample repo's settings and the corpus's allow-list."""
    return await dryrun(
        text, TARGET, repo=repo, pythonpath=PYTHONPATH, robot_options=OPTIONS, pool=pool, inventory=ALLOWED, **options
    )


def _check(repo: Path, text: str, pool=None):
    return anyio.run(lambda: _dryrun(repo, text, pool))


def test_warm_workers_give_the_diagnostics_of_a_fresh_dryrun(sample_repo: Path):
    fresh = {name: _check(sample_repo, text) for name, text in CORPUS.items()}
    assert fresh["good"].ok and not fresh["unknown keyword"].ok  # the corpus has both sides

    async def warm() -> dict[str, object]:
        pool = dryrun_pool(None, [], [])
        try:
            # Twice through the corpus on one worker: a file must not see what the previous one loaded.
            first = {name: await _dryrun(sample_repo, t, pool) for name, t in CORPUS.items()}
            again = {name: await _dryrun(sample_repo, t, pool) for name, t in CORPUS.items()}
            assert first == again
            assert pool.started == 1
            return first
        finally:
            await pool.aclose()

    assert anyio.run(warm) == fresh


def test_a_worker_is_replaced_after_max_jobs(sample_repo: Path):
    async def go() -> int:
        pool = dryrun_pool(None, [], [])
        pool.max_jobs = 2
        try:
            for _ in range(5):
                assert (await _dryrun(sample_repo, GOOD, pool)).ok
            return pool.started
        finally:
            await pool.aclose()

    assert anyio.run(go) == 3


def test_a_crashing_worker_is_replaced_and_the_file_gets_a_fresh_dryrun(sample_repo: Path):
    """A library that ends the worker's process on import: the file's verdict is a fresh dryrun's."""
    (sample_repo / "libraries" / "Exiting.py").write_text(
        "import os, sys\nif any(a.endswith('dryrun_worker.py') for a in sys.orig_argv) and '--once' not in sys.orig_argv:\n"
        "    os._exit(3)\n",
        encoding="utf-8",
    )
    crashing = GOOD.replace("Suite Setup", "Library             ../../libraries/Exiting.py\nSuite Setup")
    fresh = _check(sample_repo, crashing)

    async def go() -> tuple[object, object, int]:
        pool = dryrun_pool(None, [], [])
        try:
            crashed = await _dryrun(sample_repo, crashing, pool)
            after = await _dryrun(sample_repo, GOOD, pool)
            return crashed, after, pool.started
        finally:
            await pool.aclose()

    crashed, after, started = anyio.run(go)
    assert crashed == fresh and fresh.ok  # type: ignore[attr-defined]
    assert after.ok and started == 2  # type: ignore[attr-defined]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def _our_worker(pid: str) -> bool:
    """A dryrun worker this test process started (other test runs on the machine start theirs)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return False  # ended meanwhile
    return "dryrun_worker" in cmdline and parent == str(os.getpid())


def test_a_timed_out_worker_is_killed(sample_repo: Path):
    (sample_repo / "libraries" / "Sleepy.py").write_text("import time\ntime.sleep(600)\n", encoding="utf-8")
    sleepy = GOOD.replace("Suite Setup", "Library             ../../libraries/Sleepy.py\nSuite Setup")

    async def go() -> int:
        pool = dryrun_pool(None, [], [])
        try:
            outcome = await _dryrun(sample_repo, sleepy, pool, timeout=3)
            assert outcome.environment_error and "did not finish within 3 s" in outcome.diagnostics[0].message
            return pool.started
        finally:
            await pool.aclose()

    before = {p for p in os.listdir("/proc") if p.isdigit()}
    assert anyio.run(go) == 1
    workers = [p for p in set(os.listdir("/proc")) - before if p.isdigit() and _our_worker(p)]
    assert workers == []
