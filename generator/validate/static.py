"""The checks of a file that need no subprocess (`check_static`): Robot Framework's own parse
errors, at least one test, the trust rule (`validate.trust`), confinement and the import
allow-list. A file that fails them never reaches `robot`."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot.api import get_model
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
from robot.variables import contains_variable

from generator.models import Diagnostic, KeywordInventory
from generator.validate.keyword_names import IMPORT_KEYWORDS, call_names
from generator.validate.paths import UnsafePathError, confinement_problem, safe_target_path
from generator.validate.trust import untrusted_code

_ALLOWED_SHOWN = 10
_ALWAYS_ALLOWED_LIBRARIES = frozenset({"BuiltIn"})


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class FileImport:
    kind: str  # "Library", "Resource" or "Variables"
    name: str
    line: int
    args: tuple[str, ...] = ()  # as written: a library's arguments can load code (`plugins=`)


@dataclass
class ImportScan(ModelVisitor):
    """What the parsed model says about a file: parse errors, imports and test count."""

    errors: list[Diagnostic] = field(default_factory=list)
    imports: list[FileImport] = field(default_factory=list)
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
            args = tuple(node.args) if isinstance(node, LibraryImport | VariablesImport) else ()
            self.imports.append(FileImport(kind, node.name or "", node.lineno, args))
        elif isinstance(node, KeywordCall) and node.keyword and (found := call_names(node.keyword) & IMPORT_KEYWORDS):
            # `Import Library` and friends are imports too, under any spelling Robot resolves
            # (`Given BuiltIn.Import Library`, `B.import_resource`): without this the allow-list
            # would be one keyword call away from meaningless. (Import keywords anywhere
            # else are rejected outright by `trust.untrusted_code`; the gate checks them all.)
            name = node.args[0] if node.args else ""
            kind = min(found).removeprefix("import").capitalize()
            self.imports.append(FileImport(kind, name, node.lineno, tuple(node.args[1:])))

    def _error(self, line: int | None, message: str) -> None:
        diagnostic = Diagnostic(source="parse", line=line, message=message)
        if diagnostic not in self.errors:
            self.errors.append(diagnostic)


def parse_text(text: str) -> File:
    # A StringIO, never the string itself: get_model reads a one-line string that names
    # an existing file from disk, and the text comes from an LLM.
    return get_model(io.StringIO(text))


def scan_model(model: File) -> ImportScan:
    scan = ImportScan()
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


def resolve_import(imp: FileImport, target: str) -> _Resolution:
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
        "Resource": inventory.imported_resources(),
        "Variables": inventory.variables,
    }[imp_kind]


def _matched_entry(imp: FileImport, resolution: _Resolution, inventory: KeywordInventory) -> str | None:
    """The allow-list entry that vouches for an import, or None."""
    allowed = _allowed_set(imp.kind, inventory)
    if resolution.problem:
        return None
    if not resolution.is_path:
        return resolution.value if resolution.value in allowed else None
    by_path = {_norm(a): a for a in allowed}
    if resolution.value in by_path:
        return by_path[resolution.value]
    # A plain relative name may be found on the module search path (`--pythonpath
    # resources`); accept it when it names the tail of a known file. Dryrun proves it.
    written = _norm(imp.name)
    if written.startswith(".."):
        return None
    return next((a for p, a in by_path.items() if p == written or p.endswith("/" + written)), None)


def library_arguments_allowed(args: Sequence[str], entry: str, inventory: KeywordInventory) -> bool:
    """No arguments, or exactly arguments the repo's own files give that library."""
    return not args or list(args) in inventory.library_arguments().get(entry, [])


def import_allowed(imp: FileImport, resolution: _Resolution, inventory: KeywordInventory) -> bool:
    if imp.kind == "Library" and imp.name.strip() in _ALWAYS_ALLOWED_LIBRARIES:
        return True
    entry = _matched_entry(imp, resolution, inventory)
    if entry is None:
        return False
    return imp.kind != "Library" or library_arguments_allowed(imp.args, entry, inventory)


def _import_diagnostic(
    imp: FileImport, resolution: _Resolution, inventory: KeywordInventory, target: str
) -> Diagnostic:
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
    elif (entry := _matched_entry(imp, resolution, inventory)) is not None:
        known = inventory.library_arguments().get(entry, [])
        shown_args = "; ".join("    ".join(a) or "(none)" for a in known) or "(none)"
        reason = (
            f"Library {imp.name!r} with the arguments {'    '.join(imp.args)!r} is imported by this repository only "
            f"with: {shown_args} (a library's arguments can load code)"
        )
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
    (`generator.validate.trust`), confinement, import allow-list."""
    model = parse_text(text)
    scan = scan_model(model)
    diagnostics = [*scan.errors, *untrusted_code(model, known_variables=inventory.variable_names)]
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
        elif problem := confinement_problem(Path(repo), tests_dir, target_path):
            diagnostics.append(Diagnostic(source="path", message=problem))
        else:
            path_ok = True
    # Relative imports only mean something for a path that will really be used.
    if path_ok:
        for imp in scan.imports:
            resolution = resolve_import(imp, target_path)
            if not imp.name.strip() or not import_allowed(imp, resolution, inventory):
                diagnostics.append(_import_diagnostic(imp, resolution, inventory, target_path))
    return diagnostics
