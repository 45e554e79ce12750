"""Settings precedence and validation: every problem named, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.config.repo_file import ConfigError, load_repo_config, split_keys
from generator.config.settings import build_settings

BASE_ENV = {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "JIRA_MCP_URL": "http://127.0.0.1:2/mcp"}


def test_keys_split_on_commas_and_whitespace_dedup_and_upper():
    assert split_keys("qa-1, QA-2\nQA-1  QA-3") == ["QA-1", "QA-2", "QA-3"]


def test_precedence_cli_over_env_over_file(tmp_path: Path):
    (tmp_path / ".jira2robot.yml").write_text("tests_dir: suites\nlimits:\n  max_attempts: 2\n  concurrency: 3\n")
    env = {**BASE_ENV, "JIRA_KEYS": "QA-1", "JIRA2ROBOT_MAX_ATTEMPTS": "4", "JIRA2ROBOT_TESTS_DIR": "env_tests"}
    s = build_settings({"repo": str(tmp_path), "tests_dir": "cli_tests"}, env)
    assert s.repo_config.tests_dir == "cli_tests"
    assert s.repo_config.limits.max_attempts == 4
    assert s.repo_config.limits.concurrency == 3
    assert s.keys == ["QA-1"]
    s = build_settings({"repo": str(tmp_path), "max_attempts": 5, "keys": "QA-9"}, env)
    assert s.repo_config.limits.max_attempts == 5 and s.keys == ["QA-9"]


def test_repo_config_errors_name_the_keys(tmp_path: Path):
    (tmp_path / ".jira2robot.yml").write_text(
        "tests_dir: 3\nlimts: {}\nlimits:\n  max_attempts: many\ntools:\n  jira_get_isue: x\n"
    )
    with pytest.raises(ConfigError) as err:
        load_repo_config(tmp_path)
    text = str(err.value)
    assert "key 'tests_dir'" in text
    assert "unknown key 'limts'" in text
    assert "key 'limits.max_attempts'" in text
    assert "unknown key 'tools.jira_get_isue'" in text


def test_robot_options_string_is_split(tmp_path: Path):
    (tmp_path / ".jira2robot.yml").write_text('robot_options: "-v env:api_b2b --variablefile vars/x.py"\n')
    assert load_repo_config(tmp_path).robot_options == ["-v", "env:api_b2b", "--variablefile", "vars/x.py"]


def test_not_yaml_mapping(tmp_path: Path):
    (tmp_path / ".jira2robot.yml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_repo_config(tmp_path)


def test_missing_everything_reported_together(tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        build_settings({"repo": str(tmp_path), "publish": "gitlab"}, {})
    problems = err.value.problems
    assert any("no tickets" in p for p in problems)
    assert any("no LLM" in p for p in problems)
    assert any("no ticket source" in p for p in problems)
    assert any("CI_SERVER_URL" in p and "GITLAB_TOKEN" in p for p in problems)


@pytest.mark.parametrize("protected", ["true", "false"])
def test_missing_gitlab_token_on_an_unprotected_branch_names_the_protected_variable(tmp_path: Path, protected: str):
    """A protected GITLAB_TOKEN is absent from pipelines of unprotected branches: the error says so
    there, where "needs GITLAB_TOKEN" alone sends people to check a variable that exists."""
    env = {**BASE_ENV, "JIRA_KEYS": "QA-1", "CI_SERVER_URL": "https://gitlab.example.com", "CI_PROJECT_ID": "7"}
    env |= {"CI_COMMIT_REF_PROTECTED": protected, "CI_COMMIT_REF_NAME": "try-jira2robot"}
    with pytest.raises(ConfigError) as err:
        build_settings({"repo": str(tmp_path), "publish": "gitlab"}, env)
    (problem,) = [p for p in err.value.problems if "GITLAB_TOKEN" in p]
    hint = "try-jira2robot is not protected, and a protected CI/CD variable reaches only pipelines of protected"
    assert (hint in problem) is (protected == "false")


def test_bad_keys_and_values(tmp_path: Path):
    env = {
        **BASE_ENV,
        "JIRA_KEYS": "QA-1 nope",
        "JIRA2ROBOT_PUBLISH": "ftp",
        "CI_NODE_INDEX": "3",
        "CI_NODE_TOTAL": "2",
    }
    with pytest.raises(ConfigError) as err:
        build_settings({"repo": str(tmp_path)}, env)
    text = str(err.value)
    assert "NOPE" in text and "ftp" in text and "CI_NODE_INDEX=3" in text


def test_secrets_listed_for_masking(tmp_path: Path):
    env = {**BASE_ENV, "JIRA_KEYS": "QA-1", "OPENAI_API_KEY": "sk-abc", "GITLAB_TOKEN": "glpat-xyz"}
    s = build_settings({"repo": str(tmp_path)}, env)
    assert set(s.secrets()) == {"sk-abc", "glpat-xyz"}
    assert "sk-abc" not in s.model_dump_json()


def test_demo_defaults_to_offline_without_llm_settings(tmp_path: Path):
    s = build_settings({"repo": str(tmp_path)}, {}, command="demo")
    assert s.llm == "offline"
    s = build_settings({"repo": str(tmp_path)}, {"OPENAI_BASE_URL": "http://x/v1"}, command="demo")
    assert s.llm == "openai"


def test_model_request_fields_survive_layering_and_errors_name_the_key(tmp_path: Path):
    (tmp_path / ".jira2robot.yml").write_text(
        "temperature: null\nwriter_tools: false\nmodels:\n  gpt-5:\n    temperature: null\n    reasoning_effort: low\n"
        "  qwen:\n    max_tokens: 4000\n    extra_body: {top_k: 20}\n"
    )
    s = build_settings({"repo": str(tmp_path), "keys": "QA-1"}, BASE_ENV)
    cfg = s.repo_config
    assert cfg.temperature is None and cfg.writer_tools is False
    # An unset temperature stays unset through the layering: only gpt-5 asks for none.
    assert cfg.models["gpt-5"].request_fields() == {"reasoning_effort": "low", "temperature": None}
    assert cfg.models["qwen"].request_fields() == {"top_k": 20, "max_tokens": 4000}
    (tmp_path / ".jira2robot.yml").write_text(
        "writer_tools: sometimes\nmodels:\n  gpt-5:\n    temprature: 1\n    max_tokens: lots\n"
    )
    with pytest.raises(ConfigError) as err:
        load_repo_config(tmp_path)
    text = str(err.value)
    assert "key 'writer_tools'" in text
    assert "unknown key 'models.gpt-5.temprature'" in text
    assert "key 'models.gpt-5.max_tokens'" in text
