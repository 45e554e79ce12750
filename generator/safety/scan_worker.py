"""The part of the keyword scan that imports the repo's code, run in the repo's own Python.

Libdoc of the repo's libraries and loading its variable files execute the repo's modules:
they must see the repo's own Robot Framework and libraries (a repo pinning RF 6.1 next to a
tool on RF 7), and a module that hangs or crashes while importing must cost one named
warning, not the run. So `generator.retrieval.inventory` starts this file *by path* with the repo's
interpreter (`python scan_worker.py`), which is why it imports only the standard library and
Robot Framework's public API (nothing of this package, no pydantic).

Protocol, one JSON document per line:

* stdin: `{"pythonpath": [dirs], "items": [{"kind": "library", "target", "args"} |
  {"kind": "variables", "source", "args"}]}`;
* stdout: `{"start": i}` before item `i` is touched, then `{"done": i, ...result}` after it,
  flushed at once, so the parent knows which item a hang belongs to and keeps the results
  of the items before it.

With `--probe` it only prints the interpreter's Robot Framework version, Python version and
installed distributions (the part of the inventory cache key that lives in that interpreter).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import sys
from collections.abc import Mapping
from typing import Any


def probe() -> dict[str, Any]:
    """What of this interpreter decides the scan's result: RF, Python and every distribution."""
    from robot.version import get_version

    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    return {"robot": get_version(), "python": sys.version, "distributions": dists}


def decorated(name: str, value: object) -> str | None:
    """`${NAME}`, `@{LIST}` or `&{DICT}` as a suite would use the variable; None for what a
    static variable file exposes by accident (imported modules, functions, classes).

    Only the value's *type* is looked at and the value is dropped right here: variable files
    often hold credentials, and nothing but the name may leave this process.
    RF 6 returns names already decorated (`${A}`), RF 7 bare (`A`): both are accepted.
    """
    if name[:2] in ("${", "@{", "&{") and name.endswith("}"):
        name = name[2:-1]
    if inspect.ismodule(value) or callable(value):
        return None
    if isinstance(value, Mapping):
        return f"&{{{name}}}"
    if isinstance(value, (list, tuple)):
        return f"@{{{name}}}"
    return f"${{{name}}}"


def _library(item: Mapping[str, Any]) -> dict[str, Any]:
    from robot.libdoc import LibraryDocumentation

    spec = "::".join([item["target"], *item["args"]])
    doc = LibraryDocumentation(spec).to_dictionary()
    keywords = [
        {
            "name": kw["name"],
            "args": [(a["kind"], a["name"], a.get("defaultValue")) for a in kw["args"]],
            "shortdoc": kw.get("shortdoc", ""),
            "tags": list(kw.get("tags", ())),
        }
        for kw in doc["keywords"]
    ]
    return {"keywords": keywords}


def _variables(item: Mapping[str, Any]) -> dict[str, Any]:
    from robot.variables import Variables

    found = Variables().set_from_file(item["source"], list(item["args"]))
    return {"names": [n for n in (decorated(name, value) for name, value in found) if n is not None]}


def _run_item(item: Mapping[str, Any]) -> dict[str, Any]:
    from robot.errors import DataError

    try:
        return {"ok": True, **(_library(item) if item["kind"] == "library" else _variables(item))}
    except DataError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a broken library must not end the scan of the others
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


_protocol = sys.stdout


def _emit(message: dict[str, Any]) -> None:
    _protocol.write(json.dumps(message) + "\n")
    _protocol.flush()


def main() -> int:
    global _protocol
    # The protocol keeps its own copy of stdout; whatever the repo's modules print goes to stderr.
    _protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    if sys.argv[1:] == ["--probe"]:
        _emit(probe())
        return 0
    request = json.loads(sys.stdin.readline())
    sys.path[:0] = request["pythonpath"]
    sys.dont_write_bytecode = True  # no __pycache__ folders in the repo
    from robot.output import LOGGER

    LOGGER.unregister_console_logger()  # libdoc's warnings would mix with the protocol
    for index, item in enumerate(request["items"]):
        _emit({"start": index})
        _emit({"done": index, **_run_item(item)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
