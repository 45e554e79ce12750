"""The repository's own Python environment: where its code is imported, never in ours.

A test repository pins its Robot Framework and libraries (`robotframework==6.1.1`,
`robotframework-seleniumlibrary`...). Installed into the tool's environment they would
downgrade the tool's own RF and break it, so the CI component installs them into a separate
virtual environment and names its interpreter (`JIRA2ROBOT_REPO_PYTHON`, `python:` in
`.jira2robot.yml`, `--repo-python`). Everything that imports the repo's code runs there, in
a subprocess with a scrubbed environment and a deadline: `robot --dryrun` (`generator.validate`)
and the library/variable-file half of the keyword scan (`scan_worker.py`, started by path).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.safety.sandbox import repo_code_env, scrubbed_env

#: Oldest and first unsupported Robot Framework in the repo's interpreter. 6.1 is the first
#: release with the `robot.api.interfaces` listener base our dryrun listener uses.
MIN_ROBOT, MAX_ROBOT_EXCLUSIVE = (6, 1), (8, 0)
WORKER = Path(__file__).with_name("scan_worker.py")
_PROBE_TIMEOUT = 60.0
#: Starting the worker (an interpreter importing Robot Framework) is not any item's fault: on a
#: loaded runner it can take longer than a short per-item deadline.
_STARTUP_TIMEOUT = 60.0


class RepoPythonError(Exception):
    """The configured interpreter is missing, broken, or has an unsupported Robot Framework."""


def resolve_python(raw: str, repo: Path) -> Path:
    """`raw` as an executable: a path (absolute, or relative to the repo, then to the current
    folder) or a command name on PATH. Raises RepoPythonError naming the value."""
    candidates = [raw] if os.path.isabs(raw) else [str(repo / raw), raw]
    for candidate in candidates:
        if found := shutil.which(candidate):
            return Path(found).absolute()
    raise RepoPythonError(
        f"repo Python {raw!r} not found or not executable: point JIRA2ROBOT_REPO_PYTHON (or python: in "
        ".jira2robot.yml, or --repo-python) at the interpreter of the venv holding the repo's requirements"
    )


def _version_tuple(version: str) -> tuple[int, int]:
    head = version.split(".")
    try:
        return int(head[0]), int("".join(c for c in head[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def probe(python: str | Path, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """RF version, Python version and distributions of `python` (see `scan_worker.probe`)."""
    try:
        done = subprocess.run(
            [str(python), str(WORKER), "--probe"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env=scrubbed_env(secrets),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepoPythonError(f"repo Python {python} could not be run: {exc}") from exc
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'robot'" in done.stderr:
            reason = "Robot Framework is not installed there (pip install robotframework)"
        raise RepoPythonError(f"repo Python {python}: {reason}")
    return json.loads(done.stdout.splitlines()[-1])


def check_supported(python: str | Path, secrets: Iterable[str] = ()) -> str:
    """The interpreter's RF version, or RepoPythonError when it is outside the supported range."""
    version = probe(python, secrets)["robot"]
    if not MIN_ROBOT <= _version_tuple(version) < MAX_ROBOT_EXCLUSIVE:
        low, high = ".".join(map(str, MIN_ROBOT)), ".".join(map(str, MAX_ROBOT_EXCLUSIVE))
        raise RepoPythonError(
            f"repo Python {python} has Robot Framework {version}; supported: >= {low}, < {high}. "
            f"Pin robotframework>={low},<{high} in the repo's requirements"
        )
    return version


# --------------------------------------------------------------------------- the scan subprocess


@dataclass
class ScanOutcome:
    """Results by item index; `hung` lists the indexes killed at the deadline."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    hung: list[int] = field(default_factory=list)
    crashed: dict[int, str] = field(default_factory=dict)


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


#: Scan workers alive now. An interrupted run abandons a scan stuck in a library's import (its
#: thread is a daemon, see `interrupt.in_daemon_thread`); the worker must not outlive the run.
_LIVE: set[subprocess.Popen[str]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_live_workers() -> None:
    """At interpreter exit, however the run ended (SIGTERM included), no scan worker is left."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        _kill(process)


def _kill(process: subprocess.Popen[str]) -> None:
    """The worker and anything the repo's code started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def run_scan(
    python: str | Path,
    pythonpath: Sequence[str],
    items: Sequence[Mapping[str, Any]],
    *,
    timeout: float,
    secrets: Iterable[str] = (),
    allow: Iterable[str] = (),
    cwd: Path | None = None,
) -> ScanOutcome:
    """Run `items` in worker processes of `python`; each item gets `timeout` seconds, with the
    environment the dryrun gets (`allow`: the repo's `dryrun_env`, which its libraries may need
    at import as much as at run time).

    An item that overruns is recorded in `hung`, its worker killed, and a fresh worker takes
    the remaining items: one hanging import costs one deadline, the others are still scanned.
    """
    outcome = ScanOutcome()
    pending = list(range(len(items)))
    env = repo_code_env(secrets, allow=allow)
    while pending:
        process = subprocess.Popen(
            [str(python), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(process)
        try:
            _scan_batch(process, items, pending, pythonpath, timeout, outcome)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(process)
    return outcome


def _scan_batch(
    process: subprocess.Popen[str],
    items: Sequence[Mapping[str, Any]],
    pending: list[int],
    pythonpath: Sequence[str],
    timeout: float,
    outcome: ScanOutcome,
) -> None:
    """Feed the pending items to one worker; what it did not get through stays in `pending`."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    assert process.stdin is not None
    process.stdin.write(json.dumps({"pythonpath": list(pythonpath), "items": [items[i] for i in pending]}) + "\n")
    process.stdin.close()
    batch, current = list(pending), None
    try:
        while True:
            line = lines.get(timeout=timeout if current is not None else max(timeout, _STARTUP_TIMEOUT))
            if line is None:  # the worker exited: done, or crashed on `current`
                break
            message = json.loads(line)
            if "start" in message:
                current = batch[message["start"]]
            else:
                outcome.results[current] = message
                pending.remove(current)
                current = None
    except queue.Empty:
        outcome.hung.append(current if current is not None else pending[0])
        pending.remove(outcome.hung[-1])
        _kill(process)
        return
    process.wait()
    if current is not None:  # died inside an item (e.g. os._exit in an import)
        outcome.crashed[current] = f"the scan process exited with code {process.returncode}"
        pending.remove(current)
    elif pending:  # died before starting anything: nothing more can be learnt
        for index in pending:
            outcome.crashed[index] = f"the scan process exited with code {process.returncode}"
        pending.clear()
