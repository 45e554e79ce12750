"""Emulations of the model servers teams run, one `Profile` each, for the scripted server.

Every behaviour is written from the server's documentation or a public issue thread quoting
what the real server sent; the source is beside it. Nothing here is shaped from what
jira2robot's client expects: where a server is awkward, the emulation is awkward the same way.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.servers.replies import Error
from tests.servers.stream_shapes import Profile, StreamContext, retry_after, sse


class OpenAIReasoning(Profile):
    """OpenAI gpt-5 / o-series on Chat Completions."""

    name = "openai-reasoning"

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            # Only the default temperature: gabrii/Cursor-Azure-GPT-5#33, OpenHands/OpenHands#4131,
            # owndev/Open-WebUI-Functions#98 (body with param and code, as quoted there).
            return Error(
                400,
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )
        if "max_tokens" in body:
            # griptape-ai/ComfyUI-Griptape#312, ITSpecialist111/ai_automation_suggester#38.
            return Error(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )
        return None


class Azure(Profile):
    """Azure OpenAI, v1 URL (`https://<resource>.openai.azure.com/openai/v1/`), content filter on."""

    name = "azure"
    # The v1 API lives under /openai/v1/ (learn.microsoft.com, azure ai-foundry openai api-version-lifecycle).
    base_path = "/openai/v1"

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        # The v1 API takes the key as `api-key` or as a bearer token (learn.microsoft.com,
        # azure/ai-foundry/openai/api-version-lifecycle, "API evolution": OpenAI() client with base_url).
        if not headers.get("api-key") and not headers.get("authorization", "").startswith("Bearer "):
            return Error(401, "Access denied due to invalid subscription key or wrong API endpoint.", code="401")
        return None

    def opening(self, ctx: StreamContext) -> list[str]:
        # First chunk: no choices, only the prompt's filter results, empty id and model
        # (AbanteAI/archive-old-cli-mentat#429, pydantic/pydantic-ai#797).
        prompt_filter = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                         "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _SAFE}]}  # fmt: skip
        return [sse(prompt_filter), *super().opening(ctx)]

    def content_chunk(self, ctx: StreamContext, piece: str) -> str:
        # Every content chunk carries its filter results (rksm/org-ai#90).
        choice = {"index": 0, "finish_reason": None, "delta": {"content": piece}, "content_filter_results": _SAFE}
        return sse(ctx.payload([choice]))

    def closing(self, ctx: StreamContext, finish: str, generated: str, send_usage: bool) -> list[str]:
        # A filtered answer ends with finish_reason "content_filter" (learn.microsoft.com, azure
        # ai-foundry openai concepts/content-filter, "Streaming"); an annotation chunk whose choice
        # has no delta comes before the end (langchain-ai/langchain#18977, microsoft/autogen#6465).
        filtered = {**_SAFE, "violence": {"filtered": finish == "content_filter", "severity": "medium"}}
        annotation = {"index": 0, "finish_reason": None, "content_filter_results": filtered,
                      "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": len(generated)}}  # fmt: skip
        events = [sse({"id": "", "object": "", "created": 0, "model": "", "choices": [annotation]})]
        return events + super().closing(ctx, finish, generated, send_usage)


_SAFE = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}


class VLLM(Profile):
    """vLLM's OpenAI-compatible server (`vllm serve`)."""

    name = "vllm"

    def __init__(self, *, auto_tool_choice: bool = False, reasoning_parser: bool = False) -> None:
        self.auto_tool_choice = auto_tool_choice
        # With --reasoning-parser the thinking streams as `reasoning_content` (QwenLM/Qwen-Agent#843).
        self.reasoning_field = "reasoning_content" if reasoning_parser else None

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        # Tools without --enable-auto-tool-choice (off by default): "auto" is the default tool_choice
        # once tools are given (vllm-project/vllm#12834), and is refused (vllm-project/vllm#9986,
        # the check quoted in vllm-project/vllm#30613).
        if body.get("tools") and body.get("tool_choice", "auto") == "auto" and not self.auto_tool_choice:
            return Error(400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set')
        return None

    def error_response(self, error: Error) -> Response:
        # Fields at the top level, `object: error`, numeric code (langchain4j/langchain4j#3475, ogx-ai/ogx#1185).
        body = {"object": "error", "message": error.message, "type": "BadRequestError" if error.status == 400
                else "InternalServerError", "param": error.param, "code": error.status}  # fmt: skip
        return JSONResponse(body, status_code=error.status, headers=retry_after(error))


class Ollama(Profile):
    """Ollama's OpenAI compatibility (`/v1/chat/completions`)."""

    name = "ollama"
    # Thinking models stream `delta.reasoning`, never `reasoning_content` (dirac-run/dirac#227,
    # raw SSE from Ollama 0.34.2; QwenLM/Qwen-Agent#792).
    reasoning_field = "reasoning"

    def __init__(self, *, model_tools: bool = False) -> None:
        self.model_tools = model_tools

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        # A model whose template has no tools (deepseek-r1:latest among them): ollama/ollama#6027,
        # heshengtao/super-agent-party#142 (body as quoted), kenlasko/monize#405.
        if body.get("tools") and not self.model_tools:
            return Error(400, f"registry.ollama.ai/library/{body.get('model')}:latest does not support tools")
        return None

    def error_response(self, error: Error) -> Response:
        # {"error": {"message", "type": "api_error", "param": null, "code": null}} (ollama/ollama#6027).
        body = {"error": {"message": error.message, "type": "api_error", "param": None, "code": None}}
        return JSONResponse(body, status_code=error.status, headers=retry_after(error))


class DeepSeek(Profile):
    """DeepSeek's API in thinking mode (deepseek-reasoner, V3.2+/V4 with thinking on)."""

    name = "deepseek"
    # api-docs.deepseek.com/guides/thinking_mode: the thinking streams as `reasoning_content`.
    reasoning_field = "reasoning_content"

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        format_type = (body.get("response_format") or {}).get("type")
        if format_type not in (None, "text", "json_object"):
            # Only text and json_object: llm-exe/llm-exe#662, UKGovernmentBEIS/inspect_ai#4916.
            return Error(400, "This response_format type is unavailable now", code="invalid_request_error")
        for index, message in enumerate(body.get("messages", [])):
            if message.get("role") == "assistant" and message.get("tool_calls") and "reasoning_content" not in message:
                # A tool-call turn must carry its reasoning back (thinking_mode#tool-calls; the 400
                # as quoted in hotovo/aider-desk#529 and continuedev/continue#9831).
                return Error(
                    400,
                    f"Missing `reasoning_content` field in the assistant message at message index {index}. "
                    "For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
                    code="invalid_request_error",
                )
        return None


class Gemini(Profile):
    """Gemini's OpenAI compatibility (`https://generativelanguage.googleapis.com/v1beta/openai/`), Gemini 3."""

    name = "gemini"

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        for position, message in enumerate(body.get("messages", []), 1):
            for call in message.get("tool_calls") or []:
                signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
                if not signature:
                    # ai.google.dev/gemini-api/docs/thought-signatures ("you must pass back thought
                    # signatures during function calling"); message as quoted in
                    # discuss.ai.google.dev/t/109823 and theopenco/llmgateway#1267.
                    name = call.get("function", {}).get("name")
                    return Error(
                        400,
                        "Function call is missing a thought_signature in functionCall parts. This is required for "
                        "tools to work correctly, and missing thought_signature may lead to degraded model "
                        f"performance. Additional data, function call `default_api:{name}` , position {position}. "
                        "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                    )
        return None

    def error_response(self, error: Error) -> Response:
        # A JSON list of error objects (discuss.ai.google.dev/t/109823, securo-finance/securo#884).
        status = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}.get(error.status, "INTERNAL")
        body = [{"error": {"code": error.status, "message": error.message, "status": status}}]
        return JSONResponse(body, status_code=error.status, headers=retry_after(error))

    def tool_call_deltas(
        self, index: int, call_id: str, name: str, arguments: str, split: bool
    ) -> list[dict[str, Any]]:
        # Each call whole in one delta, no `index`, the signature in `extra_content`
        # (THU-MAIC/OpenMAIC#1556, measured chunk; open-webui/computer#224).
        return [{"extra_content": {"google": {"thought_signature": f"sig-{call_id}-AY89a18IwQsQ8in"}},
                 "function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}]  # fmt: skip

    def closing(self, ctx: StreamContext, finish: str, generated: str, send_usage: bool) -> list[str]:
        # A tool-call turn ends with finish_reason "stop", not "tool_calls" (open-webui/computer#224).
        return super().closing(ctx, "stop" if finish == "tool_calls" else finish, generated, send_usage)


class Anthropic(Profile):
    """Anthropic's OpenAI SDK compatibility (`https://api.anthropic.com/v1/`)."""

    name = "anthropic"

    def refuse(self, body: dict[str, Any], headers: dict[str, str]) -> Error | None:
        # platform.claude.com/docs/en/api/openai-sdk: `n` must be exactly 1; response_format,
        # reasoning_effort and `strict` are ignored (nothing refused, nothing enforced).
        if body.get("n", 1) != 1:
            return Error(400, "n: only n=1 is supported")
        return None

    def error_response(self, error: Error) -> Response:
        # Anthropic's error envelope: {"type": "error", "error": {"type", "message"}} (docs.anthropic.com/en/api/errors).
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                529: "overloaded_error"}.get(error.status, "api_error")  # fmt: skip
        body = {"type": "error", "error": {"type": kind, "message": error.message}}
        return JSONResponse(body, status_code=error.status, headers=retry_after(error))


class Groq(Profile):
    """Groq's OpenAI compatibility: usage under `x_groq` on the last chunk, no usage chunk of its own
    (vercel/ai#1651, the chunk as quoted there). Token counts are its tokenizer's, not characters/4:
    here, words."""

    name = "groq"

    def __init__(self) -> None:
        self.sent: list[dict[str, int]] = []

    def closing(self, ctx: StreamContext, finish: str, generated: str, send_usage: bool) -> list[str]:
        ctx.usage_for(generated)  # the scripted server's statistics
        prompt = len(json.dumps(ctx.body.get("messages", [])).split())
        usage = {"queue_time": 0.07, "prompt_tokens": prompt, "prompt_time": 0.006,
                 "completion_tokens": len(generated.split()), "total_tokens": prompt + len(generated.split())}  # fmt: skip
        self.sent.append(usage)
        choice = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}
        return [sse(ctx.payload([choice], x_groq={"id": "req_01hy8ppkajfqk987jv2vx88m9r", "usage": usage}))]


class Gateway(Profile):
    """An SSE gateway in front of a model server: an `id:` on every event, `: ping` keep-alive
    comments while the model works, a `retry:` directive (theopenco/llmgateway#1541 and #2334,
    openai/openai-python#3833). The `openai` SDK's decoder turns a comment after an `id:` into an
    empty event and fails on it (openai/openai-python#2722)."""

    name = "sse-gateway"

    def error_response(self, error: Error) -> Response:
        # A proxy whose upstream is down answers its own plain text, not JSON (Envoy's
        # "upstream connect error …" as text/plain 503, knative-extensions/net-contour#237; vllm-project/aibrix#1103).
        return PlainTextResponse(error.message, status_code=error.status, headers=retry_after(error))

    async def events(self, ctx: StreamContext, reply: Any) -> Any:
        yield "retry: 3000\n\n"
        number = 0
        async for event in super().events(ctx, reply):
            number += 1
            yield f"id: {number}\n{event}: ping\n\n"


#: Every emulated server kind, by name (the compatibility table in docs/model-servers.md).
PROFILES: dict[str, type[Profile]] = {
    profile.name: profile
    for profile in (OpenAIReasoning, Azure, VLLM, Ollama, DeepSeek, Gemini, Anthropic, Groq, Gateway)
}
