"""The inventory as text: what `jira2robot keywords` prints and the writer's prompt lists."""

from __future__ import annotations

from collections.abc import Sequence

from generator.models import Keyword, KeywordInventory


def render_suite_local(inventory: KeywordInventory) -> str:
    """Suite-local keywords and variables, said to be copied, never imported (RF refuses to
    import a file with tests)."""
    lines: list[str] = []
    groups: dict[str, list[Keyword]] = {}
    for kw in inventory.suite_keywords:
        groups.setdefault(kw.owner, []).append(kw)
    for owner in sorted(set(groups) | set(inventory.suite_variables)):
        lines.append(f"[Suite] {owner} (local: copy what you need into the new file's own sections)")
        lines += ["    ".join(["  " + kw.name, *kw.args]) for kw in groups.get(owner, [])]
        if names := inventory.suite_variables.get(owner):
            lines.append("  variables: " + " ".join(names))
    return "\n".join(lines) + ("\n" if lines else "")


def render_keywords(keywords: Sequence[Keyword], *, with_docs: bool = True) -> str:
    """Compact text of keywords grouped by owner, for prompts and `jira2robot keywords`.

    Arguments are shown in RF's own `[Arguments]` syntax and separated by four spaces so the
    LLM can copy a call verbatim; grouping by owner tells it which import a keyword needs
    without repeating the owner on every line (prompt tokens are the budget).
    """
    groups: dict[tuple[str, str], list[Keyword]] = {}
    for kw in keywords:
        groups.setdefault((kw.owner_kind, kw.owner), []).append(kw)
    lines: list[str] = []
    for (kind, owner), members in groups.items():
        lines.append(f"[{'Resource' if kind == 'resource' else 'Library'}] {owner}")
        for kw in members:
            lines.append("    ".join(["  " + kw.name, *kw.args]))
            if with_docs and kw.doc:
                lines.append("      " + " ".join(kw.doc.split()))
    return "\n".join(lines) + ("\n" if lines else "")
