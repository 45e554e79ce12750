"""`escape_cell` makes ticket text literal; `untrusted_code` rejects every way a file could run code.

Each case is parsed by Robot Framework's own parser, as the validator sees it."""

import io
import textwrap

import pytest
from robot.api import get_model
from robot.api.parsing import Token
from robot.utils import unescape
from robot.variables import contains_variable

from generator.validate.trust import escape_cell, untrusted_code

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


# --------------------------------------------------------------------------- the static rule


def trust(text: str) -> list[tuple[int, str]]:
    return [(d.line, d.message) for d in untrusted_code(get_model(io.StringIO(text)))]


def in_test(*lines: str) -> str:
    return "*** Test Cases ***\nCase\n" + "".join(f"    {line}\n" for line in lines)


PLAIN = [
    "${x}",
    "@{list}",
    "&{dict}",
    "${my var}",
    "${var}[0]",
    "&{d}[key]",
    "${L}[${i}]",
    "${d}[a][1:2]",
    "${1}",
    "${-2.5}",
    "${0x1F}",
    "${1e3}",
    "${True}",
    "${None}",
    "${SPACE}",
    "${EMPTY}",
    "${CURDIR}",
    "${/}",
    "${:}",
    "${\\n}",
    "\\${{__import__('os')}}",
    "\\%{GITLAB_TOKEN}",
    "a ${x} b ${y}[0] c",
    # What real suites write (issue #18's corpus): dict-dot and attribute chains, methods
    # without arguments, item access, arithmetic with literals, inline Python inside the grammar.
    "${user.email}",
    "${a.b.c}",
    "${response.status_code}",
    "${response.headers}",
    "${resp.json()}",
    "${resp.json()}[0]",
    "${resp.json()['items'][0].id}",
    "${x[0]}",
    "${SPACE * 4}",
    "${x-1}",
    "${x.upper()}",
    "${BROWSER.lower().replace(' ', '')}",
    "@{x.y}",
    "&{d.copy()}",
    "${x}[${y.z}]",
    "${{1+1}}",
    "@{{[1, 2]}}",
    "${x}[${{1}}]",
    "${{ $resp.json()['id'] == 3 }}",
    "${{ len($items) > 0 }}",
    "${{ len(${refs}) }}",
    '${json["${usuario}"]}',
    "${rows[${i}]}",
]


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_variables_and_escaped_text_pass(cell):
    assert trust(in_test(f"Log    {cell}")) == []


HOSTILE_CELLS = [
    ("${{__import__('os').system('id')}}", "inline Python"),
    ("${{posix.system('id')}}", "inline Python"),
    ("@{{dict(posix.environ)}}", "inline Python"),
    ("${x.__class__}", "extended variable syntax"),
    ("${SPACE.join([open('f').read()])}", "extended variable syntax"),
    ("${x.format()}", "extended variable syntax"),
    ("${x}[${{os.sep}}]", "inline Python"),
    ("${x}[${y._z}]", "extended variable syntax"),
    ('${json["${k}"].__class__}', "extended variable syntax"),
    ("${${name}}", "variable inside the variable's name"),
    ("${a${b}}", "variable inside the variable's name"),
    ("@{x._y}", "extended variable syntax"),
    ("&{d.copy(__import__('os'))}", "extended variable syntax"),
    ("${my-var}", "extended variable syntax"),
    ("%{GITLAB_TOKEN}", "reads an environment variable"),
    ("%{HOME=/root}", "reads an environment variable"),
    ("\\\\${{pydoc.pipepager('x', 'id')}}", "inline Python"),  # an escaped backslash, then real syntax
]


@pytest.mark.parametrize(("cell", "what"), HOSTILE_CELLS)
def test_code_reaching_variables_are_rejected(cell, what):
    [(line, message)] = trust(in_test(f"Log    {cell}"))
    assert line == 3
    assert what.lower() in message.lower()
    assert "instead" in message or "by its own name" in message  # says how to fix it


def test_every_place_of_a_file_is_checked():
    code = "${{os.sep}}"
    text = textwrap.dedent(
        f"""\
        *** Settings ***
        Documentation    {code}
        Metadata    M    {code}
        Test Timeout    {code}
        Test Tags    {code}
        Library    L.py    {code}
        Resource    {code}.resource
        Variables    v.py    {code}
        Suite Setup    Log    {code}
        Test Template    T {code}

        *** Variables ***
        ${{A}}    {code}

        *** Test Cases ***
        Name {code}
            [Documentation]    {code}
            [Tags]    {code}
            [Setup]    Log    {code}
            [Teardown]    Log    {code}
            [Timeout]    {code}
            ${{r}}=    Log    {code}
            FOR    ${{i}}    IN    {code}
                Log    ${{i}}
            END
            IF    {code}
                Log    x
            ELSE IF    {code}
                Log    x
            END
            WHILE    {code}
                BREAK
            END
            TRY
                Log    x
            EXCEPT    {code}
                Log    x
            END
            VAR    ${{v}}    {code}

        *** Keywords ***
        K {code}
            [Arguments]    ${{a}}={code}
            [Documentation]    {code}
            [Tags]    {code}
            {code}    x
            RETURN    {code}
        """
    )
    flagged = {line for line, message in trust(text) if message.startswith("Inline Python")}
    expected = {n for n, line in enumerate(text.splitlines(), 1) if code in line}
    assert flagged == expected


def test_definitions_may_carry_types_and_embedded_patterns_but_comments_are_inert():
    text = in_test("${n: int}=    Set Variable    1", "VAR    ${m: str}    x", "# ${{1}} is a comment") + (
        "\n*** Keywords ***\nOrder ${id:\\d+} Exists\n    [Arguments]    ${a: int}=1\n    No Operation\n"
    )
    assert trust(text) == []


@pytest.mark.parametrize(
    "line",
    [
        "Run Keyword    Import Library    evil.py",
        "Run Keyword If    ${c}    Log    x    ELSE    BuiltIn.Import Resource    x.resource",
        "Wait Until Keyword Succeeds    1x    1s    import_variables    v.py",
        "Run Keywords    Log    x    AND    Import Library    evil.py",
        "Repeat Keyword    2 times    IMPORT LIBRARY    evil.py",
        "My Repo Keyword    Import Library",
        "[Setup]    Import Library    evil.py",
        "[Template]    Import Library",
        "VAR    ${kw}    Import Library",
    ],
)
def test_import_keywords_in_argument_positions_are_rejected(line):
    [(_, message)] = trust(in_test(line))
    assert "import" in message.lower() and "allow-list" in message


@pytest.mark.parametrize(
    "line",
    [
        "${a} ${b}    evil.py",
        "Import ${what}    evil.py",
        "BuiltIn.${name}    evil.py",
        "Run Keyword    ${kw}    evil.py",
        "Run Keyword If    ${c}    Log    x    ELSE    ${kw}    evil.py",
        "Wait Until Keyword Succeeds    1x    1s    Run Keyword    Import ${x}    evil.py",
    ],
)
def test_keyword_names_built_from_variables_that_could_import_are_rejected(line):
    messages = [message for _, message in trust(in_test(line))]
    assert any("built from variables" in m for m in messages), messages


def test_template_rows_are_the_template_keywords_arguments():
    suite_template = (
        "*** Settings ***\nTest Template    Run Keyword If\n*** Test Cases ***\nT\n    ${c}    ${kw}    x\n"
    )
    test_template = in_test("[Template]    Run Keyword", "Import Library    evil.py")
    assert [line for line, m in trust(suite_template) if "built from variables" in m] == [5]
    assert [line for line, m in trust(test_template) if "past the import allow-list" in m] == [4]
    assert trust(in_test("[Template]    Run Keyword", "Log    x")) == []


def test_keyword_names_with_variables_that_cannot_become_imports_pass():
    assert trust(in_test('The cart contains "${qty}" of "Coffee Mug"', "Run Keyword If    ${c}    Log    x")) == []


def test_import_keyword_as_mere_text_is_allowed_where_it_never_names_a_keyword():
    text = "*** Settings ***\nDocumentation    Import Library\n" + in_test("[Tags]    Import Library")
    assert trust(text) == []


@pytest.mark.parametrize(
    "line",
    [
        "Evaluate    __import__('os').system('id')",
        "Evaluate    os.system('id')",
        "Should Be True    open('/etc/passwd')",
        "Run Keyword If    ().__class__.__bases__    Log    x",
        "Set Variable If    subprocess.run('id')    a    b",
        "IF    getattr(x, 'y')    Log    x",
        "IF    $x    Log    a    ELSE IF    vars()    Log    b",
        "FOR    ${i}    IN RANGE    len(open('f').read())\n        Log    ${i}\n    END",
        "WHILE    sys.exit()\n        BREAK\n    END",
    ],
)
def test_code_reaching_python_expressions_are_rejected(line):
    [(_, message)] = trust(in_test(line))
    assert "Python expression" in message and "keyword of the repo's resource" in message


def test_plain_expressions_pass():
    text = in_test(
        "Should Be True    ${count} > 2", "Evaluate    len($items) + 1", "IF    $x == 'a'", "    Log    x", "END"
    )
    assert trust(text) == []


def test_the_names_of_keyword_runners_come_from_builtin_and_survive_the_cache(tmp_path, monkeypatch):
    """BuiltIn is loaded only for a file calling one of its runners: the cached list must be
    BuiltIn's own, and a file using one is still checked inside it with a cold or warm cache."""
    from generator.validate import trust

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    hidden = "*** Test Cases ***\nT\n    Wait Until Keyword Succeeds    2x    1s    Import Library    Evil\n"
    trust._runner_names.cache_clear()
    cold = trust._runner_names()
    assert {"runkeyword", "runkeywordif", "waituntilkeywordsucceeds", "repeatkeyword"} <= cold
    assert "log" not in cold and "shouldbeequal" not in cold
    assert untrusted_code(get_model(io.StringIO(hidden)))
    trust._runner_names.cache_clear()
    assert trust._runner_names() == cold  # read back from the cache folder
    assert list(tmp_path.glob("jira2robot/builtin-*.json"))
    assert untrusted_code(get_model(io.StringIO(hidden)))
