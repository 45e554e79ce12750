"""Ticket text written through `escape_cell` reads back from Robot's parser as the same literal text."""

import io

import pytest
from robot.api import get_model
from robot.api.parsing import Token
from robot.utils import unescape
from robot.variables import contains_variable

from generator.trust import escape_cell

HOSTILE = [
    "Login page ${{__import__('os').system('touch /tmp/x')}}",
    "${SPACE.join([__import__('os').system('id'), 'a'])}",
    "reads %{GITLAB_TOKEN} and @{list} and &{dict}",
    "# not a comment",
    "... not a continuation",
    "*** Settings ***",
    "back\\slash \\${escaped}",
    "two  spaces\tand a tab\nand a newline",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_parses_back_as_one_literal_argument(text):
    cell = escape_cell(text)
    model = get_model(io.StringIO(f"*** Test Cases ***\nCase\n    Log    {cell}\n"))
    call = model.sections[0].body[0].body[0]
    args = [t.value for t in call.tokens if t.type == Token.ARGUMENT]
    assert args == [cell]
    assert not contains_variable(cell)
    assert unescape(cell) == " ".join(text.split())


def test_empty_text_is_robots_empty_variable():
    assert escape_cell("  \n ") == "${EMPTY}"
