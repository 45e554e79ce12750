"""What an OpenAI-compatible server said when it refused a request, in any of the shapes real servers use.

Servers that all claim OpenAI compatibility answer errors differently: OpenAI, Azure, Ollama and
LiteLLM wrap an object in ``{"error": {...}}``, vLLM (before 0.10) puts the fields at the top level,
Gemini's compatibility endpoint answers a JSON *list* of such objects, Anthropic's nests
``{"type": "error", "error": {...}}``, and proxies in front of a dead backend answer plain text or
HTML. The `openai` SDK only unwraps the first shape, so its own message for the others is
``Error code: 400`` with nothing a person can act on. `ServerError` reads every shape.

`rejected_parameter` decides which request field a 400 is about, from what the server says: the
error's ``param`` first, then a message that names exactly one of the fields we sent, then the
documented phrasings of servers that reject tools without naming a field (each with its source).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

#: Longest server message kept: enough for any real error, short enough for a report line.
MAX_MESSAGE_CHARS = 500

#: Fields the client may drop or adapt when a server refuses them; the conversation itself
#: (``model``, ``messages``, ``stream``) is never negotiable.
ADAPTABLE = frozenset(
    {"temperature", "max_tokens", "max_completion_tokens", "response_format", "tools", "tool_choice",
     "stream_options", "reasoning_effort", "top_p", "parallel_tool_calls", "seed"}
)  # fmt: skip

#: Servers that refuse tools without naming a field: (pattern, source).
_TOOLS_REFUSED = (
    # vLLM started without --enable-auto-tool-choice (its default): vllm-project/vllm#9986,
    # langchain4j/langchain4j#3475 (body shape), vllm-project/vllm#30613 (the check in serving_chat.py).
    (re.compile(r"tool choice requires --enable-auto-tool-choice", re.IGNORECASE), "vLLM"),
    # Ollama with a model whose template has no tools: ollama/ollama#6027, ollama/ollama#14795.
    (re.compile(r"does not support tools", re.IGNORECASE), "Ollama"),
)


@dataclass(frozen=True)
class ServerError:
    """One refusal, whatever its shape: the fields a person (and `rejected_parameter`) needs."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    kind: str | None = None

    def describe(self) -> str:
        """``400: Unsupported value: … (param temperature, unsupported_value)``: status, why, what."""
        code = self.code if self.code and self.code != str(self.status) else self.kind
        details = ", ".join(d for d in (f"param {self.param}" if self.param else "", code or "") if d)
        message = self.message or "(the server sent no error message)"
        return f"{self.status}: {message}" + (f" ({details})" if details else "")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _from_object(status: int, data: dict[str, Any]) -> ServerError | None:
    inner = data.get("error", data)
    if isinstance(inner, str):  # Ollama's native `{"error": "..."}`, some proxies
        return ServerError(status, inner)
    if not isinstance(inner, dict):
        return None
    if isinstance(inner.get("error"), dict):  # Anthropic: {"type": "error", "error": {...}}, after the SDK's unwrap
        return _from_object(status, inner)
    message = _text(inner.get("message")) or _text(inner.get("detail")) or _text(data.get("message"))
    if message is None:
        return None
    return ServerError(
        status,
        message,
        param=_text(inner.get("param")),
        code=_text(inner.get("code")) or _text(inner.get("status")),
        kind=_text(inner.get("type")),
    )


def parse_error(status: int, body: object, text: str = "") -> ServerError:
    """The refusal in ``body`` (already JSON-decoded by the SDK, or not) with ``text`` as the last resort."""
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    if isinstance(body, list):  # Gemini's compatibility endpoint: [{"error": {...}}]
        for item in body:
            if isinstance(item, dict) and (found := _from_object(status, item)) is not None:
                return found
    elif isinstance(body, dict) and (found := _from_object(status, body)) is not None:
        return found
    raw = body if isinstance(body, str) else (text or (json.dumps(body) if body is not None else ""))
    return ServerError(status, " ".join(raw.split())[:MAX_MESSAGE_CHARS])


def rejected_parameter(error: ServerError, sent: Collection[str]) -> str | None:
    """The one field of ``sent`` this refusal is about, or None when it is about something else.

    Only 400/422 refuse a request's content. ``param`` may be a path (``response_format.json_schema``):
    its first segment names the field. Without ``param``, a message that names exactly one sent
    field (``'temperature' does not support 0.1``) is as explicit; a generic word such as
    "unsupported" is not, since it appears in refusals of anything.
    """
    if error.status not in (400, 422):
        return None
    candidates = [name for name in sent if name in ADAPTABLE]
    if error.param:
        field = re.split(r"[.\[]", error.param, maxsplit=1)[0]
        return field if field in candidates else None
    named = [name for name in candidates if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", error.message)]
    if len(named) == 1:
        return named[0]
    if "tools" in candidates and any(pattern.search(error.message) for pattern, _ in _TOOLS_REFUSED):
        return "tools"
    return None
