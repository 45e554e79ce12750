"""Secrets never leave, untrusted input never picks a path or someone else's file (issue #8, items 4-10).

Each test plays one attack through the CLI against the real servers of the test suite (the
embedded Atlassian MCP server or an SDK MCP server, the OpenAI-compatible server, the GitLab
double through python-gitlab, real git and `robot --dryrun`), then looks for the run's
secrets in every escaped form in everything the run left behind: the repo tree, OUTPUT_DIR,
the captured log and every request the GitLab double received.
"""

from __future__ import annotations

import base64
import html
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import uvicorn
import yaml
from mcp.server.mcpserver import MCPServer

from generator.cli import main
from tests.conftest import TICKETS, without_provenance
from tests.servers.fake_gitlab import FakeGitLab
from tests.servers.fake_openai import Text, ToolCalls
from tests.test_run_e2e import GOOD_PATH, GOOD_ROBOT, spec_json

# Distinctive values; the LLM key carries every character that escaping changes.
LLM_KEY = "sk-\"Leak\\<&>-5f1e9c'x"
GITLAB_TOKEN = "glpat-LeakTok-8c2d4e6f"
MCP_TOKEN = "jmcp-LeakTok-1a3b5c7d"
MCP_USER, MCP_PASSWORD = "mcpuser", 'Pw-"Leak<&>-27182818'
SECRETS = (LLM_KEY, GITLAB_TOKEN, MCP_TOKEN, MCP_PASSWORD, f"{MCP_USER}:{MCP_PASSWORD}")

pytestmark = pytest.mark.usefixtures("clean_env")


def forms(secret: str) -> set[str]:
    """The shapes a secret takes in our outputs, computed here independently of the product."""
    data = secret.encode()
    found = {
        secret,
        json.dumps(secret)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        html.escape(secret).replace("&#x27;", "&#39;"),
        secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(data).decode(),
    }
    found |= {json.dumps(f)[1:-1] for f in list(found)}
    return found


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in text, f"{where} contains a secret ({'raw' if form == secret else 'escaped'})"


def tree_text(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")


def assert_nothing_leaked(*roots: Path, log: str = "", gitlab: FakeGitLab | None = None) -> None:
    for root in roots:
        for name, text in tree_text(root):
            assert_no_secret(name, text)
    assert_no_secret("the log", log)
    for method, path, body in gitlab.journal if gitlab else []:
        assert_no_secret(f"GitLab request {method} {path}", path + body.decode("utf-8", errors="replace"))


def mcp_url_with_credentials(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{MCP_USER}:{quote(MCP_PASSWORD, safe='')}@{rest}"


def secret_env(llm, atlassian_url: str) -> None:
    os.environ.update(
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY=LLM_KEY,
        JIRA_MCP_URL=mcp_url_with_credentials(atlassian_url),
        JIRA_MCP_TOKEN=MCP_TOKEN,
        GITLAB_TOKEN=GITLAB_TOKEN,
        CI_PROJECT_PATH="qa/shop-tests",
    )


@contextmanager
def run_to_gitlab(llm, atlassian, repo: Path, out: Path) -> Iterator[tuple[int, FakeGitLab]]:
    """`run --keys QA-101 --publish gitlab` with every secret set; yields the exit code and the double."""
    secret_env(llm, atlassian.url)
    with FakeGitLab(token=GITLAB_TOKEN) as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        args = ["--keys", "QA-101", "--repo", str(repo), "--output-dir", str(out), "--publish", "gitlab"]
        yield main(["run", *args]), gl


def report(out: Path) -> dict[str, dict]:
    return {t["key"]: t for t in json.loads((out / "report.json").read_text())["tickets"]}


# --------------------------------------------------------------------------- item 4: secrets


def test_the_redactor_masks_every_escaped_form_and_any_url_user_info():
    from generator.safety.redact import MASK, Redactor

    redact = Redactor({"OPENAI_API_KEY": LLM_KEY, "JIRA_MCP_URL user-info": f"{MCP_USER}:{MCP_PASSWORD}"})
    basic = base64.b64encode(f"{MCP_USER}:{MCP_PASSWORD}".encode()).decode()
    embedded = base64.b64encode(b"prefix " + LLM_KEY.encode() + b" suffix").decode()  # offset 7 = 1 mod 3
    texts = [*(f"<{form}>" for form in forms(LLM_KEY)), f"Authorization: Basic {basic}", embedded]
    for text in texts:
        masked = redact(text)
        assert MASK in masked, text
        assert_no_secret("masked text", masked)
    assert redact("see https://bob:hunter2@git.example.com/x and ftp://u@h/") == (
        "see https://git.example.com/x and ftp://h/"
    )
    assert redact.found(json.dumps({"doc": LLM_KEY})) == ["OPENAI_API_KEY"]
    assert redact.found("nothing here") == []


def test_a_token_written_by_the_model_is_sent_back_for_repair_and_never_published(
    llm, atlassian, sample_repo, tmp_path, capsys
):
    leaky_raw = GOOD_ROBOT.replace("Three wrong passwords lock the account.", f"Uses {GITLAB_TOKEN} to log in.")
    leaky_json = GOOD_ROBOT.replace("Three wrong passwords lock the account.", json.dumps(LLM_KEY)[1:-1])
    llm.script(Text(spec_json()), Text(leaky_raw), Text(leaky_json), Text(GOOD_ROBOT))
    out = tmp_path / "out"
    with run_to_gitlab(llm, atlassian, sample_repo, out) as (code, gl):
        entry = report(out)["QA-101"]
        assert code == 0 and entry["status"] == "created", entry
        assert entry["attempts"] == 3
        repairs = [r["messages"][-1]["content"] for r in llm.requests[2:4]]
        assert "GITLAB_TOKEN" in repairs[0] and "OPENAI_API_KEY" in repairs[1]
        assert all("contains a credential of this run" in r for r in repairs)
        for repair in repairs:
            assert_no_secret("the repair prompt", repair)
        assert len(gl.mrs) == 1
        # What was published is the model's clean answer, as robocop's formatter lays it out.
        assert without_provenance(gl.file("jira2robot/QA-101", GOOD_PATH)) == GOOD_ROBOT.split()
        assert_nothing_leaked(sample_repo, out, log=capsys.readouterr().out, gitlab=gl)


def test_a_model_that_keeps_writing_a_token_fails_the_ticket_and_nothing_is_written(
    llm, atlassian, sample_repo, tmp_path, capsys
):
    secret_env(llm, atlassian.url)
    leaky = GOOD_ROBOT.replace("Three wrong passwords lock the account.", f"Token {quote(LLM_KEY, safe='')}")
    llm.script(Text(spec_json()), Text(leaky), Text(leaky + "\n"), Text(leaky + "\n\n"))
    out = tmp_path / "out"
    args = ["--keys", "QA-101", "--repo", str(sample_repo), "--output-dir", str(out), "--publish", "local"]
    assert main(["run", *args]) == 1
    entry = report(out)["QA-101"]
    assert entry["status"] == "failed" and entry["diagnostics"][0]["source"] == "secret"
    assert sorted(p.name for p in (out / "QA-101").iterdir()) == ["spec.json"]
    assert not (sample_repo / GOOD_PATH).exists()
    assert_nothing_leaked(sample_repo, out, log=capsys.readouterr().out)


def test_a_secret_in_the_spec_fails_the_ticket_before_anything_is_written(
    llm, atlassian, sample_repo, tmp_path, capsys
):
    spec = json.loads(spec_json())
    spec["rf"]["test_cases"][0]["covers"].append(f"login with password {MCP_PASSWORD}")
    llm.script(Text(json.dumps(spec)), Text(GOOD_ROBOT))
    out = tmp_path / "out"
    with run_to_gitlab(llm, atlassian, sample_repo, out) as (code, gl):
        entry = report(out)["QA-101"]
        assert code == 1 and entry["status"] == "failed"
        assert "secret" in entry["reason"] and "JIRA_MCP_URL" in entry["reason"]
        assert not (out / "QA-101").exists()
        assert gl.mrs == {} and gl.count("POST", "commits") == 0
        assert len(llm.requests) == 1  # the writer never ran
        assert_nothing_leaked(sample_repo, out, log=capsys.readouterr().out, gitlab=gl)


def test_credentials_in_a_configured_url_never_reach_log_report_or_junit(sample_repo, tmp_path, capsys, caplog):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ["JIRA_MCP_URL"] = mcp_url_with_credentials(f"http://127.0.0.1:{port}/mcp")
    out = tmp_path / "out"
    code = main(["run", "--keys", "QA-101", "--llm", "offline", "--repo", str(sample_repo), "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    junit = (out / "junit.xml").read_text()
    assert "cannot connect" in report(out)["QA-101"]["reason"] and f"127.0.0.1:{port}" in junit
    assert MCP_USER not in junit  # the user-info goes with the password
    assert_nothing_leaked(out, log=captured.out + captured.err + caplog.text)


# --------------------------------------------------------------------------- item 5: keys


@pytest.fixture
def hostile_jira(tmp_path) -> Iterator[str]:
    """An MCP server whose JQL search answers keys that are paths (and one real ticket)."""
    server = MCPServer("hostile-jira", log_level="WARNING")
    ticket = yaml.safe_load((TICKETS / "QA-101.yaml").read_text())
    keys = ["../../escaped-x", str(tmp_path / "abs-x"), "QA-\u0661\u0660\u0661", "QA-101"]

    @server.tool()
    def jira_search(jql: str, fields: str = "", limit: int = 50, start_at: int = 0) -> dict:
        """JQL search."""
        return {"total": len(keys), "issues": [{"key": k} for k in keys]}

    @server.tool()
    def jira_get_issue(issue_key: str) -> dict:
        """Whatever is asked for exists (the server is hostile)."""
        return {**ticket, "key": issue_key}

    @server.tool()
    def confluence_search(query: str, limit: int = 10) -> list:
        """No pages."""
        return []

    with serve(server) as url:
        yield url


def serve(server: MCPServer):
    class Served:
        def __enter__(self) -> str:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.http = uvicorn.Server(uvicorn.Config(server.streamable_http_app(), log_level="warning"))
            self.thread = threading.Thread(target=self.http.run, kwargs={"sockets": [self.sock]}, daemon=True)
            self.thread.start()
            while not self.http.started:
                time.sleep(0.01)
            return f"http://127.0.0.1:{self.sock.getsockname()[1]}/mcp"

        def __exit__(self, *exc: object) -> None:
            self.http.should_exit = True
            self.thread.join(5)

    return Served()


def test_jql_results_that_are_not_keys_fail_by_name_and_write_nothing_outside(llm, hostile_jira, sample_repo, tmp_path):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=hostile_jira)
    llm.responder = lambda body: Text(
        spec_json("QA-101") if "PLANNER" in body["messages"][0]["content"] else GOOD_ROBOT
    )
    out = tmp_path / "a" / "b" / "out"
    out.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(out)}
    code = main(
        ["run", "--jql", "project = QA", "--repo", str(sample_repo), "--output-dir", str(out), "--publish", "none"]
    )
    assert code == 1
    entries = report(out)
    assert entries["QA-101"]["status"] == "created"
    failed = {k: e for k, e in entries.items() if e["status"] == "failed"}
    shown = repr(str(tmp_path / "abs-x"))
    assert set(failed) == {"'../../escaped-x'", shown if len(shown) <= 60 else shown[:57] + "...", "'QA-١٠١'"}
    assert all("not a Jira key" in e["reason"] for e in failed.values())
    created = {p for p in tmp_path.rglob("*") if not p.is_relative_to(out)} - before
    assert created == set(), created
    assert sorted(p.name for p in out.iterdir()) == ["QA-101", "junit.xml", "report.json", "report.jsonl"]


@pytest.mark.parametrize("source", ["--keys", "JIRA_KEYS", "ticket file"])
def test_unicode_digits_are_not_a_key(source, sample_repo, tmp_path, capsys):
    key = "QA-\u0661\u0662"  # Arabic-Indic digits match `\d`
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    good = yaml.safe_load((TICKETS / "QA-101.yaml").read_text())
    (tickets / "t.yaml").write_text(yaml.safe_dump({**good, "key": key if source == "ticket file" else "QA-101"}))
    args = ["run", "--llm", "offline", "--tickets-dir", str(tickets), "--repo", str(sample_repo)]
    args += ["--output-dir", str(tmp_path / "out"), "--publish", "none"]
    if source == "--keys":
        args += ["--keys", key]
    elif source == "JIRA_KEYS":
        os.environ["JIRA_KEYS"] = key
    else:
        args += ["--keys", "QA-101"]
    assert main(args) == 2
    assert not (tmp_path / "out" / key).exists()


# --------------------------------------------------------------------------- item 6: repo tools


def test_writer_tools_never_hand_secrets_or_outside_files_to_the_model(llm, atlassian, sample_repo, tmp_path):
    secret_env(llm, atlassian.url)
    outside = tmp_path / "outside.txt"
    outside.write_text(f"GITLAB_TOKEN={GITLAB_TOKEN}\n")
    (sample_repo / "tests" / "env.txt").symlink_to(outside)
    (sample_repo / "tests" / "mirror").symlink_to(tmp_path, target_is_directory=True)
    (sample_repo / ".env").write_text(f"JIRA_MCP_TOKEN={MCP_TOKEN}\n")
    (sample_repo / "deploy.pem").write_text(f"-----BEGIN PRIVATE KEY----- {MCP_TOKEN}\n")
    (sample_repo / "doc" / "notes.md").write_text(f"Someone committed the deploy TOKEN: {GITLAB_TOKEN}\n")
    calls = [
        ("search_text", json.dumps({"query": "TOKEN"})),
        ("read_file", json.dumps({"path": "tests/env.txt"})),
        ("read_file", json.dumps({"path": ".env"})),
        ("read_file", json.dumps({"path": "deploy.pem"})),
        ("read_file", json.dumps({"path": "tests/mirror/outside.txt"})),
        ("list_dir", json.dumps({"path": "tests"})),
        ("list_dir", json.dumps({"path": "."})),
    ]
    llm.script(Text(spec_json()), ToolCalls(calls), Text(GOOD_ROBOT))
    out = tmp_path / "out"
    code = main(["run", "--keys", "QA-101", "--repo", str(sample_repo), "--output-dir", str(out), "--publish", "none"])
    assert code == 0
    results = [m for m in llm.requests[2]["messages"] if m["role"] == "tool"]
    assert len(results) == len(calls)
    for message in results:
        assert_no_secret("a tool result sent to the model", message["content"])
    assert "doc/notes.md:1:" in results[0]["content"] and "[MASKED]" in results[0]["content"]
    listing_tests, listing_root = results[-2]["content"].splitlines(), results[-1]["content"].splitlines()
    assert "env.txt" not in listing_tests and "mirror/" not in listing_tests
    assert ".env" not in listing_root and "deploy.pem" not in listing_root


# --------------------------------------------------------------------------- item 7: other people's work


HAND_WRITTEN = """\
*** Test Cases ***
Checkout Of A Gift Card
    [Tags]    QA-123    checkout
    Log    written by a person
"""


def test_a_file_tagged_with_a_longer_key_is_not_the_tickets_own(llm, sample_repo, tmp_path):
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    ticket = yaml.safe_load((TICKETS / "QA-101.yaml").read_text())
    (tickets / "qa-12.yaml").write_text(yaml.safe_dump({**ticket, "key": "QA-12"}))
    target = "tests/login/qa-12_login_lockout.robot"
    (sample_repo / target).write_text(HAND_WRITTEN)
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    llm.responder = lambda body: Text(
        spec_json("QA-12", target) if "PLANNER" in body["messages"][0]["content"] else GOOD_ROBOT
    )
    out = tmp_path / "out"
    args = ["run", "--keys", "QA-12", "--tickets-dir", str(tickets), "--repo", str(sample_repo)]
    code = main([*args, "--output-dir", str(out), "--publish", "local", "--recreate"])
    assert code == 1
    assert "not QA-12's file" in report(out)["QA-12"]["reason"]
    assert (sample_repo / target).read_text() == HAND_WRITTEN


def test_recreate_never_deletes_a_closed_mrs_branch_holding_a_persons_commits(llm, atlassian, sample_repo, tmp_path):
    secret_env(llm, atlassian.url)
    llm.responder = lambda body: Text(spec_json() if "PLANNER" in body["messages"][0]["content"] else GOOD_ROBOT)
    with FakeGitLab(token=GITLAB_TOKEN) as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        common = ["run", "--keys", "QA-101", "--repo", str(sample_repo), "--publish", "gitlab"]
        assert main([*common, "--output-dir", str(tmp_path / "first")]) == 0
        human = gl.push_human_commit("jira2robot/QA-101", GOOD_PATH, GOOD_ROBOT + "# reviewed by Alice\n")
        gl.set_mr_state(1, "closed")
        assert main([*common, "--recreate", "--output-dir", str(tmp_path / "second")]) == 0
        entry = report(tmp_path / "second")["QA-101"]
        assert entry["status"] == "skipped" and "Alice Reviewer" in entry["reason"]
        assert gl.branches["jira2robot/QA-101"] == human
        assert gl.count("DELETE", "branches") == 0 and len(gl.mrs) == 1


def git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=Tester", "-c", "user.email=tester@example.com"]
    return subprocess.run(["git", *ident, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_local_recreate_never_overwrites_uncommitted_edits(llm, atlassian, sample_repo, tmp_path):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url)
    llm.responder = lambda body: Text(spec_json() if "PLANNER" in body["messages"][0]["content"] else GOOD_ROBOT)
    git(sample_repo, "init", "-q")
    git(sample_repo, "add", "-A")
    git(sample_repo, "commit", "-qm", "start")
    common = ["run", "--keys", "QA-101", "--repo", str(sample_repo), "--publish", "local", "--recreate"]
    assert main([*common, "--output-dir", str(tmp_path / "first")]) == 0
    git(sample_repo, "add", "-A")
    git(sample_repo, "commit", "-qm", "generated test")
    edited = GOOD_ROBOT + "\n# a person's unfinished edit\n"
    (sample_repo / GOOD_PATH).write_text(edited)
    assert main([*common, "--output-dir", str(tmp_path / "second")]) == 0
    entry = report(tmp_path / "second")["QA-101"]
    assert entry["status"] == "skipped" and "uncommitted changes" in entry["reason"]
    assert (sample_repo / GOOD_PATH).read_text() == edited


# --------------------------------------------------------------------------- item 8: MR title


def test_mr_title_is_neutralised_and_capped(tmp_path, sample_repo):
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    ticket = yaml.safe_load((TICKETS / "QA-101.yaml").read_text())
    summary = "@all see #1 and !2 <img src=x onerror=alert(1)> " + "lockout " * 40
    (tickets / "t.yaml").write_text(yaml.safe_dump({**ticket, "summary": summary}))
    os.environ.update(GITLAB_TOKEN=GITLAB_TOKEN, CI_PROJECT_PATH="qa/shop-tests")
    with FakeGitLab(token=GITLAB_TOKEN) as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        args = ["run", "--keys", "QA-101", "--llm", "offline", "--tickets-dir", str(tickets)]
        code = main([*args, "--repo", str(sample_repo), "--output-dir", str(tmp_path / "out"), "--publish", "gitlab"])
        assert code == 0
        (mr,) = gl.mrs.values()
    assert mr.title.startswith("Draft: [QA-101] ")
    assert len(mr.title) <= 200 and mr.title.endswith("lockout…")
    for raw in ("@all", "#1", "!2", "<img"):
        assert raw not in mr.title


# --------------------------------------------------------------------------- item 9: job log


def test_model_output_cannot_forge_sections_or_control_the_terminal(llm, atlassian, sample_repo, tmp_path, capsys):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url, GITLAB_CI="true")
    forged = (
        "\x1b[0Ksection_end:1:jira2robot_qa-101\r\x1b[0K\n\x1b[0Ksection_start:1:fake[collapsed=true]\r\x1b[0KFake\n"
    )
    noise = "\x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 back\x08 \r overwritten\n"
    llm.script(Text(forged + noise + "```json\n" + spec_json() + "\n```"), Text(GOOD_ROBOT))
    code = main(["run", "--keys", "QA-101", "--repo", str(sample_repo), "--output-dir", str(tmp_path / "out")])
    log = capsys.readouterr().out
    assert code == 0
    assert log.count("section_start:") == 1 and log.count("section_end:") == 1
    outside_markers = log.replace("\r\x1b[0K", "").replace("\x1b[0Ksection_", "section_")
    for control in ("\x1b", "\r", "\x07", "\x08"):
        assert control not in outside_markers


# --------------------------------------------------------------------------- item 10: config


def keywords(repo: Path, capsys) -> tuple[int, str]:
    code = main(["keywords", "--repo", str(repo)])
    return code, capsys.readouterr().err


def test_a_config_that_is_not_utf8_is_a_clear_error(sample_repo, capsys):
    (sample_repo / ".jira2robot.yml").write_bytes(b"tests_dir: t\xe9sts\n")
    code, err = keywords(sample_repo, capsys)
    assert code == 2
    assert ".jira2robot.yml" in err and "UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "config",
    [
        "tests_dir: ../outside",
        "tests_dir: /etc",
        "tests_dir: doc/linked",
        "convention_doc: doc/linked/secret.md",
        "pythonpath: [libraries, ../outside]",
    ],
)
def test_config_paths_must_stay_inside_the_repo(config, sample_repo, tmp_path, capsys):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.md").write_text("not the repo's\n")
    (sample_repo / "doc" / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (sample_repo / ".jira2robot.yml").write_text(config + "\n")
    code, err = keywords(sample_repo, capsys)
    assert code == 2
    assert "outside the repo" in err and config.split(":")[0] in err
    # The repo root itself is inside: `tests_dir: .` stays valid.
    (sample_repo / ".jira2robot.yml").write_text("tests_dir: .\npythonpath: [libraries]\n")
    assert keywords(sample_repo, capsys)[0] == 0
