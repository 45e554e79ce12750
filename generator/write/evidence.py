"""Where each argument of a generated test comes from: the ticket, an example, or a guess.

`robot --dryrun` accepts `GET    HTTP    /orders` (the word "HTTP" passed as the URL) as
readily as the right call; only the run fails. So every argument a writer passes is checked
against what it could honestly have come from, read from the file itself (either writer):

- a value of the ticket's text: quoted text, a number, a URL path, a code-like ALL-CAPS word
  (`words.VALUE`); the words of the sentence fill an embedded argument (`An ${auth} HTTP GET
  request to ${uri}` called as `An authenticated HTTP GET request to /orders`), so for those
  a phrase of the ticket counts too;
- an argument of a call in the examples the writer was shown, or one of the repo's
  variables (`${GLOBAL_SESSION}` as the folder's tests pass it); a cell with variables counts
  when each variable is the repo's, an example's, Robot Framework's own (`${EMPTY}`) or one the
  test itself assigned before (`${resp} =    GET ...` then `${resp.status_code}`).

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
from robot.variables import VariableMatches, search_variable

from generator.models import ExampleTest, Ticket
from generator.retrieval.arguments import analyse
from generator.retrieval.names import KeywordIndex
from generator.retrieval.words import split_bdd_prefix
from generator.write.gaps import INCOMPLETE_MARK

# Variables `escape_cell` writes for ticket text ("" and runs of spaces): the value is the text.
_ESCAPES = (("${EMPTY}", ""), ("${SPACE}", " "))
# Robot Framework's own variables: no writer invents them.
_BUILT_IN = frozenset(
    normalize(name, ignore="_")
    for name in ("EMPTY", "SPACE", "TRUE", "FALSE", "NONE", "NULL", "CURDIR", "TEMPDIR", "EXECDIR", "/", ":",
                 "\\n", "OUTPUT_DIR", "TEST_NAME", "SUITE_NAME", "OPTIONS")
)  # fmt: skip


def _bases(cell: str) -> list[str]:
    """The normalised base names of the variables in a cell (`${resp.status_code}` -> resp)."""
    return [normalize(re.split(r"[.\[]", m.base)[0], ignore="_") for m in VariableMatches(cell, identifiers="$@&%")]


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def _literal(cell: str) -> str | None:
    """The text a data cell holds, or None when it is a variable (or contains one); a number
    variable (`${200}`) is the number."""
    if number := re.fullmatch(r"\$\{(-?\d+(?:\.\d+)?)\}", cell):
        return number.group(1)
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
        variables = set(_BUILT_IN) | {base for name in variable_names for base in _bases(name)}
        for example in examples:
            for call in _calls(example.text, tests_only=False):
                for cell in call.args:
                    literal = _literal(cell)
                    if literal is None:
                        variables.update(_bases(cell))
                    else:
                        values.add(_norm(literal))
                variables.update(call.assigned)
        return cls(frozenset(values), _norm(" ".join(texts)), frozenset(variables))

    def traces(self, cell: str, *, phrase: bool = False, assigned: frozenset[str] = frozenset()) -> bool:
        """Whether `cell` is a value of the ticket or an example, or made of known variables."""
        literal = _literal(cell)
        if literal is None:
            return all(base in self.variables or base in assigned for base in _bases(cell))
        value = _norm(literal)
        if value in self.values:
            return True
        return phrase and bool(value) and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", self.text) is not None


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[str, ...]
    assigned: frozenset[str]  # variables this call assigns (`${resp} =`), base names
    known: frozenset[str]  # variables assigned earlier in the same test or keyword


def _calls(text: str, *, tests_only: bool) -> list[_Call]:
    """Every keyword call as RF parses it, with the variables its test assigned before it; with
    `tests_only`, those of test cases (a suite's own keywords are not what a writer chose)."""
    calls: list[_Call] = []

    class Visitor(ModelVisitor):
        def visit_TestCase(self, node: object) -> None:
            self.known: set[str] = set()
            self.generic_visit(node)

        def visit_Keyword(self, node: object) -> None:
            self.known = set()
            if not tests_only:
                self.generic_visit(node)

        def visit_KeywordCall(self, node: KeywordCall) -> None:
            assigned = frozenset(base for cell in node.assign for base in _bases(cell.rstrip("= ")))
            calls.append(_Call(node.keyword, tuple(node.args), assigned, frozenset(self.known)))
            self.known |= assigned

    Visitor().visit(get_model(text))
    return calls


def guessed_steps(text: str, evidence: Evidence, index: KeywordIndex) -> list[str]:
    """The test-case calls of `text` passing an argument `evidence` cannot account for.

    An embedded-argument call's values are read back with RF's own `EmbeddedArguments` of
    the keyword it resolves to; they may be a phrase of the ticket's sentence.
    """
    guessed = []
    for call in _calls(text, tests_only=True):
        if call.args and call.args[0].startswith(INCOMPLETE_MARK):
            continue  # the `Skip`/`Fail` ending of an incomplete test: jira2robot's own words
        if _guessed(call, evidence, index):
            guessed.append("    ".join([split_bdd_prefix(call.name)[1], *call.args]))
    return guessed


def is_guessed(line: str, evidence: Evidence, index: KeywordIndex) -> bool:
    """Whether one Robot call line (`Given Login As    alice`) passes an untraceable argument:
    the offline writer's check before it writes a step."""
    return any(
        _guessed(call, evidence, index) for call in _calls(f"*** Test Cases ***\nT\n    {line}\n", tests_only=True)
    )


def _guessed(call: _Call, evidence: Evidence, index: KeywordIndex) -> bool:
    embedded = index.embedded_args(call.name)
    return not (
        all(evidence.traces(a, assigned=call.known) for a in call.args)
        and all(evidence.traces(a, phrase=True, assigned=call.known) for a in embedded)
    )
