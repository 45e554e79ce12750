"""The test repository side of gathering: layout, conventions, existing suites, coverage by tag.

Existing suites are parsed once per run with Robot Framework's own parser; every ticket
then picks its examples from that index, and the backlog skip rule ("a test tagged with
the key already exists") reads the same index without any LLM call.

Real repositories rarely follow our defaults: suites sit at the root next to their Python
library, or in `login_tests/`, and none has a convention document. So the tests folder is
detected from where the suites are, and when no convention document exists the conventions
are derived from the suites themselves (the same parsed models), for the writer to follow.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePath, PurePosixPath

from robot.api import get_model
from robot.api.parsing import ModelVisitor, Token
from robot.utils import normalize
from robot.version import get_version

from generator.gather import cache, corpus
from generator.gather.corpus import SuiteDoc, doc_fields, doc_from_fields, suite_doc

#: Folders never walked: tooling, virtualenvs and caches hold third-party files, not the repo's tests.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
#: jira2robot's own output folder at the repo root: generated copies must not count as the repo's
#: files (a `generated/` folder deeper down, e.g. `tests/generated/`, is ordinary test code).
OUTPUT_DIR_NAME = "generated"


#: `SuiteInfo.test_settings` key: tests whose `[Documentation]` spans more than one line.
MULTI_LINE_DOC = "[Documentation] on several lines"
_BDD_PREFIX = re.compile(r"^(given|when|then|and|but)\s", re.IGNORECASE)


@dataclass
class SuiteInfo:
    path: str
    text: str
    tags: set[str] = field(default_factory=set)
    test_names: list[str] = field(default_factory=list)
    #: Suite settings as written (`Suite Setup` -> `Open Browser To Login Page`), first value.
    settings: dict[str, str] = field(default_factory=dict)
    #: Test-level settings (`[Tags]`, `[Documentation]`, `[Setup]`...) -> tests using them.
    test_settings: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    bdd_steps: int = 0
    resources: list[str] = field(default_factory=list, metadata={"doc": "Resource imports, as written."})
    #: Suite `Metadata` name → value as written: holds the provenance drift detection reads.
    suite_metadata: dict[str, str] = field(default_factory=dict)
    #: Its cases and what they call, for retrieval: built from the same parse, cached with it.
    doc: SuiteDoc | None = None


class _SuiteVisitor(ModelVisitor):
    def __init__(self, info: SuiteInfo):
        self.info = info
        self._in_test = False
        self._in_keyword = False

    def visit_Keyword(self, node):
        self._in_keyword = True
        self.generic_visit(node)
        self._in_keyword = False

    def visit_TestCase(self, node):
        self.info.test_names.append(node.name)
        self._in_test = True
        self.generic_visit(node)
        self._in_test = False

    def _suite_setting(self, node, name: str) -> None:
        values = [t.value for t in node.data_tokens[1:]]
        self.info.settings.setdefault(name, " ".join(values[:1]))

    def visit_SuiteSetup(self, node):
        self._suite_setting(node, "Suite Setup")

    def visit_SuiteTeardown(self, node):
        self._suite_setting(node, "Suite Teardown")

    def visit_TestSetup(self, node):
        self._suite_setting(node, "Test Setup")

    def visit_TestTeardown(self, node):
        self._suite_setting(node, "Test Teardown")

    def visit_TestTemplate(self, node):
        self._suite_setting(node, "Test Template")

    def visit_Setup(self, node):
        self.info.test_settings["[Setup]"] += self._in_test

    def visit_Teardown(self, node):
        self.info.test_settings["[Teardown]"] += self._in_test

    def visit_Documentation(self, node):
        if self._in_test:
            self.info.test_settings["[Documentation]"] += 1
            self.info.test_settings[MULTI_LINE_DOC] += node.lineno != node.end_lineno
        elif not self._in_keyword:
            self.info.settings.setdefault("Documentation", node.value.split("\n")[0][:80])

    def visit_KeywordCall(self, node):
        if self._in_test:
            self.info.steps += 1
            self.info.bdd_steps += bool(_BDD_PREFIX.match(node.keyword or ""))

    def visit_Metadata(self, node):
        self.info.suite_metadata[node.name] = " ".join(t.value for t in node.get_tokens(Token.ARGUMENT))

    def visit_ResourceImport(self, node):
        self.info.resources.append(node.name)

    def visit_Tags(self, node):
        self.info.tags.update(node.values)
        if self._in_test:
            self.info.test_settings["[Tags]"] += 1

    def visit_TestTags(self, node):
        self.info.tags.update(node.values)

    def visit_ForceTags(self, node):
        self.info.tags.update(node.values)

    def visit_DefaultTags(self, node):
        self.info.tags.update(node.values)


def tag_key(tag: str) -> str:
    """A tag as Robot Framework compares it: case, spaces and underscores ignored."""
    return normalize(tag, ignore="_")


def owned_by(path: Path, key: str) -> bool:
    """Whether the suite at `path` is the ticket's own: its parsed model carries the key as a tag.

    Structure, not text: a file tagged QA-123, or one that merely mentions QA-12 in a
    comment, is not QA-12's, so it is never replaced by QA-12's generated test.
    """
    info = SuiteInfo(path=str(path), text="")
    _SuiteVisitor(info).visit(get_model(path))
    return tag_key(key) in {tag_key(t) for t in info.tags}


def skip_dir(name: str, *, at_root: bool) -> bool:
    """The one rule every walker of the repo follows (inventory, suite index, writer tools)."""
    return name in SKIP_DIRS or name.startswith(".") or (at_root and name == OUTPUT_DIR_NAME)


def skipped(rel: PurePath) -> bool:
    """A repo-relative file no walker reads: hidden itself (dryrun temp files) or in a skipped folder."""
    *folders, name = rel.parts
    return name.startswith(".") or any(skip_dir(part, at_root=i == 0) for i, part in enumerate(folders))


def index_suites(repo: Path, tests_dir: str, *, cache_dir: Path | None = None) -> list[SuiteInfo]:
    """Every `.robot` file under `tests_dir` (the whole repo when it is missing), parsed.

    Parsing a thousand suites costs seconds on every run and every shard, so the index is cached
    by the files' paths and bytes (see `generator.gather.cache`): only reading and hashing remain. Each
    suite's retrieval document (`SuiteDoc`) comes from the same parse and is cached with it.
    """
    real_repo = repo.resolve()
    found: list[tuple[str, bytes]] = []
    for rel, path in _robot_files(_walk_top(repo, tests_dir), repo):
        if skipped(PurePosixPath(rel)) or not os.path.isfile(path):
            continue
        # The walk follows no symlinked folder: only a symlinked file can lead out of the repo,
        # and resolving every path costs a stat per folder of it (a fifth of a second per 1,000).
        if os.path.islink(path) and not Path(path).resolve().is_relative_to(real_repo):
            continue
        with open(path, "rb") as handle:
            found.append((rel, handle.read()))
    texts = [_text(content) for _, content in found]
    code = [Path(__file__).read_bytes(), Path(corpus.__file__).read_bytes(), get_version()]
    key = cache.content_key([*code, *(p for rel, c in found for p in (rel, c))])
    entry = cache.entry_path("suites", key, cache_dir)
    if (cached := _read_index(entry, texts)) is not None:
        return cached
    # Not this content: the index this checkout built last still holds every suite that did
    # not change since (one file added or edited re-parses that file, not the thousand others).
    last = cache.entry_path("last", cache.content_key([*code, str(real_repo), tests_dir]), cache_dir)
    known = _previous(last, cache_dir)
    suites, fields = [], []
    for (rel, content), text in zip(found, texts, strict=True):
        digest = cache.content_key([rel, content])
        if (kept := known.get(digest)) is not None and (info := _info(kept, text)) is not None:
            suites.append(info)
            fields.append(kept)
            continue
        model = get_model(text)  # the one parse of this suite in a run: the index and retrieval read it
        doc = suite_doc(rel, model)
        info = SuiteInfo(path=rel, text=text, doc=doc)
        _SuiteVisitor(info).visit(model)
        suites.append(info)
        # `asdict` would rebuild the Counter from (key, count) pairs: it is given as a plain dict.
        fields.append(
            {
                **asdict(replace(info, doc=None)),
                "text": None,
                "tags": sorted(info.tags),
                "test_settings": dict(info.test_settings),
                "doc": doc_fields(doc, text),
                "digest": digest,
            }
        )
    cache.write(entry, json.dumps(fields))
    cache.write(last, entry.name)
    return suites


def _previous(pointer: Path, cache_dir: Path | None) -> dict[str, dict]:
    """The fields of each suite of the index `pointer` names (the checkout's last), by digest."""
    name = (cache.read(pointer) or b"").decode("ascii", errors="replace")
    if not re.fullmatch(r"suites-[0-9a-f]{64}\.json", name):
        return {}
    data = cache.read((cache_dir or cache.default_cache_dir()) / name)
    try:
        fields = json.loads(data) if data is not None else []
        return {f["digest"]: f for f in fields if isinstance(f, dict) and "digest" in f}
    except (ValueError, TypeError, UnicodeDecodeError):
        return {}


def _walk_top(repo: Path, tests_dir: str) -> Path:
    """Where `index_suites` walks: the tests folder, or the whole repo when it is missing."""
    base = repo / tests_dir
    return base if base.is_dir() and base.resolve().is_relative_to(repo.resolve()) else repo


def suites_within(suites: list[SuiteInfo], repo: Path, tests_dir: str) -> list[SuiteInfo] | None:
    """What `index_suites(repo, tests_dir)` returns, taken from `suites`, the index of the whole
    repo (`index_suites(repo, ".")`), so a run whose tests folder was detected from that index
    does not read it twice; None when the folder is reached through a symlink, which the
    whole repo's walk does not follow (then only `index_suites` can tell)."""
    top = _walk_top(repo, tests_dir)
    if top == repo:
        return list(suites)
    folder = posixpath.normpath(tests_dir)
    if top.resolve() != repo.resolve() / folder:
        return None
    return [s for s in suites if s.path.startswith(folder + "/")]


def _robot_files(top: Path, repo: Path) -> list[tuple[str, str]]:
    """(repo-relative POSIX path, path) of every `*.robot` under `top`, sorted, never descending
    into skipped folders (`.git`, `.venv`, `node_modules`... can hold more files than the tests)
    nor symlinked ones, as `rglob` did not. Plain strings: a `Path` per file costs more than
    reading it."""
    found = []
    root = os.path.abspath(repo)
    for dirpath, dirnames, filenames in os.walk(os.path.abspath(top)):
        dirnames[:] = [d for d in dirnames if not skip_dir(d, at_root=dirpath == root)]
        prefix = "" if dirpath == root else dirpath[len(root) + 1 :].replace(os.sep, "/") + "/"
        found += [(prefix + name, os.path.join(dirpath, name)) for name in filenames if name.endswith(".robot")]
    return sorted(found)


def _text(content: bytes) -> str:
    """The file as `Path.read_text(errors="replace")` gives it: universal newlines."""
    return content.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _read_index(entry: Path, texts: list[str]) -> list[SuiteInfo] | None:
    """The cached index with each suite's text put back (texts are not stored: the files are read anyway)."""
    data = cache.read(entry)
    try:
        fields = json.loads(data) if data is not None else None
        if not isinstance(fields, list) or len(fields) != len(texts):
            return None
        suites = [_info(f, text) for f, text in zip(fields, texts, strict=True)]
    except (ValueError, TypeError):
        return None
    return None if any(s is None for s in suites) else suites  # type: ignore[return-value]


def _info(f: dict, text: str) -> SuiteInfo | None:
    """A suite of a cached index, its text put back; None for an entry of another shape."""
    try:
        return SuiteInfo(
            **{
                **{k: v for k, v in f.items() if k != "digest"},
                "text": text,
                "tags": set(f["tags"]),
                "test_settings": Counter(f["test_settings"]),
                "doc": doc_from_fields(f["path"], f["doc"], text),
            }
        )
    except (ValueError, TypeError, KeyError):
        return None


def detect_tests_dir(suites: list[SuiteInfo]) -> tuple[str, int] | None:
    """The deepest folder holding every suite with tests (`.` for the repo root), and how many,
    from the index of the whole repo (`index_suites(repo, ".")`).

    None when the repo has no suite at all. Files in skipped folders (virtualenvs, the output
    folder, hidden ones) never count; resource-only `.robot` files do not move the folder.
    """
    # Anchored at "/" so the root itself is a common path too (`commonpath` of `a` and `` fails).
    folders = ["/" + str(PurePosixPath(s.path).parent) for s in suites if s.test_names]
    if not folders:
        return None
    return posixpath.commonpath(folders).strip("/").removeprefix("./") or ".", len(folders)


def _share(count: int, total: int) -> str:
    return f"{count}/{total}"


def _file_style(stems: list[str]) -> str:
    styles = Counter(
        "snake_case"
        if re.fullmatch(r"[a-z0-9_]+", stem)
        else "kebab-case"
        if re.fullmatch(r"[a-z0-9-]+", stem)
        else "CamelCase"
        if re.fullmatch(r"[A-Z][A-Za-z0-9]+", stem)
        else "words with spaces"
        if " " in stem
        else "mixed"
        for stem in stems
    )
    style, count = styles.most_common(1)[0]
    return f"{style} ({_share(count, len(stems))}, e.g. {', '.join(sorted(stems)[:3])})"


def derive_conventions(suites: list[SuiteInfo], tests_dir: str) -> str | None:
    """Conventions read from the repo's own suites, as rules the writer can follow.

    Stated as bullet lines with counts (`3/4 suites`), so the writer can tell a house rule
    from an accident, and worded with rule words ("name", "tag", "setup") the offline planner
    picks up. None when there is no suite to learn from.
    """
    with_tests = [s for s in suites if s.test_names]
    if not with_tests:
        return None
    n = len(with_tests)
    tests = sum(len(s.test_names) for s in with_tests)
    folders = Counter(str(PurePosixPath(s.path).parent) for s in with_tests)
    shown_folders = [f if f != "." else "(repository root)" for f, _ in folders.most_common(6)]
    lines = [
        f"Conventions derived from {n} existing suites (the repository has no convention document).",
        f"- Suites live in '{tests_dir}'; folders in use: {', '.join(shown_folders)}.",
        f"- File names: {_file_style([PurePosixPath(s.path).stem for s in with_tests])}.",
    ]
    for name in ("Documentation", "Suite Setup", "Suite Teardown", "Test Setup", "Test Teardown", "Test Template"):
        values = Counter(s.settings[name] for s in with_tests if name in s.settings)
        if values:
            common, _ = values.most_common(1)[0]
            shown = "" if name == "Documentation" else f", most often `{common}`"
            lines.append(f"- Suite setting `{name}` in {_share(sum(values.values()), n)} suites{shown}.")
    test_settings: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for s in with_tests:
        test_settings.update(s.test_settings)
        tags.update(s.tags)
    for name, count in sorted(test_settings.items()):
        lines.append(f"- Test setting `{name}` in {_share(count, tests)} tests.")
    if tags:
        lines.append(f"- Tags in use (by suites using them): {', '.join(t for t, _ in tags.most_common(8))}.")
    steps = sum(s.steps for s in with_tests)
    bdd = sum(s.bdd_steps for s in with_tests)
    if steps:
        style = "Gherkin style (Given/When/Then prefixes)" if bdd * 2 >= steps else "plain keyword calls"
        lines.append(f"- Steps are written as {style}: {_share(bdd, steps)} steps start with Given/When/Then/And/But.")
    return "\n".join(lines) + "\n"


def derived_conventions(suites: list[SuiteInfo]) -> dict[str, object]:
    """`Conventions` fields the suites show: one-line test documentation when every documented
    test of the repo has it on one line (a team writing one line rejects a paragraph)."""
    documented = sum(s.test_settings["[Documentation]"] for s in suites)
    multi_line = sum(s.test_settings[MULTI_LINE_DOC] for s in suites)
    return {"doc_one_line": True} if documented and not multi_line else {}


def read_convention(repo: Path, path: str) -> str | None:
    doc = (repo / path).resolve()
    if not doc.is_relative_to(repo.resolve()) or not doc.is_file():
        return None
    return doc.read_text(encoding="utf-8", errors="replace")


def coverage_index(suites: list[SuiteInfo]) -> dict[str, list[str]]:
    """Normalised tag (`tag_key`) → suites carrying it, compared the way Robot compares tags.

    Built once per run, so the backlog skip rule ("a test tagged with the key exists") is a
    dictionary lookup per ticket, not a scan of every suite.
    """
    index: dict[str, list[str]] = {}
    for suite in suites:
        for tag in {tag_key(t) for t in suite.tags}:
            index.setdefault(tag, []).append(suite.path)
    return index
