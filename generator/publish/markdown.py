"""Text the bot posts to GitLab, made safe, and the bot's own block in a description.

GitLab renders descriptions and notes as markdown, notifies `@mentions`, links `#123`/`!4`
references, closes issues named after "Closes", and *executes* `/merge`-style quick actions
written at the start of a line. Untrusted text (ticket, wiki, model) is therefore only ever placed
inline (`inline`: HTML and markdown escaped, reference sigils broken by an invisible space) or in
code spans where GitLab interprets nothing (`code`), and a line start is never its own
(`neutralise_quick_actions`).

The bot owns only the block between `BLOCK_START` and `BLOCK_END`: re-runs replace that block
and keep whatever a reviewer wrote around it (`merge_block`). The hidden marker inside the block
also records a digest of the title the bot last set, so a re-run can tell a reviewer's title
(or an un-drafted one) from its own and leave it alone (`bot_owns_title`). The MR description
(`describe.py`), the drift texts (`drift_text.py`) and the dashboard (`dashboard.py`) all build on this.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

_ZWSP = "\u200b"

# Sigils GitLab turns into mentions or references when a word character follows.
_REFERENCE = re.compile(r"([@#!~%$&])(?=\w)")

# Markdown punctuation that could start emphasis, links, images, tables or code.
_MARKDOWN = re.compile(r"([\\`*_\[\]|])")

KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_QUICK_ACTION_LINE = re.compile(r"^(\s*)/", re.MULTILINE)

BLOCK_START = "<!-- jira2robot:start -->"

BLOCK_END = "<!-- jira2robot:end -->"

_MARKER = re.compile(r"<!-- jira2robot:((?:\s*[a-z]+=[A-Za-z0-9_-]*)+) -->")


def fingerprint(text: str) -> str:
    """SHA-256 of the test file text, the same digest GitLab reports for a stored file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_digest(title: str) -> str:
    """Short digest of a title, kept in the marker: enough to recognise the bot's own title."""
    return hashlib.sha256(title.encode("utf-8")).hexdigest()[:16]


def marker(key: str, text: str, *, title_hash: str | None = None, run_id: str | None = None) -> str:
    """Hidden line tying an MR to its ticket, the exact file content, the bot's title and run."""
    fields = f"key={KEY_UNSAFE.sub('', key)} fingerprint={fingerprint(text)}"
    if title_hash:
        fields += f" title={KEY_UNSAFE.sub('', title_hash)}"
    if run_id:
        fields += f" run={KEY_UNSAFE.sub('', run_id)}"
    return f"<!-- jira2robot:{fields} -->"


def read_marker(description: str | None) -> dict[str, str]:
    """The fields of the marker inside the bot's block ({} when a human removed the block).

    The real marker is the block's last line; the last match wins, so marker-like text quoted
    from a ticket earlier in the block cannot stand in for it.
    """
    text = description or ""
    start, end = text.find(BLOCK_START), text.rfind(BLOCK_END)
    if start < 0 or end < start:
        return {}
    found = list(_MARKER.finditer(text, start, end))
    return dict(field.split("=", 1) for field in found[-1].group(1).split()) if found else {}


def bot_owns_title(title: str, description: str | None) -> bool:
    """True when the MR still has the title the bot last set (no reviewer renamed or un-drafted it)."""
    return read_marker(description).get("title") == title_digest(title)


def merge_block(description: str | None, block: str) -> str:
    """Replace the bot's block in an MR description, keeping everything a human wrote around it."""
    current = description or ""
    start, end = current.find(BLOCK_START), current.rfind(BLOCK_END)
    if start < 0 or end < start:
        return f"{current.rstrip()}\n\n{block}" if current.strip() else block
    return current[:start] + block.rstrip("\n") + current[end + len(BLOCK_END) :]


def inline(text: str) -> str:
    """Untrusted text as one inert markdown line: no HTML, no markup, no mentions or references."""
    text = " ".join(text.split())
    text = _REFERENCE.sub(lambda m: m.group(1) + _ZWSP, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def code(text: str) -> str:
    """Untrusted text as a code span; the fence is longer than any backtick run inside it."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def safe_url(url: str) -> str | None:
    """Only plain http(s) URLs become links; anything else could smuggle markdown or script."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if re.search(r"[\s()<>\[\]\"'`]", url.strip()):
        return None
    return url.strip()


def neutralise_quick_actions(text: str) -> str:
    """Escape every line that starts with `/`: GitLab would run it as a quick action."""
    return _QUICK_ACTION_LINE.sub(lambda m: m.group(1) + "\\/", text)
