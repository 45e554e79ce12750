"""`jira2robot validate`'s forked dryrun (generator/validate/fork.py): the same diagnostics as a
fresh `robot --dryrun`, bounded by the deadline, and used only when the process holds no secret.

Real forks and real `robot` processes over the sample repo; the CLI cases run `jira2robot
validate` as a subprocess with a library of the repo recording what the dryrun process sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from generator.validate import dryrun
from generator.validate.fork import ForkedDryrun, can_fork
from tests.test_dryrun_pool import ALLOWED, CORPUS, GOOD, OPTIONS, PYTHONPATH, TARGET

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork and /proc")


def _check(repo: Path, text: str, pool=None, timeout: float = 300.0):
    return anyio.run(
        lambda: dryrun(
            text,
            TARGET,
            repo=repo,
            pythonpath=PYTHONPATH,
            robot_options=OPTIONS,
            pool=pool,
            timeout=timeout,
            inventory=ALLOWED,
        )
    )


def test_a_fork_gives_the_diagnostics_of_a_fresh_dryrun(sample_repo: Path):
    fresh = {name: _check(sample_repo, text) for name, text in CORPUS.items()}
    assert fresh["good"].ok and not fresh["unknown keyword"].ok  # the corpus has both sides
    runner = ForkedDryrun(dict(os.environ))
    forked = {name: _check(sample_repo, text, runner) for name, text in CORPUS.items()}
    assert forked == fresh
    assert runner.robot_seconds > 0  # the forks answered: no file fell back to a fresh process


def test_what_this_process_parsed_before_does_not_leak_into_the_forks_output(sample_repo: Path, tmp_path: Path):
    """`validate` may build the inventory in-process first (Robot's parser logs a broken file's
    errors into its process-wide logger): the fork must still answer as a fresh process does."""
    from generator.retrieval.inventory import build_inventory

    (sample_repo / "resources" / "odd.resource").write_text(
        "*** Settings ***\nUnknown Setting    x\n*** Keywords ***\nBad ${x:[} Pattern\n    No Operation\n",
        encoding="utf-8",
    )
    fresh = {name: _check(sample_repo, text) for name, text in CORPUS.items()}
    assert build_inventory(sample_repo, cache_dir=tmp_path / "cache").errors  # parsed here, with errors
    forked = {name: _check(sample_repo, text, ForkedDryrun(dict(os.environ))) for name, text in CORPUS.items()}
    assert forked == fresh


def test_a_hanging_library_costs_the_deadline_and_leaves_no_process(sample_repo: Path):
    (sample_repo / "libraries" / "Sleepy.py").write_text(
        "import os, time\nopen('sleepy.pid', 'w').write(str(os.getpid()))\ntime.sleep(600)\n", encoding="utf-8"
    )
    sleepy = GOOD.replace("Suite Setup", "Library             ../../libraries/Sleepy.py\nSuite Setup")
    outcome = _check(sample_repo, sleepy, ForkedDryrun(dict(os.environ)), timeout=3)
    assert outcome.environment_error and "did not finish within 3 s" in outcome.diagnostics[0].message
    pid = int((sample_repo / "sleepy.pid").read_text())
    assert pid != os.getpid()
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped


def test_a_fork_that_dies_gives_way_to_a_fresh_dryrun(sample_repo: Path):
    (sample_repo / "libraries" / "Exiting.py").write_text(
        "import os, sys\nif 'generator.validate.fork' in sys.modules:\n    os._exit(3)\n", encoding="utf-8"
    )
    exiting = GOOD.replace("Suite Setup", "Library             ../../libraries/Exiting.py\nSuite Setup")
    runner = ForkedDryrun(dict(os.environ))
    assert _check(sample_repo, exiting, runner) == _check(sample_repo, exiting)
    assert runner.robot_seconds == 0  # the fork never answered: the verdict is the fresh process's


def test_no_fork_with_a_secret_or_another_python(tmp_path: Path):
    clean = {k: v for k, v in os.environ.items() if "TOKEN" not in k.upper()}
    assert can_fork({**clean, "PYTHONDONTWRITEBYTECODE": "1"}, [], None) == (clean == dict(os.environ))
    assert not can_fork(dict(os.environ), ["s3cr3t-value"], None)
    assert not can_fork({}, [], None)  # every variable of ours would be missing from the dryrun
    other = tmp_path / "python"
    other.symlink_to("/bin/sh")
    assert not can_fork(dict(os.environ), [], str(other))


SPY = """\
import json, os, sys
with open(os.path.join(os.path.dirname(__file__), "..", "seen.json"), "w") as out:
    json.dump({
        "forked": "generator.cli" in sys.modules,
        "environ": dict(os.environ),
        "proc_environ": open("/proc/self/environ", "rb").read().decode("utf-8", "replace"),
    }, out)
"""


def _validate_with_spy(repo: Path, env: dict[str, str]) -> dict:
    library = (repo / "libraries" / "ShopLibrary.py").read_text(encoding="utf-8")
    (repo / "libraries" / "ShopLibrary.py").write_text(library + "\n" + SPY, encoding="utf-8")
    (repo / "tests" / "login" / "qa-998_spy.robot").write_text(GOOD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "generator", "validate", "tests/login/qa-998_spy.robot", "--repo", str(repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((repo / "seen.json").read_text(encoding="utf-8"))


def _quiet_env(tmp_path: Path) -> dict[str, str]:
    from generator.safety.sandbox import scrubbed_env

    return {**scrubbed_env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_validate_forks_when_its_environment_holds_no_secret(sample_repo: Path, tmp_path: Path):
    seen = _validate_with_spy(sample_repo, _quiet_env(tmp_path))
    assert seen["forked"]


def test_validate_never_forks_a_process_holding_a_secret(sample_repo: Path, tmp_path: Path):
    secret = "glpat-NotInTheDryrun-1234567890"
    seen = _validate_with_spy(sample_repo, {**_quiet_env(tmp_path), "GITLAB_TOKEN": secret})
    assert not seen["forked"]  # a fresh robot process: this one's memory holds the token
    assert "GITLAB_TOKEN" not in seen["environ"]
    assert secret not in seen["proc_environ"] and secret not in json.dumps(seen["environ"])


def test_another_venv_of_the_same_interpreter_is_another_python(tmp_path: Path):
    """Every venv's python links to the same binary: only the path says which packages it sees."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    assert not can_fork(dict(os.environ), [], str(tmp_path / "venv" / "bin" / "python"))
    assert can_fork(dict(os.environ), [], sys.executable)  # named explicitly: still this one
