"""A warm `robot --dryrun` worker, run by file path in the repository's own interpreter.

Starting Python and importing Robot Framework costs 0.3-0.9 s per dryrun attempt; this process
pays it once and then runs one dryrun per request with `robot.run_cli`, the same entry point
`python -m robot` uses, with the same arguments. Robot Framework resets its own state (imported
libraries and resources, the logger) at every run. Only the standard library and Robot Framework
are imported here, so the repository's interpreter needs nothing of jira2robot installed, and
this file's folder is taken off the module path as `python -m robot` would never have it.

`sys.argv` is set per request to what `python -m robot ARGS` would show, and the worker is
started with `--dryrun` on its own command line, so `ps` and the repo's code see a dryrun.

Protocol: one JSON request per line on stdin, `{"args": [...], "cwd": "..."}`; one JSON answer
per line on the original stdout, `{"rc": int, "stderr": str, "seconds": float}` (`seconds`:
Robot Framework's own work). Robot's console output goes to /dev/null (the arguments ask for
`--console quiet` anyway) and its stderr is captured per request, as a subprocess's would be.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def run_request(args: list[str], cwd: str, robot_main: str) -> dict[str, object]:
    """One dryrun as `python -m robot ARGS` in `cwd` would run it: its return code, its stderr
    and Robot Framework's own seconds. Shared by this worker and the forked dryrun of
    `jira2robot validate` (`generator/validate/fork.py`), so both answer alike."""
    from robot import run_cli

    os.chdir(cwd)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    # What `python -m robot ARGS` shows the repo's libraries (some look for "--dryrun" there).
    sys.argv = [robot_main, *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            rc = run_cli(args, exit=False)
        except SystemExit as stop:
            rc = stop.code if isinstance(stop.code, int) else 1
        finally:
            sys.stderr.flush()
            sys.stdout.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        stderr = captured.read().decode("utf-8", "replace")
    return {"rc": rc, "stderr": stderr, "seconds": time.perf_counter() - started}


def robot_main_path() -> str:
    """`robot/__main__.py`, for `sys.argv[0]` (importing it would run it)."""
    import robot

    return os.path.join(os.path.dirname(robot.__file__), "__main__.py")


def main() -> None:
    del sys.path[0]  # this file's folder: `python -m robot` puts the working directory there instead
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    robot_main = robot_main_path()

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answers.write(json.dumps(run_request(request["args"], request["cwd"], robot_main)) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
