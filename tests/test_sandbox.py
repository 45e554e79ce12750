"""The scrubbed environment handed to every process that runs the repository's code."""

from generator.safety.sandbox import is_secret_name, scrubbed_env


def test_secret_names_are_dropped_and_ordinary_ones_kept():
    base = {
        "GITLAB_TOKEN": "glpat-1",
        "CI_JOB_JWT_V2": "jwt",
        "MY_SERVICE_PASSWORD": "pw",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "PATH": "/usr/bin",
        "CI_PROJECT_DIR": "/builds/x",
    }
    env = scrubbed_env(base=base)
    assert env == {"PATH": "/usr/bin", "CI_PROJECT_DIR": "/builds/x"}


def test_allow_list_keeps_a_named_variable_but_never_a_configured_secret():
    base = {"ROBOT_API_TOKEN": "repo-own", "GITLAB_TOKEN": "s3cr3t-value", "HARMLESS": "s3cr3t-value"}
    env = scrubbed_env(["s3cr3t-value"], allow=["robot_api_token", "GITLAB_TOKEN"], base=base)
    assert env == {"ROBOT_API_TOKEN": "repo-own"}


def test_a_configured_secret_embedded_in_another_value_is_dropped():
    env = scrubbed_env(["tok-123456789"], base={"JIRA_URL": "https://u:tok-123456789@jira", "HOME": "/root"})
    assert env == {"HOME": "/root"}


def test_is_secret_name_is_case_insensitive():
    assert is_secret_name("gitlab_token")
    assert not is_secret_name("ROBOT_OPTIONS")
