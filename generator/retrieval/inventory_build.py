"""Building the keyword inventory from a repo's files (see `retrieval.inventory`, which caches
it): Robot Framework's parser for `.resource`/`.robot` files, libdoc in the repo's own
interpreter for libraries and variable files (`libdoc.Scanner`, one deadline per item), and the import
allow-list with who imports each entry."""

from __future__ import annotations

import glob
import logging
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from robot.api import get_init_model, get_model, get_resource_model
from robot.errors import DataError
from robot.libraries import STDLIBS
from robot.model import SuiteVisitor
from robot.output import LOGGER
from robot.parsing.model.blocks import Keyword as KeywordBlock
from robot.parsing.model.blocks import TestCase
from robot.parsing.model.statements import Arguments, Statement
from robot.parsing.model.visitor import ModelVisitor
from robot.running import Keyword as KeywordCall
from robot.running import ResourceFile, TestSuite, UserKeyword
from robot.utils import find_file, normalize
from robot.variables import VariableMatches

from generator.gather import cache
from generator.models import Keyword, KeywordInventory
from generator.retrieval.libdoc import (
    Scanner,
    first_lines,
    first_sentence,
    format_arg_triples,
    format_args,
    has_variable,
)

log = logging.getLogger(__name__)

ALWAYS_LIBRARIES = ("BuiltIn",)
_VARIABLE_FILE_SUFFIXES = (".py", ".yaml", ".yml", ".json")
_MAX_ERRORS_PER_FILE = 5


@dataclass(frozen=True)
class SourceFile:
    path: Path
    rel: str
    stat: os.stat_result

    @cached_property
    def content(self) -> bytes:
        """Read when hashed or parsed, once: a warm command only needs the stat (`cache.memoised_key`)."""
        try:
            return self.path.read_bytes()
        except OSError:  # gone since the walk: hashed and parsed as empty, the next walk drops it
            return b""


# --------------------------------------------------------------------------- building


class _ParseErrors(ModelVisitor):
    """Errors RF's parser attached to the statements that shape the inventory.

    Keyword bodies are not visited: a broken `FOR` inside a keyword is dryrun's business,
    not a reason to hide the keyword from the writer.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[int, str]] = []

    def _collect(self, node: Statement | None) -> None:
        if node is not None:
            self.errors.extend((node.lineno, error) for error in node.errors)

    def visit_Statement(self, node: Statement) -> None:  # settings, section headers, stray data
        self._collect(node)

    def visit_Keyword(self, node: KeywordBlock) -> None:
        self._collect(node.header)
        for statement in node.body:
            if isinstance(statement, Arguments):
                self._collect(statement)

    def visit_TestCase(self, node: TestCase) -> None:
        """Test bodies define neither keywords nor imports."""


class _CallNames(SuiteVisitor):
    """Names of the keywords a user keyword calls, inside `FOR`/`IF`/`TRY`/`WHILE` too.

    RF's own model walk: a `Run Keyword    X` call counts as `Run Keyword` only, since a
    keyword passed as an argument (`Run Keyword And Expect Error    *    X`) is usually run
    for a different purpose than calling it.
    """

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def visit_keyword(self, keyword: KeywordCall) -> None:
        if keyword.name:
            self.names.setdefault(" ".join(keyword.name.split()))


def _calls(kw: UserKeyword) -> list[str]:
    visitor = _CallNames()
    if kw.has_setup:
        visitor.visit_keyword(kw.setup)
    kw.body.visit(visitor)
    if kw.has_teardown:
        visitor.visit_keyword(kw.teardown)
    return list(visitor.names)


@dataclass
class _Import:
    kind: str  # LIBRARY, RESOURCE, VARIABLES
    name: str
    args: tuple[str, ...]
    importer: str  # repo-relative path of the importing file


@dataclass
class Builder:
    repo: Path
    pythonpath: list[Path]
    scanner: Scanner
    keywords: list[Keyword] = field(default_factory=list)
    suite_keywords: list[Keyword] = field(default_factory=list)
    suite_variables: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    imports: list[_Import] = field(default_factory=list)
    importers: dict[str, set[str]] = field(default_factory=dict)
    arguments: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    variable_names: list[str] = field(default_factory=list)
    # What `_resolve_imports` found to load for variable names: (path or module name, args, where).
    variable_sources: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    #: Files the checkout's previous build parsed, by digest (`_parse`); and this build's.
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    parsed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def build(self, files: Sequence[SourceFile]) -> KeywordInventory:
        present_resources: list[str] = []
        with LOGGER.cache_only:
            for f in files:
                if f.path.suffix.lower() in (".resource", ".robot") and self._parse(f):
                    present_resources.append(f.rel)
            libraries, resources, variables = self._resolve_imports()
        library_keywords = self._library_keywords(libraries)
        self._load_variable_files()
        return KeywordInventory(
            keywords=self.keywords + library_keywords,
            libraries=sorted(libraries),
            resources=sorted(set(present_resources) | set(resources)),
            variables=sorted(set(variables)),
            variable_names=_unique_variable_names(self.variable_names),
            suite_keywords=self.suite_keywords,
            suite_variables=self.suite_variables,
            importers={k: sorted(v) for k, v in sorted(self.importers.items())},
            import_arguments={k: sorted(list(a) for a in v) for k, v in sorted(self.arguments.items())},
            # Repo-relative like every other path here: runner folders are noise in reports.
            errors=[e.replace(f"{self.repo}{os.sep}", "") for e in self.errors],
        )

    def _allow(self, kind: str, name: str, importer: str) -> None:
        self.importers.setdefault(f"{kind}:{name}", set()).add(importer)

    # ------------------------------------------------------------------ files

    def _parse(self, f: SourceFile) -> bool:
        """Record the file's keywords, variables and imports; True when it can be imported as a
        resource (a `.resource`, or a `.robot` without tests).

        What a file holds depends on its bytes and its place only (`${CURDIR}` is resolved at
        parse time): a file the previous build of this checkout parsed (`previous`) is not
        parsed again, so adding one suite to a thousand costs one parse, not a thousand."""
        digest = cache.content_key([str(f.path), f.rel, f.content])
        found = self.previous.get(digest) or self._read(f)
        self.parsed[digest] = found
        self.errors.extend(found["errors"])
        importable = bool(found["importable"])
        kept = self.keywords if importable else self.suite_keywords
        kept.extend(Keyword.model_validate(kw) for kw in found["keywords"])
        if importable:
            self.variable_names.extend(found["variables"])
        elif found["variables"]:
            self.suite_variables[f.rel] = list(found["variables"])
        self.imports.extend(_Import(kind, name, tuple(args), f.rel) for kind, name, args in found["imports"])
        return importable and found["ok"]

    def _read(self, f: SourceFile) -> dict[str, Any]:
        """What `_parse` records of one file, as JSON-ready data (cached by the next build)."""
        found: dict[str, Any] = {"ok": False, "importable": False, "errors": [], "keywords": [], "variables": [],
                                 "imports": []}  # fmt: skip
        try:
            text = f.content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            found["errors"].append(f"{f.rel}: not UTF-8 ({exc.reason})")
            return found
        # Same calls as RF's RobotParser, but on the bytes already read for the hash.
        curdir = str(f.path.parent).replace("\\", "\\\\")
        try:
            if f.path.suffix.lower() == ".resource":
                model = get_resource_model(text, data_only=True, curdir=curdir)
                model.source = f.path
                resource, importable = ResourceFile.from_model(model), True
            else:
                init = f.path.name.lower() == "__init__.robot"
                model = (get_init_model if init else get_model)(text, data_only=True, curdir=curdir)
                model.source = f.path
                suite = TestSuite.from_model(model)
                # RF imports a `.robot` file as a resource only when it has no tests.
                resource, importable = suite.resource, not init and not suite.tests
        except DataError as exc:
            found["errors"].append(f"{f.rel}: {exc}")
            return found
        visitor = _ParseErrors()
        visitor.visit(model)
        for lineno, message in visitor.errors[:_MAX_ERRORS_PER_FILE]:
            found["errors"].append(f"{f.rel}:{lineno}: {message}")
        for kw in resource.keywords:
            if kw.error:
                found["errors"].append(f"{f.rel}:{kw.lineno}: keyword '{kw.name}': {kw.error}")
                continue
            found["keywords"].append(
                Keyword(
                    name=kw.name,
                    args=format_args(kw.args),
                    doc=first_sentence(kw.short_doc),
                    owner=f.rel,
                    owner_kind="resource",
                    embedded=kw.embedded is not None,
                    tags=list(kw.tags),
                    calls=_calls(kw),
                ).model_dump()
            )
        # A suite's own `*** Variables ***` are visible to that suite only; a resource's are
        # visible to every suite importing it.
        found["variables"] = [var.name for var in resource.variables if not var.error]
        found["imports"] = [[imp.type, imp.name, list(imp.args)] for imp in resource.imports]
        found["ok"], found["importable"] = True, importable
        return found

    # ------------------------------------------------------------------ imports

    def _resolve_imports(self) -> tuple[dict[str, tuple[str, tuple[str, ...]]], list[str], list[str]]:
        """Allow-list entries: repo-relative POSIX paths for files in the repo, names as written
        otherwise. Libraries map to what libdoc loads: the absolute path or the name, and the
        arguments of their first import."""
        libraries: dict[str, tuple[str, tuple[str, ...]]] = {name: (name, ()) for name in ALWAYS_LIBRARIES}
        resources: list[str] = []
        variables: list[str] = []
        for imp in self.imports:
            for entry in self._resolve_import(imp, libraries, resources, variables):
                self._allow(imp.kind, entry, imp.importer)
                self.arguments.setdefault(f"{imp.kind}:{entry}", set()).add(imp.args)
        return libraries, resources, variables

    def _resolve_import(
        self,
        imp: _Import,
        libraries: dict[str, tuple[str, tuple[str, ...]]],
        resources: list[str],
        variables: list[str],
    ) -> list[str]:
        """Add one import to the allow-list; returns the entries it vouches for."""
        where = f"{imp.importer}: {imp.kind.title()} '{imp.name}'"
        if not imp.name.strip():
            self.errors.append(f"{imp.importer}: {imp.kind.title()} import without a name")
            return []
        if has_variable(imp.name):
            # Resolved by `robot -v ...` at run time: allowed as the repo writes it, but a
            # library behind it cannot be loaded here.
            if imp.kind == "LIBRARY":
                self.errors.append(f"{where}: not loaded, the name holds variables set only at run time")
                libraries.setdefault(imp.name, (imp.name, imp.args))
                return [imp.name]
            pattern = self._relative_pattern(imp)
            if imp.kind == "RESOURCE":
                resources.append(pattern)
            else:
                variables.append(pattern)
                for path in self._pattern_files(pattern):
                    self.variable_sources.append((str(path), imp.args, where))
            return [pattern]
        if imp.kind == "LIBRARY":
            if not imp.name.lower().endswith((".py", "/", os.sep)):
                libraries.setdefault(imp.name, (imp.name, imp.args))
                return [imp.name]
            found = self._resolve_path(imp, "Library", where)
            if found is None:
                return []
            libraries.setdefault(found[0], (str(found[1]), imp.args))
            return [found[0]]
        if imp.kind == "RESOURCE":
            found = self._resolve_path(imp, "Resource file", where)
            if found is None:
                return []
            resources.append(found[0])
            return [found[0]]
        if imp.name.lower().endswith((".py", ".yaml", ".yml", ".json", "/", os.sep)):
            found = self._resolve_path(imp, "Variable file", where)
            if found is None:
                return []
            variables.append(found[0])
            self.variable_sources.append((str(found[1]), imp.args, where))
            return [found[0]]
        variables.append(imp.name)  # a module name, found on the pythonpath at run time
        self.variable_sources.append((imp.name, imp.args, where))
        return [imp.name]

    def _pattern_files(self, pattern: str) -> list[Path]:
        """The repo's files a run-time pattern can select: `variables/${ENV}.py` is any of
        `variables/*.py`, since `-v ENV:<name>` picks one per run and a suite may run with each.

        Patterns that do not start inside the repo (`${VARS_DIR}/x.py`) select nothing here.
        """
        if pattern.startswith(("${", "@{", "&{", "%{", "/")) or not pattern.lower().endswith(_VARIABLE_FILE_SUFFIXES):
            return []
        parts, rest = [], pattern
        for match in VariableMatches(pattern, identifiers="$@&%"):
            parts += [glob.escape(match.before), "*"]
            rest = match.after
        found = sorted(self.repo.glob("".join(parts) + glob.escape(rest)))
        return [p for p in found if p.is_file() and p.name != "__init__.py" and p.resolve().is_relative_to(self.repo)]

    def _load_variable_files(self) -> None:
        """Names of the variables each imported variable file defines, loaded by RF itself.

        RF's loader (`Variables.set_from_file`, the `VariableFileSetter` behind the `Variables`
        setting) runs the file the way `robot` will: `get_variables()` with the import's
        arguments, `LIST__`/`DICT__` prefixes, `__all__`, YAML and JSON files. Arguments holding
        run-time variables have no value here, so such files are tried without arguments.
        """
        items: dict[tuple[str, tuple[str, ...]], str] = {}
        for source, args, where in self.variable_sources:
            items.setdefault((source, () if any(has_variable(a) for a in args) else args), where)
        requests = [{"kind": "variables", "source": source, "args": list(args)} for source, args in items]
        for where, found in zip(items.values(), self.scanner.scan(self.repo, self.pythonpath, requests), strict=True):
            if isinstance(found, str):
                self.errors.append(f"{where}: variable names not read: {_without_detail(found)}")
            else:
                self.variable_names.extend(found["names"])

    def _relative_pattern(self, imp: _Import) -> str:
        """`${CURDIR}/../variables/${ENV}.py` in `resources/x.resource` -> `variables/${ENV}.py`:
        repo-relative like the resolved entries, so the validator compares like with like."""
        name = imp.name.replace(os.sep, "/")
        if name.startswith(("${", "@{", "&{", "%{")):
            return imp.name
        base = self.repo.as_posix()
        full = posixpath.normpath(name if posixpath.isabs(name) else f"{base}/{posixpath.dirname(imp.importer)}/{name}")
        return full[len(base) + 1 :] if full.startswith(base + "/") else imp.name

    def _resolve_path(self, imp: _Import, file_type: str, where: str) -> tuple[str, Path] | None:
        """RF's own lookup (importing folder, then sys.path): (allow-list name, absolute path).

        The name is repo-relative when the file is in the repo, as written otherwise (a file
        shipped by an installed package).
        """
        basedir = (self.repo / imp.importer).parent
        try:
            found = Path(find_file(imp.name, str(basedir), file_type=file_type)).resolve()
        except DataError as exc:
            # The repo's `--pythonpath` folders stand in for sys.path (never touched here).
            found = next((d / imp.name for d in self.pythonpath if (d / imp.name).exists()), None)
            if found is None:
                self.errors.append(f"{where}: {exc}")
                return None
            found = found.resolve()
        if found.is_relative_to(self.repo):
            return found.relative_to(self.repo).as_posix(), found
        return imp.name, found

    # ------------------------------------------------------------------ libraries

    def _library_keywords(self, libraries: dict[str, tuple[str, tuple[str, ...]]]) -> list[Keyword]:
        names: list[str] = []
        requests: list[dict[str, object]] = []
        for name in sorted(libraries, key=lambda n: (n in STDLIBS, n)):
            target, args = libraries[name]
            if has_variable(name):
                continue  # reported when the import was read
            if name == "Remote":
                # Its keywords live in a server that is not running here; asking would hang.
                self.errors.append("Library 'Remote': keywords not listed (they come from a running server)")
                continue
            if any(has_variable(a) for a in args):
                args = ()  # `${URL}` has no value here; the keyword set rarely depends on it
            names.append(name)
            requests.append({"kind": "library", "target": target, "args": list(args)})
        keywords: list[Keyword] = []
        for name, found in zip(names, self.scanner.scan(self.repo, self.pythonpath, requests), strict=True):
            if isinstance(found, str):
                self.errors.append(f"Library '{name}' could not be loaded: {first_lines(found)}")
                continue
            for kw in found["keywords"]:
                keywords.append(
                    Keyword(
                        name=kw["name"],
                        args=format_arg_triples(tuple(a) for a in kw["args"]),
                        doc=first_sentence(kw["shortdoc"]),
                        owner=name,
                        owner_kind="library",
                        embedded="${" in kw["name"],
                        tags=kw["tags"],
                    )
                )
        return keywords


def _unique_variable_names(names: Sequence[str]) -> list[str]:
    """Sorted, one entry per variable by RF's rule (case, spaces and underscores ignored)."""
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(normalize(name[2:-1], ignore="_"), name)
    return sorted(unique.values(), key=lambda n: (n[2:-1].lower(), n))


def _without_detail(message: str) -> str:
    """RF's "Processing variable file 'x' failed: ValueError: invalid literal ...: 'Secret-1'"
    cut after the exception's name: the detail of an error in a variable file may quote the
    value it choked on, and errors are printed and written into reports."""
    head, failed, reason = first_lines(message).rpartition(" failed: ")
    return head + failed + reason.split(":", 1)[0].strip()
