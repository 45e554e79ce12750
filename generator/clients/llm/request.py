"""What each chat request carries, per model: the run's temperature, the model's configured fields,
and what that model's server refused so far (dropped or renamed for the rest of the run).

Reasoning models refuse a temperature other than their default and ``max_tokens``; vLLM and Ollama
refuse tools unless configured for them; DeepSeek refuses ``response_format`` json_schema. Each
refusal is learnt once from the server's own answer (`generator.clients.llm.errors`), not guessed from the
model's name, so a new model or server needs no code change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.clients.llm.errors import ServerError, rejected_parameter

log = logging.getLogger("jira2robot.llm")

#: How a refused field is adapted: renamed to the field the server wants instead, else dropped.
_RENAMED = {"max_tokens": "max_completion_tokens"}
_CONSEQUENCE = {
    "response_format": "asking for JSON in the prompt instead",
    "tools": "the writer goes on without tools",
    "temperature": "using the server's default temperature",
}
#: What a request is about: never dropped, whatever a server says.
_ESSENTIAL = ("model", "messages", "stream")


@dataclass
class _Adaptation:
    """What one model's server refused so far in this run, so later calls do not ask again."""

    dropped: set[str] = field(default_factory=set)
    renamed: dict[str, str] = field(default_factory=dict)


class RequestFields:
    """Builds request bodies and adapts them to what each model's server refused."""

    def __init__(
        self,
        temperature: float | None,
        model_fields: Mapping[str, Mapping[str, Any]] | None,
        redact: Callable[[str], str],
    ) -> None:
        """``model_fields`` adds fields per model; a None value there means "send none" (a
        configured ``temperature: null``)."""
        self._temperature = temperature
        self._model_fields = {name: dict(fields) for name, fields in (model_fields or {}).items()}
        self._redact = redact
        self._adapted: dict[str, _Adaptation] = {}

    def refused(self, model: str) -> set[str]:
        """Request fields ``model``'s server refused in this run (dropped or renamed since)."""
        adapted = self._adapted.get(model)
        return set() if adapted is None else adapted.dropped | set(adapted.renamed)

    def build(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        tools: Sequence[dict[str, Any]],
        json_schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The request body, with the model's configured fields and what its server refused adapted."""
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        body["stream_options"] = {"include_usage": True}
        if self._temperature is not None:
            body["temperature"] = self._temperature
        for name, value in self._model_fields.get(model, {}).items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        if tools:
            body["tools"] = list(tools)
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "test_spec", "schema": json_schema, "strict": False},
            }
        adapted = self._adapted.get(model)
        if adapted is not None:
            for old, new in adapted.renamed.items():
                if old in body:
                    body[new] = body.pop(old)
            for name in adapted.dropped:
                body.pop(name, None)
        if "tools" not in body:
            body.pop("tool_choice", None)
        return body

    def adapt(self, model: str, body: dict[str, Any], error: ServerError) -> bool:
        """Drop or rename the one field the server refused, for this model, for the rest of the run.

        False when the refusal is not about a field we may change (or that field was adapted
        already and is refused again): the error then stands.
        """
        name = rejected_parameter(error, [key for key in body if key not in _ESSENTIAL])
        if name is None:
            return False
        adapted = self._adapted.setdefault(model, _Adaptation())
        renamed = _RENAMED.get(name)
        if renamed is not None and name not in adapted.renamed:
            adapted.renamed[name] = renamed
            consequence = f"sending {renamed} instead"
        elif name in adapted.dropped:
            return False
        else:
            adapted.dropped.add(name)
            consequence = _CONSEQUENCE.get(name, "leaving it out")
        log.warning(
            "LLM server refused %s for model %s (%s); %s for the rest of the run",
            name,
            model,
            self._redact(error.describe())[:300],
            consequence,
        )
        return True
