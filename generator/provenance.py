"""Where each argument of a generated test comes from: the ticket, an example, or a guess.

`robot --dryrun` accepts `GET    HTTP    /orders` (the word "HTTP" passed as the URL) as
readily as the right call; only the run fails. So every argument a writer passes is checked
against what it could honestly have come from, read from the file itself (either writer):

- a value of the ticket's text: quoted text, a number, a URL path, a code-like ALL-CAPS word
  (`words.VALUE`); the words of the sentence fill an embedded argument (`An ${auth} HTTP GET
  request to ${uri}` called as `An authenticated HTTP GET request to /orders`), so for those
  a phrase of the ticket counts too;
- an argument of a call in the examples the writer was shown, or one of the repo's
  variables (`${GLOBAL_SESSION}` as the folder's tests pass it).

A step with any other argument is counted (`steps_guessed_arguments` in report.json): the
target is zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from robot.api import get_model
from robot.api.parsing import KeywordCall, ModelVisitor
from robot.utils import normalize, unescape
from robot.variables import search_variable

from generator.gaps import INCOMPLETE_MARK
from generator.models import ExampleTest, Ticket
from generator.retrieval.arguments import analyse
from generator.retrieval.names import KeywordIndex
from generator.retrieval.words import split_bdd_prefix

# Variables `escape_cell` writes for ticket text ("" and runs of spaces): the value is the text.
_ESCAPES = (("${EMPTY}", ""), ("${SPACE}", " "))


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def _literal(cell: str) -> str | None:
    """The text a data cell holds, or None when it is a variable (or contains one)."""
    for variable, text in _ESCAPES:
        cell = cell.replace(variable, text)
    if search_variable(cell, ignore_errors=True).start >= 0:
        return None
    return unescape(cell)


@dataclass(frozen=True)
class Evidence:
    """What a ticket's arguments may honestly be: its values, its phrases, the examples' arguments."""

    values: frozenset[str]
    text: str  # the ticket's words, normalised: an embedded argument may be a phrase of it
    variables: frozenset[str]  # normalised `${names}` of the repo and of the examples' calls

    @classmethod
    def of(cls, ticket: Ticket, examples: Iterable[ExampleTest], variable_names: Iterable[str]) -> Evidence:
        texts = [ticket.summary, ticket.description, *ticket.acceptance_criteria, *ticket.comments]
        values = {_norm(v.text) for text in texts for line in text.splitlines() for v in analyse(line).values}
        variables = {normalize(name, ignore="_") for name in variable_names}
        for example in examples:
            for _, *args in _calls(example.text, tests_only=False):
                for cell in args:
                    literal = _literal(cell)
                    if literal is None:
                        variables.add(normalize(cell, ignore="_"))
                    else:
                        values.add(_norm(literal))
        return cls(frozenset(values), _norm(" ".join(texts)), frozenset(variables))

    def traces(self, cell: str, *, phrase: bool = False) -> bool:
        literal = _literal(cell)
        if literal is None:
            return normalize(cell, ignore="_") in self.variables
        value = _norm(literal)
        if value in self.values:
            return True
        return phrase and bool(value) and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", self.text) is not None


def _calls(text: str, *, tests_only: bool) -> list[list[str]]:
    """Every keyword call's name and arguments, as RF parses them (the name first); with
    `tests_only`, those of test cases (a suite's own keywords are not what a writer chose)."""
    calls: list[list[str]] = []

    class Visitor(ModelVisitor):
        def visit_Keyword(self, node: object) -> None:
            if not tests_only:
                self.generic_visit(node)

        def visit_KeywordCall(self, node: KeywordCall) -> None:
            calls.append([node.keyword, *node.args])

    Visitor().visit(get_model(text))
    return calls


def guessed_steps(text: str, evidence: Evidence, index: KeywordIndex) -> list[str]:
    """The test-case calls of `text` passing an argument `evidence` cannot account for.

    An embedded-argument call's values are read back with RF's own `EmbeddedArguments` of
    the keyword it resolves to; they may be a phrase of the ticket's sentence.
    """
    guessed = []
    for name, *args in _calls(text, tests_only=True):
        if args and args[0].startswith(INCOMPLETE_MARK):
            continue  # the `Skip`/`Fail` ending of an incomplete test: jira2robot's own words
        if _guessed(name, args, evidence, index):
            guessed.append("    ".join([split_bdd_prefix(name)[1], *args]))
    return guessed


def is_guessed(line: str, evidence: Evidence, index: KeywordIndex) -> bool:
    """Whether one Robot call line (`Given Login As    alice`) passes an untraceable argument:
    the offline writer's check before it writes a step."""
    return any(
        _guessed(name, args, evidence, index)
        for name, *args in _calls(f"*** Test Cases ***\nT\n    {line}\n", tests_only=True)
    )


def _guessed(name: str, args: list[str], evidence: Evidence, index: KeywordIndex) -> bool:
    embedded = index.embedded_args(name)
    return not (all(evidence.traces(a) for a in args) and all(evidence.traces(a, phrase=True) for a in embedded))
