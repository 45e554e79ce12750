"""A ticket through the real LiteLLM proxy (its own venv, tests/servers/litellm_process.py) in front of
emulated model servers: a real server implementation translates the requests, the errors and the
stream in every CI run. Without the proxy these tests skip, except under CI, where they fail."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.servers.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.servers.litellm_process import LiteLLMProxy, require
from tests.servers.model_servers import VLLM, DeepSeek
from tests.test_model_servers import LOOKUP, ROBOT, TARGET, assert_created_with_every_test, run, spec

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LiteLLMProxy, dict[str, FakeOpenAI]]]:
    """One proxy, two deployments: LiteLLM's own vLLM provider, and DeepSeek as an OpenAI-compatible one."""
    require()
    backends = {
        "qwen-vllm": FakeOpenAI(profile=VLLM()).start(),
        "deepseek-reasoner": FakeOpenAI(profile=DeepSeek()).start(),
    }
    models = {"qwen-vllm": ("hosted_vllm/qwen", backends["qwen-vllm"].base_url),
              "deepseek-reasoner": ("openai/deepseek-reasoner", backends["deepseek-reasoner"].base_url)}  # fmt: skip
    try:
        with LiteLLMProxy(models) as proxy:
            yield proxy, backends
    finally:
        for backend in backends.values():
            backend.stop()


def through(
    served: tuple[LiteLLMProxy, dict[str, FakeOpenAI]], model: str
) -> tuple[LiteLLMProxy, FakeOpenAI, dict[str, str]]:
    proxy, backends = served
    backend = backends[model]
    backend.reset()
    env = {"OPENAI_BASE_URL": proxy.url, "OPENAI_API_KEY": proxy.key, "OPENAI_MODEL_PLANNER": model,
           "OPENAI_MODEL_WRITER": model}  # fmt: skip
    return proxy, backend, env


def test_vllm_behind_litellm_refusing_tools_gets_a_writer_without_tools(
    served, atlassian, sample_repo, tmp_path, caplog
):
    proxy, backend, env = through(served, "qwen-vllm")
    backend.script(Text(spec()), Text(ROBOT))
    entry = run(backend, atlassian, sample_repo, tmp_path / "out", **env)
    assert_created_with_every_test(entry, sample_repo)
    assert "refused tools for model qwen-vllm" in caplog.text
    assert "tools" in backend.requests[1] and "tools" not in backend.requests[2]
    assert proxy.key not in json.dumps(entry) + caplog.text


def test_deepseek_behind_litellm_gets_its_reasoning_back(served, atlassian, sample_repo, tmp_path):
    _, backend, env = through(served, "deepseek-reasoner")
    thinking = "Check the login keywords."
    backend.script(Text(spec()), ToolCalls([LOOKUP], reasoning=thinking), Text(ROBOT))
    entry = run(backend, atlassian, sample_repo, tmp_path / "out", **env)
    assert_created_with_every_test(entry, sample_repo)
    turn = next(m for m in backend.requests[-1]["messages"] if m.get("tool_calls"))
    assert turn["reasoning_content"] == thinking
    assert (sample_repo / TARGET).is_file()
