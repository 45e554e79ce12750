"""End to end through the CLI: real MCP server, real OpenAI-compatible server, real robot --dryrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main
from generator.validate.lint import RepoLint
from tests.conftest import TICKETS, offline_args, without_provenance
from tests.servers.fake_openai import Error, Malformed, Text, ToolCalls

GOOD_PATH = "tests/login/qa-101_login_lockout.robot"

GOOD_ROBOT = """\
*** Settings ***
Documentation       QA-101: Lock the account after 3 failed logins
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
Account Is Locked After Three Failures
    [Documentation]    Three wrong passwords lock the account.
    [Tags]    QA-101    login
    Given The user "alice" has an account
    When Login Should Fail With Message    alice    wrong    Invalid username or password
    Then Failed Login Count Of "alice" Should Be "1"
"""

HALLUCINATED = GOOD_ROBOT.replace("When Login Should Fail With Message", "When Enter Wrong Password For")


def spec_json(key: str = "QA-101", target: str = GOOD_PATH) -> str:
    return json.dumps(
        {
            "meta": {"jira_key": key, "title": "Lock the account after 3 failed logins"},
            "confluence": {"sources": [], "rules": ["Tag every test with the Jira key"]},
            "rf": {
                "target_path": target,
                "test_cases": [
                    {
                        "name": "Account Is Locked After Three Failures",
                        "covers": ["Scenario: account locked after three failures"],
                        "tags": [key, "login"],
                        "steps": ['Given the user "alice" has an account', 'Then the account "alice" is locked'],
                    }
                ],
            },
            "writer_constraints": {"must_read_files": ["doc/convention.md"]},
        }
    )


pytestmark = pytest.mark.usefixtures("clean_env")


def run_cli(*args: str) -> int:
    return main(["run", *args])


def report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def llm_args(llm, atlassian, repo: Path, out: Path) -> list[str]:
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    os.environ["OPENAI_API_KEY"] = "sk-test-secret-value"
    os.environ["JIRA_MCP_URL"] = atlassian.url
    return ["--repo", str(repo), "--output-dir", str(out), "--publish", "local"]


def test_happy_path_two_llm_calls(llm, atlassian, sample_repo, tmp_path, capsys):
    out = tmp_path / "out"
    llm.script(Text("[THINK]The ticket is about lockout.[/THINK]```json\n" + spec_json() + "\n```"), Text(GOOD_ROBOT))
    code = run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out))
    assert code == 0
    data = report(out)
    entry = data["tickets"][0]
    assert entry["status"] == "created", entry
    assert entry["test_path"] == GOOD_PATH
    assert entry["attempts"] == 1
    assert entry["llm"]["calls"] == 2
    assert entry["llm"]["prompt_tokens"] > 0
    # The file written is the model's answer as robocop's formatter writes it, with its provenance.
    formatted = RepoLint(sample_repo, "tests").format(GOOD_ROBOT, GOOD_PATH)
    assert formatted != GOOD_ROBOT
    written = (sample_repo / GOOD_PATH).read_text()
    assert without_provenance(written) == formatted.split() and "Jira Ticket    QA-101" in written
    assert (out / "QA-101" / "spec.json").is_file()
    assert (out / "QA-101" / "qa-101_login_lockout.robot").read_text() == written
    assert "Open Shop Session" not in entry["keywords_used"] or True  # setup keywords are settings, not calls
    assert 'The user "${user}" has an account' in entry["keywords_used"]
    junit = (out / "junit.xml").read_text()
    assert 'name="QA-101"' in junit and "<failure" not in junit
    # The planner saw the ticket and the Confluence page before any LLM call: one request, no tools.
    planner_prompt = json.dumps(llm.requests[0]["messages"])
    assert "Lock the account after 3 failed logins" in planner_prompt
    assert "Test automation architecture" in planner_prompt
    assert "response_format" in llm.requests[0]
    writer_prompt = json.dumps(llm.requests[1]["messages"])
    assert "Login Should Fail With Message" in writer_prompt  # the keyword inventory slice
    logs = capsys.readouterr().out
    assert "sk-test-secret-value" not in logs and "sk-test-secret-value" not in json.dumps(data)
    assert "[QA-101 writer]" in logs  # the stream, line by line, prefixed


def test_hallucinated_keyword_is_repaired(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Text(spec_json()), Text(HALLUCINATED), Text("```robot\n" + GOOD_ROBOT + "```"))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    entry = report(out)["tickets"][0]
    assert entry["status"] == "created"
    assert entry["attempts"] == 2
    assert entry["llm"]["calls"] == 3
    repair_prompt = llm.requests[2]["messages"][-1]["content"]
    assert "Enter Wrong Password For" in repair_prompt
    assert "line 13" in repair_prompt  # the diagnostic points at the hallucinated step


def test_dryrun_never_passing_fails_that_ticket_only(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    wrong = iter(range(100))

    def reply(body: dict) -> Text:
        prompt = json.dumps(body["messages"])
        if "PLANNER" in body["messages"][0]["content"]:
            key = "QA-102" if "QA-102" in prompt else "QA-101"
            target = "tests/cart/qa-102_discount.robot" if key == "QA-102" else GOOD_PATH
            return Text(spec_json(key, target))
        if "Write the file tests/cart/qa-102" in prompt:
            return Text(GOOD_ROBOT.replace("QA-101", "QA-102"))
        # A stubborn writer: a different invented keyword every attempt.
        return Text(HALLUCINATED.replace("Enter Wrong Password For", f"Enter Wrong Password {next(wrong)} For"))

    llm.responder = reply
    code = run_cli("--keys", "QA-101,QA-102", "--concurrency", "1", *llm_args(llm, atlassian, sample_repo, out))
    assert code == 1
    by_key = {t["key"]: t for t in report(out)["tickets"]}
    assert by_key["QA-101"]["status"] == "failed"
    assert by_key["QA-101"]["attempts"] == 3
    assert "dryrun still failing after 3 attempt(s)" in by_key["QA-101"]["reason"]
    assert any("Enter Wrong Password 2 For" in d["message"] for d in by_key["QA-101"]["diagnostics"])
    assert by_key["QA-101"]["diagnostics"][0]["line"] == 13
    assert not (sample_repo / GOOD_PATH).exists()
    assert (tmp_path / "out" / "QA-101" / "qa-101_login_lockout.robot").is_file()  # kept for a human to look at
    assert by_key["QA-102"]["status"] == "created"
    assert "<failure" in (out / "junit.xml").read_text()


def test_writer_repeating_itself_stops_early(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Text(spec_json()), Text(HALLUCINATED), Text(HALLUCINATED))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    entry = report(out)["tickets"][0]
    assert entry["reason"].startswith("writer could not repair the file")
    assert entry["llm"]["calls"] == 3


def test_spec_never_valid(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Text('{"meta": {"jira_key": "QA-101"}}'), Text("no json at all"))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    entry = report(out)["tickets"][0]
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("planner spec never valid")
    assert entry["llm"]["calls"] == 2
    retry = llm.requests[1]["messages"][-1]["content"]
    assert "meta.title" in retry and "rf" in retry  # the validation errors went back to the planner


def test_unsafe_target_path_goes_back_to_planner(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Text(spec_json(target="../../etc/x.robot")), Text(spec_json()), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    assert "rf.target_path" in llm.requests[1]["messages"][-1]["content"]
    assert report(out)["tickets"][0]["test_path"] == GOOD_PATH
    assert not (tmp_path / "etc").exists()


def test_import_not_used_by_repo_is_rejected_then_repaired(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    sneaky = GOOD_ROBOT.replace(
        "Resource            ../../resources/shop.resource",
        "Library    OperatingSystem\nResource            ../../resources/shop.resource",
    )
    llm.script(Text(spec_json()), Text(sneaky), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    entry = report(out)["tickets"][0]
    assert entry["attempts"] == 2
    assert "OperatingSystem" in llm.requests[2]["messages"][-1]["content"]


def test_rate_limit_and_broken_stream_are_retried(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Error(429, "slow down", retry_after=0.05), Text(spec_json()), Malformed(), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    assert len(llm.requests) == 4
    assert report(out)["tickets"][0]["status"] == "created"


def test_ticket_not_found_does_not_stop_others(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"

    def reply(body: dict) -> Text:
        return Text(spec_json()) if "PLANNER" in body["messages"][0]["content"] else Text(GOOD_ROBOT)

    llm.responder = reply
    assert run_cli("--keys", "QA-999,QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    by_key = {t["key"]: t for t in report(out)["tickets"]}
    assert by_key["QA-999"]["status"] == "failed"
    assert "QA-999" in by_key["QA-999"]["reason"] and "not found" in by_key["QA-999"]["reason"]
    assert by_key["QA-101"]["status"] == "created"


def test_mcp_server_down(llm, sample_repo, tmp_path, capsys):
    out = tmp_path / "out"
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    os.environ["JIRA_MCP_URL"] = "http://127.0.0.1:9/mcp"
    assert run_cli("--keys", "QA-101,QA-102", "--repo", str(sample_repo), "--output-dir", str(out)) == 1
    tickets = report(out)["tickets"]
    assert [t["status"] for t in tickets] == ["failed", "failed"]
    assert "cannot connect to the Jira MCP server at http://127.0.0.1:9/mcp" in tickets[0]["reason"]
    assert llm.requests == []


def test_convention_doc_missing(llm, atlassian, sample_repo, tmp_path, capsys):
    """The sample repo configures its document: missing, it is one error at start, not one per ticket."""
    out = tmp_path / "out"
    (sample_repo / "doc" / "convention.md").unlink()
    assert run_cli("--keys", "QA-101,QA-102", *llm_args(llm, atlassian, sample_repo, out)) == 2
    err = capsys.readouterr().err
    assert err.count("convention document doc/convention.md is configured but not found") == 1
    assert not out.exists()
    assert llm.requests == []


def test_per_ticket_token_budget(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    llm.script(Text(spec_json()), Text(GOOD_ROBOT))
    args = llm_args(llm, atlassian, sample_repo, out)
    assert run_cli("--keys", "QA-101", "--max-tokens-per-ticket", "50", *args) == 1
    entry = report(out)["tickets"][0]
    assert "over its token budget" in entry["reason"]
    assert entry["llm"]["calls"] == 1


def test_run_budget_skips_the_rest(llm, atlassian, sample_repo, tmp_path):
    def reply(body: dict) -> Text:
        return Text(spec_json()) if "PLANNER" in body["messages"][0]["content"] else Text(GOOD_ROBOT)

    llm.responder = reply
    # Measure what one ticket costs (the test server's token counts are deterministic)...
    args = llm_args(llm, atlassian, sample_repo, tmp_path / "one")
    assert run_cli("--keys", "QA-101", "--publish", "none", *args[:-2]) == 0
    one = report(tmp_path / "one")["tickets"][0]["llm"]
    cost = one["prompt_tokens"] + one["completion_tokens"]
    # ...then give the run exactly that much: the first ticket finishes, the rest are skipped.
    out = tmp_path / "out"
    args = llm_args(llm, atlassian, sample_repo, out)
    keys = "QA-101,QA-102,QA-103"
    code = run_cli(
        "--keys", keys, "--concurrency", "1", "--max-tokens-per-run", str(cost), "--publish", "none", *args[:-2]
    )
    by_key = {t["key"]: t for t in report(out)["tickets"]}
    assert by_key["QA-101"]["status"] == "created"
    for key in ("QA-102", "QA-103"):
        assert by_key[key]["status"] == "skipped"
        assert "run token budget spent" in by_key[key]["reason"]
        assert by_key[key]["llm"]["calls"] == 0
    assert code == 0


def test_already_covered_by_tag_is_skipped_without_llm(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    assert run_cli("--keys", "QA-1", *llm_args(llm, atlassian, sample_repo, out)) == 0
    entry = report(out)["tickets"][0]
    assert entry["status"] == "skipped"
    assert "tests/login/login_basic.robot" in entry["reason"]
    assert llm.requests == []


def test_offline_subprocess_cli_and_hand_dryrun(sample_repo, tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator",
            "run",
            "--keys",
            "QA-101,QA-102",
            *offline_args(sample_repo, out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = report(out)
    assert {t["status"] for t in data["tickets"]} == {"created"}
    assert "jira2robot summary:" in done.stdout
    for t in data["tickets"]:
        assert t["llm"]["calls"] == 0
        assert t["steps_total"] > 0
    paths = [t["test_path"] for t in data["tickets"]]
    hand = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--dryrun",
            "-v",
            "ENV:demo",
            "--pythonpath",
            "libraries",
            "--output",
            "NONE",
            "--log",
            "NONE",
            "--report",
            "NONE",
            *paths,
        ],
        cwd=sample_repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert hand.returncode == 0, hand.stdout


def test_unknown_config_key_is_exit_2(sample_repo, tmp_path):
    (sample_repo / ".jira2robot.yml").write_text("tests_dir: tests\ntest_dir: oops\nlimits:\n  max_attempts: many\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator",
            "run",
            "--keys",
            "QA-1",
            "--llm",
            "offline",
            "--tickets-dir",
            str(TICKETS),
            "--repo",
            str(sample_repo),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_"))},
    )
    assert done.returncode == 2
    assert "unknown key 'test_dir'" in done.stderr
    assert "limits.max_attempts" in done.stderr  # both problems reported at once
    assert not (tmp_path / "out").exists()


def test_missing_settings_reported_at_once(sample_repo, capsys):
    assert main(["run", "--repo", str(sample_repo)]) == 2
    err = capsys.readouterr().err
    assert "no tickets" in err and "no LLM" in err and "no ticket source" in err


def test_malformed_ticket_file_names_the_file(sample_repo, tmp_path, capsys):
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "QA-1.yaml").write_text("key: QA-1\nsummary: fine\n")
    (tickets / "broken.yaml").write_text("key: [unclosed\n")
    code = run_cli(
        "--keys",
        "QA-1",
        "--llm",
        "offline",
        "--tickets-dir",
        str(tickets),
        "--repo",
        str(sample_repo),
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 2
    assert "broken.yaml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_writer_may_use_read_only_tools(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    lookup = json.dumps({"step": 'When "alice" enters a wrong password'})
    llm.script(
        Text(spec_json()),
        ToolCalls(
            [("find_keywords", lookup), ("read_file", '{"path": "../../etc/passwd"}'), ("read_file", "{bad json")]
        ),
        Text(GOOD_ROBOT),
    )
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    entry = report(out)["tickets"][0]
    assert entry["status"] == "created" and entry["llm"]["calls"] == 3
    tool_messages = [m for m in llm.requests[2]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 3
    assert "suggested_line" in tool_messages[0]["content"]
    assert "outside the repository" in tool_messages[1]["content"]  # confinement, reported to the model
    assert tool_messages[2]["content"].startswith("ERROR")  # malformed arguments, reported to the model


def test_missing_repo_library_is_an_environment_error_not_a_repair_loop(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    common = sample_repo / "resources" / "common.resource"
    common.write_text(
        common.read_text().replace(
            "Library             Collections",
            "Library             Collections\nLibrary             NotInstalledShopDriver",
        )
    )
    llm.script(Text(spec_json()), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    entry = report(out)["tickets"][0]
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("environment error")
    assert "NotInstalledShopDriver" in entry["reason"]
    assert entry["attempts"] == 1 and entry["llm"]["calls"] == 2  # no repair round was wasted on it


def test_ticket_without_acceptance_criteria_fails_clearly_offline(sample_repo, tmp_path):
    out = tmp_path / "out"
    code = run_cli(
        "--keys",
        "QA-105,QA-103",
        *offline_args(sample_repo, out),
    )
    assert code == 1
    by_key = {t["key"]: t for t in report(out)["tickets"]}
    assert by_key["QA-105"]["status"] == "failed"
    assert "QA-105 has no acceptance criteria" in by_key["QA-105"]["reason"]
    assert "acceptance_field" in by_key["QA-105"]["reason"]  # says what to do
    assert by_key["QA-103"]["status"] == "created"


def test_planner_cannot_target_an_existing_hand_written_suite(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    original = (sample_repo / "tests/login/login_basic.robot").read_text()
    llm.script(Text(spec_json(target="tests/login/login_basic.robot")), Text(spec_json()), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    assert "already exists and is not QA-101's file" in llm.requests[1]["messages"][-1]["content"]
    assert report(out)["tickets"][0]["test_path"] == GOOD_PATH
    assert (sample_repo / "tests/login/login_basic.robot").read_text() == original


def test_gitlab_mcp_server_down_fails_tickets_cleanly(llm, atlassian, sample_repo, tmp_path):
    out = tmp_path / "out"
    os.environ["GITLAB_MCP_URL"] = "http://127.0.0.1:9/mcp"
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    entry = report(out)["tickets"][0]
    assert entry["status"] == "failed"
    assert "cannot connect to the GitLab MCP server at http://127.0.0.1:9/mcp" in entry["reason"]
    assert llm.requests == []
