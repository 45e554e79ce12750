"""The house style of generated tests: names, file slugs, documentation lines, gap markers.

Defaults follow what reviewers of Robot Framework suites expect and what robocop accepts
(short Title Case names without `.`/`?`, lines under 120 characters). The repo's own
convention document wins where it states a rule in a form simple enough to read reliably:
"at most N words" next to "slug" or "test name", a file-name pattern such as
`<jira-key-lowercase>_<slug>.robot`, a gap marker such as `# MISSING KEYWORD: <step>`, and
a `wip` tag. Anything subtler stays a default; explicit `.jira2robot.yml` keys win over both.
"""

from __future__ import annotations

import re
import textwrap

from generator.models import Conventions
from generator.validate.trust import escape_cell

_WORDS_NEAR = r"[^.\n]{0,120}?\bat most (\d+) words"
_SLUG_WORDS = re.compile(r"\bslug\b" + _WORDS_NEAR, re.IGNORECASE)
_NAME_WORDS = re.compile(r"\btest(?:case)? names?\b" + _WORDS_NEAR, re.IGNORECASE)
_FILE_PATTERN = re.compile(r"`<jira-key(?P<case>-lowercase|-uppercase)?>(?P<sep>[-_])<slug>\.robot`", re.IGNORECASE)
_MARKER = re.compile(r"`(?P<marker>#[^`\n]*?)<step>`")
_WIP_TAG = re.compile(r"^\|\s*`wip`\s*\|", re.IGNORECASE | re.MULTILINE)
# A test's own tags shown as the rule: "Every test is tagged ...: `[Tags]    QA-101    login`".
_TEST_TAGS = re.compile(r"`\[Tags\]\s[^`\n]*`")

# Articles carry no meaning in a short name; these words never end one ("... Is Shown On").
_ARTICLES = frozenset({"a", "an", "the"})
_DANGLING = frozenset({"a", "an", "the", "of", "on", "to", "in", "at", "for", "with", "and", "or", "by", "is", "are",
                       "be", "as", "from", "that", "when", "then", "but"})  # fmt: skip
_NAME_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’-][^\W_]+)*")
_BDD = re.compile(r"^(?:given|when|then|and|but)\s+", re.IGNORECASE)


def parse_convention(doc: str) -> dict[str, object]:
    """The rules of `doc` that override a default, as `Conventions` field values."""
    found: dict[str, object] = {}
    if m := _SLUG_WORDS.search(doc):
        found["slug_max_words"] = int(m.group(1))
    if m := _NAME_WORDS.search(doc):
        found["name_max_words"] = int(m.group(1))
    if m := _FILE_PATTERN.search(doc):
        found["key_case"] = "upper" if (m.group("case") or "").lower() == "-uppercase" else "lower"
        if not m.group("case"):
            found["key_case"] = "as-is"
        found["file_separator"] = m.group("sep")
    if m := _MARKER.search(doc):
        found["missing_marker"] = m.group("marker").rstrip() + " "
    if _WIP_TAG.search(doc):
        found["incomplete_tags"] = ["wip", "jira2robot:incomplete"]
    if _TEST_TAGS.search(doc):
        found["tags_per_test"] = True
    return found


def build_conventions(
    doc: str | None, explicit: dict[str, object], derived: dict[str, object] | None = None
) -> Conventions:
    """Defaults, overridden by what the suites show (`derived`), by the convention doc, then by
    explicit configuration."""
    return Conventions.model_validate({**(derived or {}), **parse_convention(doc or ""), **explicit})


def test_name(text: str, max_words: int, taken: set[str]) -> str:
    """A short Title Case name for a case from its title text, unique within the suite.

    Words are the text's letters and numbers, a number as written (`35.98`: a ticket's
    amount is the behaviour, and `35,98` is another number); other `.`/`?` and quotes are
    dropped (robocop rejects the first two, the last are noise in a name), articles left out,
    cut to `max_words` without ending on a dangling word ("... Shown On").
    """
    text = re.sub(r"\([^)]*\)", " ", _BDD.sub("", text.strip()))
    words = _NAME_TOKEN.findall(text)
    words = [w for i, w in enumerate(words) if i == 0 or w.lower() not in _ARTICLES]
    if words and words[0].lower() in _ARTICLES and len(words) > 1:
        words = words[1:]
    words = words[:max_words]
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    name = " ".join(w[:1].upper() + w[1:] for w in words) or "Acceptance Criterion"
    unique, n = name, 2
    while unique.lower() in taken:
        unique, n = f"{name} {n}", n + 1
    taken.add(unique.lower())
    return unique


# A summary is ticket text: one 100,000-character "word" must not become a file name the file
# system refuses (255 bytes), whatever the key and separator around it.
_MAX_SLUG_WORD = 40
_MAX_SLUG = 120


def file_slug(text: str, max_words: int, separator: str = "_") -> str:
    """Lower-case words of `text` joined by `separator`: whole words, no articles, at most
    `max_words`, not ending on a dangling word (`..._in`)."""
    words = [w[:_MAX_SLUG_WORD] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _ARTICLES][:max_words]
    while len(words) > 1 and (words[-1] in _DANGLING or len(separator.join(words)) > _MAX_SLUG):
        words.pop()
    return separator.join(words) or "test"


def file_name(key: str, summary: str, conventions: Conventions) -> str:
    """`<key>_<slug>.robot` as the convention spells it."""
    shown = {"lower": key.lower(), "upper": key.upper()}.get(conventions.key_case, key)
    sep = conventions.file_separator
    return f"{shown}{sep}{file_slug(summary, conventions.slug_max_words, sep)}.robot"


def fit_words(text: str, room: int) -> str:
    """`text` with every word longer than `room` split into pieces that fit, at positions that
    never separate an escaping backslash from what it escapes (`\\${` stays whole), so the
    pieces are as inert as the word was."""
    pieces: list[str] = []
    for word in text.split(" "):
        while len(word) > room:
            cut = room
            while cut > 1 and _odd_backslashes(word[:cut]):
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
        pieces.append(word)
    return " ".join(pieces)


def _odd_backslashes(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def wrapped_setting(label: str, text: str, indent: str, width: int) -> list[str]:
    """`label    text` as lines no longer than `width`, continued with `...`, split between words.

    The text is escaped once as a whole cell first, and wrapping never splits an escape. Words
    are never cut, except one longer than a whole line (a pasted URL or log token), which is
    split so that robocop's line limit holds.
    """
    cell = escape_cell(text)
    head = f"{indent}{label}    "
    more = f"{indent}...    "
    lines = textwrap.wrap(
        fit_words(cell, width - len(more)),
        width=width,
        initial_indent=head,
        subsequent_indent=more,
        break_long_words=False,
        break_on_hyphens=False,
    )
    # textwrap joins words with one space; a continuation line must not start with `#` or `...`.
    return [line if i == 0 or not line[len(more) :].startswith(("#", "...")) else line.replace(
        more, more + "\\", 1) for i, line in enumerate(lines)] or [head.rstrip()]  # fmt: skip


def one_line_setting(label: str, text: str, indent: str, width: int) -> list[str]:
    """`label    text` on one line, the text cut after its last whole word that fits (marked
    `...`), for a repo whose tests document themselves in one line."""
    head = f"{indent}{label}    "
    words = escape_cell(" ".join(text.split())).split(" ")
    line = head + " ".join(words)
    while len(line) > width and len(words) > 1:
        words.pop()
        line = head + " ".join(words).rstrip(",;:") + " ..."
    return [line]


#: How a marker comment too long for one line goes on (see `missing_marker_line`).
MARKER_CONTINUATION = "#   "


def missing_marker_line(marker: str, step: str, width: int = 120, indent: str = "    ") -> str:
    """The comment that keeps an unmapped step in place, e.g. `# MISSING KEYWORD: <step>`.

    A comment is inert whatever it holds; newlines are the only way out of it, so the step's own
    line breaks are folded. A long step continues on comment lines starting with
    `MARKER_CONTINUATION` (under the line limit, split between words), which `gaps.measure`
    joins back into one step. The lines after the first carry `indent`, like the first.
    """
    room = max(width - len(indent), 40)
    lines = textwrap.wrap(
        fit_words(" ".join(step.split()), room - len(MARKER_CONTINUATION)),
        width=room,
        initial_indent=marker,
        subsequent_indent=MARKER_CONTINUATION,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [marker.rstrip()]
    return f"\n{indent}".join(line.rstrip() for line in lines)
