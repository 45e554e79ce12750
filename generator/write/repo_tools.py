"""Read-only tools the writer may call: repo files, keyword lookup, allow-listed GitLab MCP tools.

Every path is confined to the repository; nothing here can write, and GitLab MCP tools are
exposed only if their name is on a read-only allow-list (a model that was talked into
"merge this" by ticket text finds no tool to do it with).

The model may have been talked into fishing for credentials, and whatever a tool returns is
sent to the LLM server. So no tool follows a symlink out of the repo (a committed
`env.txt -> /proc/self/environ` would hand over the job's tokens), none reads `.git/`,
`.env*`, keys, certificates or credential files (checked on the path asked for *and* on
the file it resolves to), only regular files are read (a FIFO would hang the run) and every
read is size-capped.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePath

from generator.clients.llm.client import Tool
from generator.clients.mcp.client import McpConnection
from generator.gather.repo import skip_dir, skipped
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import format_call
from generator.safety.redact import Redactor

MAX_FILE_CHARS = 20_000
MAX_HITS = 40
#: search_text skips bigger files: they are data or build output, not the repo's tests.
MAX_SEARCH_BYTES = 1_000_000
_SEARCHED_SUFFIXES = frozenset({".robot", ".resource", ".py", ".md", ".txt", ".yaml", ".yml"})
# Files that hold credentials by name (matched case-insensitively on every path component).
_SECRET_FILES = (
    ".env*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "credentials*",
    "*.credentials",
    ".htpasswd",
)

# Read-only tools of the common GitLab MCP servers (official GitLab MCP, zereight/gitlab-mcp).
GITLAB_READ_ONLY = frozenset(
    {
        "get_file_contents",
        "get_repository_tree",
        "get_project",
        "search_code",
        "search_blobs",
        "gitlab_search",
        "search",
        "list_commits",
        "get_commit",
        "get_commit_diff",
        "list_merge_requests",
        "get_merge_request",
        "get_merge_request_diffs",
        "list_issues",
        "get_issue",
        "get_branch",
        "list_branches",
    }
)


class RepoAccessError(ValueError):
    pass


def _forbidden(rel: PurePath) -> bool:
    """A repo-relative path the model must not read: inside `.git`, or a credentials file."""
    parts = [part.lower() for part in rel.parts]
    return ".git" in parts or any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in _SECRET_FILES)


def _inside(repo: Path, raw: str) -> Path:
    """The resolved path for a model-supplied one, refused unless it and its target are allowed."""
    asked = PurePath(raw or ".")
    path = (repo / asked).resolve()
    if asked.is_absolute() or not path.is_relative_to(repo):
        raise RepoAccessError(f"path {raw!r} is outside the repository")
    if _forbidden(asked) or _forbidden(path.relative_to(repo)):
        raise RepoAccessError(
            f"path {raw!r} is off limits: version control data and credential files count as outside the repository"
        )
    return path


def _readable_file(repo: Path, path: Path) -> Path | None:
    """`path` (maybe a symlink) resolved, if it is a regular file inside the repo that may be read."""
    target = path.resolve()
    if not target.is_relative_to(repo) or _forbidden(target.relative_to(repo)) or _forbidden(path.relative_to(repo)):
        return None
    try:
        return target if stat.S_ISREG(target.stat().st_mode) else None
    except OSError:
        return None


def _read_capped(path: Path, limit: int) -> str:
    """At most `limit` characters of a file, without reading the rest of it."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.read(limit)


def _walk(repo: Path):
    """Repo files in a stable order, without descending into skipped folders or symlinked ones."""
    for folder, dirs, files in os.walk(repo):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not skip_dir(d, at_root=here == repo))
        for name in sorted(files):
            yield here / name


def must_read(repo: Path, paths: Sequence[str], *, skip: Sequence[str] = (), limit: int) -> list[tuple[str, str]]:
    """(path, text) of the files the planner named for the writer, under the read tool's rules.

    The paths are model output: each is confined like a `read_file` call (inside the repo, no
    `.git`, no credentials, regular files only); refused or missing ones are left out. Files in
    `skip` (already in the prompt) are not repeated; together the texts stay within `limit`
    characters, a longer file cut with a note that the read tool has the rest.
    """
    repo = repo.resolve()
    found: list[tuple[str, str]] = []
    left = limit
    for raw in dict.fromkeys(paths):
        try:
            path = _inside(repo, raw)
        except RepoAccessError:
            continue
        rel = path.relative_to(repo).as_posix()
        if left <= 0 or rel in skip or _readable_file(repo, path) is None:
            continue
        text = _read_capped(path, left + 1)
        if len(text) > left:
            text = text[:left] + f"\n[... cut: read_file {rel!r} for the rest]"
        found.append((rel, text))
        left -= len(text)
    return found


def repo_tools(repo: Path, matcher: KeywordMatcher) -> list[Tool]:
    repo = repo.resolve()

    async def read_file(args: dict) -> str:
        path = _inside(repo, str(args.get("path", "")))
        if _readable_file(repo, path) is None:
            return f"ERROR: no file {args.get('path')!r}"
        text = _read_capped(path, MAX_FILE_CHARS + 1)
        return text[:MAX_FILE_CHARS] + ("\n[... truncated]" if len(text) > MAX_FILE_CHARS else "")

    async def list_dir(args: dict) -> str:
        path = _inside(repo, str(args.get("path", ".")))
        if not path.is_dir():
            return f"ERROR: no folder {args.get('path')!r}"
        entries = sorted(
            p.name + ("/" if p.is_dir() else "")
            for p in path.iterdir()
            if not skip_dir(p.name, at_root=path == repo)
            and p.resolve().is_relative_to(repo)
            and not _forbidden(p.relative_to(repo))
        )
        return "\n".join(entries) or "(empty)"

    async def search_text(args: dict) -> str:
        query = str(args.get("query", "")).lower()
        pattern = str(args.get("glob", "*"))
        if not query:
            return "ERROR: query is empty"
        hits = []
        for path in _walk(repo):
            rel = path.relative_to(repo)
            if skipped(rel) or path.suffix not in _SEARCHED_SUFFIXES:
                continue
            if not fnmatch.fnmatch(rel.as_posix(), pattern) and not fnmatch.fnmatch(path.name, pattern):
                continue
            target = _readable_file(repo, path)
            if target is None or target.stat().st_size > MAX_SEARCH_BYTES:
                continue
            for number, line in enumerate(_read_capped(target, MAX_SEARCH_BYTES).splitlines(), 1):
                if query in line.lower():
                    hits.append(f"{rel.as_posix()}:{number}: {line.strip()[:200]}")
                    if len(hits) >= MAX_HITS:
                        return "\n".join(hits) + "\n[... more hits]"
        return "\n".join(hits) or "(no match)"

    async def find_keywords(args: dict) -> str:
        step = str(args.get("step", ""))
        [mapping] = matcher.match_case([step])  # the offline writer's choice: wrappers, never deprecated
        found = [
            {"name": k.name, "args": k.args, "owner": k.owner, "doc": k.doc, "score": round(score, 2)}
            for k, score in matcher.search(step, limit=8)
        ]
        return json.dumps({"suggested_line": format_call(mapping), "how": mapping.how, "candidates": found})

    def schema(**props: str) -> dict:
        return {
            "type": "object",
            "properties": {name: {"type": "string", "description": desc} for name, desc in props.items()},
            "required": [next(iter(props))],
        }

    return [
        Tool("read_file", "Read a text file of the test repository.", schema(path="Repo-relative path."), read_file),
        Tool("list_dir", "List a folder of the test repository.", schema(path="Repo-relative folder."), list_dir),
        Tool(
            "search_text",
            "Search text in the repository's .robot/.resource/.py/.md files (case-insensitive).",
            schema(query="Text to find.", glob="Optional file glob, e.g. tests/*.robot"),
            search_text,
        ),
        Tool(
            "find_keywords",
            "Find the repository keywords that implement a test step; returns a suggested Robot line.",
            schema(step='The step, e.g. \'When the user adds "2" of "Book" to the cart\'.'),
            find_keywords,
        ),
    ]


def redacted(tools: list[Tool], redact: Redactor) -> list[Tool]:
    """The same tools, their results masked: a token committed to the repo (or shown by the
    GitLab MCP server) is not sent to the LLM server either."""

    def wrap(tool: Tool) -> Tool:
        async def handler(args: dict) -> str:
            return redact(await tool.handler(args))

        return Tool(tool.name, tool.description, tool.parameters, handler)

    return [wrap(tool) for tool in tools]


async def gitlab_tools(gitlab: McpConnection) -> list[Tool]:
    """The GitLab MCP server's tools, filtered to the read-only allow-list."""
    tools = []
    for t in await gitlab.tools(allow=GITLAB_READ_ONLY):

        async def call(args: dict, _name: str = t.name) -> str:
            result = await gitlab.call(_name, args)
            return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)

        tools.append(Tool(t.name, t.description, t.input_schema or {"type": "object", "properties": {}}, call))
    return tools
