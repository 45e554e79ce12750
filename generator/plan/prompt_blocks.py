"""What the planner's and the writer's prompts share (generator/plan/prompts.py,
generator/write/prompts.py).

Everything the models need is put in the first message (ticket, pages, conventions,
keywords, examples), so the happy path is two calls instead of the seed's 8-12 rounds of
exploration with a growing context. Ticket, page and repository text is fenced and labelled
as data (`fenced`): it is untrusted and must not be read as instructions.
"""

from __future__ import annotations

from generator.clients.llm.budget import cap_text
from generator.models import Conventions

#: Cap on the convention document in a prompt (characters): past it the text is cut with a
#: visible note (`budget.cap_text`, the same one ticket and page text get in `budget.cap_context`),
#: so a 40-page convention doc cannot crowd out the keywords.
MAX_CONVENTION_CHARS = 6000


def fenced(tag: str, text: str, **attrs: str) -> str:
    """`text` inside `<tag ...>` ... `</tag>`; a closing tag inside the text is defused, so the
    data cannot end its own fence and talk to the model as instructions."""
    head = " ".join([tag, *(f'{k}="{v}"' for k, v in attrs.items())])
    safe = text.replace(f"</{tag}>", f"</ {tag}>")
    return f"<{head}>\n{safe.strip()}\n</{tag}>"


def conventions_block(convention: str | None) -> str:
    return fenced("conventions", cap_text(convention or "(no convention document)", MAX_CONVENTION_CHARS)[0])


def house_style(conventions: Conventions) -> str:
    """The naming rules every generated test follows (defaults < convention doc < config)."""
    key = {"lower": "<jira-key-lowercase>", "upper": "<JIRA-KEY>"}.get(conventions.key_case, "<jira-key>")
    return (
        f"House style: test names are short Title Case sentences of at most {conventions.name_max_words} words "
        "without '.' or '?'; the file is "
        f"`{key}{conventions.file_separator}<slug>.robot` where the slug is at most {conventions.slug_max_words} "
        f"whole words of the summary; lines stay under {conventions.line_length} characters "
        "(continue [Documentation] with `...` lines)."
    )
