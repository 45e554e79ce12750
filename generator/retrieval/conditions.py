"""The conditions of a step its keyword does not check: kept as a gap, never silently dropped.

A keyword chosen by resemblance may cover the heart of a step and not its qualifiers: "Then
the full amount is refunded to the card used" is `Order Should Be Refunded`, which says
nothing about the card; "Given the user "rita" is logged in with an empty cart" is `The user
"${name}" is logged in`, whose cart is whatever it is. A test that passes while such a
condition is untested verifies less than the ticket asks. So a step is cut into its
qualifying phrases (a phrase starts at "with", "to", "for"...), and a phrase none of whose
words the keyword's name, arguments or the values passed mention is a condition left open:
the writer makes the step a gap naming the keyword and the phrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from generator.models import Keyword
from generator.retrieval.words import PARENTHETICAL, STOPWORDS, split_bdd_prefix, stems_of, without_values

# Words opening a qualifying phrase: the condition, the recipient, the means, the moment.
_QUALIFIER = re.compile(r"\s(?=(?:with|without|to|using|via|for|after|before|unless)\s)", re.IGNORECASE)
# Quoted values never split ("rejected with "Only one code, please"").
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def open_conditions(step: str, keyword: Keyword, args: Sequence[str]) -> list[str]:
    """The qualifying phrases of `step` that calling `keyword` with `args` does not cover."""
    _, body = split_bdd_prefix(PARENTHETICAL.sub(" ", step))
    quoted = [m.span() for m in _QUOTED.finditer(body)]
    cuts = [m.start() for m in _QUALIFIER.finditer(body) if not any(a < m.start() < b for a, b in quoted)]
    if not cuts:
        return []
    covered = set(stems_of(" ".join([keyword.name, *keyword.args, *args])))
    phrases = [body[start:end].strip() for start, end in zip(cuts, [*cuts[1:], len(body)], strict=True)]
    left = []
    for phrase in phrases:
        words = [w for w in stems_of(without_values(phrase)) if w not in STOPWORDS]
        if words and not covered.intersection(words):
            left.append(phrase)
    return left
