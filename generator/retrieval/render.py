"""Robot lines for step mappings: calls, embedded-argument calls, escaped cells, placeholders.

Step values are untrusted ticket text: every value is written as one escaped data cell, and
a step is written verbatim as a keyword name only when Robot Framework reads it back as is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from robot.utils import escape
from robot.variables import VariableMatches

from generator.models import StepMapping
from generator.retrieval.words import split_bdd_prefix

PLACEHOLDER_MESSAGE = "PLACEHOLDER (jira2robot): no existing keyword for: "
# A repo variable as `_with_variables` passes it: a plain scalar name, no item access or code.
VARIABLE_ARGUMENT = re.compile(r"\$\{[^\W\d]\w*(?: \w+)*\}")


def unsafe_as_keyword_cell(text: str) -> bool:
    """Text RF would not read back verbatim as a keyword name: variables, escapes, a comment
    start, or a trailing `=` (an assignment). Such steps are never written as-is."""
    return bool(re.search(r"[$@&%]\{|\\", text)) or text.startswith("#") or text.rstrip().endswith("=")


def embeddable(value: str) -> bool:
    """Whether a value can stand inside an embedded-argument call exactly as it is.

    The call is one cell of step text: whitespace runs would split it, and variable syntax
    or escapes in untrusted ticket text would be evaluated or altered by RF. Such values make
    the template a non-match (the step may still map elsewhere or become a placeholder)
    rather than be rewritten into something the ticket did not say.
    """
    return (
        bool(value)
        and value == value.strip()
        and not re.search(r"\s{2,}|[\n\r\t\\]|[$@&%]\{", value)
        and not value.startswith("#")
    )


def render_embedded(name: str, args: Sequence[str]) -> str:
    """An embedded-argument keyword's own name with `args` in place of its `${...}` parts.

    The keyword's literal text is kept as written (case included) so the call reads like
    the repo's existing tests: `The cart contains "1" of "Coffee Mug"`.
    """
    parts: list[str] = []
    rest = name
    for match, value in zip(VariableMatches(name, identifiers="$"), args, strict=False):
        parts += [match.before, escape(value)]
        rest = match.after
    return "".join(parts) + rest


def escape_cell(value: str) -> str:
    """One Robot data cell holding exactly `value` (RF's own `escape` plus whitespace rules).

    Step values are untrusted text: without this a `${...}` would be evaluated, two spaces
    would split the cell, and a leading `#` would comment out the rest of the line.
    """
    if value == "":
        return "${EMPTY}"
    cell = escape(value)
    cell = cell.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if cell.startswith("#"):
        cell = "\\" + cell
    cell = re.sub(r" (?= )", "${SPACE}", cell)
    if cell.startswith(" "):
        cell = "${SPACE}" + cell[1:]
    if cell.endswith(" "):
        cell = cell[:-1] + "${SPACE}"
    return cell


def format_call(mapping: StepMapping, *, separator: str = "    ") -> str:
    """The Robot line for a mapping, without indentation.

    - exact/similar: `Given Login As    alice    secret` (the step's BDD prefix kept, RF
      strips it when looking the keyword up); values are escaped, except a repo variable
      the matcher chose for the step's words (`${DEFAULT_PASSWORD}`, see `_argument_cell`);
    - similar to an embedded-argument keyword: the keyword's own text with the values in
      place, `And The cart contains "1" of "Coffee Mug"` (checked at match time to resolve
      back to that keyword with those values);
    - embedded: the step text itself, whitespace collapsed — RF matches it at run time;
    - placeholder: `Log    PLACEHOLDER (jira2robot): no existing keyword for: <step>    WARN`.

    The placeholder passes `robot --dryrun` and the real run, so one unmapped step does not
    hide whether the rest of the generated test works; the WARN level makes it show in the
    log and in RF's console summary, and the caller lists it as an open question in the
    merge request. `Fail` was rejected: the test would be red for a reason the reviewer
    already knows, masking real failures of the mapped steps.
    """
    step = " ".join(mapping.step.split())
    if mapping.how == "placeholder" or mapping.keyword is None:
        return separator.join(["Log", escape_cell(PLACEHOLDER_MESSAGE + step), "WARN"])
    if mapping.how == "embedded":
        return step
    prefix, _ = split_bdd_prefix(step)
    if mapping.how == "similar" and VariableMatches(mapping.keyword, identifiers="$"):
        body = render_embedded(mapping.keyword, mapping.args)
        return f"{prefix} {body}" if prefix else body
    name = f"{prefix} {mapping.keyword}" if prefix else mapping.keyword
    return separator.join([name, *(_argument_cell(a, step) for a in mapping.args)])


def _argument_cell(arg: str, step: str) -> str:
    """A plain `${NAME}` the step's text does not contain came from the repo's variable names
    (`_with_variables`) and is written as the variable; anything else is a value, escaped."""
    return arg if VARIABLE_ARGUMENT.fullmatch(arg) and arg not in step else escape_cell(arg)
