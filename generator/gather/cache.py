"""One content-addressed cache for what every command derives from the repo: the keyword
inventory and the suite index.

Entries are named by a hash of what they were built from (the files' bytes, the settings, the
builder's own source), never by where the repo sits or which folder the command runs in, so
the same repo content finds the same entry on a developer's machine, in the next pipeline and
in every `parallel:` shard that shares the folder through GitLab's `cache:`.

The folder is bounded by total size, least recently used first (a hit refreshes an entry's
mtime): a fixed number of entries either wastes space on a small repo or pushes a large repo's
inventory out after a few dozen `validate` calls. Writes are atomic (temporary file, then
rename), so shards sharing a folder never read half an entry. A cache that cannot be written
only costs time: errors are logged, never raised.

Hashing means reading every file (a tenth of a second on a 2,000-file repo, on every command).
So a content key is also remembered under the files' stat signatures (size, mtime, ctime, inode),
as git's index does: the next command in the same checkout only `stat`s the files. A file
changed within `RACY_SECONDS` of the memo could change again without its timestamps moving, so
no memo is written then. A new checkout (the next pipeline) has new signatures: its first
command hashes, and still finds the content-keyed entries a previous pipeline left.

`last` entries are the one exception to content keys: named by a checkout's path, each
remembers the suite index that checkout built last, so the next one after a suite is added or
edited parses only that suite (`gather.repo.index_suites`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: Environment variable bounding the cache folder, in MiB (default `DEFAULT_MAX_MB`).
MAX_MB_ENV = "JIRA2ROBOT_CACHE_MAX_MB"
DEFAULT_MAX_MB = 256
#: File name prefixes of our entries: pruning never touches another tool's files.
KINDS = ("inventory", "imports", "suites", "builtin", "stat", "lint", "last")
#: Seconds within which a file's timestamps do not vouch for its content (see the module's docstring).
RACY_SECONDS = 2.0


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/jira2robot` or `~/.cache/jira2robot`: never inside the repo, so a
    build leaves the working tree clean for `git status` and the merge request."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jira2robot"


def content_key(parts: Iterable[str | bytes]) -> str:
    """A hash of `parts` in order; each part is length-prefixed, so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def stat_signature(stat: os.stat_result) -> str:
    """What changes whenever a file's bytes do (ctime even when a tool resets the mtime)."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}:{stat.st_dev}"


def memoised_key(
    parts: Sequence[str | bytes],
    stats: Sequence[tuple[str, os.stat_result]],
    compute: Callable[[], str],
    cache_dir: Path | None = None,
) -> str:
    """The content key `compute()` returns for files whose (name, stat) are `stats`, remembered
    under their stat signatures and `parts` (the settings): see the module's docstring."""
    # One part for all the files (newline-separated: no name holds one): a hash update per file
    # would cost as much as the stat calls themselves on a large repo.
    listing = "\n".join(f"{rel}\0{stat_signature(st)}" for rel, st in stats)
    signature = content_key([*parts, listing])
    memo = entry_path("stat", signature, cache_dir)
    if (known := read(memo)) is not None and len(known) == 64:
        return known.decode("ascii")
    key = compute()
    newest = max((max(st.st_mtime, st.st_ctime) for _, st in stats), default=0.0)
    if newest < time.time() - RACY_SECONDS:
        write(memo, key)
    return key


def entry_path(kind: str, key: str, cache_dir: Path | None = None) -> Path:
    assert kind in KINDS, kind
    return (cache_dir or default_cache_dir()) / f"{kind}-{key}.json"


def read(path: Path) -> bytes | None:
    """The entry's bytes (its mtime refreshed: recently used entries are pruned last), or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    with contextlib.suppress(OSError):  # a read-only shared cache still serves hits
        os.utime(path)
    return data


def write(path: Path, text: str) -> None:
    """Atomic write, then prune the folder to its size bound (the new entry is always kept)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        prune(path.parent, max_bytes(), keep=path)
    except OSError as exc:
        log.warning("cache entry not written to %s: %s", path.parent, exc)


def max_bytes() -> int:
    """The folder's bound from `JIRA2ROBOT_CACHE_MAX_MB`; a value that is not a number is ignored."""
    raw = os.environ.get(MAX_MB_ENV, "")
    try:
        megabytes = float(raw) if raw.strip() else DEFAULT_MAX_MB
    except ValueError:
        log.warning("%s=%r is not a number of MiB: using %d", MAX_MB_ENV, raw, DEFAULT_MAX_MB)
        megabytes = DEFAULT_MAX_MB
    return int(max(megabytes, 0) * 1024 * 1024)


def prune(folder: Path, limit: int, *, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used entries until the folder's entries fit in `limit` bytes."""
    entries: list[tuple[float, int, Path]] = []
    for kind in KINDS:
        for path in folder.glob(f"{kind}-*.json"):
            try:
                stat = path.stat()
            except OSError:  # removed by a parallel job meanwhile
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
    entries.sort(key=lambda e: (e[2] != keep, -e[0]))  # the kept entry first, then newest first
    total, removed = 0, []
    for _, size, path in entries:
        total += size
        if total > limit and path != keep:  # this one and every older one
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
