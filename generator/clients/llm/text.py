"""Cleaning of model output before anything downstream trusts it.

Models served behind OpenAI-compatible endpoints differ in how much noise surrounds the
answer: reasoning models (Magistral, DeepSeek-R1, Qwen3) emit their chain of thought in
``[THINK]``/``<think>`` blocks, some servers strip the opening tag but keep the closing one,
and most models wrap code or JSON in markdown fences however often they are told not to.
These helpers are pure functions so every stage cleans output the same way and tests can
pin each quirk down.
"""

from __future__ import annotations

import json
import re
from typing import Any

# (opening, closing) tag patterns of the reasoning formats seen in the wild.
_REASONING_TAGS: tuple[tuple[str, str], ...] = (
    (r"\[THINK\]", r"\[/THINK\]"),
    (r"<think>", r"</think>"),
    (r"<thinking>", r"</thinking>"),
)
_FLAGS = re.IGNORECASE | re.DOTALL
_BLOCKS = [re.compile(f"{opening}.*?{closing}", _FLAGS) for opening, closing in _REASONING_TAGS]
_ANY_OPENING = re.compile("|".join(opening for opening, _ in _REASONING_TAGS), re.IGNORECASE)
_ANY_CLOSING = re.compile("|".join(closing for _, closing in _REASONING_TAGS), re.IGNORECASE)

# A CommonMark-style fence: up to 3 spaces of indent, 3+ backticks or tildes, an info string;
# the body runs to a closing fence of the same kind or, when the model was cut off, to the end.
_FENCE = re.compile(
    r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*?)[ \t]*\n"
    r"(?P<body>.*?)"
    r"(?:^ {0,3}(?P=fence)[`~]*[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_JSON_FENCE_LANGS = {"", "json", "jsonc", "json5"}


def strip_reasoning(text: str) -> str:
    """Remove reasoning blocks so only the answer remains.

    Complete blocks are removed wherever they are. A closing tag left without its opening
    (servers that inject the opening tag in the prompt template, or nested blocks) means
    everything before it was reasoning. An opening tag at the very start that is never closed
    means the model was cut off while still reasoning: there is no answer at all.
    """
    for block in _BLOCKS:
        text = block.sub("", text)
    closings = list(_ANY_CLOSING.finditer(text))
    if closings:
        text = text[closings[-1].end() :]
    if _ANY_OPENING.match(text.lstrip()):
        return ""
    return text


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Return ``(info, body)`` of every fenced block, in document order."""
    return [(m["info"].strip().lower(), m["body"]) for m in _FENCE.finditer(text)]


def strip_fences(text: str) -> str:
    """Return the code the model meant, without its markdown wrapping.

    When several fenced blocks are present (an example, then the file) the largest one is the
    deliverable; leading blank lines and trailing whitespace are dropped but the indentation of
    the first line is kept, because Robot Framework is sensitive to it.
    """
    text = strip_reasoning(text)
    blocks = _fenced_blocks(text)
    if not blocks:
        return text.strip()
    body = max((body for _, body in blocks), key=len)
    return body.lstrip("\r\n").rstrip()


def _as_object(candidate: str) -> dict[str, Any] | None:
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def extract_json_object(text: str) -> dict[str, Any]:
    """Find the JSON object in a model answer that may carry prose, fences or reasoning.

    Tried in order: the whole answer, fenced ``json`` (or unlabelled) blocks, then the first
    ``{`` from which the standard JSON decoder can read a complete object — the decoder, not a
    brace counter, so braces inside strings do not confuse it.
    """
    cleaned = strip_reasoning(text).strip()
    if not cleaned:
        raise ValueError(f"model output contains no JSON object: it is empty; output starts with {text[:200]!r}")
    try:
        whole = json.loads(cleaned)
    except ValueError as err:
        problem = f"the output is not valid JSON ({err})"
    else:
        if isinstance(whole, dict):
            return whole
        problem = f"the output is JSON but a {type(whole).__name__}, not an object"

    for info, body in _fenced_blocks(cleaned):
        language = info.split()[0] if info else ""
        if language in _JSON_FENCE_LANGS:
            found = _as_object(body)
            if found is not None:
                return found

    decoder = json.JSONDecoder()
    for brace in re.finditer(r"\{", cleaned):
        try:
            value, _ = decoder.raw_decode(cleaned, brace.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError(
        f"model output contains no JSON object: {problem}, and no complete {{...}} object was found "
        f"in it; output starts with {cleaned[:200]!r}"
    )
