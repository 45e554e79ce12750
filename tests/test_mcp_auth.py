"""How jira2robot authenticates to an Atlassian MCP server: JIRA_MCP_AUTH, JIRA_MCP_USER, JIRA_MCP_HEADERS."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from generator.config.repo_file import ConfigError
from generator.config.settings import build_settings

BASE = {"JIRA_MCP_URL": "http://127.0.0.1:2/mcp", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "JIRA_KEYS": "QA-1"}


def settings(tmp_path: Path, **env: str):
    return build_settings({"repo": str(tmp_path)}, {**BASE, **env}, command="run")


@pytest.mark.parametrize(
    ("env", "header"),
    [
        ({"JIRA_MCP_TOKEN": "pat-1"}, "Bearer pat-1"),  # the default
        ({"JIRA_MCP_TOKEN": "pat-1", "JIRA_MCP_AUTH": "Token"}, "Token pat-1"),
        (
            {"JIRA_MCP_TOKEN": "api-2", "JIRA_MCP_AUTH": "basic", "JIRA_MCP_USER": "qa@shop.example.com"},
            "Basic " + base64.b64encode(b"qa@shop.example.com:api-2").decode(),
        ),
    ],
)
def test_each_scheme_builds_the_header_mcp_atlassian_accepts(tmp_path: Path, env: dict, header: str) -> None:
    assert settings(tmp_path, **env).jira_mcp_http_headers() == {"Authorization": header}


def test_no_token_sends_no_authorization(tmp_path: Path) -> None:
    assert settings(tmp_path).jira_mcp_http_headers() == {}


def test_extra_headers_are_sent_and_masked(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        JIRA_MCP_HEADERS="X-Atlassian-Jira-Url: https://jira.example.com; X-Atlassian-Jira-Personal-Token: pat-3",
    )
    assert s.jira_mcp_http_headers() == {
        "X-Atlassian-Jira-Url": "https://jira.example.com",
        "X-Atlassian-Jira-Personal-Token": "pat-3",
    }
    assert "pat-3" in s.secrets()


def test_bad_auth_settings_are_usage_errors_that_never_echo_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, JIRA_MCP_AUTH="oauth2", JIRA_MCP_HEADERS="secret-token-value")
    text = str(info.value)
    assert "JIRA_MCP_AUTH: expected bearer, token or basic, got 'oauth2'" in text
    assert "JIRA_MCP_HEADERS: item 1 is not a 'Name: value' pair" in text
    assert "secret-token-value" not in text
    with pytest.raises(ConfigError, match=r"JIRA_MCP_AUTH=basic .* needs JIRA_MCP_USER"):
        settings(tmp_path, JIRA_MCP_AUTH="basic", JIRA_MCP_TOKEN="api-2")
