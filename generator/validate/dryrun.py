"""The real `robot --dryrun` of a candidate inside the checked-out repo, leaving it as it was:
the candidate is a hidden sibling of its target, every output goes outside the repo, no
byte-code is written, and the environment is scrubbed (`generator.safety.sandbox`). A warm worker
(`validate.pool`) or a fork (`validate.fork`) runs it when one is given, else a fresh process."""

from __future__ import annotations

import fcntl
import inspect
import json
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from pathlib import Path, PurePosixPath
from typing import TextIO

import anyio

from generator.models import Diagnostic, KeywordInventory, ValidationResult
from generator.safety.sandbox import repo_code_env
from generator.validate.dryrun_listener import DryrunLineRecorder
from generator.validate.outcome import GATE_REFUSALS, read_outcome
from generator.validate.paths import confinement_problem
from generator.validate.pool import WORKER, DryrunPool, DryrunRunner
from generator.validate.static import parse_text, scan_model

# --------------------------------------------------------------------------- dryrun


class _BorrowedFolders:
    """Folders created for temporary files, shared by concurrent dryruns.

    Two tickets may target the same new folder at once; the one finishing first must not
    remove the folder under the other one, so folders are reference-counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[Path, int] = {}

    def borrow(self, folder: Path, root: Path) -> list[Path]:
        chain = [folder, *folder.parents]
        chain = list(reversed(chain[: chain.index(root)]))  # below root, outermost first
        with self._lock:
            created: list[Path] = []
            try:
                for path in chain:
                    if not path.exists():
                        path.mkdir()
                        created.append(path)
            except OSError:
                for path in reversed(created):
                    path.rmdir()
                raise
            self._users.update(dict.fromkeys(created, 0))
            borrowed = [p for p in chain if p in self._users]
            for path in borrowed:
                self._users[path] += 1
        return borrowed

    def release(self, borrowed: list[Path]) -> None:
        with self._lock:
            for path in reversed(borrowed):
                self._users[path] -= 1
                if self._users[path] == 0:
                    del self._users[path]
                    # If something else was put there meanwhile, it is not ours to remove.
                    with suppress(OSError):
                        path.rmdir()


_FOLDERS = _BorrowedFolders()


def _robot_args(
    candidate: Path,
    out_dir: Path,
    repo: Path,
    robot_options: Sequence[str],
    pythonpath: Sequence[str],
) -> list[str]:
    """The arguments of `robot --dryrun`; our output options come last so they win over the repo's.

    The listener is passed by path, so the repo's own interpreter needs nothing of this tool
    installed.
    """
    command = ["--dryrun", *robot_options]
    for entry in pythonpath:
        command += ["--pythonpath", str(repo / entry)]
    command += [
        "--outputdir",
        str(out_dir),
        "--output",
        str(out_dir / "output.xml"),
        "--log",
        "NONE",
        "--report",
        "NONE",
        "--xunit",
        "NONE",
        "--debugfile",
        "NONE",
        "--console",
        "quiet",
        "--listener",
        f"{inspect.getfile(DryrunLineRecorder)}:{out_dir / 'lines.json'}",
        str(candidate),
    ]
    return command


def _fresh_command(python: str | None, gate: Path, args: Sequence[str]) -> list[str]:
    """A one-off dryrun process in the repo's interpreter (`python`, default this one), with the
    same entry point as the warm workers: the gate is armed before Robot Framework starts."""
    return [python or sys.executable, str(WORKER), "--once", str(gate), *args]


def _gate_config(out_dir: Path, root: Path, candidate: Path, target: Path, inventory: KeywordInventory) -> Path:
    """The trust gate's configuration for one dryrun (`validate.gate.install`), written beside
    its outputs: the repo's allow-list and where refusals are recorded (`GATE_REFUSALS`)."""
    path = out_dir / "gate.json"
    config = {
        "root": str(root),
        "candidate": str(candidate),
        "target": str(target),
        "libraries": inventory.libraries,
        "resources": inventory.imported_resources(),
        "variables": inventory.variables,
        "library_arguments": inventory.library_arguments(),
        "report": str(out_dir / GATE_REFUSALS),
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _robot_env(secrets: Sequence[str], dryrun_env: Sequence[str]) -> dict[str, str]:
    """Our environment without credentials (`sandbox.repo_code_env`, keeping the names the repo
    allows in `dryrun_env`): the repo's libraries run in the dryrun, and a generated file may
    be hostile. No byte-code in the repo. Nothing of this tool is put on the module path: the
    listener is passed by file, and the repo's own interpreter must see only its own packages."""
    return repo_code_env(secrets, allow=dryrun_env)


def dryrun_pool(python: str | None, secrets: Sequence[str], dryrun_env: Sequence[str]) -> DryrunPool:
    """Warm workers for a run: the repo's interpreter and the environment `robot` would get."""
    return DryrunPool(python or sys.executable, _robot_env(secrets, dryrun_env))


def forked_dryrun(python: str | None, secrets: Sequence[str], dryrun_env: Sequence[str]) -> DryrunRunner | None:
    """`validate`'s dryrun in a fork of this process, when nothing in it needs hiding from the
    repo's code (`generator.validate.fork`); None: a fresh `robot` process, as `run` does."""
    from generator.validate.fork import ForkedDryrun, can_fork

    env = _robot_env(secrets, dryrun_env)
    return ForkedDryrun(env) if can_fork(env, secrets, python) else None


_CANDIDATE_RE = re.compile(r"\.[A-Za-z0-9_-]*\.jira2robot-[0-9a-f]{12}\.robot")


def _candidate_name(target: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", PurePosixPath(target).stem)[:60]
    return f".{stem}.jira2robot-{secrets.token_hex(6)}.robot"


def remove_stale_candidates(repo: Path, tests_dir: str) -> list[Path]:
    """Remove hidden candidates (`_candidate_name`) left in the tests folder by a killed run.

    A cancelled dryrun removes its own candidate, but kill -9 runs no cleanup at all, so each
    run sweeps the debris of its predecessors before it starts. Only names of exactly our
    pattern are touched, and only when no process holds them: a live candidate of a run
    working in the same tree (parallel shards sharing a checkout) is locked by its dryrun.
    """
    removed = []
    for path in (Path(repo) / tests_dir).rglob(".*.jira2robot-*.robot"):
        if not _CANDIDATE_RE.fullmatch(path.name):
            continue
        try:
            with path.open("rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink()
        except (BlockingIOError, FileNotFoundError, IsADirectoryError):
            continue  # live, or already gone, or not a file of ours
        removed.append(path)
    return removed


async def dryrun(
    text: str,
    target_path: str,
    *,
    repo: Path,
    robot_options: Sequence[str] = (),
    pythonpath: Sequence[str] = (),
    limiter: anyio.CapacityLimiter | None = None,
    timeout: float = 300.0,
    inventory: KeywordInventory,
    secrets: Sequence[str] = (),
    dryrun_env: Sequence[str] = (),
    python: str | None = None,
    pool: DryrunRunner | None = None,
) -> ValidationResult:
    """`robot --dryrun` of `text` as if it were `repo/target_path`, leaving the repo untouched.

    `inventory` is the repo's import allow-list: the trust gate (`validate.gate`) refuses, inside
    Robot's process, any import it does not vouch for, and a failing allow-listed import of the
    file counts as an environment error. Robot runs without credentials in its environment (`_robot_env`), in `python` (the repo's
    interpreter, default this one), on `pool` when given (warm workers or a fork).
    """
    root = Path(repo).resolve()
    if PurePosixPath(target_path).is_absolute() or "\\" in target_path or ".." in target_path.split("/"):
        problem: str | None = f"Target path {target_path!r} must be relative to the repository, without '..'"
    else:
        problem = confinement_problem(root, ".", target_path)
    if problem:
        return ValidationResult(ok=False, diagnostics=[Diagnostic(source="path", message=problem)])
    scan = scan_model(parse_text(text))
    target = root / target_path
    async with limiter if limiter is not None else nullcontext():
        with tempfile.TemporaryDirectory(prefix="jira2robot-dryrun-") as tmp:
            out_dir = Path(tmp)
            candidate = target.parent / _candidate_name(target_path)
            borrowed: list[Path] = []
            held: TextIO | None = None
            try:
                try:
                    borrowed = _FOLDERS.borrow(target.parent, root)
                    held = candidate.open("x", encoding="utf-8")
                    # Kept open under a shared lock while it exists: a concurrent run's sweep
                    # (`remove_stale_candidates`) sees it is live; kill -9 releases the lock.
                    fcntl.flock(held, fcntl.LOCK_SH)
                    held.write(text)
                    held.flush()
                except OSError as exc:  # e.g. a file where the target wants a folder
                    message = f"Cannot write next to {target_path!r}: {exc.strerror or exc}"
                    return ValidationResult(ok=False, diagnostics=[Diagnostic(source="path", message=message)])
                args = _robot_args(candidate, out_dir, root, robot_options, pythonpath)
                gate = _gate_config(out_dir, root, candidate, target, inventory)
                with anyio.fail_after(timeout):
                    # A warm worker runs the same arguments; after a crash, a fresh process does.
                    answer = await pool.run(args, root, gate) if pool is not None else None
                    if answer is None:
                        process = await anyio.run_process(
                            _fresh_command(python, gate, args),
                            cwd=root,
                            env=_robot_env(secrets, dryrun_env),
                            check=False,
                        )
                        answer = (process.returncode, process.stderr.decode("utf-8", "replace"), 0.0)
            except TimeoutError:
                return ValidationResult(
                    ok=False,
                    environment_error=True,
                    diagnostics=[
                        Diagnostic(
                            source="environment",
                            message=f"robot --dryrun did not finish within {timeout:g} s "
                            "(a library of the repo may hang while importing).",
                        )
                    ],
                )
            finally:  # also on cancellation (deadline, SIGTERM): anyio has killed robot by then
                if held is not None:
                    candidate.unlink(missing_ok=True)
                    held.close()
                _FOLDERS.release(borrowed)
            return await anyio.to_thread.run_sync(
                read_outcome,
                out_dir,
                candidate,
                target_path,
                root,
                scan,
                inventory,
                answer[0],
                answer[1],
            )
