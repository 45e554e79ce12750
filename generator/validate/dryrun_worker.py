"""A warm `robot --dryrun` worker, run by file path in the repository's own interpreter.

Starting Python and importing Robot Framework costs 0.3-0.9 s per dryrun attempt; this process
pays it once and then runs one dryrun per request with `robot.run_cli`, the same entry point
`python -m robot` uses, with the same arguments. Robot Framework resets its own state (imported
libraries and resources, the logger) at every run. Only the standard library and Robot Framework
are imported here, so the repository's interpreter needs nothing of jira2robot installed, and
this file's folder is taken off the module path as `python -m robot` would never have it.

`sys.argv` is set per request to what `python -m robot ARGS` would show, and the worker is
started with `--dryrun` on its own command line, so `ps` and the repo's code see a dryrun.

Every request runs behind the trust gate (`gate.py`, loaded by path like this file): the
request names its configuration file, and a request without one is refused, not run.

Protocol: one JSON request per line on stdin, `{"args": [...], "cwd": "...", "gate": "..."}`;
one JSON answer per line on the original stdout, `{"rc": int, "stderr": str, "seconds": float}`
(`seconds`: Robot Framework's own work). Robot's console output goes to /dev/null (the
arguments ask for `--console quiet` anyway) and its stderr is captured per request, as a
subprocess's would be. `dryrun_worker.py --once GATE ARGS...` runs one dryrun the same way and
exits with its return code: the fresh process of a run without warm workers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time

#: Return code of a request the gate could not be armed for (Robot's own codes stop at 252).
GATE_FAILED = 253


def arm_gate(gate: str) -> None:
    """Install the trust gate (`gate.py` beside this file) with the configuration file `gate`."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gate.py")
    spec = importlib.util.spec_from_file_location("jira2robot_gate", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = sys.modules.get("jira2robot_gate")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["jira2robot_gate"] = module
    with open(gate, encoding="utf-8") as config:
        module.install(json.load(config))


def run_request(args: list[str], cwd: str, robot_main: str, gate: str | None) -> dict[str, object]:
    """One dryrun as `python -m robot ARGS` in `cwd` would run it, behind the trust gate: its
    return code, its stderr and Robot Framework's own seconds. Shared by this worker and the
    forked dryrun of `jira2robot validate` (`generator/validate/fork.py`), so both answer alike.
    Without a gate nothing runs: a caller that forgot it gets an error, not an open door."""
    from robot import run_cli

    try:
        if not gate:
            raise ValueError("no gate configuration given")
        arm_gate(gate)
    except Exception as exc:  # anything at all: nothing of the candidate may run unguarded
        return {"rc": GATE_FAILED, "stderr": f"jira2robot trust gate could not be armed: {exc!r}", "seconds": 0.0}
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
    if len(sys.argv) > 2 and sys.argv[1] == "--once":
        answer = run_request(sys.argv[3:], os.getcwd(), robot_main_path(), sys.argv[2])
        sys.stderr.write(str(answer["stderr"]))
        sys.exit(int(answer["rc"]))  # type: ignore[call-overload]
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    robot_main = robot_main_path()

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer = run_request(request["args"], request["cwd"], robot_main, request.get("gate"))
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
