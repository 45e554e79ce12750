"""Where a generated file may go: a normal, relative path inside the tests folder that no
symlink leads out of the repository. Untrusted text (a spec, a model's answer) picks the
path, so every part is checked before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

MAX_TARGET_PATH = 200
_COMPONENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


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


def confinement_problem(repo: Path, folder: str, target: str) -> str | None:
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
