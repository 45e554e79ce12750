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


def import_lines_for(keywords: Iterable[Keyword], *, root: str, common: str | None, target_path: str) -> list[str]:
    """`Resource`/`Library` lines for a file at `target_path` that calls `keywords`.

    BuiltIn needs no import; a keyword the common resource provides is covered by importing
    the common resource; any other is imported from the file or library that defines it.
    """
    folder = posixpath.dirname(target_path) or "."
    provided = _provided(root, common) if common else frozenset()
    lines: dict[str, None] = {}
    if common and any(kw.owner in provided for kw in keywords):
        lines[f"Resource    {posixpath.relpath(common, folder)}"] = None
    for kw in keywords:
        if kw.owner in provided or kw.owner == "BuiltIn":
            continue
        if kw.owner_kind == "resource":
            lines[f"Resource    {posixpath.relpath(kw.owner, folder)}"] = None
        elif kw.owner.endswith(".py"):
            lines[f"Library    {posixpath.relpath(kw.owner, folder)}"] = None
        else:
            lines[f"Library    {kw.owner}"] = None
    return list(lines)


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
