"""The keyword inventory: every keyword the writer may call, and the imports it may use
(built by `inventory_build`, cached here, listed as text by `listing`).

Built only with Robot Framework's own APIs (the parser for `.resource`/`.robot` files, libdoc
for libraries) so the inventory sees a repo exactly as `robot` will: `${CURDIR}` replaced,
imports resolved against the importing file then the pythonpath, argument specs as RF reads
them. A home-made parser would drift from RF on every syntax corner (continuation lines,
`[Arguments]` with types, embedded arguments with patterns) and the writer would then call
keywords that do not exist.

The imports found in the repo are the allow-list the validator enforces on generated files:
the writer may only use what the repo already uses.

Two more things are recorded for the matcher and the writer: which keywords each user keyword
calls (so a resource keyword wrapping a library keyword can be preferred to it), and the *names*
of the variables the repo's variable files and resource files define (`${DEFAULT_PASSWORD}`),
so a step saying "with the correct password" can pass the repo's own variable. Values are never
kept: variable files often hold credentials, and the inventory is cached and printed.

Keywords of a suite file (a `*** Keywords ***` section beside its tests) are kept apart in
`suite_keywords`: RF refuses to import a file with tests, so they are examples to copy into
the new file's own `*** Keywords ***`, never something to import. The same holds for a
suite's `*** Variables ***` (`suite_variables`).

Files are parsed here with the tool's RF (the parser runs no repo code). Libraries and variable
files are imported in the repo's own interpreter, in a subprocess with a deadline per item
(`generator.safety.repo_env.run_scan`): a library whose import hangs is named in `errors` and the
scan goes on without it.

Building is cached by content hash because the inventory is needed by every command and a
large repo (thousands of resource files) costs seconds to parse and libdoc.
"""

from __future__ import annotations

import json
import logging
import os
import site
import sys
import threading
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from robot.version import get_version

from generator.config.settings import Settings
from generator.gather import cache
from generator.gather.repo import skip_dir
from generator.models import KeywordInventory
from generator.retrieval.inventory_build import Builder, SourceFile
from generator.retrieval.libdoc import Scanner
from generator.safety.repo_env import WORKER as SCAN_WORKER
from generator.safety.repo_env import probe

log = logging.getLogger(__name__)

#: Conventional folders RF users put on `--pythonpath`; added when they exist.
CONVENTIONAL_PYTHONPATH = ("libraries", "resources", "lib")
ALWAYS_LIBRARIES = ("BuiltIn",)
# `.py`, `.yaml`/`.yml` and `.json` may be variable files: their names are part of the inventory.
_HASHED_SUFFIXES = (".resource", ".robot", ".py", ".yaml", ".yml", ".json")
#: The inventory's fields `validate` reads: the import allow-list, its importers and the errors.
_IMPORTS = {"libraries", "resources", "variables", "importers", "import_arguments", "errors"}
#: Seconds one library or variable file may take to import before it is named and skipped.
DEFAULT_SCAN_TIMEOUT = 60.0

_state = threading.local()


def last_build_from_cache() -> bool:
    """Whether this thread's last `build_inventory` call was served from the cache.

    Exposed so callers (and tests) can report cold vs warm builds without timing guesses.
    """
    return getattr(_state, "from_cache", False)


# --------------------------------------------------------------------------- public API


def build_inventory(
    repo: Path,
    *,
    tests_dir: str = "tests",
    pythonpath: Sequence[str] = (),
    cache_dir: Path | None = None,
    python: str | Path | None = None,
    scan_timeout: float = DEFAULT_SCAN_TIMEOUT,
    secrets: Iterable[str] = (),
    exclude: Collection[str] = (),
    imports_only: bool = False,
    dryrun_env: Sequence[str] = (),
) -> KeywordInventory:
    """Keywords and import allow-list of `repo`, from the cache when nothing changed.

    `tests_dir` is where the suites live; a missing one is reported in `errors` because an
    inventory built without the suites lacks their imports and the allow-list is too short.
    `pythonpath` are extra repo-relative folders RF should search (as `robot --pythonpath`).
    Libraries that cannot be imported are recorded in `errors` and never abort the build:
    the repo's CI image may lack a library that the new test does not need anyway.
    `python` is the repo's own interpreter (default: this one); libraries and variable files
    are imported there, each within `scan_timeout` seconds, with `secrets` kept out of reach and
    the variables of `dryrun_env` kept as the dryrun keeps them.

    `exclude` are repo-relative files being validated: a new file must not make its check pay a
    cold build. The entry of the whole repo serves when it exists (the caller then leaves the
    file out of the allow-list with `without_importer`); else, for one file, the entry of the
    rest of the repo: what the repo looked like before the file was written. Files validated
    together vouch for each other's imports, which only the whole repo's entry records, so that
    is what a miss builds. `imports_only`: the allow-list is enough (a cached one has no keywords).
    """
    repo = repo.resolve()
    python = str(python or sys.executable)
    files = _walk(repo)
    environment = [*_environment_fingerprint(python, secrets), *sorted(dryrun_env)]
    keys = [lambda: _cache_key(files, pythonpath, environment, cache_dir)]
    if len(set(exclude)) == 1 and len(rest := [f for f in files if f.rel not in exclude]) < len(files):
        # Tried first: the file being validated is usually new, so the whole repo's key would
        # have to read every file (its stat vouches for nothing yet) only to miss.
        keys.insert(0, lambda: _cache_key(rest, pythonpath, environment, cache_dir))
    inventory = None
    for key in keys:
        if (inventory := _read_cache(key(), cache_dir, imports_only=imports_only)) is not None:
            break
    _state.from_cache = inventory is not None
    log.debug("keyword inventory of %s %s", repo, "from the cache" if inventory is not None else "built")
    if inventory is None:
        scanner = Scanner(python, scan_timeout, tuple(secrets), tuple(dryrun_env))
        # The files this checkout's previous build parsed: only new and changed ones are parsed.
        last = cache.entry_path("last", cache.content_key([*_code(), str(repo)]), cache_dir)
        builder = Builder(repo, pythonpath_dirs(repo, pythonpath), scanner, previous=_previous_parses(last))
        inventory = builder.build(files)
        cache.write(last, json.dumps(builder.parsed))
        whole = _cache_key(files, pythonpath, environment, cache_dir)
        cache.write(cache.entry_path("inventory", whole, cache_dir), inventory.model_dump_json())
        cache.write(cache.entry_path("imports", whole, cache_dir), inventory.model_dump_json(include=_IMPORTS))
    if not (repo / tests_dir).is_dir():  # the tests folder is a setting, not content: not in the key
        problem = (
            f"tests folder '{tests_dir}' not found in the repo: suites' imports are missing "
            "from the allow-list (set tests_dir in .jira2robot.yml)"
        )
        inventory.errors.insert(0, problem)
    return inventory


def repo_inventory(
    settings: Settings, *, exclude: Collection[str] = (), imports_only: bool = False
) -> KeywordInventory:
    """The inventory of the configured repo, scanned in its own interpreter: one call for every
    command, so `keywords`, `validate` and `run` see the same thing (`exclude`, `imports_only`:
    for files being validated, see `build_inventory`)."""
    cfg = settings.repo_config
    return build_inventory(
        settings.repo,
        tests_dir=cfg.tests_dir,
        pythonpath=cfg.pythonpath,
        python=settings.repo_python,
        scan_timeout=cfg.limits.scan_timeout,
        secrets=settings.secrets(),
        exclude=exclude,
        imports_only=imports_only,
        dryrun_env=cfg.dryrun_env,
    )


def without_importer(inventory: KeywordInventory, rel: str) -> KeywordInventory:
    """The allow-list as the rest of the repo vouches for it: imports only `rel` makes are dropped.

    `jira2robot validate` checks files already in the repo; a file must not allow its own
    imports, yet validating several files at once must not remove them from each other's
    allow-list either, so each file is left out only at its own lookup.
    """

    def kept(kind: str, names: list[str]) -> list[str]:
        return [n for n in names if set(inventory.importers.get(f"{kind}:{n}", [])) != {rel}]

    return inventory.model_copy(
        update={
            "libraries": kept("LIBRARY", inventory.libraries),
            "resources": [r for r in kept("RESOURCE", inventory.resources) if r != rel],
            "variables": kept("VARIABLES", inventory.variables),
        }
    )


# --------------------------------------------------------------------------- walking and hashing


def _walk(repo: Path) -> list[SourceFile]:
    """Every file of the repo that can shape the inventory (resources, suites, libraries,
    variable files), with its stat; contents are read only when needed."""
    found: list[SourceFile] = []
    top = str(repo)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(d, at_root=dirpath == top))
        prefix = "" if dirpath == top else dirpath[len(top) + 1 :].replace(os.sep, "/") + "/"
        for name in sorted(filenames):
            if name.lower().endswith(_HASHED_SUFFIXES):
                try:
                    stat = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                found.append(SourceFile(repo / (prefix + name), prefix + name, stat))
    return found


def _environment_fingerprint(python: str, secrets: Iterable[str]) -> list[str]:
    """The scanning interpreter, its RF and its installed distributions.

    Library keywords come from installed packages too: installing RequestsLibrary after a build
    that recorded it as missing must invalidate that build. This interpreter is read in-process;
    the repo's own is asked in a subprocess.
    """
    if python == sys.executable:
        # Installed packages only (site-packages, PYTHONPATH, hashed below): not the working
        # directory nor the script's folder, whose `*.egg-info` is no library of the repo and
        # made the key depend on where the command ran.
        return [python, get_version(), sys.version, *_installed([*site.getsitepackages(), site.getusersitepackages()])]
    found = probe(python, secrets)
    return [python, found["robot"], found["python"], *found["distributions"]]


def _installed(folders: Sequence[str]) -> list[str]:
    """The distributions installed in `folders`, as their metadata folders' names (`name-1.2.dist-info`).

    The names carry name and version, as `importlib.metadata` would report them, at the cost of
    one directory listing instead of reading every distribution's METADATA (0.1 s per command).
    """
    found: list[str] = []
    for folder in folders:
        try:
            found += [e for e in os.listdir(folder) if e.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
    return sorted(found)


def _cache_key(
    files: Sequence[SourceFile], pythonpath: Sequence[str], environment: Sequence[str], cache_dir: Path | None
) -> str:
    """The repo's content and settings only: not where it sits, not where the command runs.
    Remembered under the files' stats, so a warm command does not read them (`cache.memoised_key`)."""
    settings = [
        *_code(),  # a new builder (or parser) invalidates old entries
        os.environ.get("PYTHONPATH", ""),  # decides which module a library name imports
        *pythonpath,
        "\0".join(environment),
    ]
    return cache.memoised_key(
        settings,
        [(f.rel, f.stat) for f in files],
        lambda: cache.content_key([*settings, *(part for f in files for part in (f.rel, f.content))]),
        cache_dir,
    )


def _code() -> list[str | bytes]:
    """What a cached build depends on besides the repo: the builder's code, RF's version."""
    here = Path(__file__)
    return [
        here.read_bytes(),
        here.with_name("inventory_build.py").read_bytes(),
        here.with_name("libdoc.py").read_bytes(),
        SCAN_WORKER.read_bytes(),
        get_version(),
    ]


def _previous_parses(entry: Path) -> dict[str, dict[str, Any]]:
    data = cache.read(entry)
    try:
        found = json.loads(data) if data is not None else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _read_cache(key: str, cache_dir: Path | None, *, imports_only: bool) -> KeywordInventory | None:
    """The cached inventory, or only its import allow-list (`_IMPORTS`: what `validate` needs,
    a few kilobytes instead of every keyword)."""
    data = cache.read(cache.entry_path("imports" if imports_only else "inventory", key, cache_dir))
    try:
        return None if data is None else KeywordInventory.model_validate_json(data)
    except (ValueError, ValidationError):
        return None


def pythonpath_dirs(repo: Path, pythonpath: Sequence[str]) -> list[Path]:
    """Configured entries first (as `robot --pythonpath` prepends them), then the conventions."""
    dirs: list[Path] = []
    for entry in [*pythonpath, ".", *CONVENTIONAL_PYTHONPATH]:
        path = (repo / entry).resolve()
        if path.is_dir() and path not in dirs:
            dirs.append(path)
    return dirs
