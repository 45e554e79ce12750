"""The half of the keyword scan that imports the repo's code: libdoc of its libraries and its
variable files, run in the repo's own interpreter (`Scanner`, one deadline per item, through
`generator.safety.repo_env`); and how a keyword's documentation and arguments are written for
prompts and the matcher, one syntax for user and library keywords. `inventory_build.Builder`
asks the scanner and records what failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from robot.running.arguments.argumentspec import ArgInfo, ArgumentSpec

from generator.safety.repo_env import run_scan

_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z])")


@dataclass(frozen=True)
class Scanner:
    """Runs the importing half of the scan in the repo's interpreter, item by item."""

    python: str
    timeout: float
    secrets: tuple[str, ...]
    allow: tuple[str, ...]

    def scan(
        self, repo: Path, pythonpath: Sequence[Path], items: Sequence[dict[str, object]]
    ) -> list[dict[str, object] | str]:
        """Per item: the worker's result, or why there is none (hung, crashed, failed).
        Run from the repo's root, as `robot` is, for libraries reading files at import."""
        if not items:
            return []
        paths = [str(d) for d in pythonpath]
        outcome = run_scan(
            self.python, paths, items, timeout=self.timeout, secrets=self.secrets, allow=self.allow, cwd=repo
        )
        found: list[dict[str, object] | str] = []
        for index in range(len(items)):
            if index in outcome.hung:
                found.append(f"import did not finish within {self.timeout:g} s (scan_timeout); skipped")
            elif index in outcome.crashed:
                found.append(outcome.crashed[index])
            elif not outcome.results[index]["ok"]:
                found.append(str(outcome.results[index]["error"]))
            else:
                found.append(outcome.results[index])
        return found


def format_args(spec: ArgumentSpec) -> list[str]:
    """An argument spec in RF `[Arguments]` syntax: `${a}`, `${b}=x`, `@{c}`, `@{}`, `&{d}`.

    One syntax for user and library keywords, so the matcher and the LLM do not need to know
    which kind they look at. Types are left out: libdoc's Python types (`Literal[...] | None`)
    cost many tokens and RF converts the strings anyway.
    """
    return format_arg_triples((arg.kind, arg.name, arg.default_repr) for arg in spec)


def format_arg_triples(args: Iterable[tuple[str, str, str | None]]) -> list[str]:
    """(kind, name, default repr) as RF `[Arguments]` cells; libdoc's JSON gives the same
    triples for a library scanned in another interpreter."""
    out: list[str] = []
    for kind, name, default in args:
        if kind == ArgInfo.POSITIONAL_ONLY_MARKER:
            continue
        if kind == ArgInfo.NAMED_ONLY_MARKER:
            out.append("@{}")
        elif kind == ArgInfo.VAR_POSITIONAL:
            out.append(f"@{{{name}}}")
        elif kind == ArgInfo.VAR_NAMED:
            out.append(f"&{{{name}}}")
        elif default is None:
            out.append(f"${{{name}}}")
        else:
            out.append(f"${{{name}}}={default}")
    return out


def first_sentence(short_doc: str) -> str:
    """RF's short doc is the first paragraph; one sentence is what a prompt line can afford."""
    text = " ".join(short_doc.split())
    match = _SENTENCE_END.search(text)
    return text[: match.start() + 1] if match else text


def first_lines(message: str, limit: int = 400) -> str:
    """RF's import errors end with a traceback and the whole PYTHONPATH: keep the reason."""
    lines = []
    for line in message.splitlines():
        if line.startswith(("Traceback", "PYTHONPATH")):
            break
        lines.append(line.strip())
    text = " ".join(x for x in lines if x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def has_variable(text: str) -> bool:
    return any(marker in text for marker in ("${", "@{", "&{", "%{"))
