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

import ast
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
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
from robot.variables.finders import NOT_FOUND, ExtendedFinder, NumberFinder
from robot.version import get_version

from generator.gather import cache as content_cache
from generator.models import Diagnostic
from generator.validate import grammar
from generator.validate.keyword_names import (
    EXPRESSION_KEYWORDS,
    IMPORT_KEYWORDS,
    SETTING_KEYWORDS,
    builtin_name,
    could_be,
    expression_arguments,
    is_import_keyword,
    norm,
)

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

_IMPORT_NAMES = "Import Library/Resource/Variables"
# Never resolved by Robot Framework (comments) or pure layout.
_INERT = frozenset({Token.COMMENT, Token.SEPARATOR, Token.EOL, Token.EOS, Token.CONTINUATION})
# Tokens that define a variable or an embedded argument: `${x: int}` (a type) and
# `${name:\d+}` (an embedded pattern) are declarations there, not expressions.
_DEFINING = frozenset({Token.ASSIGN, Token.VARIABLE, Token.KEYWORD_NAME})
# `${/}`, `${:}` and `${\n}` are Robot's own built-in variables.
_BUILT_IN_NAMES = frozenset({"/", ":", "\\n"})
_PLAIN_NAME = re.compile(r"[\w ]+")
_FIXTURES = (Setup, Teardown, SuiteSetup, SuiteTeardown, TestSetup, TestTeardown)
# Statements whose cells can end up as the name of a keyword that runs: arguments (a
# run-keyword variant, or a repo keyword passing it on), fixture and template names, and
# variable values. Documentation, tags and test names may say "Import Library" harmlessly.
_MAY_NAME_KEYWORDS = (KeywordCall, Variable, Var, Template, TestTemplate, TemplateArguments, *_FIXTURES)
_NAMES_OR_VALUES = frozenset({Token.ARGUMENT, Token.NAME, Token.KEYWORD})
# Statements and keywords whose values become variables: code hidden there reaches an
# expression through `${name}`, which Robot substitutes as text before evaluating.
_VALUE_KEYWORDS = SETTING_KEYWORDS | {"catenate", "createlist", "createdictionary"}
_MOVE_IT = "compute it in a keyword of the repo's resource files instead"
# Robot's own split of `${base.extended}` (`robot.variables.finders.ExtendedFinder`).
_EXTENDED = ExtendedFinder._match_extended


def _is_plain(base: str, *, defining: bool) -> bool:
    if defining:
        base = base.split(":", 1)[0]  # the embedded argument's pattern is a regexp, not Python
    return bool(_PLAIN_NAME.fullmatch(base)) or base in _BUILT_IN_NAMES or _is_number(base)


def _is_number(base: str) -> bool:
    """`${1}`, `${-2.5}`, `${0x1F}`: Robot's own number finder decides."""
    return NumberFinder().find(search_variable("${" + base + "}")) is not NOT_FOUND


def _extended_problems(base: str, known: frozenset[str]) -> list[str]:
    """Why `${base}` with extended syntax is outside `grammar` (a name the repo defines is plain)."""
    if norm(base) in known:
        return []  # `${api-key}` defined by the repo: Robot finds it before trying extended syntax
    match = _EXTENDED(base)
    if match is None or not _PLAIN_NAME.fullmatch(match.group(1)):
        return ["is not a variable name Robot can resolve without evaluating it"]
    return grammar.extended_problems(match.group(2))


def _nested_problems(base: str) -> list[str] | None:
    """For `${json["${user}"]}` (a variable inside the extended part, substituted as text first,
    like `${var}` in an expression): the extended grammar's verdict; None when the variable is in
    the name itself (`${a${b}}`, `${${x}}`), which says nothing of what is read."""
    match = _EXTENDED(base)
    if match is None or not _PLAIN_NAME.fullmatch(match.group(1)) or match.group(2)[:2] in ("${", "@{", "&{", "%{"):
        return None
    return grammar.extended_problems(_with_placeholders(match.group(2)))


def variable_problems(value: str, *, defining: bool = False, known: frozenset[str] = frozenset()) -> list[str]:
    """Why the variables in one cell could run code or read the environment (empty when inert).

    Escaped syntax (`\\${x}`) is literal text to Robot, so its own parser decides what is a
    variable. `known`: normalised names of the variables the repo and the file define.
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
            found = grammar.problems(_with_placeholders(match.base[1:-1]))
            if found:
                problems.append(f"inline Python {shown} {'; '.join(found)}: {_MOVE_IT}{as_text}")
        elif contains_variable(match.base) and (nested := _nested_problems(match.base)) is not None:
            if nested:
                problems.append(
                    f"{shown} {'; '.join(nested)}: extended variable syntax evaluates Python; {_MOVE_IT}{as_text}"
                )
        elif contains_variable(match.base):
            problems.append(
                f"{shown} has a variable inside the variable's name, so the file does not say what it "
                "reads; use the variable by its own name"
            )
        elif not _is_plain(match.base, defining=defining) and (found := _extended_problems(match.base, known)):
            problems.append(
                f"{shown} {'; '.join(found)}: extended variable syntax evaluates Python, and only attribute "
                f"and item access and method calls without arguments are allowed; {_MOVE_IT}{as_text}"
            )
        for item in match.items:
            problems += variable_problems(item, known=known)
    return problems


def _evaluate_options(options: Sequence[str]) -> str | None:
    """What is wrong with `Evaluate`'s arguments after the expression (`modules=`, `namespace=`)."""
    if len(options) > 1 or any(o.startswith("namespace=") for o in options):
        return "with a namespace runs against objects the file does not show"
    if options:
        modules = options[0].removeprefix("modules=")
        if contains_variable(modules):
            return "imports modules named by a variable"
        if unsafe := grammar.unsafe_modules(modules):
            return (
                f"imports the modules {', '.join(unsafe)} (only {', '.join(sorted(grammar.SAFE_MODULES))} may be named)"
            )
    return None


def _with_placeholders(expression: str) -> str:
    """`expression` with each `${var}` as one variable name: Robot substitutes its value first,
    and what a variable holds is checked where it is defined (`_hidden_code`)."""
    out, rest = "", expression
    for match in VariableMatches(expression, ignore_errors=True):
        out += match.before + f" {grammar.VARIABLE_PREFIX}v "
        rest = match.after
    return out + rest


def _breaks_out_of_quotes(value: str) -> str | None:
    """Why an argument would run as code once a keyword puts it between quotes in an expression
    (`${json["${user}"]}`, `Evaluate    '${name}'.upper()` in a repo keyword), or None.

    Quoted text such as `He said "hi"` or `O'Brien` does not parse; `x"]+__import__("os")…+["`
    does, with a call in it.
    """
    for quote in ('"', "'"):
        try:
            tree = ast.parse(quote + value + quote, mode="eval")
        except (SyntaxError, ValueError):
            continue
        if any(isinstance(node, ast.Call | ast.Name) for node in ast.walk(tree)):
            return f"the value {value.strip()[:80]!r} closes a quoted string and runs code once a keyword quotes it"
    return None


def _hidden_code(value: str) -> str | None:
    """Why a value would run as code once substituted into an expression, or None.

    Data rarely parses as Python with a call in it; a plain word (`alice`) or a host name
    (`api.example.com`) is not code, `__import__('os')` or `posix.environ` is.
    """
    if problem := _breaks_out_of_quotes(value):
        return problem
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) or (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
            return f"the value {value.strip()[:80]!r} is Python code that would run once substituted into an expression"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _MODULES:
            return f"the value {value.strip()[:80]!r} reads the module {node.value.id!r} once evaluated"
    return None


_MODULES = frozenset(sys.stdlib_module_names) | {"posix", "nt"}


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
        norm(kw.name) for kw in _builtin().keywords if isinstance(kw.create_runner(kw.name), RunKeywordRunner)
    )
    content_cache.write(entry, json.dumps(names))
    return frozenset(names)


def never_a_step() -> frozenset[str]:
    """Normalised BuiltIn keywords no step is ever mapped to by resemblance or by name: the
    import, run-keyword, evaluating and variable-setting families. A ticket saying "when Import
    Library …" describes nothing a test should do, and these keywords turn text into code."""
    return IMPORT_KEYWORDS | SETTING_KEYWORDS | frozenset(EXPRESSION_KEYWORDS) | _runner_names()


def _run_keyword_children(name: str, args: Sequence[str]) -> list[tuple[str, Sequence[str]]]:
    """The keywords a BuiltIn "run keyword" variant would run, as Robot's own dryrun finds them.

    Robot knows where the keyword names are (`Run Keyword If    ${c}    A    ELSE    B`,
    `Wait Until Keyword Succeeds    1x    1s    A`); asking it avoids a second, divergent
    list. Arguments it cannot split are all treated as possible keyword names.
    """
    if contains_variable(name) or (runner_name := builtin_name(name, _runner_names())) is None:
        return []
    found = [kw for kw in _builtin().keywords if norm(kw.name) == runner_name]
    if len(found) != 1:
        return [(arg, ()) for arg in args]
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
    if isinstance(node, ForHeader) and norm(node.flavor or "") == "inrange":
        return list(node.get_tokens(Token.ARGUMENT))
    return []


@dataclass
class _TrustRule(ModelVisitor):
    """Checks every token of every statement; see `untrusted_code`."""

    known: frozenset[str] = frozenset()
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
            return list(_calls(self.template, [t.value for t in node.get_tokens(Token.ARGUMENT)]))
        return []

    def visit_Statement(self, node: Statement) -> None:
        # The keyword of a plain call is an import the allow-list checks (validate._Scan).
        call_keyword = node.get_token(Token.KEYWORD) if isinstance(node, KeywordCall) else None
        for token in node.tokens:
            if token.type in _INERT:
                continue
            defining = token.type in _DEFINING or (isinstance(node, Arguments) and token.type == Token.ARGUMENT)
            for problem in variable_problems(token.value, defining=defining, known=self.known):
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
        if isinstance(node, Variable | Var):
            self._values(node.lineno, [t.value for t in node.get_tokens(Token.ARGUMENT)])
        for name, args in self._called(node):
            self._call(node, name, list(args))
        for token in _condition_tokens(node):
            self._expressions(token.lineno, node.data_tokens[0].value, [token.value])

    def _call(self, node: Statement, name: str, args: list[str]) -> None:
        if contains_variable(name) and could_be(name, IMPORT_KEYWORDS | frozenset(EXPRESSION_KEYWORDS)):
            self._add(
                node.lineno,
                f"keyword name {name!r} is built from variables and could resolve to {_IMPORT_NAMES} or to "
                "a keyword that evaluates Python; call the keyword by its literal name",
            )
            return
        # An import keyword written anywhere but as a plain call is flagged token by token
        # (`visit_Statement`); a plain call is an import the allow-list checks.
        builtin = builtin_name(name, frozenset(EXPRESSION_KEYWORDS) | _VALUE_KEYWORDS)
        if builtin in EXPRESSION_KEYWORDS:
            self._expressions(node.lineno, name, expression_arguments(builtin, args))
            if builtin == "evaluate" and (problem := _evaluate_options(args[1:])):
                self._add(node.lineno, f"{name} {problem}: {_MOVE_IT}")
        elif builtin in _VALUE_KEYWORDS:
            self._values(node.lineno, args)
        else:  # any keyword may quote its arguments into an expression
            for arg in args:
                if not contains_variable(arg) and (problem := _breaks_out_of_quotes(arg)):
                    self._add(node.lineno, f"{problem}: {_MOVE_IT}")

    def _expressions(self, line: int, where: str, values: Sequence[str]) -> None:
        for value in values:
            found = grammar.problems(_with_placeholders(value))
            if found:
                self._add(
                    line,
                    f"the Python expression {value[:200]!r} given to {where.strip()} {'; '.join(found)}; a test's "
                    "conditions may use literals, variables, comparisons, arithmetic, item and attribute access and "
                    f"methods of variables (docs/security.md): {_MOVE_IT}",
                )

    def _values(self, line: int, values: Sequence[str]) -> None:
        for value in values:
            if not contains_variable(value) and (problem := _hidden_code(value)):
                self._add(line, f"{problem}: {_MOVE_IT}")

    def _add(self, line: int, problem: str) -> None:
        diagnostic = Diagnostic(source="trust", line=line, message=problem[:1].upper() + problem[1:] + ".")
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)


def defined_names(model: File) -> frozenset[str]:
    """Normalised names of the variables a file defines (its Variables section, `VAR`, assignments,
    keyword arguments)."""
    visitor = _Definitions()
    visitor.visit(model)
    return frozenset(visitor.names)


@dataclass
class _Definitions(ModelVisitor):
    """The variable names each statement defines (see `defined_names`)."""

    names: set[str] = field(default_factory=set)

    def visit_Statement(self, node: Statement) -> None:
        tokens = list(node.get_tokens(Token.VARIABLE, Token.ASSIGN))
        if isinstance(node, Arguments):  # `[Arguments]    ${img-width}=${DEFAULT}`
            tokens += node.get_tokens(Token.ARGUMENT)
        for token in tokens:
            found = search_variable(token.value.split("=", 1)[0].rstrip(" "), ignore_errors=True)
            if found.base:
                self.names.add(norm(found.base))


def untrusted_code(model: File, *, known_variables: Iterable[str] = ()) -> list[Diagnostic]:
    """Every place where a parsed .robot file could run code or read secrets, as `trust` diagnostics.

    The rule (docs/security.md): variables by plain name or with the extended forms of
    `grammar` (attribute and item access, methods without arguments); Python only inside the
    grammar (conditions, `Evaluate`-style arguments, inline `${{…}}`); no environment reads; no
    import keywords except a direct call, which the import allow-list checks; no keyword name
    built from variables that could become an import or an evaluating keyword; no code hidden
    in values. Keyword names are resolved by Robot's own rules (`keyword_names`), and Robot's
    own parser and variable search decide what is a keyword, a variable or escaped text.
    `known_variables`: names the repo defines (`${api-key}` is then a name, not a subtraction).
    """
    known = defined_names(model) | {norm(search_variable(n, ignore_errors=True).base or n) for n in known_variables}
    rule = _TrustRule(known=frozenset(known))
    rule.visit(model)
    return rule.diagnostics
