"""The verbs tickets paraphrase: a small, fixed table for the ranking's query expansion.

A QA engineer writes "the user removes the record" for a keyword named `Delete Record`, or
"presses the button" for `Click Button`. When a keyword has documentation the doc often holds
the ticket's word; when it has none (many resource keywords), only its name can, and BM25 sees
no common word at all. So each step word of the groups below also looks for the other words of
its groups, at a lower weight than the word itself (`rank.Retriever.rank`): the exact word
still wins when both are there.

The groups are the verbs of HTTP/CRUD and UI tests and the two containment checks, chosen for
meaning, not from any repo: widening them to domain nouns ("order"/"purchase") would trade
precision for recall in ways that differ per repo.
"""

from __future__ import annotations

from collections.abc import Iterable

from generator.retrieval.words import stem_of

#: Words that a ticket and a keyword name use for the same action. A word may sit in several
#: groups ("update" is how a PUT and a PATCH are both described).
VERB_GROUPS: tuple[tuple[str, ...], ...] = (
    # HTTP / CRUD
    ("delete", "remove", "erase", "destroy"),
    ("get", "fetch", "retrieve", "read", "load"),
    ("post", "send", "submit"),
    ("create", "add", "new", "make"),
    ("put", "update", "replace", "modify", "change", "edit"),
    ("patch", "update", "modify", "change"),
    # UI
    ("click", "press", "push", "tap"),
    ("select", "choose", "pick"),
    ("type", "enter", "input", "fill", "write"),
    ("open", "launch", "start", "visit"),
    ("close", "quit", "exit"),
    ("show", "display", "visible", "see"),
    # checks
    ("contain", "include"),
    ("equal", "same", "match"),
)


def _table(groups: Iterable[tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """Stem -> the stems of every other word sharing a group with it (stemmed like the text)."""
    table: dict[str, set[str]] = {}
    for group in groups:
        stems = {stem_of(word) for word in group}
        for stem in stems:
            table.setdefault(stem, set()).update(stems - {stem})
    return {stem: frozenset(others) for stem, others in table.items()}


_SYNONYMS = _table(VERB_GROUPS)


def synonyms_of(stem: str) -> frozenset[str]:
    """The stems a step's (stemmed) word also stands for; empty for a word of no group."""
    return _SYNONYMS.get(stem, frozenset())


def expand(terms: Iterable[str]) -> list[str]:
    """The synonyms of `terms` that are not among them already, each once, in a stable order."""
    own = set(terms)
    return sorted({s for t in own for s in synonyms_of(t)} - own)
