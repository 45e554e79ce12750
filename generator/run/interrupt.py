"""SIGTERM and SIGINT stop a run cleanly: in-flight work is cancelled, the report still written.

GitLab cancels a job with SIGTERM and kills it a few seconds later; a Ctrl-C reaches the
whole process group. Python's defaults (die at once on SIGTERM, KeyboardInterrupt wherever
the main thread happens to be on SIGINT) leave hidden candidate files in the repo, orphaned
`robot` processes and a report that misses what was done. Here the first signal cancels the
run's body through anyio, so every `finally` runs (candidate files removed, child processes
killed by anyio's process cleanup, unfinished tickets reported as `interrupted`), and
`Interrupted` tells the CLI which exit code to use (128 + the signal number: 143, 130).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
T = TypeVar("T")


class Interrupted(Exception):
    """Raised once the interrupted run has cleaned up and written its report."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


@dataclass
class Stop:
    """Which signal stopped the run, if any (read by cleanup code to mark what did not finish)."""

    signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


@asynccontextmanager
async def stop_on_signals() -> AsyncIterator[Stop]:
    """Run the body; on the first SIGTERM/SIGINT cancel it, then raise `Interrupted`.

    Signals that arrive while the body cleans up are swallowed: cleanup is bounded (files,
    killing children, one report render), and a second Ctrl-C must not tear it in half.
    """
    stop = Stop()
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                async for signum in signals:
                    stop.signum = signum
                    group.cancel_scope.cancel()
                    return

            group.start_soon(watch)
            yield stop
            group.cancel_scope.cancel()  # the body is done: stop watching
    if stop.signum is not None:
        raise Interrupted(stop.signum)


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a thread that cancellation abandons and that never holds up the exit.

    For blocking work that imports the repo's code (the keyword scan): a library that sleeps
    on import must not keep an interrupted job alive. anyio's worker threads are not daemons,
    so an abandoned one would still make the interpreter wait for it at exit.
    """
    outcome: list[Any] = []
    done = anyio.Event()
    token = anyio.lowlevel.current_token()

    def target() -> None:
        try:
            outcome.append((True, function(*args)))
        except BaseException as exc:  # handed to the awaiting task, which raises it
            outcome.append((False, exc))
        finally:
            with suppress(RuntimeError):  # the event loop is gone: nobody waits any more
                anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=target, name=getattr(function, "__name__", "worker"), daemon=True).start()
    await done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
