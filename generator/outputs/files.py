"""Files under OUTPUT_DIR named after a ticket: confined to the folder and redacted.

The key comes from a flag, a ticket file or an MCP search result; it is validated before a
ticket starts, and the path built from it is checked again here, at the write boundary,
so no key (nor a file name taken from a model's target path) can place a file elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from generator.config.repo_file import describe_key, valid_key
from generator.safety.redact import Redactor
from generator.validate import UnsafePathError


def output_path(output_dir: Path, key: str, name: str) -> Path:
    """`OUTPUT_DIR/<KEY>/<name>`, refused unless it resolves inside OUTPUT_DIR/<KEY>."""
    if not valid_key(key):
        raise UnsafePathError(f"{describe_key(key)} is not a Jira key: nothing is written for it")
    root = output_dir.resolve()
    folder = (root / key).resolve()
    path = (folder / name).resolve()
    if not folder.is_relative_to(root) or path.parent != folder:
        raise UnsafePathError(f"refusing to write {key}/{name}: it resolves outside the output folder {root}")
    return path


def write_output(output_dir: Path, key: str, name: str, text: str, redact: Redactor) -> Path:
    """Write one ticket file into the output folder (the job's artifacts), secrets masked."""
    path = output_path(output_dir, key, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text), encoding="utf-8")
    return path
