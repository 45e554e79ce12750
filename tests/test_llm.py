"""The chat client against a real OpenAI-compatible HTTP server (tests/servers/fake_openai.py)."""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import socket
import time
import traceback
from collections.abc import Iterator
from functools import partial
from typing import Any

import anyio
import pytest
from openai import AsyncOpenAI

from generator.clients.breaker import Breaker
from generator.clients.llm.client import Backoff, LLMError, OpenAIChat, Tool
from generator.clients.llm.text import extract_json_object
from tests.servers.fake_openai import (
    MODEL_ID,
    Cut,
    Error,
    FakeOpenAI,
    Hang,
    Malformed,
    RejectResponseFormat,
    Text,
    ToolCalls,
)
from tests.servers.model_servers import Gateway, Groq

API_KEY = "sk-test-secret-key-0123456789"
USER = [{"role": "user", "content": "Write the spec for PROJ-1."}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def running_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def server(running_server: FakeOpenAI) -> FakeOpenAI:
    running_server.reset()
    return running_server


def make_client(server: FakeOpenAI, **kwargs: Any) -> OpenAIChat:
    options: dict[str, Any] = {"retries": 3, "retry_base_delay": 0.01, "timeout": 10.0}
    options.update(kwargs)
    return OpenAIChat(base_url=server.base_url, api_key=API_KEY, **options)


class Recorder:
    """A tool handler that records what it was called with."""

    def __init__(self, result: str = "found it", error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result = result
        self.error = error

    async def __call__(self, arguments: dict[str, Any]) -> str:
        self.calls.append(arguments)
        if self.error is not None:
            raise self.error
        return self.result


def lookup_tool(handler: Recorder) -> Tool:
    return Tool(
        name="lookup",
        description="Look a keyword up in the repository.",
        parameters={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        handler=handler,
    )


# --------------------------------------------------------------------------- streaming


@pytest.mark.anyio
async def test_streamed_text_is_assembled_and_each_delta_reported(server: FakeOpenAI) -> None:
    content = "*** Test Cases ***\nA test\n    Log    hello"
    server.script(Text(content, chunk_size=7))
    deltas: list[str] = []
    async with make_client(server) as llm:
        result = await llm.chat(USER, model="writer-model", on_text=deltas.append)

    assert result.text == content
    assert deltas == [content[i : i + 7] for i in range(0, len(content), 7)]
    request = server.requests[0]
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["model"] == "writer-model"
    assert request["messages"] == USER
    assert "tools" not in request and "response_format" not in request
    assert server.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert result.usage.calls == 1
    assert result.usage.prompt_tokens == server.usages[0]["prompt_tokens"]
    assert result.usage.completion_tokens == server.usages[0]["completion_tokens"] == len(content) // 4
    assert result.messages == [*USER, {"role": "assistant", "content": content}]
    assert result.finish_reason == "stop"


@pytest.mark.anyio
async def test_usage_is_estimated_when_the_server_sends_none(server: FakeOpenAI) -> None:
    content = "x" * 40
    server.script(Text(content, usage=False))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID)
    assert server.usages == []
    assert result.usage.calls == 1
    assert result.usage.completion_tokens == 10
    assert result.usage.prompt_tokens >= len(USER[0]["content"]) // 4


@pytest.mark.anyio
async def test_reasoning_and_fenced_json_are_extracted_from_a_streamed_answer(server: FakeOpenAI) -> None:
    server.script(
        Text(
            'Here it is:\n```json\n{"meta": {"jira_key": "PROJ-1", "title": "Login"}}\n```',
            reasoning_prefix='[THINK]draft {"meta": null} first[/THINK]',
        )
    )
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID)
    assert result.text.startswith("[THINK]")
    assert extract_json_object(result.text) == {"meta": {"jira_key": "PROJ-1", "title": "Login"}}


# --------------------------------------------------------------------------- tool loop


@pytest.mark.anyio
async def test_split_tool_call_is_executed_and_result_sent_back_in_openai_format(server: FakeOpenAI) -> None:
    handler = Recorder(result="Keyword: Open Login Page")
    server.script(ToolCalls([("lookup", '{"q": "login page"}')], split=True), Text("done"))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(handler)])

    assert handler.calls == [{"q": "login page"}]
    assert result.text == "done"
    assert result.tool_calls == 1
    first, second = server.requests
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a keyword up in the repository.",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            },
        }
    ]
    assistant, tool_message = second["messages"][-2:]
    call_id = assistant["tool_calls"][0]["id"]
    assert call_id.startswith("call_")
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": '{"q": "login page"}'}}
        ],
    }
    assert tool_message == {"role": "tool", "tool_call_id": call_id, "content": "Keyword: Open Login Page"}
    assert result.messages[-3:] == [assistant, tool_message, {"role": "assistant", "content": "done"}]


@pytest.mark.anyio
async def test_several_calls_in_one_round_keep_their_order_and_ids(server: FakeOpenAI) -> None:
    handler = Recorder()
    server.script(
        ToolCalls([("lookup", '{"q": "a"}'), ("lookup", '{"q": "b"}')], split=False, content="Checking."),
        Text("ok"),
    )
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(handler)])
    assert handler.calls == [{"q": "a"}, {"q": "b"}]
    messages = server.requests[1]["messages"]
    assistant = messages[-3]
    assert assistant["content"] == "Checking."
    ids = [call["id"] for call in assistant["tool_calls"]]
    assert len(set(ids)) == 2
    assert [m["tool_call_id"] for m in messages[-2:]] == ids
    assert result.tool_calls == 2


@pytest.mark.anyio
async def test_invalid_json_arguments_become_an_error_result_and_the_loop_continues(server: FakeOpenAI) -> None:
    handler = Recorder()
    server.script(ToolCalls([("lookup", '{"q": "unterminated')]), Text("recovered"))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(handler)])
    assert handler.calls == []
    assert result.text == "recovered"
    assistant, tool_message = server.requests[1]["messages"][-2:]
    assert tool_message["content"].startswith("ERROR:")
    assert "not valid JSON" in tool_message["content"]
    # The broken arguments are not echoed back (servers re-parsing history would reject them).
    assert assistant["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.anyio
async def test_unknown_tool_and_failing_handler_become_error_results(server: FakeOpenAI) -> None:
    failing = Recorder(error=RuntimeError(f"backend down, token {API_KEY}"))
    server.script(ToolCalls([("nope", "{}"), ("lookup", '{"q": "x"}')]), Text("fine"))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(failing)])
    unknown, failed = server.requests[1]["messages"][-2:]
    assert unknown["content"] == "ERROR: unknown tool 'nope'; available tools: lookup"
    assert failed["content"].startswith("ERROR: tool 'lookup' failed: RuntimeError: backend down")
    assert API_KEY not in failed["content"]
    assert result.text == "fine"


@pytest.mark.anyio
async def test_tool_rounds_are_capped_then_a_final_answer_is_forced(server: FakeOpenAI) -> None:
    handler = Recorder()
    server.script(
        ToolCalls([("lookup", '{"q": "1"}')]),
        ToolCalls([("lookup", '{"q": "2"}')]),
        Text("final answer"),
    )
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(handler)], max_tool_rounds=2)

    assert len(server.requests) == 3
    assert "tools" in server.requests[0] and "tools" in server.requests[1]
    final = server.requests[2]
    assert "tools" not in final and "tool_choice" not in final
    assert final["messages"][-1]["role"] == "user"
    assert "answer now" in final["messages"][-1]["content"]
    assert result.text == "final answer"
    assert result.tool_calls == 2
    assert len(handler.calls) == 2


@pytest.mark.anyio
async def test_tool_results_are_truncated_with_a_marker(server: FakeOpenAI) -> None:
    handler = Recorder(result="y" * 100)
    server.script(ToolCalls([("lookup", '{"q": "big"}')]), Text("ok"))
    async with make_client(server, max_tool_result_chars=30) as llm:
        await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(handler)])
    content = server.requests[1]["messages"][-1]["content"]
    assert content.startswith("y" * 30 + "\n")
    assert "y" * 31 not in content
    assert "truncated 70 characters" in content


@pytest.mark.anyio
async def test_usage_is_summed_across_rounds(server: FakeOpenAI) -> None:
    server.script(ToolCalls([("lookup", '{"q": "a"}')]), ToolCalls([("lookup", '{"q": "b"}')]), Text("end" * 20))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID, tools=[lookup_tool(Recorder())])
    assert len(server.usages) == 3
    assert result.usage.calls == 3
    assert result.usage.prompt_tokens == sum(u["prompt_tokens"] for u in server.usages)
    assert result.usage.completion_tokens == sum(u["completion_tokens"] for u in server.usages)
    # Later rounds carry the growing conversation, so prompts grow.
    assert server.usages[0]["prompt_tokens"] < server.usages[2]["prompt_tokens"]


# --------------------------------------------------------------------------- structured output


@pytest.mark.anyio
async def test_json_schema_is_sent_as_response_format(server: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    server.script(Text('{"a": 1}'))
    async with make_client(server) as llm:
        await llm.chat(USER, model=MODEL_ID, json_schema=schema)
    assert server.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "test_spec", "schema": schema, "strict": False},
    }


@pytest.mark.anyio
async def test_json_schema_is_only_sent_on_rounds_without_tools(server: FakeOpenAI) -> None:
    server.script(ToolCalls([("lookup", '{"q": "a"}')]), Text('{"a": 1}'))
    async with make_client(server) as llm:
        await llm.chat(
            USER, model=MODEL_ID, tools=[lookup_tool(Recorder())], json_schema={"type": "object"}, max_tool_rounds=1
        )
    assert "response_format" not in server.requests[0]
    assert server.requests[1]["response_format"]["type"] == "json_schema"


@pytest.mark.anyio
async def test_rejected_response_format_falls_back_and_is_remembered(server: FakeOpenAI) -> None:
    server.script(RejectResponseFormat(), Text('{"a": 1}'), RejectResponseFormat(), Text('{"a": 2}'))
    async with make_client(server) as llm:
        first = await llm.chat(USER, model=MODEL_ID, json_schema={"type": "object"})
        second = await llm.chat(USER, model=MODEL_ID, json_schema={"type": "object"})
    assert [extract_json_object(first.text), extract_json_object(second.text)] == [{"a": 1}, {"a": 2}]
    assert len(server.requests) == 3
    assert "response_format" in server.requests[0]
    assert "response_format" not in server.requests[1]
    assert "response_format" not in server.requests[2]
    assert llm.refused(MODEL_ID) == {"response_format"}


# --------------------------------------------------------------------------- robustness


@pytest.mark.anyio
async def test_429_with_retry_after_is_honoured_and_penalizes_the_shared_backoff(
    server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    backoff = Backoff()
    server.script(Error(429, "Rate limit reached", retry_after=0.3), Text("after the pause"))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="jira2robot.llm"):
        async with make_client(server, backoff=backoff) as llm:
            result = await llm.chat(USER, model=MODEL_ID)
    assert result.text == "after the pause"
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 0.3
    assert backoff.paused_until >= started + 0.3
    assert "429: Rate limit reached (rate_limit_exceeded) from LLM, retrying in 0.3s (attempt 2/4)" in caplog.text


@pytest.mark.anyio
async def test_retry_after_as_http_date_is_honoured(server: FakeOpenAI) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    server.script(Error(503, "overloaded", retry_after=when), Text("ok"))
    started = time.monotonic()
    async with make_client(server) as llm:
        await llm.chat(USER, model=MODEL_ID)
    # HTTP dates have one-second resolution: "now + 2 s" is at least one second away.
    assert time.monotonic() - started >= 0.9
    assert len(server.requests) == 2


@pytest.mark.anyio
async def test_shared_backoff_pauses_every_caller() -> None:
    backoff = Backoff()
    backoff.penalize(0.2)
    backoff.penalize(0.05)  # never shortens a longer pause
    started = time.monotonic()
    await backoff.wait()
    assert time.monotonic() - started >= 0.19
    assert backoff.remaining == 0


@pytest.mark.anyio
async def test_server_errors_are_retried_until_success(server: FakeOpenAI) -> None:
    server.script(Error(500, "boom"), Error(502, "bad gateway"), Text("third time lucky"))
    async with make_client(server) as llm:
        result = await llm.chat(USER, model=MODEL_ID)
    assert result.text == "third time lucky"
    assert len(server.requests) == 3
    assert result.usage.calls == 1


@pytest.mark.anyio
async def test_retries_are_bounded(server: FakeOpenAI) -> None:
    server.script(*[Error(503, "unavailable")] * 3)
    async with make_client(server, retries=2) as llm:
        with pytest.raises(LLMError) as info:
            await llm.chat(USER, model=MODEL_ID)
    assert len(server.requests) == 3
    assert info.value.status == 503
    assert info.value.attempts == 3
    assert "after 3 attempt(s)" in str(info.value)


@pytest.mark.anyio
async def test_401_fails_at_once_without_leaking_the_key(server: FakeOpenAI) -> None:
    server.script(Error(401, f"Incorrect API key provided: {API_KEY}"), Text("never used"))
    async with make_client(server) as llm:
        with pytest.raises(LLMError) as info:
            await llm.chat(USER, model=MODEL_ID)
    assert len(server.requests) == 1
    assert server.pending == 1
    assert info.value.status == 401
    assert "401" in str(info.value)
    assert "Incorrect API key provided" in str(info.value)
    assert API_KEY not in str(info.value)
    assert API_KEY not in "".join(traceback.format_exception(info.value))


@pytest.mark.anyio
async def test_400_unrelated_to_response_format_is_not_retried(server: FakeOpenAI) -> None:
    server.script(Error(400, "context length exceeded"), Text("never used"))
    async with make_client(server) as llm:
        with pytest.raises(LLMError, match="400: context length exceeded"):
            await llm.chat(USER, model=MODEL_ID, json_schema={"type": "object"})
    assert len(server.requests) == 1
    assert llm.refused(MODEL_ID) == set()


@pytest.mark.anyio
async def test_malformed_stream_is_retried(server: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    server.script(Malformed(), Text("clean"))
    with caplog.at_level(logging.WARNING, logger="jira2robot.llm"):
        async with make_client(server) as llm:
            result = await llm.chat(USER, model=MODEL_ID)
    assert result.text == "clean"
    assert len(server.requests) == 2
    assert "malformed stream" in caplog.text


@pytest.mark.anyio
async def test_connection_refused_is_retried_then_reported() -> None:
    with FakeOpenAI() as fake:
        base_url = fake.base_url
    async with OpenAIChat(base_url=base_url, api_key=API_KEY, retries=1, retry_base_delay=0.01) as llm:
        with pytest.raises(LLMError, match=r"after 2 attempt\(s\): connection error"):
            await llm.chat(USER, model=MODEL_ID)


@pytest.mark.anyio
async def test_slow_call_times_out_and_is_retried() -> None:
    with FakeOpenAI(latency=0.6) as fake:
        fake.script(Text("too late"), Text("too late"))
        async with OpenAIChat(
            base_url=fake.base_url, api_key=API_KEY, timeout=0.2, retries=1, retry_base_delay=0.01
        ) as llm:
            with pytest.raises(LLMError, match=r"timeout after 0\.2s"):
                await llm.chat(USER, model=MODEL_ID)
        assert len(fake.requests) == 2


# --------------------------------------------------------------------------- deadlines and truncated answers


@pytest.mark.anyio
async def test_server_that_never_answers_costs_the_stall_timeout_per_attempt(server: FakeOpenAI) -> None:
    server.script(Hang(), Hang())
    async with make_client(server, retries=1, stall_timeout=0.3) as llm:
        with pytest.raises(LLMError, match=r"after 2 attempt\(s\): stalled: no response for 0\.3s"):
            await llm.chat(USER, model=MODEL_ID)
    server.release()
    assert len(server.requests) == 2


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose accept queue is full: a new connection hangs in its handshake."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
    yield port
    for sock in (*fillers, listener):
        sock.close()


@pytest.mark.anyio
async def test_connect_timeout_bounds_a_connection_that_never_opens(full_backlog_port: int) -> None:
    base_url = f"http://127.0.0.1:{full_backlog_port}/v1"
    breaker = Breaker("LLM")
    options = {"retries": 0, "connect_timeout": 0.3, "stall_timeout": 600.0, "breaker": breaker}
    async with OpenAIChat(base_url=base_url, api_key=API_KEY, **options) as llm:  # type: ignore[arg-type]
        with pytest.raises(LLMError, match=r"after 1 attempt\(s\): timeout \(ConnectTimeout\)"):
            await llm.chat(USER, model=MODEL_ID)
    assert breaker.failures == 1


@pytest.mark.parametrize(
    ("how", "what"),
    [
        ("stall", "stalled: no streamed chunk for 0.3s"),
        ("abort", "peer closed connection without sending complete message body"),
        ("close", "stream ended without a finish_reason"),
        ("length", "answer cut off by the token limit (finish_reason=length)"),
    ],
)
@pytest.mark.anyio
async def test_an_answer_cut_part_way_is_retried_never_returned(
    server: FakeOpenAI, caplog: pytest.LogCaptureFixture, how: str, what: str
) -> None:
    server.script(Cut("*** Test Cases ***\nHalf a te", how), Text("the whole answer"))  # type: ignore[arg-type]
    streamed: list[str] = []
    with caplog.at_level(logging.WARNING, logger="jira2robot.llm"):
        async with make_client(server, stall_timeout=0.3) as llm:
            result = await llm.chat(USER, model=MODEL_ID, on_text=streamed.append)
    server.release()
    assert result.text == "the whole answer"
    assert result.finish_reason == "stop"
    assert len(server.requests) == 2
    assert what in caplog.text
    assert "Half a te" in "".join(streamed)  # it did stream: the cut was noticed after the fact


@pytest.mark.anyio
async def test_an_answer_always_cut_fails_the_call(server: FakeOpenAI) -> None:
    server.script(Cut("half", "close"), Cut("half", "close"))
    async with make_client(server, retries=1) as llm:
        with pytest.raises(LLMError, match="without a finish_reason"):
            await llm.chat(USER, model=MODEL_ID)


@pytest.mark.anyio
async def test_open_breaker_stops_retries_and_new_calls(server: FakeOpenAI) -> None:
    breaker = Breaker("LLM", threshold=2)
    server.script(Hang(), Hang(), Text("never asked"))
    async with make_client(server, retries=4, stall_timeout=0.2, breaker=breaker) as llm:
        with pytest.raises(LLMError, match=r"LLM endpoint unavailable \(2 consecutive .*stalled"):
            await llm.chat(USER, model=MODEL_ID)
        assert len(server.requests) == 2  # not the 5 attempts the retries allow
        with pytest.raises(LLMError, match="LLM endpoint unavailable"):
            await llm.chat(USER, model=MODEL_ID)
    server.release()
    assert len(server.requests) == 2
    assert server.pending == 1


@pytest.mark.anyio
async def test_a_success_closes_the_breaker_and_rate_limits_do_not_count(server: FakeOpenAI) -> None:
    breaker = Breaker("LLM", threshold=2)
    server.script(Hang(), Text("back"), Error(429, "slow down", retry_after=0), Error(429, "slow down", retry_after=0))
    server.script(Text("fine"))
    async with make_client(server, stall_timeout=0.2, breaker=breaker) as llm:
        assert (await llm.chat(USER, model=MODEL_ID)).text == "back"
        assert breaker.failures == 0
        assert (await llm.chat(USER, model=MODEL_ID)).text == "fine"
    server.release()
    assert not breaker.open


# --------------------------------------------------------------------------- concurrency


async def _two_concurrent_chats(fake: FakeOpenAI, limiter: anyio.CapacityLimiter | None) -> None:
    fake.responder = lambda request: Text("parallel")
    async with (
        OpenAIChat(base_url=fake.base_url, api_key=API_KEY, limiter=limiter) as llm,
        anyio.create_task_group() as group,
    ):
        for _ in range(2):
            group.start_soon(partial(llm.chat, USER, model=MODEL_ID))


@pytest.mark.anyio
async def test_limiter_keeps_calls_from_overlapping() -> None:
    with FakeOpenAI(latency=0.2) as fake:
        await _two_concurrent_chats(fake, anyio.CapacityLimiter(1))
        assert len(fake.requests) == 2
        assert fake.max_concurrent == 1


@pytest.mark.anyio
async def test_without_limiter_calls_overlap() -> None:
    # Proves the server-side measure used above can see overlap at all.
    with FakeOpenAI(latency=0.2) as fake:
        await _two_concurrent_chats(fake, None)
        assert fake.max_concurrent == 2


# --------------------------------------------------------------------------- the fake server itself


@pytest.mark.anyio
async def test_fake_server_non_streaming_and_models_are_openai_compatible(server: FakeOpenAI) -> None:
    server.script(Text("plain"), ToolCalls([("lookup", '{"q": "z"}')]))
    client = AsyncOpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
    try:
        models = await client.models.list()
        text = await client.chat.completions.create(model=MODEL_ID, messages=USER)
        tools = await client.chat.completions.create(model=MODEL_ID, messages=USER)
    finally:
        await client.close()
    assert [m.id for m in models.data] == [MODEL_ID]
    assert text.choices[0].message.content == "plain"
    assert text.usage is not None and text.usage.completion_tokens == 1
    call = tools.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "z"})


@pytest.mark.anyio
async def test_fake_server_answers_500_when_the_script_is_exhausted(server: FakeOpenAI) -> None:
    async with make_client(server, retries=0) as llm:
        with pytest.raises(LLMError, match="no scripted reply left"):
            await llm.chat(USER, model=MODEL_ID)


# --------------------------------------------------------------------------- request fields and server kinds


@pytest.mark.anyio
async def test_temperature_none_is_not_sent_and_model_fields_override_it(server: FakeOpenAI) -> None:
    server.script(Text("a"), Text("b"))
    fields = {"gpt-5": {"temperature": None, "reasoning_effort": "low", "top_k": 20}}
    async with make_client(server, temperature=0.3, model_fields=fields) as llm:
        await llm.chat(USER, model="gpt-5")
        await llm.chat(USER, model="other")
    assert "temperature" not in server.requests[0]
    assert server.requests[0]["reasoning_effort"] == "low" and server.requests[0]["top_k"] == 20
    assert server.requests[1]["temperature"] == 0.3 and "reasoning_effort" not in server.requests[1]


@pytest.mark.anyio
async def test_a_field_refused_again_after_adaptation_is_a_clear_failure_not_a_loop(server: FakeOpenAI) -> None:
    refusal = Error(400, "Unsupported value: 'temperature' …", param="temperature", code="unsupported_value")
    server.script(refusal, refusal, Text("never used"))
    async with make_client(server) as llm:
        with pytest.raises(LLMError, match=r"400: Unsupported value: 'temperature' … \(param temperature"):
            await llm.chat(USER, model=MODEL_ID)
    assert len(server.requests) == 2 and "temperature" not in server.requests[1]
    assert llm.refused(MODEL_ID) == {"temperature"}


@pytest.mark.anyio
async def test_a_generic_unsupported_message_drops_nothing(server: FakeOpenAI) -> None:
    # "Unsupported" is in refusals of anything: only a field the server names is dropped.
    server.script(Error(400, "Unsupported value: this model does not support streaming for this account"))
    async with make_client(server) as llm:
        with pytest.raises(LLMError, match="does not support streaming"):
            await llm.chat(USER, model=MODEL_ID, json_schema={"type": "object"})
    assert len(server.requests) == 1 and llm.refused(MODEL_ID) == set()


@pytest.mark.anyio
async def test_a_proxy_answering_plain_text_is_quoted() -> None:
    with FakeOpenAI(profile=Gateway()) as fake:
        message = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
        fake.script(Error(503, message), Error(503, message))
        async with OpenAIChat(base_url=fake.base_url, api_key=API_KEY, retries=1, retry_base_delay=0.01) as llm:
            with pytest.raises(LLMError, match=r"after 2 attempt\(s\): 503: upstream connect error or disconnect"):
                await llm.chat(USER, model=MODEL_ID)


@pytest.mark.anyio
async def test_usage_under_x_groq_on_the_last_chunk_is_counted_not_estimated() -> None:
    groq = Groq()
    with FakeOpenAI(profile=groq) as fake:
        fake.script(Text("*** Test Cases ***\nA test\n    Log    hello"))
        async with OpenAIChat(base_url=fake.base_url, api_key=API_KEY) as llm:
            result = await llm.chat(USER, model=MODEL_ID)
    sent = groq.sent[0]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (
        sent["prompt_tokens"],
        sent["completion_tokens"],
    )
