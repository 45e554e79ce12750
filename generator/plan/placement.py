"""Where a new test goes: the folder of the most similar suites in the ticket's area.

The folder of the single most similar test case is a weak guess on a large repo: an API
ticket about orders shares "order" and "status" with the UI suite of the order page, and
mirror product lines (`api/b2b`, `api/b2c`) hold near-copies of each suite. So the folder is
chosen from evidence, in this order:

1. a folder named like one of the ticket's components or labels (any part of its path);
2. the **area** of the ticket, API or UI, read from its words ("request", "response",
   "endpoint", a URL path... against "page", "click", "browser"...) and, for each candidate
   suite, from its own text (its imports, setup and calls): suites of the other area are
   never a candidate, so an API ticket never lands beside a browser suite;
3. the folder of the most similar suite (its similarity; a folder of many loosely similar
   suites does not outvote the folder of a close one, nor a mirror line holding one more copy);
4. between folders scoring alike (mirror product lines), the one whose path words the ticket
   names ("B2B" for `api/b2b`); between exact copies nothing can tell, the first in path order.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Sequence

from generator.models import ExampleTest, Ticket
from generator.retrieval.words import STOPWORDS, stem_of, stems_of

_API_WORDS = frozenset(
    stem_of(w)
    for w in ("api", "endpoint", "request", "response", "http", "https", "json", "payload", "header", "session",
              "rest", "soap", "graphql", "uri", "token", "body", "requestslibrary")
)  # fmt: skip
_UI_WORDS = frozenset(
    stem_of(w)
    for w in ("ui", "page", "browser", "click", "button", "link", "screen", "field", "form", "element", "locator",
              "window", "menu", "dialog", "checkbox", "dropdown", "selenium", "seleniumlibrary", "appium", "display",
              "visible")
)  # fmt: skip
# A URL path in a ticket ("/api/v1/orders") says API as much as the word does.
_PATH = re.compile(r"(?<![\w/])/[\w{}-]+(?:/[\w{}.-]+)+")
# Folders whose vote reaches this share of the best one's are alike (mirror product lines).
_TIE = 0.8
# Suites that vote: the most similar few; beyond them the similarity is noise.
VOTERS = 8


def area_of(text: str) -> str | None:
    """`api`, `ui`, or None when the text's words do not lean either way."""
    stems = stems_of(text)
    api = sum(s in _API_WORDS for s in stems) + len(_PATH.findall(text))
    ui = sum(s in _UI_WORDS for s in stems)
    if api > ui:
        return "api"
    if ui > api:
        return "ui"
    return None


def _ticket_text(ticket: Ticket) -> str:
    return " ".join([ticket.summary, ticket.description, *ticket.acceptance_criteria])


def choose_folder(ticket: Ticket, tests_dir: str, folders: Sequence[str], suites: Sequence[ExampleTest]) -> str | None:
    """The folder (relative to `tests_dir`, `.` for itself) a new test for `ticket` goes to, or None."""
    wanted = {c.lower() for c in [*ticket.components, *ticket.labels]}
    named = [f for f in folders if wanted & {part.lower() for part in f.split("/")}]
    if named:
        return min(named, key=lambda f: (-len(wanted & set(f.lower().split("/"))), f.count("/"), f))
    text = _ticket_text(ticket)
    area = area_of(text)
    votes: dict[str, float] = defaultdict(float)
    for suite in suites[:VOTERS]:
        relative = posixpath.relpath(posixpath.dirname(suite.path) or ".", tests_dir)
        if relative.startswith(".."):
            continue
        if area is not None and area_of(suite.text) not in (area, None):
            continue
        votes[relative] = max(votes[relative], suite.score)
    if not votes:
        return None
    best = max(votes.values())
    words = {s for s in stems_of(text) if s not in STOPWORDS} | {stem_of(c) for c in wanted}
    alike = [f for f, v in votes.items() if v >= _TIE * best]
    # Nothing tells exact copies apart: the first in path order, as the examples are ordered.
    return min(alike, key=lambda f: (-len(words & set(stems_of(f))), -votes[f], f))
