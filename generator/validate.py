"""Validation of a generated .robot file before it is published.

Two layers, cheapest first:

* `check_static` — Robot Framework's own parser, the trust rule (`generator.trust`: no
  inline Python, extended variable syntax, `%{ENV}` or side-door imports), path
  confinement and the import allow-list. It needs no subprocess, so a file that is
  broken, that would run code, or that tries to leave the tests folder or pull in a
  library the repo does not use never reaches `robot` at all.
* `dryrun` — the real `robot --dryrun` inside the checked-out repo, with the repo's own
  resources, variables and options, so "No keyword with name 'X' found" and wrong
  argument counts come from Robot Framework itself, not from a re-implementation.

The dryrun must leave the repository exactly as it was (the publish stage diffs the
working tree), so the candidate is written to a hidden sibling of its target, every
output robot can produce is pointed outside the repo, and byte-code writing is off.
"""

from __future__ import annotations

import fcntl
import inspect
import io
import json
import os
import posixpath
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

import anyio
from robot.api import ExecutionResult, get_model
from robot.api.parsing import (
    File,
    KeywordCall,
    LibraryImport,
    ModelVisitor,
    ResourceImport,
    TestCase,
    VariablesImport,
)
from robot.parsing.model.statements import Statement
from robot.result import Keyword as ResultKeyword
from robot.variables import contains_variable

from generator.dryrun_listener import DryrunLineRecorder
from generator.models import Diagnostic, KeywordInventory, ValidationResult
from generator.sandbox import repo_code_env
from generator.trust import is_import_keyword, normalise_keyword, untrusted_code
from generator.validate_pool import DryrunPool, DryrunRunner

MAX_TARGET_PATH = 200
_ALLOWED_SHOWN = 10
_COMPONENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_IMPORT_FAILED_RE = re.compile(r"Importing (?:library|variable file) '(?P<name>[^']*)' failed: (?P<reason>.*)")
_FILE_ERROR_RE = re.compile(r"^Error in file '(?P<source>.+?)'(?: on line (?P<line>\d+))?: (?P<message>.*)$")
_ALWAYS_ALLOWED_LIBRARIES = frozenset({"BuiltIn"})
_INSTALL_HINT = (
    "Install the repo's requirements in the job (component input `install`, e.g. pip install -r requirements.txt)"
)


class UnsafePathError(ValueError):
    """A target path from the planner that must not be written to."""


# --------------------------------------------------------------------------- target path


def _path_parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def safe_target_path(raw: str, tests_dir: str, *, key: str | None = None) -> str:
    """Turn the planner's (untrusted) target path into a repo-relative POSIX path inside `tests_dir`.

    Rejects rather than repairs anything that hints at an escape attempt, because a
    silently "fixed" path could still land somewhere a reviewer would not look. A path
    relative to the tests folder is accepted and moved under it, since planners often
    omit the folder. With `key`, a folder-only path gets `<key>.robot` as file name.
    """
    who = f" for {key}" if key else ""

    def fail(rule: str) -> UnsafePathError:
        return UnsafePathError(f"Unsafe target path {raw!r}{who}: {rule}.")

    path = raw.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise fail("control characters (NUL, newline, tab, ...) are not allowed")
    if "\\" in path:
        raise fail("backslashes are not allowed; separate folders with '/'")
    if _DRIVE_RE.match(path):
        raise fail("drive letters are not allowed; give a path relative to the repository")
    if path.startswith("/"):
        raise fail("absolute paths are not allowed; give a path relative to the repository")
    parts = _path_parts(path)
    if ".." in parts:
        raise fail("'..' components are not allowed")
    if not parts or path.endswith("/"):
        if not key:
            raise fail("it names a folder, not a .robot file")
        parts.append(f"{key}.robot")
    parts = [re.sub(" +", "_", p.strip(" ")) for p in parts]
    for part in parts:
        if not _COMPONENT_RE.fullmatch(part):
            raise fail(
                f"name {part!r} must start with a letter, digit or '_' and use only "
                "A-Z a-z 0-9 . _ - (spaces become '_'); hidden names are not allowed"
            )
    if not parts[-1].endswith(".robot"):
        raise fail("the file name must end with '.robot'")
    if parts[-1] == "__init__.robot":
        raise fail("'__init__.robot' is a suite initialisation file, not a test file")
    prefix = _path_parts(tests_dir)
    if parts[: len(prefix)] != prefix:
        parts = prefix + parts
    result = "/".join(parts)
    if len(result) > MAX_TARGET_PATH:
        raise fail(f"longer than {MAX_TARGET_PATH} characters")
    return result


def _confinement_problem(repo: Path, folder: str, target: str) -> str | None:
    """Why `repo/target`, with every symlink followed, is not inside `repo/folder` (None if it is).

    The textual checks of `safe_target_path` cannot see symlinks; the real file system can.
    """
    try:
        root = repo.resolve()
        folder_real = (root / folder).resolve()
        target_real = (root / target).resolve()
    except (OSError, RuntimeError) as exc:
        return f"Target path {target!r} cannot be resolved: {exc}"
    if not folder_real.is_relative_to(root):
        return f"The tests folder {folder!r} is a symlink that leaves the repository"
    if target_real == folder_real or not target_real.is_relative_to(folder_real):
        where = f"the folder {folder!r}" if folder not in ("", ".") else "the repository"
        return f"Target path {target!r} resolves outside {where} (through a symlink)"
    return None


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Import:
    kind: str  # "Library", "Resource" or "Variables"
    name: str
    line: int


@dataclass
class _Scan(ModelVisitor):
    """What the parsed model says about a file: parse errors, imports and test count."""

    errors: list[Diagnostic] = field(default_factory=list)
    imports: list[_Import] = field(default_factory=list)
    tests: int = 0

    def generic_visit(self, node: Any) -> None:
        for message in getattr(node, "errors", ()):
            self._error(getattr(node, "lineno", None), message)
        if isinstance(node, TestCase):
            self.tests += 1
        super().generic_visit(node)

    def visit_Statement(self, node: Statement) -> None:
        messages = list(node.errors)
        # Some errors (e.g. an unknown section header) live only on the token.
        messages += [t.error for t in node.tokens if t.error and t.error not in messages]
        for message in messages:
            self._error(node.lineno, message)
        if isinstance(node, LibraryImport | ResourceImport | VariablesImport):
            kind = {LibraryImport: "Library", ResourceImport: "Resource"}.get(type(node), "Variables")
            self.imports.append(_Import(kind, node.name or "", node.lineno))
        elif isinstance(node, KeywordCall) and node.keyword and is_import_keyword(node.keyword):
            # `Import Library` and friends are imports too: without this the allow-list
            # would be one keyword call away from meaningless. (Import keywords anywhere
            # else are rejected outright by `trust.untrusted_code`.)
            name = node.args[0] if node.args else ""
            kind = normalise_keyword(node.keyword).removeprefix("import").capitalize()
            self.imports.append(_Import(kind, name, node.lineno))

    def _error(self, line: int | None, message: str) -> None:
        diagnostic = Diagnostic(source="parse", line=line, message=message)
        if diagnostic not in self.errors:
            self.errors.append(diagnostic)


def _parse(text: str) -> File:
    # A StringIO, never the string itself: get_model reads a one-line string that names
    # an existing file from disk, and the text comes from an LLM.
    return get_model(io.StringIO(text))


def _scan(model: File) -> _Scan:
    scan = _Scan()
    scan.visit(model)
    return scan


# --------------------------------------------------------------------------- import allow-list


def _norm(path: str) -> str:
    return posixpath.normpath(path.strip()).removeprefix("./")


def _is_path_like(kind: str, name: str) -> bool:
    """Robot's own rule (`Namespace._is_import_by_path`): otherwise it is a module name."""
    if kind == "Resource":
        return True
    ends = (".py", "/") if kind == "Library" else (".py", ".yaml", ".yml", ".json", "/")
    return name.lower().endswith(ends)


@dataclass(frozen=True)
class _Resolution:
    """An import value turned into something comparable with the inventory."""

    value: str  # repo-relative path for path imports, the name otherwise
    is_path: bool
    problem: str | None = None


def _resolve_import(imp: _Import, target: str) -> _Resolution:
    """Map an import as written in `target` to a repo-relative path, like Robot would find it.

    `${CURDIR}` is the file's folder and `${/}` the separator; any other variable makes
    the import depend on run-time options, which this check cannot follow.
    """
    folder = posixpath.dirname(target) or "."
    name = imp.name.strip().replace("${/}", "/")
    starts_at_curdir = name.startswith("${CURDIR}")
    name = name.replace("${CURDIR}", folder)
    if contains_variable(name):
        return _Resolution(
            imp.name,
            True,
            f"{imp.kind} {imp.name!r} uses variables: only literal paths or paths starting "
            "with ${CURDIR} are allowed",
        )
    if not _is_path_like(imp.kind, name):
        return _Resolution(name, False)
    if name.startswith("/") and not starts_at_curdir:
        return _Resolution(name, True, f"{imp.kind} {imp.name!r} is an absolute path")
    relative = _norm(name if starts_at_curdir else posixpath.join(folder, name))
    if relative == ".." or relative.startswith("../"):
        return _Resolution(relative, True, f"{imp.kind} {imp.name!r} points outside the repository")
    return _Resolution(relative, True)


def _allowed_set(imp_kind: str, inventory: KeywordInventory) -> list[str]:
    return {
        "Library": inventory.libraries,
        "Resource": inventory.resources,
        "Variables": inventory.variables,
    }[imp_kind]


def _is_allowed(imp: _Import, resolution: _Resolution, inventory: KeywordInventory) -> bool:
    if imp.kind == "Library" and imp.name.strip() in _ALWAYS_ALLOWED_LIBRARIES:
        return True
    allowed = _allowed_set(imp.kind, inventory)
    if resolution.problem:
        return False
    if not resolution.is_path:
        return resolution.value in allowed
    paths = {_norm(a) for a in allowed}
    if resolution.value in paths:
        return True
    # A plain relative name may be found on the module search path (`--pythonpath
    # resources`); accept it when it names the tail of a known file. Dryrun proves it.
    written = _norm(imp.name)
    return not written.startswith("..") and any(p == written or p.endswith("/" + written) for p in paths)


def _import_diagnostic(imp: _Import, resolution: _Resolution, inventory: KeywordInventory, target: str) -> Diagnostic:
    folder = posixpath.dirname(target) or "."
    allowed = _allowed_set(imp.kind, inventory)
    shown = [posixpath.relpath(_norm(a), folder) if _is_path_like(imp.kind, a) else a for a in allowed[:_ALLOWED_SHOWN]]
    if imp.kind == "Library":
        shown = [*sorted(_ALWAYS_ALLOWED_LIBRARIES - set(shown)), *shown]
    more = f" (and {len(allowed) - _ALLOWED_SHOWN} more)" if len(allowed) > _ALLOWED_SHOWN else ""
    if not imp.name.strip():
        reason = f"{imp.kind} import without a name"
    elif resolution.problem:
        reason = resolution.problem
    else:
        resolved = f" (resolves to {resolution.value!r})" if resolution.is_path else ""
        reason = f"{imp.kind} {imp.name!r}{resolved} is not imported anywhere in this repository"
    listing = ", ".join(shown) if shown else "none"
    return Diagnostic(
        source="import",
        line=imp.line,
        message=f"{reason}. Only the repo's own imports may be used; allowed {imp.kind.lower()} "
        f"imports (paths relative to {folder}/): {listing}{more}.",
    )


def check_static(
    text: str, target_path: str, inventory: KeywordInventory, *, repo: Path, tests_dir: str
) -> list[Diagnostic]:
    """Checks that need no subprocess: parse errors, at least one test, untrusted code
    (`generator.trust`), confinement, import allow-list."""
    model = _parse(text)
    scan = _scan(model)
    diagnostics = [*scan.errors, *untrusted_code(model)]
    if scan.tests == 0:
        diagnostics.append(
            Diagnostic(source="parse", message="The file has no test case: add a '*** Test Cases ***' section.")
        )
    path_ok = False
    try:
        normalised = safe_target_path(target_path, tests_dir)
    except UnsafePathError as exc:
        diagnostics.append(Diagnostic(source="path", message=str(exc)))
    else:
        if normalised != target_path:
            diagnostics.append(
                Diagnostic(
                    source="path",
                    message=f"Target path {target_path!r} is not in normal form; use {normalised!r}.",
                )
            )
        elif problem := _confinement_problem(Path(repo), tests_dir, target_path):
            diagnostics.append(Diagnostic(source="path", message=problem))
        else:
            path_ok = True
    # Relative imports only mean something for a path that will really be used.
    if path_ok:
        for imp in scan.imports:
            resolution = _resolve_import(imp, target_path)
            if not imp.name.strip() or not _is_allowed(imp, resolution, inventory):
                diagnostics.append(_import_diagnostic(imp, resolution, inventory, target_path))
    return diagnostics


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


def _robot_command(
    candidate: Path,
    out_dir: Path,
    repo: Path,
    robot_options: Sequence[str],
    pythonpath: Sequence[str],
    python: str | None = None,
) -> list[str]:
    """The `robot --dryrun` command line; our output options come last so they win over the repo's.

    `python` is the repo's own interpreter (its RF and libraries); the listener is passed by
    path, so that interpreter needs nothing of this tool installed.
    """
    command = [python or sys.executable, "-m", "robot", "--dryrun", *robot_options]
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
    repo's code (`generator.validate_fork`); None: a fresh `robot` process, as `run` does."""
    from generator.validate_fork import ForkedDryrun, can_fork

    env = _robot_env(secrets, dryrun_env)
    return ForkedDryrun(env) if can_fork(env, secrets, python) else None


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
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

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


def _read_outcome(
    out_dir: Path,
    candidate: Path,
    target: str,
    repo: Path,
    scan: _Scan,
    inventory: KeywordInventory | None,
    returncode: int,
    stderr: str,
) -> ValidationResult:
    """Diagnostics from output.xml (Robot's result API) and the listener's line map."""
    outcome = _Outcome()

    def clean(text: str) -> str:
        return text.replace(str(candidate), target).replace(f"{repo}{os.sep}", "")

    output = out_dir / "output.xml"
    if not output.is_file():
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
        return outcome.result()

    result = ExecutionResult(str(output))
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
                and _is_allowed(imp, _resolve_import(imp, target), inventory)
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
    return outcome.result()


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


async def _dryrun(
    text: str,
    target_path: str,
    *,
    repo: Path,
    robot_options: Sequence[str],
    pythonpath: Sequence[str],
    limiter: anyio.CapacityLimiter | None,
    timeout: float,
    inventory: KeywordInventory | None,
    secrets: Sequence[str],
    dryrun_env: Sequence[str],
    python: str | None = None,
    pool: DryrunRunner | None = None,
) -> ValidationResult:
    root = Path(repo).resolve()
    if PurePosixPath(target_path).is_absolute() or "\\" in target_path or ".." in target_path.split("/"):
        problem: str | None = f"Target path {target_path!r} must be relative to the repository, without '..'"
    else:
        problem = _confinement_problem(root, ".", target_path)
    if problem:
        return ValidationResult(ok=False, diagnostics=[Diagnostic(source="path", message=problem)])
    scan = _scan(_parse(text))
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
                command = _robot_command(candidate, out_dir, root, robot_options, pythonpath, python)
                with anyio.fail_after(timeout):
                    # A warm worker runs the same arguments; after a crash, a fresh process does.
                    answer = await pool.run(command[3:], root) if pool is not None else None
                    if answer is None:
                        process = await anyio.run_process(
                            command, cwd=root, env=_robot_env(secrets, dryrun_env), check=False
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
                _read_outcome,
                out_dir,
                candidate,
                target_path,
                root,
                scan,
                inventory,
                answer[0],
                answer[1],
            )


async def dryrun(
    text: str,
    target_path: str,
    *,
    repo: Path,
    robot_options: Sequence[str] = (),
    pythonpath: Sequence[str] = (),
    limiter: anyio.CapacityLimiter | None = None,
    timeout: float = 300.0,
    secrets: Sequence[str] = (),
    dryrun_env: Sequence[str] = (),
    python: str | None = None,
    pool: DryrunRunner | None = None,
) -> ValidationResult:
    """`robot --dryrun` of `text` as if it were `repo/target_path`, leaving the repo untouched.

    Without an inventory it cannot tell whether a failing import of the file itself is one
    the repo uses, so only failing imports in the repo's other files count as environment
    errors here; `validate` also classifies the file's own allow-listed imports. Robot runs
    without credentials in its environment: see `_robot_env`.
    """
    return await _dryrun(
        text,
        target_path,
        repo=repo,
        robot_options=robot_options,
        pythonpath=pythonpath,
        limiter=limiter,
        timeout=timeout,
        inventory=None,
        secrets=secrets,
        dryrun_env=dryrun_env,
        python=python,
        pool=pool,
    )


async def validate(
    text: str,
    target_path: str,
    inventory: KeywordInventory,
    *,
    repo: Path,
    tests_dir: str,
    robot_options: Sequence[str] = (),
    pythonpath: Sequence[str] = (),
    limiter: anyio.CapacityLimiter | None = None,
    secrets: Sequence[str] = (),
    dryrun_env: Sequence[str] = (),
    python: str | None = None,
    pool: DryrunRunner | None = None,
) -> ValidationResult:
    """Static checks, then the dryrun only if they found no error (an unsafe file is never run).

    `secrets` (the run's own credentials) and every secret-looking variable not named in
    `dryrun_env` are kept out of the dryrun's environment; `python` is the repo's own
    interpreter for the dryrun (default: this one); `pool`: warm workers (`dryrun_pool`)."""
    static = check_static(text, target_path, inventory, repo=repo, tests_dir=tests_dir)
    if any(d.severity == "error" for d in static):
        return ValidationResult(ok=False, diagnostics=static)
    result = await _dryrun(
        text,
        target_path,
        repo=repo,
        robot_options=robot_options,
        pythonpath=pythonpath,
        limiter=limiter,
        timeout=300.0,
        inventory=inventory,
        secrets=secrets,
        dryrun_env=dryrun_env,
        python=python,
        pool=pool,
    )
    result.diagnostics = static + result.diagnostics
    return result
