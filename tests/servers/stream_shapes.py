"""How an OpenAI-compatible server shapes its answers: the standard shape (`Profile`), which the
emulations of real server kinds in model_servers.py change where those servers differ.

A profile decides what a request is refused for (`refuse`), how an error body looks
(`error_response`) and which SSE events carry a scripted reply (`events`). The scripted server
(fake_openai.py) owns the HTTP side, the scripts and the statistics.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.servers.replies import Error, Text, ToolCalls


@dataclass
class StreamContext:
    """One streamed answer being written: the request, its ids, and the server's usage accounting."""

    body: dict[str, Any]
    completion_id: str
    created: int
    usage_for: Callable[[str], dict[str, int]]
    pace: Callable[[str], Awaitable[None]]

    @property
    def wants_usage(self) -> bool:
        return bool((self.body.get("stream_options") or {}).get("include_usage"))

    def payload(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.get("model", "fake-model"),
            "choices": choices,
            **extra,
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse(self.payload([{"index": 0, "delta": delta, "finish_reason": finish}], **extra))

    def call_id(self, index: int) -> str:
        return f"call_{self.completion_id[9:]}_{index}"


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


class Profile:
    """A server that follows OpenAI's documented stream and error shapes exactly."""

    name = "openai-compatible"
    #: Where the API is served (the part of OPENAI_BASE_URL after the host).
    base_path = "/v1"
    #: The delta field reasoning is streamed in; None: the server streams none.
    reasoning_field: str | None = None

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        """The error a real server answers this request with before generating anything, if any."""
        return None

    def error_response(self, error: Error) -> Response:
        """OpenAI's error object (platform.openai.com/docs/guides/error-codes)."""
        kind = "rate_limit_exceeded" if error.status == 429 else "invalid_request_error"
        if error.status >= 500:
            kind = "server_error"
        body = {"error": {"message": error.message, "type": kind, "param": error.param,
                          "code": error.code or str(error.status)}}  # fmt: skip
        return JSONResponse(body, status_code=error.status, headers=retry_after(error))

    # ------------------------------------------------------------------ streaming

    async def events(self, ctx: StreamContext, reply: Text | ToolCalls) -> AsyncIterator[str]:
        for event in self.opening(ctx):
            yield event
        if reply.reasoning and self.reasoning_field:
            for piece in pieces(reply.reasoning, 7):
                await ctx.pace(piece)
                yield ctx.chunk({"content": "", self.reasoning_field: piece})
        if isinstance(reply, Text):
            generated = reply.reasoning_prefix + reply.content
            for piece in pieces(generated, reply.chunk_size):
                await ctx.pace(piece)
                yield self.content_chunk(ctx, piece)
            for event in self.closing(ctx, reply.finish, reply.reasoning + generated, reply.usage):
                yield event
            return
        generated = reply.reasoning + reply.content
        if reply.content:
            yield ctx.chunk({"content": reply.content})
        for index, (name, arguments) in enumerate(reply.calls):
            generated += name + arguments
            for delta in self.tool_call_deltas(index, ctx.call_id(index), name, arguments, reply.split):
                await ctx.pace(arguments)
                yield ctx.chunk({"tool_calls": [delta]})
        for event in self.closing(ctx, "tool_calls", generated, reply.usage):
            yield event

    def opening(self, ctx: StreamContext) -> list[str]:
        return [ctx.chunk({"role": "assistant", "content": ""})]

    def content_chunk(self, ctx: StreamContext, piece: str) -> str:
        return ctx.chunk({"content": piece})

    def closing(self, ctx: StreamContext, finish: str, generated: str, send_usage: bool) -> list[str]:
        """The finish chunk, then usage in a chunk of its own with empty ``choices`` (OpenAI's
        ``stream_options.include_usage``), when asked for."""
        events = [ctx.chunk({}, finish)]
        if send_usage and ctx.wants_usage:
            events.append(sse(ctx.payload([], usage=ctx.usage_for(generated))))
        return events

    def tool_call_deltas(
        self, index: int, call_id: str, name: str, arguments: str, split: bool
    ) -> list[dict[str, Any]]:
        """OpenAI's shape: the id and type first, then the name, then the arguments in pieces."""
        if not split:
            return [{"index": index, "id": call_id, "type": "function",
                     "function": {"name": name, "arguments": arguments}}]  # fmt: skip
        deltas: list[dict[str, Any]] = [
            {"index": index, "id": call_id, "type": "function"},
            {"index": index, "function": {"name": name}},
        ]
        deltas += [{"index": index, "function": {"arguments": piece}} for piece in pieces(arguments, 5)]
        return deltas


def pieces(text: str, size: int) -> list[str]:
    size = max(size, 1)
    return [text[start : start + size] for start in range(0, len(text), size)]


def retry_after(error: Error) -> dict[str, str]:
    return {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
