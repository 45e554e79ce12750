"""The Python that a generated test may hand to Robot Framework's evaluation: an allow-list.

Robot Framework evaluates Python in conditions (`IF`, `WHILE`, `Should Be True`, `Skip If`…),
in `Evaluate`, in inline Python `${{…}}` and in extended variable syntax (`${resp.json()}`).
Its evaluation namespace imports any module an expression names (`posix.system(…)`,
`pydoc.pipepager(…)`), so a list of forbidden patterns can never be complete. This module
says what *is* allowed, node by node of Python's own `ast`, and everything else is refused:

* literals, `$var` references (and the placeholders of `${var}` that Robot substitutes first);
* comparisons, `and`/`or`/`not`, arithmetic, `x if c else y`, subscripts and slices,
  list/tuple/dict/set displays and f-strings;
* attribute access whose name does not start with `_`;
* calls of a small set of builtins (`ALLOWED_BUILTINS`: conversions, sizes, `isinstance`,
  `type`, `range`…) and of methods reached from a variable or a literal (`$resp.json()`,
  `$name.lower()`, `"a,b".split(",")`), never `format`/`format_map` (a format string reads
  attributes, `"{0.__class__}"`, past this check);
* modules only through `SAFE_MODULES` and their listed first attributes (`datetime.datetime`,
  `json.loads`, `random.choice`…); no other name: no other module, no `__import__`, `open`,
  `getattr`, `eval`…

Used by the static rule (`validate.trust`) and by the gate inside the Robot Framework process
(`validate.gate`), so the writer's early diagnostic and the enforcement agree. Standard
library only: the gate loads this file by path into the repository's own interpreter.
"""

from __future__ import annotations

import ast
import io
import token
import tokenize
from collections.abc import Set as AbstractSet

#: Builtins an expression may call or name: conversions, sizes and aggregates of plain values.
ALLOWED_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "divmod",
        "enumerate",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "type",
        "zip",
    }
)
#: Modules an expression may name, each with the attributes it may start from: pure functions and
#: value classes that real suites use in `Evaluate` (dates, JSON, random test data, regular
#: expressions). A module's other public attributes can lead to other modules
#: (`datetime.sys.modules[…]`), so only these first steps are allowed; after them the usual
#: rules hold (no `_` names, methods of the values they return).
SAFE_MODULES: dict[str, frozenset[str]] = {
    "base64": frozenset({"b64encode", "b64decode", "urlsafe_b64encode", "urlsafe_b64decode"}),
    "collections": frozenset({"Counter", "OrderedDict"}),
    "datetime": frozenset({"date", "datetime", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "hashlib": frozenset({"md5", "sha1", "sha256", "sha512"}),
    "json": frozenset({"dumps", "loads"}),
    "math": frozenset({"ceil", "e", "exp", "fabs", "floor", "inf", "isclose", "isnan", "log", "pi", "pow", "sqrt"}),
    "random": frozenset({"choice", "choices", "randint", "random", "randrange", "sample", "shuffle", "uniform"}),
    "re": frozenset(
        {
            "compile",
            "escape",
            "findall",
            "fullmatch",
            "match",
            "search",
            "split",
            "sub",
            "I",
            "IGNORECASE",
            "M",
            "MULTILINE",
            "S",
            "DOTALL",
        }
    ),
    "string": frozenset({"ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits", "punctuation"}),
    "time": frozenset({"gmtime", "localtime", "monotonic", "strftime", "time"}),
    "uuid": frozenset({"UUID", "uuid4"}),
}
#: Methods that interpret a string as a template of attribute lookups.
_FORMAT_METHODS = frozenset({"format", "format_map"})
#: Prefix of the names standing for Robot Framework variables (Robot's own `RF_VAR_` decoration).
VARIABLE_PREFIX = "RF_VAR_"
#: The name extended variable syntax evaluates its base variable under (Robot's `ExtendedFinder`).
BASE_VARIABLE = "_BASE_VAR_"

_LITERAL_NODES = (ast.Constant,)
_PLAIN_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.keyword,
    ast.Load,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
)


def decorate(expression: str) -> str:
    """`$name` as `RF_VAR_name`, token by token, as Robot's evaluation does before `eval`."""
    if "$" not in expression:
        return expression
    tokens: list[tuple[int, str]] = []
    pending = False
    try:
        for kind, value, *_ in tokenize.generate_tokens(io.StringIO(expression).readline):
            if pending:
                pending = False
                if kind == token.NAME:
                    tokens.append((kind, VARIABLE_PREFIX + value))
                    continue
                tokens.append((token.OP, "$"))
            if value == "$":
                pending = True
            else:
                tokens.append((kind, value))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return expression
    return tokenize.untokenize(tokens).strip()


def _is_variable(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and (node.id.startswith(VARIABLE_PREFIX) or node.id == BASE_VARIABLE)


def _safe_module_steps(tree: ast.AST) -> set[int]:
    """ids of the `Name` nodes that are a `SAFE_MODULES` module taking one of its allowed first steps."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.attr in SAFE_MODULES.get(node.value.id, ())
    }


def unsafe_modules(modules: str) -> list[str]:
    """The names in `Evaluate`'s `modules` argument (comma separated) outside `SAFE_MODULES`."""
    return [m for m in (part.strip() for part in modules.split(",")) if m and m not in SAFE_MODULES]


def _rooted_in_value(node: ast.AST, safe: AbstractSet[int] = frozenset()) -> bool:
    """`$x`, `$x.a`, `$x[0].b()`, `"a b".split()`…: a chain whose start is a variable or a literal
    (a `${var}` inside quotes is substituted as text, so `"${BROWSER}".lower()` is a literal's)."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return _is_variable(node) or isinstance(node, ast.Constant | ast.JoinedStr) or id(node) in safe


def problems(expression: str, *, known_names: frozenset[str] = frozenset()) -> list[str]:
    """Why `expression` (Robot syntax: `$var` allowed) is outside the grammar; empty when inside.

    `known_names` are extra bare names to accept (none by default).
    """
    try:
        tree = ast.parse(decorate(expression).strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        return [f"is not a Python expression ({exc.__class__.__name__})"]
    found: list[str] = []
    safe = _safe_module_steps(tree)
    for node in ast.walk(tree):
        found += _node_problems(node, known_names, safe)
    return list(dict.fromkeys(found))


def _node_problems(node: ast.AST, known_names: frozenset[str], safe: AbstractSet[int] = frozenset()) -> list[str]:
    if isinstance(node, _LITERAL_NODES + _PLAIN_NODES):
        return []
    if isinstance(node, ast.Name):
        if _is_variable(node) or node.id in ALLOWED_BUILTINS or node.id in known_names or id(node) in safe:
            return []
        return [f"names {node.id!r}, which is neither a variable nor an allowed builtin (a module or function)"]
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return [f"reads the attribute {node.attr!r} (names starting with '_' reach Python's internals)"]
        return []
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ALLOWED_BUILTINS:
            return []
        if isinstance(func, ast.Attribute) and func.attr in _FORMAT_METHODS:
            return [f"calls {func.attr!r}, whose format string can read any attribute"]
        if isinstance(func, ast.Attribute) and _rooted_in_value(func, safe):
            return []
        return [f"calls {ast.unparse(func)!r}, which is neither an allowed builtin nor a method of a variable"]
    return [f"uses {type(node).__name__} syntax, which a test's expression does not need"]


def extended_problems(extended: str) -> list[str]:
    """Why the extended part of `${base<extended>}` (`.email`, `.json()`, `[0]`, ` * 4`) is outside the grammar.

    Robot evaluates `_BASE_VAR_` + the extended part: the same grammar applies, with the base
    variable as its only variable (`.email`, `.json()[0]`, `.lower().replace(' ', '')`,
    `${SPACE * 4}`), and a call must be a method of it.
    """
    try:
        tree = ast.parse(BASE_VARIABLE + extended, mode="eval")
    except (SyntaxError, ValueError) as exc:
        return [f"is not a Python expression ({exc.__class__.__name__})"]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Attribute):
            found.append(f"calls {ast.unparse(node.func)!r}")
        else:
            found += _node_problems(node, frozenset())
    return list(dict.fromkeys(found))
