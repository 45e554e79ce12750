"""Untrusted text never becomes code: the writer's escaping and the validator's rule.

Robot Framework resolves variables in test names, documentation, tags, settings and
arguments, and `${{...}}` or extended syntax like `${x.__class__...}` evaluates Python even
in a dryrun. Ticket and Confluence text is written by anyone who can edit a ticket, and
model output is shaped by it. Two halves:

* `escape_cell`: whatever ticket text the offline writer puts into a file is made one
  literal cell first, so Robot's own parser reads it back as text;
* `untrusted_code`: the static rule every candidate file must pass before `robot --dryrun`
  sees it (the `validate` command, the LLM writer's repair loop and the offline writer all
  go through `validate.check_static`). What it rejects and why: docs/security.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from robot.api.parsing import (
    Arguments,
    ElseIfHeader,
    File,
    ForHeader,
    IfHeader,
    InlineIfHeader,
    KeywordCall,
    ModelVisitor,
    Setup,
    SuiteSetup,
    SuiteTeardown,
    Teardown,
    Template,
    TemplateArguments,
    TestCase,
    TestSetup,
    TestTeardown,
    TestTemplate,
    Token,
    Var,
    Variable,
    WhileHeader,
)
from robot.errors import DataError
from robot.parsing.model.statements import Statement
from robot.running.librarykeywordrunner import RunKeywordRunner
from robot.running.testlibraries import TestLibrary
from robot.variables import VariableMatches, contains_variable, search_variable
from robot.variables.finders import NOT_FOUND, NumberFinder
from robot.version import get_version

from generator import cache as content_cache
from generator.models import Diagnostic

_WHITESPACE = re.compile(r"\s+")
# Robot's escape character first, then everything that starts syntax inside a cell.
_SPECIALS = re.compile(r"\\|[$@&%]\{")


def escape_cell(text: str) -> str:
    """`text` as one literal Robot Framework data cell.

    Runs of whitespace (which would split cells or lines) become one space; backslashes
    are doubled; `${`, `@{`, `&{`, `%{` are escaped; a leading `#` (comment), `...`
    (continuation) or `*` (section header) is escaped. An empty result is `${EMPTY}`.
    """
    cell = _WHITESPACE.sub(" ", text).strip()
    cell = _SPECIALS.sub(lambda m: "\\" + m.group(0), cell)
    if cell.startswith(("#", "...", "*")):
        cell = "\\" + cell
    return cell or "${EMPTY}"


# --------------------------------------------------------------------------- the static rule

_IMPORT_KEYWORDS = ("importlibrary", "importresource", "importvariables")
_IMPORT_NAMES = "Import Library/Resource/Variables"
# Never resolved by Robot Framework (comments) or pure layout.
_INERT = frozenset({Token.COMMENT, Token.SEPARATOR, Token.EOL, Token.EOS, Token.CONTINUATION})
# Tokens that define a variable or an embedded argument: `${x: int}` (a type) and
# `${name:\d+}` (an embedded pattern) are declarations there, not expressions.
_DEFINING = frozenset({Token.ASSIGN, Token.VARIABLE, Token.KEYWORD_NAME})
# `${/}`, `${:}` and `${\n}` are Robot's own built-in variables.
_BUILT_IN_NAMES = frozenset({"/", ":", "\\n"})
_PLAIN_NAME = re.compile(r"[\w ]+")
# BuiltIn keywords whose arguments Robot evaluates as Python at run time.
_EXPRESSION_KEYWORDS = frozenset(
    {
        "evaluate",
        "callmethod",
        "shouldbetrue",
        "shouldnotbetrue",
        "runkeywordif",
        "runkeywordunless",
        "setvariableif",
        "skipif",
        "passexecutionif",
        "returnfromkeywordif",
        "runkeywordandreturnif",
        "continueforloopif",
        "exitforloopif",
    }
)
# What turns a condition into a way to run code: dunder access (`__import__`,
# `__class__.__subclasses__`), imports, the builtins that reach code or files, and the
# modules Robot's evaluation imports automatically when an expression names them.
_UNSAFE_EXPRESSION = re.compile(
    r"__|\bimport\b|\b(?:exec|eval|compile|open|getattr|setattr|delattr|globals|locals|vars|breakpoint)\s*\("
    r"|\b(?:os|sys|subprocess|shutil|socket|pty|ctypes|builtins|importlib|pickle|marshal|runpy|pathlib)\s*\."
)
_FIXTURES = (Setup, Teardown, SuiteSetup, SuiteTeardown, TestSetup, TestTeardown)
# Statements whose cells can end up as the name of a keyword that runs: arguments (a
# run-keyword variant, or a repo keyword passing it on), fixture and template names, and
# variable values. Documentation, tags and test names may say "Import Library" harmlessly.
_MAY_NAME_KEYWORDS = (KeywordCall, Variable, Var, Template, TestTemplate, TemplateArguments, *_FIXTURES)
_NAMES_OR_VALUES = frozenset({Token.ARGUMENT, Token.NAME, Token.KEYWORD})
_MOVE_IT = "compute it in a keyword of the repo's resource files instead"


def normalise_keyword(name: str) -> str:
    """A keyword name as Robot compares it: case, spaces and underscores ignored, `BuiltIn.` dropped."""
    return re.sub(r"[\s_]", "", name).lower().removeprefix("builtin.")


def is_import_keyword(name: str) -> bool:
    """True for `Import Library`, `import_resource`, `BuiltIn.Import Variables` and the like."""
    return normalise_keyword(name) in _IMPORT_KEYWORDS


def _could_be_import_keyword(name: str) -> bool:
    """Whether `name`, once its variables are replaced by anything, could be an import keyword."""

    def literal(text: str) -> str:
        return re.escape(re.sub(r"[\s_]", "", text).lower())

    pattern, rest = "", name
    for match in VariableMatches(name, ignore_errors=True):
        pattern += literal(match.before) + ".*"
        rest = match.after
    pattern += literal(rest)
    return any(re.fullmatch(pattern, prefix + kw) for kw in _IMPORT_KEYWORDS for prefix in ("", "builtin."))


def _is_plain(base: str, *, defining: bool) -> bool:
    if defining:
        base = base.split(":", 1)[0]  # the embedded argument's pattern is a regexp, not Python
    return bool(_PLAIN_NAME.fullmatch(base)) or base in _BUILT_IN_NAMES or _is_number(base)


def _is_number(base: str) -> bool:
    """`${1}`, `${-2.5}`, `${0x1F}`: Robot's own number finder decides."""
    return NumberFinder().find(search_variable("${" + base + "}")) is not NOT_FOUND


def variable_problems(value: str, *, defining: bool = False) -> list[str]:
    """Why the variables in one cell could run code or read the environment (empty when inert).

    Escaped syntax (`\\${x}`) is literal text to Robot, so its own parser decides what is a variable.
    """
    problems: list[str] = []
    for match in VariableMatches(value, parse_type=defining, ignore_errors=True):
        shown = match.match
        # Ticket text quoted in a name, documentation or tag is fixed by escaping, not rewriting.
        as_text = f"; if it is text (e.g. quoted from the ticket), escape it as \\{shown[:2]}"
        if match.identifier == "%":
            problems.append(
                f"{shown} reads an environment variable, which in CI holds the job's tokens; "
                f"use a variable of the repo's variable files or resources instead{as_text}"
            )
        elif match.base.startswith("{") and match.base.endswith("}"):
            problems.append(
                f"inline Python {shown} is evaluated by Robot Framework, even in a dryrun; "
                f"write the value as a literal or {_MOVE_IT}{as_text}"
            )
        elif contains_variable(match.base):
            problems.append(
                f"{shown} has a variable inside the variable's name, so the file does not say what it "
                "reads; use the variable by its own name"
            )
        elif not _is_plain(match.base, defining=defining):
            problems.append(
                f"{shown} is extended variable syntax, which evaluates Python; use a plain variable "
                f"such as ${{name}} or ${{name}}[item] and {_MOVE_IT}{as_text}"
            )
        for item in match.items:
            problems += variable_problems(item)
    return problems


@cache
def _builtin() -> TestLibrary:
    return TestLibrary.from_name("BuiltIn")


@cache
def _runner_names() -> frozenset[str]:
    """Normalised names of BuiltIn's keywords that run other keywords (RF's `RunKeywordRunner`).

    Loading BuiltIn costs about 0.15 s, more than the rest of a file's checks; most files call
    none of these keywords, so the names are kept in the cache, per Robot Framework version, and
    BuiltIn is loaded only for a file that calls one of them.
    """
    entry = content_cache.entry_path("builtin", content_cache.content_key([get_version(), Path(__file__).read_bytes()]))
    if (data := content_cache.read(entry)) is not None:
        with suppress(ValueError):
            return frozenset(json.loads(data))
    names = sorted(
        normalise_keyword(kw.name)
        for kw in _builtin().keywords
        if isinstance(kw.create_runner(kw.name), RunKeywordRunner)
    )
    content_cache.write(entry, json.dumps(names))
    return frozenset(names)


def _run_keyword_children(name: str, args: Sequence[str]) -> list[tuple[str, Sequence[str]]]:
    """The keywords a BuiltIn "run keyword" variant would run, as Robot's own dryrun finds them.

    Robot knows where the keyword names are (`Run Keyword If    ${c}    A    ELSE    B`,
    `Wait Until Keyword Succeeds    1x    1s    A`); asking it avoids a second, divergent
    list. Arguments it cannot split are all treated as possible keyword names.
    """
    if contains_variable(name) or normalise_keyword(name) not in _runner_names():
        return []
    found = _builtin().find_keywords(name.strip().removeprefix("BuiltIn."))
    if len(found) != 1:
        return []
    keyword = found[0]
    runner = keyword.create_runner(keyword.name)
    if not isinstance(runner, RunKeywordRunner):
        return []
    try:
        # Private in Robot Framework 7; the dryrun itself uses exactly this split.
        return [(child.name, child.args) for child in runner._get_dry_run_children(keyword, list(args))]
    except (DataError, ValueError, AttributeError):
        return [(arg, ()) for arg in args]


def _calls(name: str, args: Sequence[str]) -> Iterator[tuple[str, Sequence[str]]]:
    """`name` and every keyword it runs through run-keyword variants, nested ones included."""
    yield name, args
    for child, child_args in _run_keyword_children(name, args):
        yield from _calls(child, child_args)


def _condition_tokens(node: Statement) -> list[Token]:
    """Tokens Robot evaluates as Python: IF/ELSE IF/WHILE conditions and `IN RANGE` bounds."""
    if isinstance(node, IfHeader | ElseIfHeader | InlineIfHeader | WhileHeader):
        return list(node.get_tokens(Token.ARGUMENT))
    if isinstance(node, ForHeader) and normalise_keyword(node.flavor or "") == "inrange":
        return list(node.get_tokens(Token.ARGUMENT))
    return []


@dataclass
class _TrustRule(ModelVisitor):
    """Checks every token of every statement; see `untrusted_code`."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    suite_template: str | None = None
    template: str | None = None  # of the test being visited: its rows are that keyword's arguments

    def visit_File(self, node: File) -> None:
        templates = [s.value for section in node.sections for s in section.body if isinstance(s, TestTemplate)]
        self.suite_template = templates[-1] if templates else None
        self.generic_visit(node)

    def visit_TestCase(self, node: TestCase) -> None:
        own = [s.value for s in node.body if isinstance(s, Template)]
        self.template = own[-1] if own else self.suite_template
        self.generic_visit(node)
        self.template = None

    def _called(self, node: Statement) -> list[tuple[str, Sequence[str]]]:
        """The keyword calls a statement makes: steps, setups/teardowns, templates and template rows."""
        if isinstance(node, KeywordCall) and node.keyword:
            return list(_calls(node.keyword, node.args))
        if isinstance(node, _FIXTURES) and node.name:
            return list(_calls(node.name, node.args))
        if isinstance(node, Template | TestTemplate) and node.value:
            return [(node.value, ())]
        if isinstance(node, TemplateArguments) and self.template:
            args = [t.value for t in node.get_tokens(Token.ARGUMENT)]
            return [call for child in _run_keyword_children(self.template, args) for call in _calls(*child)]
        return []

    def visit_Statement(self, node: Statement) -> None:
        # The keyword of a plain call is an import the allow-list checks (validate._Scan).
        call_keyword = node.get_token(Token.KEYWORD) if isinstance(node, KeywordCall) else None
        for token in node.tokens:
            if token.type in _INERT:
                continue
            defining = token.type in _DEFINING or (isinstance(node, Arguments) and token.type == Token.ARGUMENT)
            for problem in variable_problems(token.value, defining=defining):
                self._add(token.lineno, problem)
            if (
                isinstance(node, _MAY_NAME_KEYWORDS)
                and token.type in _NAMES_OR_VALUES
                and token is not call_keyword
                and is_import_keyword(token.value)
            ):
                self._add(
                    token.lineno,
                    f"{token.value.strip()!r} used as an argument or name imports code at run time, past the "
                    "import allow-list; import only in the Settings section, and only what the repo imports",
                )
        for name, args in self._called(node):
            if contains_variable(name) and _could_be_import_keyword(name):
                self._add(
                    node.lineno,
                    f"keyword name {name!r} is built from variables and could resolve to {_IMPORT_NAMES}; "
                    "call the keyword by its literal name",
                )
            if normalise_keyword(name) in _EXPRESSION_KEYWORDS:
                self._expressions(node.lineno, name, args)
        for token in _condition_tokens(node):
            self._expressions(token.lineno, node.data_tokens[0].value, [token.value])

    def _expressions(self, line: int, where: str, values: Sequence[str]) -> None:
        for value in values:
            if _UNSAFE_EXPRESSION.search(value):
                self._add(
                    line,
                    f"the Python expression {value!r} given to {where} reaches imports, dunder attributes, "
                    f"files or system modules; a generated test compares plain values: {_MOVE_IT}",
                )

    def _add(self, line: int, problem: str) -> None:
        diagnostic = Diagnostic(source="trust", line=line, message=problem[:1].upper() + problem[1:] + ".")
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)


def untrusted_code(model: File) -> list[Diagnostic]:
    """Every place where a parsed .robot file could run code or read secrets, as `trust` diagnostics.

    The rule: variables only by plain name (with `[item]` access), no inline Python, no
    environment reads, no import keywords outside a direct call (which the import
    allow-list checks), no keyword names that could become an import keyword, no
    code-reaching Python in conditions or `Evaluate`. Robot's own parser tokenises the
    file and its variable search decides what is a variable, so escaped text stays text.
    """
    rule = _TrustRule()
    rule.visit(model)
    return rule.diagnostics
