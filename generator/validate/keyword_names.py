"""Which BuiltIn keyword a call could run, by Robot Framework's own name rules.

The static trust rule must answer as Robot would, or a spelling walks around it. Robot
resolves a call by (`robot.running.namespace.Namespace._get_runner`):

* stripping one BDD prefix of any language it knows (`Given`, `Oletetaan`, `Étant donné que`…),
  taken from its own `Languages` tables;
* comparing names normalised with its own `normalize` (case-folded, so `Reſource` is
  `resource`; spaces and underscores ignored);
* reading `Owner.Keyword` as a keyword of a library, resource or alias named `Owner`: since an
  alias can name BuiltIn anything (`Library  BuiltIn  AS  B`), every dotted tail counts.

`call_names` gives every normalised name a call could reach; the families below are the
BuiltIn keywords a generated step may not be (the offline writer never maps to them, and the
trust rule treats them specially). Names built from variables are handled by `could_be`.
"""

from __future__ import annotations

import re
from functools import cache

from robot.conf.languages import Language, Languages
from robot.utils import normalize
from robot.variables import VariableMatches

IMPORT_KEYWORDS = frozenset({"importlibrary", "importresource", "importvariables"})
#: BuiltIn keywords that change what later names resolve to or set variables from text.
SETTING_KEYWORDS = frozenset(
    {
        "setlibrarysearchorder",
        "setvariable",
        "setvariableif",
        "settestvariable",
        "settaskvariable",
        "setsuitevariable",
        "setglobalvariable",
        "setlocalvariable",
    }
)
#: BuiltIn keywords whose arguments Robot evaluates as Python, with the positions evaluated
#: (`None`: see `expression_arguments`).
EXPRESSION_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "evaluate": (0,),
    "shouldbetrue": (0,),
    "shouldnotbetrue": (0,),
    "skipif": (0,),
    "passexecutionif": (0,),
    "returnfromkeywordif": (0,),
    "runkeywordandreturnif": (0,),
    "continueforloopif": (0,),
    "exitforloopif": (0,),
    "runkeywordunless": (0,),
    "runkeywordif": None,
    "setvariableif": None,
    "callmethod": None,
}


def norm(name: str) -> str:
    """A keyword name as Robot compares it (`robot.utils.normalize`: case-folded, no spaces or `_`)."""
    return normalize(name, ignore="_")


@cache
def _bdd_prefix() -> re.Pattern[str]:
    """Robot's own BDD-prefix pattern over every language it ships."""
    languages = Languages([cls() for cls in Language.__subclasses__()])
    return languages.bdd_prefix_regexp


def without_bdd_prefix(name: str) -> str:
    """`name` without its BDD prefix, in any language Robot knows (one prefix, as Robot strips)."""
    match = _bdd_prefix().match(name.strip())
    return name.strip()[match.end() :] if match else name.strip()


def _written_forms(name: str) -> set[str]:
    """`name` as written, without its BDD prefix, and each `Owner.` tail of both."""
    found: set[str] = set()
    for written in {name.strip(), without_bdd_prefix(name)}:
        parts = written.split(".")
        found.update(".".join(parts[i:]) for i in range(len(parts)))
    return found


def call_names(name: str) -> set[str]:
    """Every normalised keyword name the call `name` could resolve to (see the module doc)."""
    return {norm(form) for form in _written_forms(name)}


def is_import_keyword(name: str) -> bool:
    """`Import Library`, `Given builtin.import_resource`, `B.Import Variables`, `Import Reſource`…"""
    return bool(call_names(name) & IMPORT_KEYWORDS)


def builtin_name(name: str, builtin_names: frozenset[str]) -> str | None:
    """The normalised BuiltIn keyword the call could be, or None."""
    hits = sorted(call_names(name) & builtin_names)
    return hits[0] if hits else None


def could_be(name: str, targets: frozenset[str]) -> bool:
    """Whether `name`, its variables replaced by anything, could resolve to one of `targets`.

    The literal text between the variables must appear, normalised, in that order; a
    variable may stand for any text, a BDD prefix and an owner's name included.
    """

    def literal(text: str) -> str:
        return re.escape(norm(text))

    for form in _written_forms(name):
        pattern, rest = "", form
        for match in VariableMatches(form, ignore_errors=True):
            pattern += literal(match.before) + ".*"
            rest = match.after
        pattern += literal(rest)
        if any(re.fullmatch(pattern, target) for target in targets):
            return True
    return False


def expression_arguments(builtin: str, args: list[str]) -> list[str]:
    """The arguments of the BuiltIn keyword `builtin` (normalised) that Robot evaluates as Python.

    `Run Keyword If` evaluates its first argument and the one after each `ELSE IF`;
    `Set Variable If` its conditions (every other value, the last odd one being the default);
    `Call Method` evaluates nothing but calls the method its second argument names, so that
    name is returned for the grammar's attribute rule (`_x` is refused).
    """
    positions = EXPRESSION_KEYWORDS.get(builtin, ())
    if positions is not None:
        return [args[i] for i in positions if i < len(args)]
    if builtin == "runkeywordif":
        return [args[0], *(args[i + 1] for i, a in enumerate(args[:-1]) if a == "ELSE IF")] if args else []
    if builtin == "setvariableif":
        return [args[i] for i in range(0, len(args) - 1, 2)]
    if builtin == "callmethod" and len(args) > 1:
        return [f"$object.{args[1]}"]
    return []
