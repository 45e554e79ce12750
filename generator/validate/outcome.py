"""What a `robot --dryrun` said, as diagnostics: output.xml read with Robot's result API, the
listener's step lines, and the failing imports sorted into the writer's errors and the
environment's (a library of the repo missing from the job is not the writer's to fix)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot.api import ExecutionResult
from robot.errors import DataError
from robot.result import Keyword as ResultKeyword

from generator.models import Diagnostic, KeywordInventory, ValidationResult
from generator.validate.static import ImportScan, import_allowed, resolve_import

#: The JSON-lines file, in the dryrun's output folder, where the trust gate records each refusal.
GATE_REFUSALS = "gate-refusals.jsonl"
_GATE_MARK = "jira2robot trust gate: "
_IMPORT_FAILED_RE = re.compile(r"Importing (?:library|variable file) '(?P<name>[^']*)' failed: (?P<reason>.*)")
_FILE_ERROR_RE = re.compile(r"^Error in file '(?P<source>.+?)'(?: on line (?P<line>\d+))?: (?P<message>.*)$")
_INSTALL_HINT = (
    "Install the repo's requirements in the job (component input `install`, e.g. pip install -r requirements.txt)"
)


def _failures(item: Any, lines: dict[str, int]) -> list[tuple[int, str | None, str]]:
    """Innermost failing steps written in the file under test, as (line, keyword, message).

    A failing call of a repo keyword is reported at the call site with the inner message;
    a failing step of a local keyword at its own line.
    """
    children = []
    if getattr(item, "has_setup", False):
        children.append(item.setup)
    children += [c for c in getattr(item, "body", ()) if hasattr(c, "status")]
    if getattr(item, "has_teardown", False):
        children.append(item.teardown)
    found = [f for child in children if child.failed for f in _failures(child, lines)]
    if found:
        return found
    line = lines.get(item.id) if item.id else None
    if item.failed and line is not None:
        keyword = item.name if isinstance(item, ResultKeyword) else None
        return [(line, keyword, _message(item))]
    return []


def _message(item: Any) -> str:
    """The failure text: RF 7 keeps it on the item, RF 6 (a repo's own interpreter may run it)
    in a FAIL-level message inside it."""
    if item.message:
        return item.message
    logged = [m.message for m in getattr(item, "body", ()) if getattr(m, "level", None) == "FAIL"]
    return logged[-1] if logged else f"{item.type} failed"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@dataclass
class _Outcome:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    environment_error: bool = False

    def add(self, diagnostic: Diagnostic) -> None:
        if _GATE_MARK in diagnostic.message:  # refused inside Robot's process, whatever reported it
            message = diagnostic.message[diagnostic.message.index(_GATE_MARK) + len(_GATE_MARK) :]
            diagnostic = diagnostic.model_copy(update={"source": "trust", "severity": "error", "message": message})
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    def add_refusals(self, out_dir: Path) -> None:
        """The gate's own record: authoritative even when the file caught the failure it raised."""
        path = out_dir / GATE_REFUSALS
        if not path.is_file():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            message = json.loads(line)["message"]
            if not any(d.source == "trust" and message in d.message for d in self.diagnostics):
                self.add(Diagnostic(source="trust", message=message))
        self.environment_error = False  # the file is at fault, not the job

    def result(self) -> ValidationResult:
        ok = not self.environment_error and all(d.severity != "error" for d in self.diagnostics)
        return ValidationResult(ok=ok, diagnostics=self.diagnostics, environment_error=self.environment_error)


def _environment_diagnostic(kind: str, name: str, reason: str, line: int | None = None) -> Diagnostic:
    what = "library" if kind == "Library" else "variable file"
    return Diagnostic(
        source="environment",
        line=line,
        message=f"The repo's own {what} '{name}' cannot be imported in this job: {reason}. {_INSTALL_HINT}",
    )


def read_outcome(
    out_dir: Path,
    candidate: Path,
    target: str,
    repo: Path,
    scan: ImportScan,
    inventory: KeywordInventory | None,
    returncode: int,
    stderr: str,
) -> ValidationResult:
    """Diagnostics from output.xml (Robot's result API), the listener's line map and the trust
    gate's refusals (`GATE_REFUSALS`)."""

    def clean(text: str) -> str:
        return text.replace(str(candidate), target).replace(f"{repo}{os.sep}", "")

    outcome = _read(out_dir, candidate, target, scan, inventory, returncode, stderr, clean)
    outcome.add_refusals(out_dir)
    return outcome.result()


def _read(
    out_dir: Path,
    candidate: Path,
    target: str,
    scan: ImportScan,
    inventory: KeywordInventory | None,
    returncode: int,
    stderr: str,
    clean: Callable[[str], str],
) -> _Outcome:
    outcome = _Outcome()
    output = out_dir / "output.xml"
    try:
        result = ExecutionResult(str(output)) if output.is_file() else None
    except DataError:  # the process died while writing it
        result = None
    if result is None:
        if scan.tests == 0:
            outcome.add(Diagnostic(source="dryrun", message="The file has no test case."))
        else:
            # Nothing of the file ran: robot refused the options or the environment.
            outcome.environment_error = True
            tail = clean(stderr.strip())[-2000:] or "no output"
            outcome.add(
                Diagnostic(
                    source="environment",
                    message=f"robot --dryrun exited with code {returncode} without results: {tail}",
                )
            )
        return outcome

    lines_file = out_dir / "lines.json"
    lines: dict[str, int] = json.loads(lines_file.read_text(encoding="utf-8")) if lines_file.is_file() else {}
    imports_by_line = {imp.line: imp for imp in scan.imports}

    for message in result.errors.messages:
        text = _first_line(message.message)
        severity = {"ERROR": "error", "WARN": "warning"}.get(message.level, "info")
        match = _FILE_ERROR_RE.match(text)
        failed_import = _IMPORT_FAILED_RE.search(text)
        if match and Path(match["source"]) == candidate:
            line = int(match["line"]) if match["line"] else None
            imp = imports_by_line.get(line) if line else None
            if (
                failed_import
                and imp is not None
                and inventory is not None
                and import_allowed(imp, resolve_import(imp, target), inventory)
            ):
                outcome.environment_error = True
                outcome.add(_environment_diagnostic(imp.kind, imp.name, failed_import["reason"], line))
                continue
            outcome.add(Diagnostic(source="dryrun", severity=severity, line=line, message=match["message"]))
        elif failed_import:
            # Another file of the repo failed to import one of its own dependencies.
            kind = "Library" if "Importing library" in text else "Variables"
            outcome.environment_error = True
            outcome.add(_environment_diagnostic(kind, clean(failed_import["name"]), failed_import["reason"]))
        else:
            # The repo's own files are not the writer's to fix: what matters surfaces as a
            # failing step of the generated test anyway.
            outcome.add(Diagnostic(source="dryrun", severity="warning", message=clean(text)))

    suite = result.suite
    setup_failed = suite.has_setup and suite.setup.failed
    steps: list[tuple[int, str | None, str]] = []
    if suite.has_setup:
        steps += _failures(suite.setup, lines)
    for test in suite.all_tests:
        found = [] if setup_failed else _failures(test, lines)
        if not found and test.failed and not setup_failed and not test.message.startswith("Parent suite"):
            found = [(test.lineno, None, test.message)]
        steps += found
    if suite.has_teardown:
        steps += _failures(suite.teardown, lines)
    for line, keyword, text in steps:
        outcome.add(Diagnostic(source="dryrun", line=line, keyword=keyword, message=clean(text)))
    return outcome
