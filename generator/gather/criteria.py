"""Acceptance criteria as stable identities: normalised text and a short fingerprint per criterion.

A product owner who bolds a word, re-indents a list or converts wiki markup to Markdown has not
changed the requirement, so the fingerprint is taken over the criterion's words only: HTML tags
and entities, wiki/Markdown emphasis, code marks, colour macros and link targets are dropped and
whitespace is collapsed before hashing. Case and punctuation inside the sentence are kept: a
changed value (`"VIP20"` → `"vip20"`) is a changed requirement.

`diff` pairs an edited criterion with the removed one it most resembles, so the update MR can
say "this criterion changed" (and rewrite its test cases) rather than "one removed, one added".

A generated suite records the criteria it was written for (`Metadata    Jira Criterion <fp>`) and
which of them each test case covers (an `ac:<fp>` tag); `recorded_criteria` and `case_criteria`
read them back (drift detection), `generator.write.provenance` writes them.
"""

from __future__ import annotations

import hashlib
import html
import re
from difflib import SequenceMatcher

from pydantic import BaseModel, Field
from robot.api import get_model
from robot.api.parsing import Tags, TestCase
from robot.parsing.model.blocks import File, TestCaseSection
from robot.utils import unescape

#: Hex digits of a criterion fingerprint: ample for the criteria of one ticket, short in a tag.
FP_LENGTH = 10
#: How alike an old and a new criterion must be to count as one criterion edited.
EDIT_SIMILARITY = 0.5

_WIKI_LINK = re.compile(r"\[([^\]|]*)\|[^\]]*\]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MACRO = re.compile(r"\{(?:color|quote|noformat|code)(?::[^}]*)?\}")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MARKS = re.compile(r"\{\{|\}\}|[*_`~]+")


def normalise(text: str) -> str:
    """The criterion's words: markup, link targets and spacing removed (see the module docstring)."""
    text = html.unescape(text)
    text = _WIKI_LINK.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MACRO.sub("", text)
    text = _HTML_TAG.sub(" ", text)
    text = _MARKS.sub("", text)
    return " ".join(text.split()).strip(" .;")


def fingerprint(text: str) -> str:
    """Short SHA-256 of the normalised criterion (the value of its `ac:` tag and `Metadata` name)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:FP_LENGTH]


def fingerprints(criteria: list[str]) -> dict[str, str]:
    """Fingerprint → normalised text, in the ticket's order (a repeated criterion counts once)."""
    return {fingerprint(c): normalise(c) for c in criteria if normalise(c)}


class CriterionEdit(BaseModel):
    old: str
    new: str
    old_fp: str
    new_fp: str


class CriteriaDiff(BaseModel):
    """What changed between the criteria a test was written for and the ticket's current ones."""

    added: dict[str, str] = Field(default_factory=dict, description="fingerprint → text, new criteria")
    removed: dict[str, str] = Field(default_factory=dict, description="fingerprint → text, criteria gone")
    edited: list[CriterionEdit] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.edited)

    def summary(self) -> str:
        parts = [(len(self.edited), "edited"), (len(self.added), "added"), (len(self.removed), "removed")]
        return ", ".join(f"{n} {what}" for n, what in parts if n) or "unchanged"


def diff(old: dict[str, str], new: dict[str, str]) -> CriteriaDiff:
    """Criteria gone and criteria new; each gone one paired with the most similar new one, if alike enough."""
    gone = {fp: text for fp, text in old.items() if fp not in new}
    came = {fp: text for fp, text in new.items() if fp not in old}
    pairs = sorted(
        ((SequenceMatcher(None, a, b).ratio(), fa, fb) for fa, a in gone.items() for fb, b in came.items()),
        reverse=True,
    )
    edited: list[CriterionEdit] = []
    for ratio, fa, fb in pairs:
        if ratio < EDIT_SIMILARITY:
            break
        if fa in gone and fb in came:
            edited.append(CriterionEdit(old=gone.pop(fa), new=came.pop(fb), old_fp=fa, new_fp=fb))
    order = list(new)
    edited.sort(key=lambda e: order.index(e.new_fp))
    return CriteriaDiff(added=came, removed=gone, edited=edited)


def best_match(covers: str, criteria: dict[str, str]) -> str | None:
    """The fingerprint of the criterion a planner's `covers` entry names (exact, else the closest)."""
    wanted = normalise(covers)
    if not wanted:
        return None
    for fp, text in criteria.items():
        if text == wanted:
            return fp
    scored = [(SequenceMatcher(None, wanted, text).ratio(), fp) for fp, text in criteria.items()]
    ratio, fp = max(scored, default=(0.0, ""))
    return fp if ratio >= 0.6 else None


#: How a generated suite names its ticket and criteria (Metadata) and a case's criteria (tags).
TICKET_METADATA = "Jira Ticket"
CRITERION_METADATA = "Jira Criterion "
TAG_PREFIX = "ac:"


def recorded_criteria(metadata: dict[str, str]) -> dict[str, str] | None:
    """Fingerprint → criterion text a suite was written for (from its `Metadata`), None if it has none."""
    found = {
        name.removeprefix(CRITERION_METADATA).strip(): normalise(unescape(value))
        for name, value in metadata.items()
        if name.startswith(CRITERION_METADATA)
    }
    return found or None


def case_criteria(text: str) -> dict[str, list[str]]:
    """Test case name → fingerprints of its `ac:` tags."""
    found: dict[str, list[str]] = {}
    for case in suite_cases(get_model(text)):
        found[case.name] = case_fingerprints(case)
    return found


def suite_cases(model: File) -> list[TestCase]:
    """The test cases of a parsed suite, in file order."""
    return [
        case for s in model.sections if isinstance(s, TestCaseSection) for case in s.body if isinstance(case, TestCase)
    ]


def case_fingerprints(case: TestCase) -> list[str]:
    """Fingerprints of the criteria a test case names in its `ac:` tags."""
    tags = [t for node in case.body if isinstance(node, Tags) for t in node.values]
    return [t.removeprefix(TAG_PREFIX) for t in tags if t.startswith(TAG_PREFIX)]
