"""A ticket through the CLI against each model server kind teams run (tests/servers/model_servers.py):
real HTTP, the real MCP server, real `robot --dryrun`; the emulation refuses, streams and answers
errors the way that server does. Each ends `created` with every planned test in the file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.cli import main
from tests.servers.fake_openai import Error, FakeOpenAI, Text, ToolCalls
from tests.servers.model_servers import PROFILES, VLLM, Anthropic, Azure, DeepSeek, Gemini, Ollama, OpenAIReasoning
from tests.servers.stream_shapes import Profile

pytestmark = pytest.mark.usefixtures("clean_env")
TARGET = "tests/login/qa-101_login_lockout.robot"
API_KEY = "sk-model-servers-secret-0123456789"
TESTS = ("Account Is Locked After Three Failures", "Failed Login Is Counted For Bob")

ROBOT = f"""\
*** Settings ***
Documentation       QA-101: Lock the account after 3 failed logins
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
{TESTS[0]}
    [Documentation]    Three wrong passwords lock the account.
    [Tags]    QA-101    login
    Given The user "alice" has an account
    When Login Should Fail With Message    alice    wrong    Invalid username or password
    Then Failed Login Count Of "alice" Should Be "1"

{TESTS[1]}
    [Documentation]    A wrong password is counted.
    [Tags]    QA-101    login
    Given The user "bob" has an account
    When Login Should Fail With Message    bob    wrong    Invalid username or password
    Then Failed Login Count Of "bob" Should Be "1"
"""


def spec() -> str:
    cases = [
        {"name": name, "covers": [f"Scenario {n}"], "tags": ["QA-101", "login"],
         "steps": [f'Given the user "{user}" has an account', f'Then the account "{user}" is locked']}
        for n, (name, user) in enumerate(zip(TESTS, ("alice", "bob"), strict=True), 1)
    ]  # fmt: skip
    return json.dumps(
        {
            "meta": {"jira_key": "QA-101", "title": "Lock the account after 3 failed logins"},
            "confluence": {"sources": [], "rules": []},
            "rf": {"target_path": TARGET, "test_cases": cases},
            "writer_constraints": {"must_read_files": []},
        }
    )


LOOKUP = ("find_keywords", json.dumps({"step": 'Given the user "alice" has an account'}))


def run(server: FakeOpenAI, atlassian: Any, repo: Path, out: Path, config: str = "", **env: str) -> dict[str, Any]:
    if config:
        with (repo / ".jira2robot.yml").open("a") as file:
            file.write("\n" + config)
    os.environ.update({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": API_KEY, "JIRA_MCP_URL": atlassian.url})
    os.environ.update(env)
    main(["run", "--keys", "QA-101", "--repo", str(repo), "--output-dir", str(out), "--publish", "local"])
    return json.loads((out / "report.json").read_text())["tickets"][0]


def assert_created_with_every_test(entry: dict[str, Any], repo: Path) -> None:
    assert entry["status"] == "created", entry
    written = (repo / TARGET).read_text()
    assert all(name in written for name in TESTS), written


@pytest.fixture
def serve() -> Iterator[Callable[[Profile], FakeOpenAI]]:
    servers: list[FakeOpenAI] = []

    def start(profile: Profile) -> FakeOpenAI:
        servers.append(FakeOpenAI(profile=profile).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_openai_reasoning_model_gets_no_temperature_and_max_completion_tokens(serve, atlassian, sample_repo, tmp_path):
    server = serve(OpenAIReasoning())
    server.script(Text(spec()), Text(ROBOT))
    config = "models:\n  gpt-5:\n    reasoning_effort: low\n    max_tokens: 16000\n"
    entry = run(server, atlassian, sample_repo, tmp_path / "out", config, OPENAI_MODEL_PLANNER="gpt-5",
                OPENAI_MODEL_WRITER="gpt-5")  # fmt: skip
    assert_created_with_every_test(entry, sample_repo)
    first, second, planner, writer = server.requests
    assert first["temperature"] == 0.1 and "temperature" not in second  # refused once, then never sent
    assert second["max_tokens"] == 16000 and "max_tokens" not in planner
    assert planner["max_completion_tokens"] == 16000 and planner["reasoning_effort"] == "low"
    assert "response_format" in planner  # not mistaken for the refused field
    assert "temperature" not in writer and writer["max_completion_tokens"] == 16000


def test_azure_content_filter_is_never_a_complete_answer(serve, atlassian, sample_repo, tmp_path):
    server = serve(Azure())
    half = ROBOT[: ROBOT.index(TESTS[1])]
    server.script(Text(spec()), Text(half, finish="content_filter"), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert_created_with_every_test(entry, sample_repo)
    assert len(server.requests) == 3
    assert server.base_url.endswith("/openai/v1") and server.headers[0]["authorization"] == f"Bearer {API_KEY}"


def test_azure_content_filter_every_time_fails_the_ticket_saying_so(serve, atlassian, sample_repo, tmp_path):
    server = serve(Azure())
    server.script(Text(spec()), *[Text("*** Test Cases ***", finish="content_filter")] * 3)
    entry = run(server, atlassian, sample_repo, tmp_path / "out", "limits:\n  llm_retries: 2\n")
    assert entry["status"] == "failed"
    assert "content filter (finish_reason=content_filter)" in entry["reason"]
    assert not (sample_repo / TARGET).exists()


@pytest.mark.parametrize(
    "profile", [VLLM(), Ollama()], ids=["vllm-without-auto-tool-choice", "ollama-model-without-tools"]
)
def test_server_refusing_tools_gets_a_writer_without_tools(serve, atlassian, sample_repo, tmp_path, caplog, profile):
    server = serve(profile)
    server.script(Text(spec(), reasoning="The ticket is about lockout."), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert_created_with_every_test(entry, sample_repo)
    refused, retried = server.requests[1:]
    assert refused["tools"] and "tools" not in retried and "tool_choice" not in retried
    assert "refused tools for model magistral-2509" in caplog.text  # the job log says why


def test_writer_tools_false_sends_no_tools_and_no_tool_rule(serve, atlassian, sample_repo, tmp_path):
    server = serve(VLLM())
    server.script(Text(spec()), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out", "writer_tools: false\n")
    assert_created_with_every_test(entry, sample_repo)
    assert len(server.requests) == 2 and "tools" not in server.requests[1]
    assert "read-only tools" not in server.requests[1]["messages"][0]["content"]


def test_deepseek_thinking_gets_its_reasoning_back_on_tool_call_turns(serve, atlassian, sample_repo, tmp_path):
    server = serve(DeepSeek())
    thinking = "I should check the login keywords first."
    server.script(Text(spec(), reasoning="Plan two tests."), ToolCalls([LOOKUP], reasoning=thinking), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert_created_with_every_test(entry, sample_repo)
    refused_format, planner, _, answer = server.requests
    assert "response_format" in refused_format and "response_format" not in planner
    turn = next(m for m in answer["messages"] if m.get("tool_calls"))
    assert turn["reasoning_content"] == thinking


def test_gemini_tool_calls_keep_their_thought_signature(serve, atlassian, sample_repo, tmp_path):
    server = serve(Gemini())
    server.script(Text(spec()), ToolCalls([LOOKUP, ("list_dir", '{"path": "tests"}')]), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert_created_with_every_test(entry, sample_repo)
    calls = next(m for m in server.requests[2]["messages"] if m.get("tool_calls"))["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["find_keywords", "list_dir"]  # no index: two calls, not one
    assert all(c["extra_content"]["google"]["thought_signature"].startswith("sig-") for c in calls)


def test_anthropic_ignores_response_format_and_the_json_is_found_in_prose(serve, atlassian, sample_repo, tmp_path):
    server = serve(Anthropic())
    server.script(Text(f"Here is the spec you asked for.\n\n```json\n{spec()}\n```\nTell me if…"), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert_created_with_every_test(entry, sample_repo)


def test_keep_alive_comments_after_event_ids_are_not_a_broken_stream(serve, atlassian, sample_repo, tmp_path):
    server = serve(PROFILES["sse-gateway"]())
    server.script(Text(spec()), Text(ROBOT))
    entry = run(server, atlassian, sample_repo, tmp_path / "out", "limits:\n  llm_retries: 0\n")
    assert_created_with_every_test(entry, sample_repo)
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (Gemini(), "API key not valid. Please pass a valid API key."),
        (VLLM(), "The model `gpt-x` does not exist."),
        (Anthropic(), "prompt is too long: 250000 tokens > 200000 maximum"),
        (Ollama(), 'model "llama9" not found, try pulling it first'),
    ],
    ids=["gemini-list-body", "vllm-top-level-body", "anthropic-envelope", "ollama"],
)
def test_refusals_say_what_the_server_said_in_report_and_log(
    serve, atlassian, sample_repo, tmp_path, capsys, profile, message
):
    server = serve(profile)
    server.script(Error(400, f"{message} (key {API_KEY})"))
    entry = run(server, atlassian, sample_repo, tmp_path / "out")
    assert entry["status"] == "failed"
    assert message in entry["reason"] and "Error code" not in entry["reason"]
    logs = capsys.readouterr()
    assert message in logs.out + logs.err
    assert API_KEY not in json.dumps(entry) + logs.out + logs.err
