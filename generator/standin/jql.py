"""The JQL subset the stand-in understands; anything else is refused, naming the clause.

Refusing unknown clauses (instead of ignoring them) keeps a scheduled backlog run from
silently generating tests for far more tickets than the JQL meant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mcp.server.mcpserver.exceptions import ToolError

_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(!=|=|~|\(|\)|,)|([^\s=!~(),"']+))""")
_PUNCT = {"(", ")", ","}
_LIST_FIELDS = {"labels", "components"}
_FIELD_NAMES = {
    "project": "project",
    "key": "key",
    "issuekey": "key",
    "labels": "labels",
    "label": "labels",
    "component": "components",
    "components": "components",
    "status": "status",
    "issuetype": "issue_type",
    "type": "issue_type",
    "summary": "summary",
    "text": "text",
}


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool
    start: int = 0
    end: int = 0

    def word(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words


def _tokenize(jql: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    jql = jql.rstrip()
    while pos < len(jql):
        match = _TOKEN.match(jql, pos)
        if match is None or match.end() == pos:
            raise ToolError(f"Unsupported JQL: cannot read {jql[pos:].strip()!r}")
        double, single, op, bare = match.groups()
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        if double is not None:
            tokens.append(_Token(re.sub(r"\\(.)", r"\1", double), True, start, match.end()))
        elif single is not None:
            tokens.append(_Token(single, True, start, match.end()))
        else:
            tokens.append(_Token(op or bare, False, start, match.end()))
        pos = match.end()
    return tokens


def _clause_text(jql: str, tokens: list[_Token]) -> str:
    """The clause as the user wrote it, for error messages."""
    return jql[tokens[0].start : tokens[-1].end] if tokens else ""


def _ticket_values(ticket: dict, field: str) -> list[str]:
    if field == "project":
        return [ticket["key"].rsplit("-", 1)[0]]
    if field == "text":
        comments = " ".join(c["body"] for c in ticket["comments"])
        return [f"{ticket['summary']} {ticket['description']} {ticket['acceptance_criteria'] or ''} {comments}"]
    value = ticket[field]
    return list(value) if field in _LIST_FIELDS else [value]


def _parse_clause(jql: str, tokens: list[_Token]) -> Callable[[dict], bool]:
    """One `field op value` clause of the supported subset, as a predicate on a ticket."""
    unsupported = ToolError(
        f"Unsupported JQL clause: '{_clause_text(jql, tokens)}'. Supported: project, key, labels, component, "
        "status, issuetype (=, !=, in, not in), summary/text (~), joined by AND, ORDER BY key."
    )
    if len(tokens) < 3 or tokens[0].quoted or tokens[0].text.lower() not in _FIELD_NAMES:
        raise unsupported
    field = _FIELD_NAMES[tokens[0].text.lower()]
    rest = tokens[1:]
    negate = False
    if rest[0].word("not") and len(rest) > 1 and rest[1].word("in"):
        negate, rest = True, rest[1:]
    op = rest[0].text.lower() if not rest[0].quoted else ""
    operands = rest[1:]
    if op == "in":
        if len(operands) < 3 or operands[0].text != "(" or operands[-1].text != ")" or operands[0].quoted:
            raise unsupported
        values = [t.text for t in operands[1:-1] if t.quoted or t.text != ","]
    elif op in ("=", "!=", "~") and len(operands) == 1 and (operands[0].quoted or operands[0].text not in _PUNCT):
        values = [operands[0].text]
        negate = op == "!="
    else:
        raise unsupported
    if (op == "~") != (field in ("summary", "text")):
        raise unsupported
    wanted = {v.lower() for v in values}

    def matches(ticket: dict) -> bool:
        actual = [v.lower() for v in _ticket_values(ticket, field)]
        if op == "~":
            words = re.findall(r"\w+", values[0].lower())
            return all(word in actual[0] for word in words)
        return any(v in wanted for v in actual) != negate

    return matches


def _key_order(ticket: dict) -> tuple[str, int]:
    project, number = ticket["key"].rsplit("-", 1)
    return project, int(number)


def run_jql(jql: str, tickets: Iterable[dict]) -> list[dict]:
    """Filter and sort tickets with a small JQL subset; anything else is a ToolError naming the clause.

    Refusing unknown clauses (instead of ignoring them) keeps a scheduled backlog run
    from silently generating tests for far more tickets than the JQL meant.
    """
    tokens = _tokenize(jql)
    descending = False
    for i in range(len(tokens) - 1):
        if tokens[i].word("order") and tokens[i + 1].word("by"):
            order = tokens[i + 2 :]
            tokens = tokens[:i]
            if not order or not order[0].word("key", "issuekey") or len(order) > 2:
                raise ToolError(
                    f"Unsupported JQL ORDER BY: '{_clause_text(jql, order)}'. Only ORDER BY key [ASC|DESC]."
                )
            if len(order) == 2:
                if not order[1].word("asc", "desc"):
                    raise ToolError(f"Unsupported JQL ORDER BY: '{_clause_text(jql, order)}'.")
                descending = order[1].word("desc")
            break
    predicates: list[Callable[[dict], bool]] = []
    clause: list[_Token] = []
    for token in [*tokens, _Token("AND", False)]:
        if token.word("or"):
            raise ToolError("Unsupported JQL: OR is not supported, only clauses joined by AND.")
        if token.word("and"):
            if not clause:
                if tokens:
                    raise ToolError(f"Unsupported JQL: empty clause in '{jql}'")
                continue
            predicates.append(_parse_clause(jql, clause))
            clause = []
        else:
            clause.append(token)
    found = [t for t in tickets if all(p(t) for p in predicates)]
    return sorted(found, key=_key_order, reverse=descending)
