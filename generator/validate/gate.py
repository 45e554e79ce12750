"""The trust gate: Robot Framework's own import and evaluation points, guarded inside its process.

Every process that runs Robot Framework on a candidate file (the fresh `robot --dryrun`, the
warm workers, `validate`'s fork) installs this gate before `run_cli`. It does not guess how a
name will resolve: it wraps the places where Robot Framework has *already* resolved it, so no
spelling of the call matters (a BDD prefix in any language, case or Unicode folding,
`BuiltIn.`, an alias, a name built from variables, a template, a setup, a run-keyword chain, a
keyword of the repo passing the name on):

* `Namespace._import_library/_import_resource/_import_variables`: every `Library`,
  `Resource` and `Variables` setting and every `Import Library/Resource/Variables` call, after
  Robot has replaced the variables and found the file, and before the module is loaded. What
  the repo's own files import by a literal name is theirs; anything else must be on the
  repo's allow-list (what its suites and resources import, from the keyword inventory).
* `Namespace.set_search_order`: only libraries and resources already imported.
* `robot.variables.evaluation._evaluate` (inline Python `${{…}}`, conditions, `Evaluate`) and
  `ExtendedFinder.find` (`${x.attr}`): the expression must fit `grammar`, unless the repo's
  own files hold it verbatim (the repo's code is trusted, the candidate's is not).

A refusal raises Robot's `DataError` (the import or step fails, as any failing import does)
and is appended to a JSON-lines file the caller reads back: a candidate that caught the
failure (`Run Keyword And Ignore Error`) is still refused, since nothing was loaded and the
record exists. Standard library and Robot Framework only: this file and `grammar.py` are
loaded by path into the repository's own interpreter.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import threading
from typing import Any

_LOADED: dict[str, Any] = {}
_CONFIG: dict[str, Any] = {}
_RUNTIME = threading.local()  # `pending`: the next import comes from a BuiltIn `Import …` keyword
_VARIABLE = re.compile(r"[$@&%]\{[^}]*\}")
# Robot Framework data: where a repo writes the inline Python and extended variables it means.
_TEXT_SUFFIXES = (".robot", ".resource", ".txt", ".tsv", ".rst")


def _grammar() -> Any:
    """`grammar.py` beside this file, loaded by path (no package on the repo's interpreter)."""
    if "grammar" not in _LOADED:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grammar.py")
        spec = importlib.util.spec_from_file_location("jira2robot_grammar", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _LOADED["grammar"] = module
    return _LOADED["grammar"]


def _refuse(message: str) -> None:
    from robot.errors import DataError

    report = _CONFIG.get("report")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"message": message}) + "\n")
    raise DataError(f"jira2robot trust gate: {message}")


def _real(path: str) -> str:
    return os.path.realpath(path)


def _repo_relative(path: str) -> str | None:
    """`path` relative to the repository, or None when it lies outside."""
    rel = os.path.relpath(_real(path), _CONFIG["root"])
    return None if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")


def _matches(entry: str, value: str) -> bool:
    if "{" in entry and _VARIABLE.search(entry):
        pattern = _VARIABLE.sub("*", entry)
        return not pattern.startswith("*") and fnmatch.fnmatchcase(value, pattern)
    return entry == value


def _entry(kind: str, value: str, by_path: bool) -> str | None:
    """The entry of the repo's allow-list (`_CONFIG[kind]`) that vouches for a resolved import."""
    entries: list[str] = _CONFIG.get(kind, [])
    if not by_path:
        # A module name; the repo may import the same library by its file path.
        stems = {os.path.splitext(os.path.basename(e))[0]: e for e in entries if e.endswith(".py")}
        return next((e for e in entries if _matches(e, value)), None) or stems.get(value)
    rel = _repo_relative(value)
    if rel is None:
        return None
    stem = os.path.splitext(os.path.basename(rel))[0]
    found = next((e for e in entries if _matches(e, rel)), None)
    return found or (stem if kind == "libraries" and stem in entries else None)


def _candidate_variables() -> frozenset[str]:
    """Normalised names of the variables the candidate defines anywhere (it may steer a repo import)."""
    if "candidate_variables" not in _LOADED:
        from robot.api import get_model
        from robot.api.parsing import ModelVisitor, Token
        from robot.utils import normalize

        names: set[str] = set()

        class Definitions(ModelVisitor):
            def visit_Statement(self, statement: Any) -> None:
                for tok in statement.get_tokens(Token.VARIABLE, Token.ASSIGN, Token.ARGUMENT):
                    names.update(normalize(m[2:-1], ignore="_") for m in _VARIABLE.findall(tok.value))

        Definitions().visit(get_model(_CONFIG["candidate"]))
        _LOADED["candidate_variables"] = frozenset(names)
    return _LOADED["candidate_variables"]


def _from_repo_file(import_: Any, runtime: bool) -> bool:
    """A setting written in one of the repo's files, whose name the candidate cannot steer."""
    source = getattr(import_, "source", None)
    if runtime or not source:
        return False
    source = _real(str(source))
    if source in _CONFIG["own"] or _repo_relative(source) is None:
        return False
    from robot.utils import normalize

    used = {normalize(m[2:-1], ignore="_") for m in _VARIABLE.findall(import_.name or "")}
    return not used & _candidate_variables()


def _check_import(namespace: Any, import_: Any, kind: str) -> None:
    runtime = getattr(_RUNTIME, "pending", False)
    _RUNTIME.pending = False  # the imported resource's own settings are settings again
    if _from_repo_file(import_, runtime):
        return  # decided by the setting as written: Robot resolves its name once, in the import itself
    name = namespace._resolve_name(import_)
    if kind == "libraries" and name in type(namespace)._default_libraries:
        return
    by_path = kind == "resources" or namespace._is_import_by_path(import_.type, name)
    label = {"libraries": "Library", "resources": "Resource", "variables": "Variables"}[kind]
    shown = _repo_relative(name) or name if by_path else name
    how = "imported at run time" if runtime else "imported"
    entry = _entry(kind, name, by_path)
    if entry is None:
        _refuse(f"{label} '{shown}' {how} by the generated file is not imported by the repository's own suites")
    args = list(import_.args or ())
    if kind == "libraries" and args and args not in _CONFIG.get("library_arguments", {}).get(entry, []):
        _refuse(
            f"{label} '{shown}' {how} by the generated file with the arguments {args!r}, which the "
            "repository's own suites never give it (a library's arguments can load code)"
        )


def _trusted_text(text: str) -> bool:
    """Whether one of the repo's own files (never the candidate, nor the file it becomes) holds
    `text` verbatim."""
    if "repo_texts" not in _LOADED:
        texts: list[str] = []
        for folder, dirs, files in os.walk(_CONFIG["root"]):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(_TEXT_SUFFIXES) and not name.startswith(".") and _real(path) not in _CONFIG["own"]:
                    try:
                        with open(path, encoding="utf-8", errors="replace") as handle:
                            texts.append(handle.read(2_000_000))
                    except OSError:
                        continue
        _LOADED["repo_texts"] = texts
    return bool(text.strip()) and any(text.strip() in t for t in _LOADED["repo_texts"])


def install(config: dict[str, Any]) -> None:
    """Arm the gate for one run: `root`, `candidate`, the allow-list (`libraries`, `resources`,
    `variables`: repo-relative paths, names or patterns; `library_arguments`: entry -> the
    argument lists the repo gives it) and the `report` file."""
    _CONFIG.clear()
    _CONFIG.update(config)
    _CONFIG["root"] = _real(config["root"])
    _CONFIG["candidate"] = _real(config["candidate"])
    # The candidate and the file it will become (`validate` checks files already in the repo):
    # neither is the repo's own text.
    _CONFIG["own"] = {_real(config["candidate"]), _real(config.get("target", config["candidate"]))}
    for key in ("candidate_variables", "repo_texts"):
        _LOADED.pop(key, None)
    if not _LOADED.get("hooks"):
        _hook()
        _LOADED["hooks"] = True


def _hook() -> None:
    from robot.running.namespace import Namespace
    from robot.variables import evaluation
    from robot.variables.finders import ExtendedFinder

    def gated(kind: str, original: Any) -> Any:
        def wrapper(self: Any, import_: Any, *args: Any, **kwargs: Any) -> Any:
            _check_import(self, import_, kind)
            return original(self, import_, *args, **kwargs)

        return wrapper

    def runtime(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            _RUNTIME.pending = True
            try:
                return original(self, *args, **kwargs)
            finally:
                _RUNTIME.pending = False

        return wrapper

    Namespace._import_library = gated("libraries", Namespace._import_library)
    Namespace._import_resource = gated("resources", Namespace._import_resource)
    Namespace._import_variables = gated("variables", Namespace._import_variables)
    for public in ("import_library", "import_resource", "import_variables"):
        setattr(Namespace, public, runtime(getattr(Namespace, public)))

    set_search_order = Namespace.set_search_order

    def search_order(self: Any, new_order: Any) -> Any:
        imported = {lib.name for lib in self._kw_store.libraries.values()}
        imported |= {getattr(res, "name", "") for res in self._kw_store.resources.values()}
        unknown = [name for name in new_order or () if name not in imported]
        if unknown:
            _refuse(f"Set Library Search Order names {unknown!r}, which the suite has not imported")
        return set_search_order(self, new_order)

    Namespace.set_search_order = search_order

    evaluate = evaluation._evaluate

    def checked_evaluate(expression: Any, variable_store: Any, modules: Any = None, namespace: Any = None) -> Any:
        if isinstance(expression, str):
            found = _grammar().problems(expression)
            if modules and (unsafe := _grammar().unsafe_modules(str(modules))):
                found.append(f"imports the modules {unsafe!r}")
            if namespace:
                found.append("passes its own namespace")
            # The repo's text is read only for what the grammar refuses: most dryruns never read it.
            if found and not _trusted_text(expression):
                _refuse(f"the expression {expression[:200]!r} " + "; ".join(found))
        return evaluate(expression, variable_store, modules, namespace)

    evaluation._evaluate = checked_evaluate

    find_extended = ExtendedFinder.find

    def checked_find(self: Any, variable: Any) -> Any:
        match = self._match_extended(variable.base)
        found = _grammar().extended_problems(match.group(2)) if match is not None else []
        if found and not _trusted_text(variable.base):  # the repo's text only for what the grammar refuses
            _refuse(f"the variable '${{{variable.base[:200]}}}' " + "; ".join(found))
        return find_extended(self, variable)

    ExtendedFinder.find = checked_find
