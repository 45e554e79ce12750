"""A small pool of warm dryrun workers (`generator/validate/dryrun_worker.py`), one per run.

Each dryrun attempt used to start a new Python and import Robot Framework: 0.3-0.9 s before any
work, paid again for every repair attempt, and more on a shared CI runner. The pool keeps up to
`size` workers (the run's dryrun limit bounds how many are busy), each started once in the
repository's interpreter with the scrubbed environment the subprocess would get.

A worker is used for one file at a time and thrown away

- after `max_jobs` files (the repo's libraries stay imported in it: a long-lived worker would
  accumulate whatever their import does),
- when it crashed (a library calling `os._exit`, a segfault): that file is then run the old way,
  in a fresh `robot` process, so its diagnostics are exactly what a fresh dryrun says,
- when its file ran past the timeout or the caller was cancelled (deadline, SIGTERM): its
  process group is killed, as anyio kills a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

WORKER = Path(__file__).with_name("dryrun_worker.py")
#: Files one worker runs before it is replaced.
DEFAULT_MAX_JOBS = 25
_MAX_ANSWER = 64 * 1024 * 1024


class WorkerCrashed(Exception):
    """The worker ended or answered nonsense: the caller runs the file in a fresh process."""


@dataclass
class _Worker:
    process: Process
    answers: BufferedByteReceiveStream
    jobs: int = 0

    async def receive(self) -> dict[str, Any]:
        try:
            line = await self.answers.receive_until(b"\n", _MAX_ANSWER)
            answer = json.loads(line)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, ValueError) as exc:
            raise WorkerCrashed(str(exc) or type(exc).__name__) from None
        if not isinstance(answer, dict):
            raise WorkerCrashed(f"unexpected answer {answer!r}")
        return answer

    async def ask(self, args: Sequence[str], cwd: Path, gate: Path) -> tuple[int, str, float]:
        assert self.process.stdin is not None
        request = {"args": list(args), "cwd": str(cwd), "gate": str(gate)}
        try:
            await self.process.stdin.send((json.dumps(request) + "\n").encode())
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise WorkerCrashed(str(exc)) from None
        answer = await self.receive()
        self.jobs += 1
        return int(answer["rc"]), str(answer["stderr"]), float(answer["seconds"])

    async def kill(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # robot's children too
        with anyio.CancelScope(shield=True):
            await self.process.wait()
            await self.process.aclose()


class DryrunRunner(Protocol):
    """Runs `robot ARGS` in `cwd` somewhere warm, behind the trust gate configured by the file
    `gate` (`validate.gate`): the pool's workers, or a fork of `validate`."""

    async def run(self, args: Sequence[str], cwd: Path, gate: Path) -> tuple[int, str, float] | None: ...


class DryrunPool:
    """Warm workers for one run; `run` returns None when a fresh process must do the file."""

    def __init__(self, python: str, env: Mapping[str, str], *, max_jobs: int = DEFAULT_MAX_JOBS) -> None:
        self.python = python
        self.env = dict(env)
        self.max_jobs = max_jobs
        self.started = 0  # workers started so far (recycling is visible to callers and tests)
        self.robot_seconds = 0.0  # Robot Framework's own time in the workers: the rest is overhead
        self._idle: list[_Worker] = []
        self._closed = False

    async def _start(self) -> _Worker:
        process = await anyio.open_process(
            [self.python, str(WORKER), "--dryrun"],  # what it is, for `ps` (the worker ignores it)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        assert process.stdout is not None
        worker = _Worker(process, BufferedByteReceiveStream(process.stdout))
        self.started += 1
        try:
            if not (await worker.receive()).get("ready"):
                raise WorkerCrashed("no ready line")
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def run(self, args: Sequence[str], cwd: Path, gate: Path) -> tuple[int, str, float] | None:
        """(return code, stderr, RF's own seconds) of `robot args` run in `cwd` behind the gate
        configured by `gate`, or None after a crash.

        The caller bounds the time (`anyio.fail_after`): a cancelled run kills its worker.
        """
        if self._closed:
            return None
        try:
            worker = self._idle.pop() if self._idle else await self._start()
        except (WorkerCrashed, OSError):
            return None
        kept = False
        try:
            answer = await worker.ask(args, cwd, gate)
            self.robot_seconds += answer[2]
            kept = worker.jobs < self.max_jobs and not self._closed
            return answer
        except WorkerCrashed:
            return None
        finally:
            if kept:
                self._idle.append(worker)
            else:
                await worker.kill()

    async def aclose(self) -> None:
        """Kill the idle workers; a busy one is killed by its own `run` when it returns."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            await worker.kill()
