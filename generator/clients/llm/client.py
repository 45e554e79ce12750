"""A narrow chat client for any OpenAI-compatible server (those tested: docs/model-servers.md).

The planner and the writer only need "send messages, maybe let the model call tools, get the
final text", so that is the whole surface. What this module adds over the `openai` SDK is what
a CI job processing many tickets against a shared, often self-hosted, model needs:

- streaming always, so tokens reach the job log while a slow model works;
- a tool loop that never crashes on a model's mistakes (bad JSON, unknown tool, failing
  handler) and that is bounded, ending with a forced answer;
- its own retries (the SDK's are disabled) so a 429 slows the whole run through a shared
  `Backoff` rather than each ticket hammering the server independently;
- a request field the server refuses (``temperature`` on reasoning models, ``max_tokens``,
  ``response_format``, ``tools``…) is dropped or adapted by what the server says, retried once
  and remembered for the run (`generator.clients.llm.request`, `generator.clients.llm.errors`);
- what the server needs back is sent back: streamed reasoning and tool calls' extra fields
  (`generator.clients.llm.stream`);
- deadlines a CI job can live with: connecting, silence between streamed chunks, and the whole
  call are each bounded, so a hung server costs a retry instead of the job's time limit;
- truncated or withheld answers (a stream that ends without ``finish_reason``, a connection lost
  mid-answer, ``finish_reason`` ``length``, ``content_filter`` or anything but ``stop``/``tool_calls``)
  are retried, never handed back as if complete;
- a shared `Breaker`: after a few consecutive connection failures or timeouts no new call is
  started and calls in flight stop retrying, so a dead endpoint ends the job in minutes;
- error messages that say what failed, from any error body shape, without ever containing the API key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from pydantic import BaseModel, Field

from generator.clients.breaker import Breaker
from generator.clients.llm.errors import ServerError, parse_error
from generator.clients.llm.request import RequestFields
from generator.clients.llm.retry import RETRYABLE_STATUS, UNAVAILABLE_STATUS, Backoff, Retry, retry_after_seconds
from generator.clients.llm.stream import (
    COMPLETE,
    BrokenStream,
    Completion,
    PendingCall,
    StreamAssembler,
    StreamError,
    incomplete_reason,
    sse_data,
)
from generator.models import LLMUsage
from generator.safety.redact import Redactor

if TYPE_CHECKING:  # the SDK costs half a second to import: only `--llm openai` pays it (see __init__)
    import openai

log = logging.getLogger("jira2robot.llm")

DEFAULT_TOOL_RESULT_CHARS = 12_000
# Sent to servers that need a bearer token shape even when none is configured (Ollama, vLLM).
_NO_KEY = "no-key"
_FINAL_ANSWER_NUDGE = (
    "You have used all the tool calls available for this task. Do not call any tool: "
    "answer now with your final result, using what you already know."
)


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


class ChatResult(BaseModel):
    text: str = Field(description="Final assistant text (of the last round), raw: reasoning/fences not stripped.")
    usage: LLMUsage = Field(description="Summed over rounds; calls = number of completed HTTP completions.")
    tool_calls: int = 0
    messages: list[dict[str, Any]] = Field(
        description="The full conversation incl. tool results and the final answer, to continue it (repair loop)."
    )
    finish_reason: str | None = Field(
        None, description="Of the last round: stop or tool_calls (any other is retried, never returned)."
    )


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


def _estimate_tokens(chars: int) -> int:
    """Rough count (~4 characters per token) for servers that send no usage: an estimate only."""
    return chars // 4


def server_error(err: openai.APIStatusError) -> ServerError:
    """The refusal as the server put it, whatever the body's shape (`generator.clients.llm.errors`)."""
    try:
        text = err.response.text
    except Exception:  # a streamed response that was never read: the SDK's body is all there is
        text = ""
    return parse_error(err.status_code, err.body, text)


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
        temperature: float | None = 0.1,
        model_fields: Mapping[str, Mapping[str, Any]] | None = None,
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

        ``temperature=None`` sends none (the server's default). ``model_fields`` adds fields to
        every request for one model (``reasoning_effort``, a server's own knobs); a ``temperature``
        there overrides the run's, ``None`` omitting it.
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
        self._fields = RequestFields(temperature, model_fields, self._redact)
        self._retry_base_delay = retry_base_delay
        self._max_retry_delay = max_retry_delay
        self._max_tool_result_chars = max_tool_result_chars

    def refused(self, model: str) -> set[str]:
        """Request fields ``model``'s server refused in this run (dropped or renamed since)."""
        return self._fields.refused(model)

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
        with `generator.clients.llm.text.extract_json_object` and validate it.

        ``on_text`` receives content deltas as they stream; after a retried failure the next
        attempt streams again from the start.

        Once ``model``'s server refused ``tools`` (vLLM without auto tool choice, an Ollama model
        without tool support), the conversation goes on without them: the prompts already carry
        the keywords and the files the plan names.
        """
        conversation = [dict(m) for m in messages]
        handlers = {tool.name: tool for tool in tools}
        usage = LLMUsage()
        tool_calls = 0
        rounds = 0
        while True:
            offer_tools = bool(tools) and rounds < max_tool_rounds and "tools" not in self.refused(model)
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
        self, completion: Completion, handlers: dict[str, Tool], conversation: list[dict[str, Any]]
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
                    **call.extra,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments if arguments_ok else "{}"},
                }
            )
            results.append({"role": "tool", "tool_call_id": call.id, "content": self._truncate(result)})
        conversation.append(completion.assistant_turn(echoed))
        conversation.extend(results)

    async def _run_tool(self, call: PendingCall, handlers: dict[str, Tool]) -> tuple[str, bool]:
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
    ) -> Completion:
        import openai  # loaded by __init__ already: a dict lookup

        attempts = self._retries + 1
        attempt = 0
        while True:
            attempt += 1
            body = self._fields.build(
                messages, model=model, tools=[tool.to_openai() for tool in tools], json_schema=json_schema
            )
            try:
                completion = await self._attempt(body, on_text=on_text)
                if self._breaker is not None:
                    self._breaker.success()
                return completion
            except openai.APIStatusError as err:
                error = server_error(err)
                if self._fields.adapt(model, body, error):
                    attempt -= 1  # the request changed: a new first attempt, not a retry
                    continue
                failure = self._classify_status(err, error)
            except Retry as err:
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

    def _classify_status(self, err: openai.APIStatusError, error: ServerError) -> Retry:
        """Return the retryable failure, or raise `LLMError` for errors a retry cannot fix."""
        status = err.status_code
        what = self._redact(error.describe())[:600]
        if status in RETRYABLE_STATUS or status >= 500:
            return Retry(
                what,
                retry_after_seconds(err.response.headers),
                status,
                unavailable=status in UNAVAILABLE_STATUS,
            )
        raise LLMError(f"LLM server answered {what}", status=status) from None

    async def _attempt(self, body: dict[str, Any], *, on_text: Callable[[str], None] | None) -> Completion:
        """One HTTP completion under the limiter and the per-call timeout.

        Transport failures, timeouts, stalls and answers that are not complete (cut, filtered)
        are raised as `Retry`; HTTP status errors propagate as the SDK raised them so the
        caller can read what the server refused.
        """
        import openai  # loaded by __init__ already: a dict lookup

        limiter = self._limiter if self._limiter is not None else contextlib.nullcontext()
        async with limiter:
            # Both checked once a slot is ours: a call queued for a slot while another one got a
            # 429 must wait for the shared pause too, and the breaker may have tripped meanwhile.
            await self.backoff.wait()
            if self._breaker is not None and self._breaker.open:
                raise LLMError(self._breaker.reason)
            try:
                with anyio.fail_after(self._timeout):
                    completion = await self._stream(body, on_text)
            except TimeoutError:
                raise Retry(f"timeout after {self._timeout:g}s", unavailable=True) from None
            except openai.APIStatusError:
                raise
            except openai.APIConnectionError as err:  # APITimeoutError too: connect_timeout, mostly
                what = "timeout" if isinstance(err, openai.APITimeoutError) else "connection error"
                cause = err.__cause__ or err
                detail = self._redact(str(cause)) or type(cause).__name__
                raise Retry(f"{what} ({detail})", unavailable=True) from None
            except StreamError as err:  # an error object instead of a chunk: its message, whatever its shape
                described = parse_error(0, err.body).message
                raise Retry(f"error in stream ({self._redact(described)[:300]})") from None
            except openai.APIError as err:
                raise Retry(f"error in stream ({self._redact(err.message)[:200]})") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise Retry(f"malformed stream ({err})") from None
            except BrokenStream as err:
                raise Retry(str(err), unavailable=True) from None
        if not completion.usage_reported:
            arguments = "".join(call.name + call.arguments for call in completion.calls)
            completion.usage = LLMUsage(
                calls=1,
                prompt_tokens=_estimate_tokens(len(json.dumps(body["messages"], default=str))),
                completion_tokens=_estimate_tokens(len(completion.text) + len(arguments)),
            )
        finish = completion.finish_reason or ""
        if finish not in COMPLETE:
            raise Retry(incomplete_reason(finish))
        return completion

    async def _within_stall(self, step: Awaitable[Any], waiting_for: str) -> Any:
        """Await one step of the stream, giving up after ``stall_timeout`` seconds of silence."""
        try:
            with anyio.fail_after(self._stall_timeout):
                return await step
        except TimeoutError:
            raise Retry(f"stalled: no {waiting_for} for {self._stall_timeout:g}s", unavailable=True) from None

    async def _stream(self, body: dict[str, Any], on_text: Callable[[str], None] | None) -> Completion:
        """Send ``body`` and assemble the SSE stream (`generator.clients.llm.stream`).

        The body goes as the SDK's ``extra_body``: fields are sent exactly as built (and as
        adapted), including the ones the SDK has no parameter for. The event stream is read
        here, not by the SDK's decoder (see `sse_data`); the SDK still raises status errors.
        """
        import httpx2  # the SDK's transport, loaded with it
        import openai  # loaded by __init__ already: a dict lookup

        fields = {key: value for key, value in body.items() if key not in ("model", "messages", "stream")}
        manager = self._client.chat.completions.with_streaming_response.create(
            model=body["model"], messages=body["messages"], stream=True, extra_body=fields
        )
        assembler = StreamAssembler()
        response = await self._within_stall(manager.__aenter__(), "response")
        try:
            events = aiter(sse_data(response.iter_lines()))
            while True:
                try:
                    chunk = await self._within_stall(anext(events), "streamed chunk")
                except StopAsyncIteration:
                    break
                except (httpx2.RequestError, anyio.EndOfStream) as err:  # as the SDK's own stream maps them
                    raise openai.APIConnectionError(request=response.http_request) from err
                shown = assembler.feed(chunk)
                if shown and on_text is not None:
                    on_text(shown)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await manager.__aexit__(None, None, None)
        return assembler.finish()
