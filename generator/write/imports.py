"""Which imports a generated file needs, and which resource every suite of the repo shares.

The offline writer imports what defines the keywords it calls (not the imports of whichever
suite looked similar: those may lack the resource of a mapped keyword). When the repo's
common resource (the one its suites import most, often a `shop.resource` that pulls in the
rest) already provides a keyword, that resource is imported instead of the defining file,
so the generated suite follows the house rule "import only the common resource".
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from robot.api import get_model, get_resource_model
from robot.api.parsing import LibraryImport, ResourceImport, VariablesImport

from generator.gather.repo import SuiteInfo
from generator.models import ExampleTest, Keyword


def _resolve(value: str, from_dir: str) -> str | None:
    """A repo-relative path for an import written in a file of `from_dir`; None if it uses variables."""
    if value.startswith("${CURDIR}"):
        value = value[len("${CURDIR}") :].lstrip("/")
    if "${" in value or posixpath.isabs(value):
        return None
    return posixpath.normpath(posixpath.join(from_dir, value))


def common_resource(suites: Sequence[SuiteInfo]) -> str | None:
    """The resource file most suites import (repo-relative), or None when no suite imports one."""
    counts = Counter(
        path
        for suite in suites
        for path in {_resolve(r, posixpath.dirname(suite.path)) for r in suite.resources}
        if path and path.endswith((".resource", ".robot", ".txt", ".tsv"))
    )
    if not counts:
        return None
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


@lru_cache(maxsize=64)
def _provided(root: str, resource: str) -> frozenset[str]:
    """Owners (resource paths and library names/paths) reachable by importing `resource`."""
    seen: set[str] = set()
    todo = [resource]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = Path(root) / current
        if not path.is_file():
            continue
        for section in get_resource_model(path).sections:
            for node in section.body:
                if isinstance(node, ResourceImport) and (found := _resolve(node.name, posixpath.dirname(current))):
                    todo.append(found)
                elif isinstance(node, LibraryImport):
                    name = node.name
                    seen.add(_resolve(name, posixpath.dirname(current)) or name if name.endswith(".py") else name)
    return frozenset(seen)


def import_targets(keywords: Iterable[Keyword], *, root: str, common: str | None) -> list[tuple[str, str]]:
    """(`Resource`/`Library`, repo-relative path or library name) a file calling `keywords` imports.

    BuiltIn needs no import; a keyword the common resource provides is covered by importing
    the common resource; any other is imported from the file or library that defines it.
    """
    provided = _provided(root, common) if common else frozenset()
    targets: dict[tuple[str, str], None] = {}
    if common and any(kw.owner in provided for kw in keywords):
        targets["Resource", common] = None
    for kw in keywords:
        if kw.owner in provided or kw.owner == "BuiltIn":
            continue
        targets["Resource" if kw.owner_kind == "resource" else "Library", kw.owner] = None
    return list(targets)


def leaned_on(example: ExampleTest | None, targets: Sequence[tuple[str, str]], *, root: str) -> list[tuple[str, str]]:
    """The sibling suite's libraries that the resources in `targets` rely on their importer for.

    A repo's resource may call `Create Session` without importing RequestsLibrary, because every
    suite that imports it does: RF resolves the call in the importing suite's namespace. So
    when the sibling suite `example` imports one of the same resources, its libraries that the
    imported resources do not bring themselves are imported too (the house's own pairing; the
    repo already uses them, so the import allow-list holds).
    """
    if example is None:
        return []
    provided = frozenset().union(*(_provided(root, path) for kind, path in targets if kind == "Resource"))
    from_dir = posixpath.dirname(example.path)
    shares, libraries = False, []
    for section in get_model(example.text).sections:
        for node in section.body:
            if isinstance(node, ResourceImport) and node.name:
                shares = shares or _resolve(node.name, from_dir) in provided
            elif isinstance(node, LibraryImport) and node.name:
                name = (_resolve(node.name, from_dir) or node.name) if node.name.endswith(".py") else node.name
                if name not in provided and ("Library", name) not in targets:
                    libraries.append(("Library", name))
    return libraries if shares else []


def import_lines(targets: Iterable[tuple[str, str]], target_path: str) -> list[str]:
    """`Resource`/`Library` lines for `targets`, paths relative to the file at `target_path`."""
    folder = posixpath.dirname(target_path) or "."
    return [
        f"{kind}    {posixpath.relpath(name, folder) if kind == 'Resource' or name.endswith('.py') else name}"
        for kind, name in dict.fromkeys(targets)
    ]


def import_lines_for(keywords: Iterable[Keyword], *, root: str, common: str | None, target_path: str) -> list[str]:
    """`Resource`/`Library` lines for a file at `target_path` that calls `keywords`."""
    return import_lines(import_targets(keywords, root=root, common=common), target_path)


def example_imports(examples: Iterable[ExampleTest], target_path: str) -> list[str]:
    """The imports of the example suites, re-rooted for a file at `target_path`."""
    folder = posixpath.dirname(target_path) or "."
    labels = {LibraryImport: "Library", ResourceImport: "Resource", VariablesImport: "Variables"}
    lines: dict[str, None] = {}
    for example in examples:
        from_dir = posixpath.dirname(example.path)
        for section in get_model(example.text).sections:
            for node in section.body:
                if isinstance(node, LibraryImport | ResourceImport | VariablesImport) and node.name:
                    found = _resolve(node.name, from_dir) if "/" in node.name or "." in node.name[-9:] else None
                    shown = posixpath.relpath(found, folder) if found else node.name
                    lines[f"{labels[type(node)]}    {shown}"] = None
    return list(lines)
