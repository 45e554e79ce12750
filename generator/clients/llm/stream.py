"""One streamed chat completion, assembled from the chunks real servers send.

The OpenAI stream contract is loose in practice, and every deviation here was met on a real server:

- Azure sends a first chunk with an empty ``choices`` list (prompt filter results only) and
  annotation chunks whose choice has no ``delta``;
- Gemini's compatibility endpoint omits ``index`` on tool-call deltas, sends each call whole,
  ends a tool-call turn with ``finish_reason: stop`` and carries a thought signature in the
  call's ``extra_content`` (sometimes in a delta of its own) that must be sent back;
- reasoning models stream their thinking in a field beside ``content``: ``reasoning_content``
  (DeepSeek, vLLM's reasoning parsers) or ``reasoning`` (Ollama, newer vLLM); DeepSeek requires
  it back on the assistant turns that called tools;
- usage may come in its own empty-``choices`` chunk (OpenAI), on a chunk with choices (xAI,
  BerriAI/litellm#17136) or under ``x_groq`` on the last chunk (Groq, vercel/ai#1651);
- servers and gateways send keep-alive comments (``: ping``) and ``id:``/``retry:`` fields, which
  the `openai` SDK's decoder turns into an empty event it then fails to parse as JSON
  (openai/openai-python#2722, #3833): `sse_data` reads the event stream by the SSE spec instead.

Chunks are read as plain JSON, so what the server sent beyond the standard fields is kept and
the conversation can be sent back as the server expects (`Completion.assistant_turn`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from generator.models import LLMUsage

#: Streamed reasoning fields, in the spelling each server uses; echoed back under the same name.
REASONING_FIELDS = ("reasoning_content", "reasoning")
#: Finish reasons of a complete answer; anything else (length, content_filter, a server's own) is not.
COMPLETE = frozenset({"stop", "tool_calls", "function_call"})


class BrokenStream(Exception):
    """The stream ended before the answer did (nothing at all, or no ``finish_reason``)."""


class StreamError(Exception):
    """The server sent an error object in the stream instead of a chunk; ``body`` is that object."""

    def __init__(self, body: object) -> None:
        super().__init__("error event in the stream")
        self.body = body


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON payload of each event of an SSE stream, until ``[DONE]`` or its end.

    By the spec (html.spec.whatwg.org, "event stream interpretation"): comment lines are
    ignored, ``data:`` lines of one event are joined, and a blank line dispatches an event only
    when data was given (so a ``: ping`` after an ``id:`` is nothing, not an empty event).
    ``json.JSONDecodeError`` for a payload that is not JSON: a malformed stream.
    """
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if line:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)
            continue
        if not data:
            continue
        payload = "\n".join(data)
        data = []
        if payload.strip() == "[DONE]":
            return
        decoded = json.loads(payload)
        if isinstance(decoded, dict) and decoded.get("error") and not decoded.get("choices"):
            raise StreamError(decoded["error"])
        if isinstance(decoded, dict):
            yield decoded
    if data and (payload := "\n".join(data)).strip() != "[DONE]":  # a last event without its blank line
        yield json.loads(payload)


@dataclass
class PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields beyond id/type/function (Gemini's ``extra_content``), sent back with the call."""


@dataclass
class Completion:
    """One streamed completion, assembled."""

    text: str = ""
    calls: list[PendingCall] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    usage_reported: bool = False
    finish_reason: str | None = None
    reasoning: dict[str, str] = field(default_factory=dict)
    """Streamed reasoning by field name (``reasoning_content`` or ``reasoning``)."""

    def assistant_turn(self, echoed_calls: list[dict[str, Any]]) -> dict[str, Any]:
        """The assistant's tool-call turn as the server needs it back: its reasoning included
        (DeepSeek answers 400 without it), each call with its extra fields (Gemini's signature)."""
        turn: dict[str, Any] = {"role": "assistant", "content": self.text or None, "tool_calls": echoed_calls}
        turn.update(self.reasoning)
        return turn


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge one delta's extra fields: a signature may arrive in a delta of its own."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


class StreamAssembler:
    """Fold chunks into a `Completion`; `feed` returns the content delta to show, if any."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending: dict[int, PendingCall] = {}
        self._reasoning: dict[str, list[str]] = {}
        self._received = False
        self.completion = Completion()

    def feed(self, chunk: dict[str, Any]) -> str | None:
        shown: list[str] = []
        for usage in (chunk.get("usage"), (chunk.get("x_groq") or {}).get("usage")):
            if isinstance(usage, dict):
                self._usage(usage)
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            self._received = True
            if choice.get("finish_reason"):
                self.completion.finish_reason = str(choice["finish_reason"])
            delta = choice.get("delta")
            if not isinstance(delta, dict):  # Azure's content filter annotations carry no delta
                continue
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._parts.append(content)
                shown.append(content)
            for name in REASONING_FIELDS:
                value = delta.get(name)
                if isinstance(value, str) and value:
                    self._reasoning.setdefault(name, []).append(value)
            for tool_delta in delta.get("tool_calls") or []:
                if isinstance(tool_delta, dict):
                    self._merge_tool_delta(tool_delta)
        return "".join(shown) or None

    def _usage(self, usage: dict[str, Any]) -> None:
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            self.completion.usage = LLMUsage(calls=1, prompt_tokens=prompt, completion_tokens=completion)
            self.completion.usage_reported = True

    def _merge_tool_delta(self, delta: dict[str, Any]) -> None:
        """Fold one streamed tool-call fragment into its call.

        Servers differ: the id and name may come in different chunks, some repeat the full name in
        every chunk, Gemini omits the index (then a new id starts a new call, anything else
        continues the last one).
        """
        pending = self._pending
        index, call_id = delta.get("index"), delta.get("id") or None
        if not isinstance(index, int):
            is_new = call_id is not None and all(call.id != call_id for call in pending.values())
            index = len(pending) if is_new or not pending else max(pending)
        call = pending.setdefault(index, PendingCall())
        if call_id:
            call.id = str(call_id)
        extra = {k: v for k, v in delta.items() if k not in ("index", "id", "type", "function") and v is not None}
        _merge(call.extra, extra)
        function = delta.get("function")
        if not isinstance(function, dict):
            return
        name, arguments = function.get("name"), function.get("arguments")
        if isinstance(name, str) and name and name != call.name:
            call.name = name if not call.name else call.name + name
        if isinstance(arguments, str) and arguments:
            call.arguments += arguments

    def finish(self) -> Completion:
        """The assembled completion; `BrokenStream` when the stream did not end like an answer."""
        if not self._received:
            raise BrokenStream("stream ended without any choice")
        completion = self.completion
        if completion.finish_reason is None:
            raise BrokenStream("stream ended without a finish_reason (connection lost mid-answer?)")
        completion.text = "".join(self._parts)
        completion.reasoning = {name: "".join(parts) for name, parts in self._reasoning.items()}
        completion.calls = [self._pending[index] for index in sorted(self._pending)]
        for number, call in enumerate(completion.calls):
            call.id = call.id or f"call{number:05d}"
        return completion


def incomplete_reason(finish_reason: str) -> str:
    """Why an answer with this finish reason is not a complete one, in words a person can act on."""
    if finish_reason == "length":
        return "answer cut off by the token limit (finish_reason=length)"
    if finish_reason == "content_filter":
        return "answer stopped by the server's content filter (finish_reason=content_filter)"
    return f"answer not finished (finish_reason={finish_reason})"
