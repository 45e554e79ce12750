"""`jira2robot validate`'s dryrun in a fork of its own process, when that process holds no secret.

`validate` has already imported Robot Framework to parse the file; a fresh `python -m robot`
would start Python and import it again, which is most of what a one-file dryrun costs
(0.15-0.9 s). A fork starts with everything imported and runs the same `run_cli` call as the
warm workers (`validate.dryrun_worker.run_request`), so its diagnostics are the same.

A fork copies the whole process: its memory and its original environment block (which
`/proc/self/environ` shows whatever `os.environ` says later). So it is used only when there is
nothing to hide: no configured secret and no variable `sandbox.repo_code_env` would remove,
which is what a developer's shell usually is and a CI job (it has `CI_JOB_TOKEN`) never is. Then
the child's environment is exactly the one a fresh `robot` would get. Otherwise `validate` runs
`robot` in a fresh, scrubbed process as `run` does.

The child is a separate process: the caller's deadline kills it (a library that hangs at import
costs the deadline, not forever), and whatever the repo's libraries import or change dies with it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import anyio
from robot.output import LOGGER

from generator.validate.dryrun_worker import robot_main_path, run_request


def can_fork(env: Mapping[str, str], secrets: Sequence[str], python: str | None) -> bool:
    """Nothing of this process needs hiding from the repo's code, and the repo's Python is this one.

    `env` is the environment a fresh dryrun would get (`repo_code_env`): a fork may run only if
    that removes nothing from ours and changes no value.
    """
    # Not resolved: a venv's python is a symlink to the same binary as every other venv's.
    same_python = python is None or os.path.abspath(python) == os.path.abspath(sys.executable)
    unchanged = all(env.get(name) == value for name, value in os.environ.items())
    return same_python and unchanged and not any(secrets)


class ForkedDryrun:
    """The `run` of a `DryrunPool`, done in a fork of this process (see the module's docstring)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.robot_main = robot_main_path()
        self.robot_seconds = 0.0

    async def run(self, args: Sequence[str], cwd: Path, gate: Path) -> tuple[int, str, float] | None:
        """(return code, stderr, RF's own seconds), or None when the child died without an answer
        (the caller then runs a fresh `robot`). A cancelled or timed-out call kills the child."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                os.close(read_end)
                self._child(list(args), str(cwd), str(gate), write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with suppress(OSError):  # as the child does: whichever runs first, a kill finds the group
            os.setpgid(pid, pid)
        os.set_blocking(read_end, False)
        chunks: list[bytes] = []
        try:
            while True:
                await anyio.wait_readable(read_end)
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # robot's own children too
            raise
        finally:
            os.close(read_end)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(os.waitpid, pid, 0)
        try:
            answer = json.loads(b"".join(chunks))
            rc, stderr, seconds = int(answer["rc"]), str(answer["stderr"]), float(answer["seconds"])
        except (ValueError, KeyError, TypeError):
            return None
        self.robot_seconds += seconds
        return rc, stderr, seconds

    def _child(self, args: list[str], cwd: str, gate: str, answers: int) -> None:
        os.setpgid(0, 0)  # its own group, so a kill reaches what the repo's code started
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)  # the parent's handlers belong to the parent
        os.environ.clear()
        os.environ.update(self.env)
        sys.dont_write_bytecode = True  # PYTHONDONTWRITEBYTECODE, as a fresh dryrun gets it
        # Robot's logger is a process-wide object: parsing in this process (the inventory's
        # build, the trust rule) left messages in its cache, which the run would write into its
        # output as its own errors. Closing it resets it, as Robot does at the end of every run.
        LOGGER.close()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        answer = run_request(args, cwd, self.robot_main, gate)
        with os.fdopen(answers, "w", encoding="utf-8") as out:
            out.write(json.dumps(answer))
