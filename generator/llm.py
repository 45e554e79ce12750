"""A narrow chat client for any OpenAI-compatible server (vLLM, Ollama, LiteLLM, Mistral…).

The planner and the writer only need "send messages, maybe let the model call tools, get the
final text", so that is the whole surface. What this module adds over the `openai` SDK is what
a CI job processing many tickets against a shared, often self-hosted, model needs:

- streaming always, so tokens reach the job log while a slow model works;
- a tool loop that never crashes on a model's mistakes (bad JSON, unknown tool, failing
  handler) and that is bounded, ending with a forced answer;
- its own retries (the SDK's are disabled) so a 429 slows the whole run through a shared
  `Backoff` rather than each ticket hammering the server independently;
- graceful fallback when a server does not support ``response_format`` json_schema;
- deadlines a CI job can live with: connecting, silence between streamed chunks, and the whole
  call are each bounded, so a hung server costs a retry instead of the job's time limit;
- truncated answers (a stream that ends without ``finish_reason``, a connection lost mid-answer,
  ``finish_reason=length``) are retried, never handed back as if complete;
- a shared `Breaker`: after a few consecutive connection failures or timeouts no new call is
  started and calls in flight stop retrying, so a dead endpoint ends the job in minutes;
- error messages that say what failed without ever containing the API key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from pydantic import BaseModel, Field

from generator.breaker import Breaker
from generator.models import LLMUsage
from generator.redact import Redactor

if TYPE_CHECKING:  # the SDK costs half a second to import: only `--llm openai` pays it (see __init__)
    import openai
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

log = logging.getLogger("jira2robot.llm")

DEFAULT_TOOL_RESULT_CHARS = 12_000
_RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Statuses a gateway answers when the model behind it is down: they count for the breaker.
_UNAVAILABLE_STATUS = frozenset({502, 503, 504})
_MAX_RETRY_AFTER = 120.0
# Sent to servers that need a bearer token shape even when none is configured (Ollama, vLLM).
_NO_KEY = "no-key"
_FINAL_ANSWER_NUDGE = (
    "You have used all the tool calls available for this task. Do not call any tool: "
    "answer now with your final result, using what you already know."
)
_FORMAT_REJECTION_HINTS = ("response_format", "json_schema", "unsupported", "not supported")


@dataclass(frozen=True)
class Tool:
    """A function the model may call; the handler's text is what the model sees as the result."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[[dict[str, Any]], Awaitable[str]]

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class LLMError(Exception):
    """Final failure of a chat call; the message says why and never contains the API key."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class Backoff:
    """Run-wide pause shared by all tickets: a 429 anywhere slows every caller.

    A rate limit is a property of the server, not of the call that happened to hit it, so
    every ticket's next request waits until the pause is over instead of each discovering the
    limit on its own.
    """

    def __init__(self) -> None:
        self._until = 0.0

    @property
    def paused_until(self) -> float:
        """`time.monotonic()` value until which calls wait (0 when never penalized)."""
        return self._until

    @property
    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self) -> None:
        """Sleep until the shared pause is over; re-checks because it may be extended meanwhile."""
        while (remaining := self.remaining) > 0:
            await anyio.sleep(remaining)

    def penalize(self, seconds: float) -> None:
        """Extend the pause to now + seconds, never shortening a longer pause already set."""
        self._until = max(self._until, time.monotonic() + max(0.0, seconds))


class ChatResult(BaseModel):
    text: str = Field(description="Final assistant text (of the last round), raw: reasoning/fences not stripped.")
    usage: LLMUsage = Field(description="Summed over rounds; calls = number of completed HTTP completions.")
    tool_calls: int = 0
    messages: list[dict[str, Any]] = Field(
        description="The full conversation incl. tool results and the final answer, to continue it (repair loop)."
    )
    finish_reason: str | None = Field(None, description="Of the last round; 'length' means the answer was cut off.")


class ChatModel(Protocol):
    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        tools: Sequence[Tool] = (),
        json_schema: dict[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        max_tool_rounds: int = 6,
    ) -> ChatResult: ...


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Completion:
    """One streamed completion, assembled."""

    text: str = ""
    calls: list[_PendingCall] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    usage_reported: bool = False
    finish_reason: str | None = None


class _BrokenStream(Exception):
    """The stream ended before the answer did (nothing at all, or no ``finish_reason``)."""


class _Retry(Exception):
    """A failed attempt worth retrying, with the delay the server or the backoff asks for.

    ``unavailable`` marks failures that say the endpoint is not answering (connection refused
    or lost, timeouts, a gateway's 502/503/504): only those count for the breaker.
    """

    def __init__(
        self, what: str, delay: float | None = None, status: int | None = None, *, unavailable: bool = False
    ) -> None:
        super().__init__(what)
        self.what = what
        self.delay = delay
        self.status = status
        self.unavailable = unavailable


def _estimate_tokens(chars: int) -> int:
    """Rough count (~4 characters per token) for servers that send no usage: an estimate only."""
    return chars // 4


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date), capped."""
    value = headers.get("retry-after-ms")
    if value:
        with contextlib.suppress(ValueError):
            return min(max(float(value) / 1000, 0.0), _MAX_RETRY_AFTER)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _server_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return err.message


class OpenAIChat:
    """`ChatModel` over `AsyncOpenAI` with streaming, a tool loop and run-wide rate-limit handling."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        stall_timeout: float = 45.0,
        retries: int = 4,
        limiter: anyio.CapacityLimiter | None = None,
        backoff: Backoff | None = None,
        temperature: float = 0.1,
        retry_base_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        max_tool_result_chars: int = DEFAULT_TOOL_RESULT_CHARS,
        breaker: Breaker | None = None,
    ) -> None:
        """``api_key=None`` means the server needs none (a placeholder is sent for SDK's sake).

        ``timeout`` bounds one whole HTTP completion, streaming included, so an endlessly slow
        server costs a retry instead of hanging the job; ``connect_timeout`` bounds opening the
        connection and ``stall_timeout`` the silence before the response and between chunks (a
        hung server is noticed in a minute, not after the whole call's deadline). ``limiter``
        bounds the completions in flight across the run, ``backoff`` is the pause shared by
        every caller, ``breaker`` the run's record of whether the endpoint answers at all.
        """
        import openai  # imported here, not at module level: `--llm offline` never needs it

        self._redact = Redactor([api_key] if api_key else [])
        # The SDK's own read timeout stays at the call's total: the stall is enforced per chunk
        # below, where SSE keep-alive comments (bytes, but no chunk) cannot reset it.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=connect_timeout),
        )
        self._timeout = timeout
        self._stall_timeout = stall_timeout
        self._breaker = breaker
        self._retries = retries
        self._limiter = limiter
        self.backoff = backoff or Backoff()
        self._temperature = temperature
        self._retry_base_delay = retry_base_delay
        self._max_retry_delay = max_retry_delay
        self._max_tool_result_chars = max_tool_result_chars
        self.supports_response_format = True
        """Turned off after the server rejects ``response_format`` once, so it is not sent again."""

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAIChat:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ conversation

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        tools: Sequence[Tool] = (),
        json_schema: dict[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        max_tool_rounds: int = 6,
    ) -> ChatResult:
        """Run the conversation to a final answer, executing tool calls along the way.

        ``json_schema`` is sent as ``response_format`` only on rounds where no tools are
        offered: several servers (vLLM guided decoding among them) constrain the whole output
        to the schema, which would make tool calls impossible. Callers still parse the answer
        with `generator.text.extract_json_object` and validate it.

        ``on_text`` receives content deltas as they stream; after a retried failure the next
        attempt streams again from the start.
        """
        conversation = [dict(m) for m in messages]
        handlers = {tool.name: tool for tool in tools}
        usage = LLMUsage()
        tool_calls = 0
        rounds = 0
        while True:
            offer_tools = bool(tools) and rounds < max_tool_rounds
            if tools and not offer_tools and rounds:
                conversation.append({"role": "user", "content": _FINAL_ANSWER_NUDGE})
            completion = await self._complete(
                conversation,
                model=model,
                tools=tools if offer_tools else (),
                json_schema=None if offer_tools else json_schema,
                on_text=on_text,
            )
            usage.add(completion.usage)
            if completion.calls and not offer_tools:
                log.warning("model asked for tools after its tool budget was spent; keeping its text answer")
            if not (offer_tools and completion.calls):
                conversation.append({"role": "assistant", "content": completion.text})
                return ChatResult(
                    text=completion.text,
                    usage=usage,
                    tool_calls=tool_calls,
                    messages=conversation,
                    finish_reason=completion.finish_reason,
                )
            rounds += 1
            tool_calls += len(completion.calls)
            await self._run_tools(completion, handlers, conversation)

    async def _run_tools(
        self, completion: _Completion, handlers: dict[str, Tool], conversation: list[dict[str, Any]]
    ) -> None:
        """Append the assistant's tool-call turn and one ``tool`` message per call, in OpenAI format."""
        results: list[dict[str, Any]] = []
        echoed: list[dict[str, Any]] = []
        for call in completion.calls:
            result, arguments_ok = await self._run_tool(call, handlers)
            # Invalid arguments are echoed as "{}": servers that re-parse the history (Mistral
            # templates) would reject the whole request otherwise; the error text quotes them.
            echoed.append(
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments if arguments_ok else "{}"},
                }
            )
            results.append({"role": "tool", "tool_call_id": call.id, "content": self._truncate(result)})
        conversation.append({"role": "assistant", "content": completion.text or None, "tool_calls": echoed})
        conversation.extend(results)

    async def _run_tool(self, call: _PendingCall, handlers: dict[str, Tool]) -> tuple[str, bool]:
        """Return (result text, arguments were valid); a model's mistake becomes an ERROR result."""
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as err:
            return f"ERROR: the arguments of {call.name!r} are not valid JSON ({err}): {call.arguments[:500]!r}", False
        if not isinstance(arguments, dict):
            return f"ERROR: the arguments of {call.name!r} must be a JSON object, got {call.arguments[:500]!r}", False
        tool = handlers.get(call.name)
        if tool is None:
            known = ", ".join(sorted(handlers)) or "none"
            return f"ERROR: unknown tool {call.name!r}; available tools: {known}", True
        log.debug("tool call %s(%s)", call.name, call.arguments[:200])
        try:
            result = await tool.handler(arguments)
        except Exception as err:
            log.warning("tool %s failed: %s", call.name, self._redact(str(err)))
            return self._redact(f"ERROR: tool {call.name!r} failed: {type(err).__name__}: {err}"), True
        return result, True

    def _truncate(self, text: str) -> str:
        limit = self._max_tool_result_chars
        if len(text) <= limit:
            return text
        return f"{text[:limit]}\n[... truncated {len(text) - limit} characters]"

    # ------------------------------------------------------------------ one completion, retried

    async def _complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        tools: Sequence[Tool],
        json_schema: dict[str, Any] | None,
        on_text: Callable[[str], None] | None,
    ) -> _Completion:
        import openai  # loaded by __init__ already: a dict lookup

        attempts = self._retries + 1
        attempt = 0
        while True:
            attempt += 1
            use_format = json_schema is not None and self.supports_response_format
            try:
                completion = await self._attempt(
                    messages, model=model, tools=tools, json_schema=json_schema if use_format else None, on_text=on_text
                )
                if self._breaker is not None:
                    self._breaker.success()
                return completion
            except openai.APIStatusError as err:
                if use_format and self._rejects_response_format(err):
                    log.warning(
                        "LLM server rejected response_format (%s %s); retrying without it for this run",
                        err.status_code,
                        self._redact(_server_message(err)[:200]),
                    )
                    self.supports_response_format = False
                    attempt -= 1
                    continue
                failure = self._classify_status(err)
            except _Retry as err:
                failure = err
            if failure.unavailable and self._breaker is not None:
                self._breaker.failure(failure.what)
            if attempt >= attempts:
                raise LLMError(
                    f"LLM call failed after {attempt} attempt(s): {failure.what}",
                    status=failure.status,
                    attempts=attempt,
                ) from None
            delay = failure.delay if failure.delay is not None else self._delay(attempt)
            if failure.status == 429:
                self.backoff.penalize(delay)
            log.warning("%s from LLM, retrying in %.1fs (attempt %d/%d)", failure.what, delay, attempt + 1, attempts)
            await anyio.sleep(delay)

    def _delay(self, attempt: int) -> float:
        """Exponential backoff (base, 2×base, 4×base…) capped, with up to 10 % jitter so callers desynchronize."""
        delay = min(self._retry_base_delay * 2 ** (attempt - 1), self._max_retry_delay)
        return delay * random.uniform(1.0, 1.1)

    def _rejects_response_format(self, err: openai.APIStatusError) -> bool:
        if err.status_code not in (400, 422):
            return False
        text = f"{err.message} {err.body}".lower()
        return any(hint in text for hint in _FORMAT_REJECTION_HINTS)

    def _classify_status(self, err: openai.APIStatusError) -> _Retry:
        """Return the retryable failure, or raise `LLMError` for errors a retry cannot fix."""
        status = err.status_code
        message = self._redact(_server_message(err))[:500]
        if status in _RETRYABLE_STATUS or status >= 500:
            return _Retry(
                f"{status} ({message})",
                _retry_after_seconds(err.response.headers),
                status,
                unavailable=status in _UNAVAILABLE_STATUS,
            )
        raise LLMError(f"LLM server answered {status}: {message}", status=status) from None

    async def _attempt(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        tools: Sequence[Tool],
        json_schema: dict[str, Any] | None,
        on_text: Callable[[str], None] | None,
    ) -> _Completion:
        """One HTTP completion under the limiter and the per-call timeout.

        Transport failures, timeouts, stalls and truncated answers are raised as `_Retry`;
        HTTP status errors propagate as the SDK raised them so the caller can inspect them.
        """
        import openai  # loaded by __init__ already: a dict lookup

        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": self._temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            kwargs["tools"] = [tool.to_openai() for tool in tools]
        if json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "test_spec", "schema": json_schema, "strict": False},
            }
        limiter = self._limiter if self._limiter is not None else contextlib.nullcontext()
        async with limiter:
            # Both checked once a slot is ours: a call queued for a slot while another one got a
            # 429 must wait for the shared pause too, and the breaker may have tripped meanwhile.
            await self.backoff.wait()
            if self._breaker is not None and self._breaker.open:
                raise LLMError(self._breaker.reason)
            try:
                with anyio.fail_after(self._timeout):
                    completion = await self._stream(kwargs, on_text)
            except TimeoutError:
                raise _Retry(f"timeout after {self._timeout:g}s", unavailable=True) from None
            except openai.APIStatusError:
                raise
            except openai.APIConnectionError as err:  # APITimeoutError too: connect_timeout, mostly
                what = "timeout" if isinstance(err, openai.APITimeoutError) else "connection error"
                cause = err.__cause__ or err
                detail = self._redact(str(cause)) or type(cause).__name__
                raise _Retry(f"{what} ({detail})", unavailable=True) from None
            except openai.APIError as err:
                raise _Retry(f"error in stream ({self._redact(err.message)[:200]})") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise _Retry(f"malformed stream ({err})") from None
            except _BrokenStream as err:
                raise _Retry(str(err), unavailable=True) from None
        if not completion.usage_reported:
            arguments = "".join(call.name + call.arguments for call in completion.calls)
            completion.usage = LLMUsage(
                calls=1,
                prompt_tokens=_estimate_tokens(len(json.dumps(messages, default=str))),
                completion_tokens=_estimate_tokens(len(completion.text) + len(arguments)),
            )
        if completion.finish_reason == "length":
            raise _Retry("answer cut off by the token limit (finish_reason=length)")
        return completion

    async def _within_stall(self, step: Awaitable[Any], waiting_for: str) -> Any:
        """Await one step of the stream, giving up after ``stall_timeout`` seconds of silence."""
        try:
            with anyio.fail_after(self._stall_timeout):
                return await step
        except TimeoutError:
            raise _Retry(f"stalled: no {waiting_for} for {self._stall_timeout:g}s", unavailable=True) from None

    async def _stream(self, kwargs: dict[str, Any], on_text: Callable[[str], None] | None) -> _Completion:
        """Assemble content and index-keyed tool-call deltas from the SSE stream."""
        parts: list[str] = []
        pending: dict[int, _PendingCall] = {}
        completion = _Completion()
        received = False
        stream = await self._within_stall(self._client.chat.completions.create(**kwargs), "response")
        async with stream:
            chunks = aiter(stream)
            while True:
                try:
                    chunk = await self._within_stall(anext(chunks), "streamed chunk")
                except StopAsyncIteration:
                    break
                if chunk.usage is not None:
                    completion.usage = LLMUsage(
                        calls=1,
                        prompt_tokens=chunk.usage.prompt_tokens or 0,
                        completion_tokens=chunk.usage.completion_tokens or 0,
                    )
                    completion.usage_reported = True
                for choice in chunk.choices or []:
                    received = True
                    if choice.finish_reason:
                        completion.finish_reason = choice.finish_reason
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        parts.append(delta.content)
                        if on_text is not None:
                            on_text(delta.content)
                    for tool_delta in delta.tool_calls or []:
                        _merge_tool_delta(pending, tool_delta)
        if not received:
            raise _BrokenStream("stream ended without any choice")
        if completion.finish_reason is None:
            raise _BrokenStream("stream ended without a finish_reason (connection lost mid-answer?)")
        completion.text = "".join(parts)
        completion.calls = [pending[index] for index in sorted(pending)]
        for number, call in enumerate(completion.calls):
            call.id = call.id or f"call{number:05d}"
        return completion


def _merge_tool_delta(pending: dict[int, _PendingCall], delta: ChoiceDeltaToolCall) -> None:
    """Fold one streamed tool-call fragment into its call.

    Servers differ: the id and name may come in different chunks, some repeat the full name in
    every chunk, a few omit the index (then a new id starts a new call).
    """
    index = delta.index
    if index is None:
        is_new = delta.id is not None and all(call.id != delta.id for call in pending.values())
        index = len(pending) if is_new or not pending else max(pending)
    call = pending.setdefault(index, _PendingCall())
    if delta.id:
        call.id = delta.id
    function = delta.function
    if function is None:
        return
    if function.name and function.name != call.name:
        call.name = function.name if not call.name else call.name + function.name
    if function.arguments:
        call.arguments += function.arguments
