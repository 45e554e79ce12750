"""An OpenAI-compatible chat server for tests and benchmarks.

It speaks real HTTP on 127.0.0.1 (starlette served by uvicorn in a background thread), so the
client under test goes through the `openai` SDK, its SSE decoder and its error mapping exactly
as it would against vLLM, Ollama or LiteLLM. Each test scripts the replies it needs, including
the awkward ones real servers produce: tool calls whose id, name and arguments arrive in
separate chunks, rate limits with Retry-After, broken streams and servers that reject
``response_format``; and the faults a CI job meets: a server that never answers (`Hang`) and
answers cut off part-way (`Cut`: stalled, dropped, closed early or stopped by the token limit).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers.replies import Cut, Error, Hang, Malformed, RejectResponseFormat, Reply, Text, ToolCalls
from tests.servers.stream_shapes import Profile, StreamContext

__all__ = ["MODEL_ID", "Cut", "Error", "FakeOpenAI", "Hang", "Malformed", "RejectResponseFormat", "Text", "ToolCalls"]

MODEL_ID = "fake-model"


class _DropConnection(Exception):
    """Raised inside a streaming body: uvicorn then closes the socket mid-response."""


@dataclass
class _Stats:
    in_flight: int = 0
    max_concurrent: int = 0
    usages: list[dict[str, int]] = field(default_factory=list)


class FakeOpenAI:
    """Scripted OpenAI-compatible server; use as a context manager or call start()/stop()."""

    def __init__(self, latency: float = 0.0, token_rate: float | None = None, profile: Profile | None = None) -> None:
        """``profile`` makes it answer as one real server kind does (tests/servers/model_servers.py)."""
        self.profile = profile or Profile()
        self.latency = latency
        self.token_rate = token_rate
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.base_url = ""
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stats = _Stats()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._released: tuple[asyncio.Event, asyncio.AbstractEventLoop] | None = None

    # ------------------------------------------------------------------ scripting

    def script(self, *replies: Reply) -> None:
        """Queue replies, consumed one per request in order."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget scripts, requests and statistics, so one running server can serve many tests."""
        with self._lock:
            self._queue.clear()
        self.requests.clear()
        self.headers.clear()
        self.responder = None
        self._stats = _Stats()

    @property
    def max_concurrent(self) -> int:
        """Highest number of chat requests that were being served at the same time."""
        return self._stats.max_concurrent

    @property
    def usages(self) -> list[dict[str, int]]:
        """The usage objects sent, one per completed reply, for tests that check accounting."""
        return list(self._stats.usages)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    def _next_reply(self, body: dict[str, Any]) -> Reply | None:
        with self._lock:
            while self._queue:
                reply = self._queue.popleft()
                if isinstance(reply, RejectResponseFormat) and "response_format" not in body:
                    continue
                return reply
        return self.responder(body) if self.responder is not None else None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeOpenAI server did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}{self.profile.base_path}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self.release()
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def release(self) -> None:
        """Let every request held by `Hang` or a stalled `Cut` end (the server's loop does it)."""
        if self._released is not None:
            event, loop = self._released
            loop.call_soon_threadsafe(event.set)
            self._released = None

    async def _hold(self) -> None:
        """Wait until `release` (or until uvicorn cancels the task at shutdown)."""
        if self._released is None:
            self._released = (asyncio.Event(), asyncio.get_running_loop())
        await self._released[0].wait()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{self.profile.base_path}/chat/completions", self._chat, methods=["POST"]),
                Route(f"{self.profile.base_path}/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self._enter()
        handed_to_stream = False
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            # A refusal comes before the model is asked: it does not consume a scripted reply.
            refusal = self.profile.refuse(body, dict(request.headers))
            if refusal is not None:
                return self.profile.error_response(refusal)
            reply = self._next_reply(body)
            if reply is None:
                return self.profile.error_response(
                    Error(500, "FakeOpenAI: no scripted reply left and no responder set for this request")
                )
            if isinstance(reply, Error):
                return self.profile.error_response(reply)
            if isinstance(reply, RejectResponseFormat):
                return self.profile.error_response(Error(400, "response_format json_schema is not supported"))
            if isinstance(reply, Hang):
                await self._hold()
                return self.profile.error_response(Error(503, "FakeOpenAI: released while hanging"))
            completion_id = f"chatcmpl-{next(self._ids)}"
            if not body.get("stream"):
                return self._complete(body, reply, completion_id)
            handed_to_stream = True
            return StreamingResponse(self._stream(body, reply, completion_id), media_type="text/event-stream")
        finally:
            if not handed_to_stream:
                self._leave()

    def _enter(self) -> None:
        self._stats.in_flight += 1
        self._stats.max_concurrent = max(self._stats.max_concurrent, self._stats.in_flight)

    def _leave(self) -> None:
        self._stats.in_flight -= 1

    def _usage(self, body: dict[str, Any], generated: str) -> dict[str, int]:
        prompt = len(json.dumps(body.get("messages", []))) // 4
        completion = len(generated) // 4
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        self._stats.usages.append(usage)
        return usage

    async def _pace(self, piece: str) -> None:
        if self.token_rate:
            await asyncio.sleep(max(len(piece) / 4, 1) / self.token_rate)

    async def _stream(self, body: dict[str, Any], reply: Reply, completion_id: str) -> AsyncIterator[str]:
        ctx = StreamContext(
            body=body,
            completion_id=completion_id,
            created=int(time.time()),
            usage_for=lambda generated: self._usage(body, generated),
            pace=self._pace,
        )
        # Leave before the last event: once a client has seen [DONE] it may send its next
        # request, which must not be counted as overlapping with this one.
        left = False
        try:
            if isinstance(reply, Malformed):
                yield ctx.chunk({"role": "assistant", "content": ""})
                yield ctx.chunk({"content": "partial "})
                yield 'data: {"id": "broken", "choices": [{"delta": {"content": "oops"\n\n'
                return
            if isinstance(reply, Cut):
                yield ctx.chunk({"role": "assistant", "content": ""})
                yield ctx.chunk({"content": reply.content})
                if reply.how == "length":
                    yield ctx.chunk({}, "length")
                    yield "data: [DONE]\n\n"
                elif reply.how == "stall":
                    await self._hold()
                elif reply.how == "abort":
                    raise _DropConnection("FakeOpenAI drops the connection mid-answer (scripted)")
                return
            assert isinstance(reply, (Text, ToolCalls))
            async for event in self.profile.events(ctx, reply):
                yield event
            left = True
            self._leave()
            yield "data: [DONE]\n\n"
        finally:
            if not left:
                self._leave()

    def _complete(self, body: dict[str, Any], reply: Reply, completion_id: str) -> Response:
        if isinstance(reply, Malformed):
            return Response('{"id": "broken", "choices": [', media_type="application/json")
        message: dict[str, Any] = {"role": "assistant"}
        if isinstance(reply, Text):
            generated = reply.reasoning_prefix + reply.content
            message["content"] = generated
            finish = "stop"
        else:
            assert isinstance(reply, ToolCalls)
            generated = reply.content + "".join(name + args for name, args in reply.calls)
            message["content"] = reply.content or None
            message["tool_calls"] = [
                {
                    "id": f"call_{completion_id[9:]}_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for index, (name, arguments) in enumerate(reply.calls)
            ]
            finish = "tool_calls"
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", MODEL_ID),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self._usage(body, generated),
            }
        )
