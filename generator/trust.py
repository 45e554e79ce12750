"""Untrusted text made inert before it is written into a .robot file.

Robot Framework resolves variables in test names, documentation, tags, settings and
arguments, and `${{...}}` or extended syntax like `${x.__class__...}` evaluates Python even
in a dryrun. Ticket and Confluence text is written by anyone who can edit a ticket, so any
of it that lands in a generated file passes through `escape_cell` first: afterwards Robot's
own parser reads it back as the literal text, never as a variable, a comment, a
continuation or a new cell.
"""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
# Robot's escape character first, then everything that starts syntax inside a cell.
_SPECIALS = re.compile(r"\\|[$@&%]\{")


def escape_cell(text: str) -> str:
    """`text` as one literal Robot Framework data cell.

    Runs of whitespace (which would split cells or lines) become one space; backslashes
    are doubled; `${`, `@{`, `&{`, `%{` are escaped; a leading `#` (comment), `...`
    (continuation) or `*` (section header) is escaped. An empty result is `${EMPTY}`.
    """
    cell = _WHITESPACE.sub(" ", text).strip()
    cell = _SPECIALS.sub(lambda m: "\\" + m.group(0), cell)
    if cell.startswith(("#", "...", "*")):
        cell = "\\" + cell
    return cell or "${EMPTY}"
